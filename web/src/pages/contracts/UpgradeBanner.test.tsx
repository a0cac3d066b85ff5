// The upgrade preview: word diff and migration report as the API answers them, then the upgrade.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";

import "../../i18n";
import { ME, fakeApi, json } from "../../test/fakeApi";

const api = vi.hoisted(() => ({ current: null as null | ReturnType<typeof import("../../test/fakeApi").fakeApi> }));
vi.mock("../../api/client", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api/client")>();
  return {
    ...original,
    get api() {
      return api.current!.api;
    },
  };
});

const { UpgradeBanner } = await import("./UpgradeBanner");

const REPORT = {
  migratedAnswers: ["probezeit"],
  droppedAnswers: ["altfrage"],
  resetSlots: [],
  fromTemplateVersion: 1,
  toTemplateVersion: 2,
  addedClauses: [{ clauseId: "c9", title: "Homeoffice" }],
  removedClauses: [],
  updatedClauses: [
    {
      clauseId: "c1",
      title: "Probezeit",
      fromVersion: 1,
      toVersion: 2,
      diff: [
        { op: "equal", text: "kann das Arbeitsverhältnis von" },
        { op: "delete", text: "beiden Parteien" },
        { op: "insert", text: "jeder Partei" },
        { op: "equal", text: "gekündigt werden." },
      ],
    },
  ],
  newViolations: [],
};

const INFO = {
  templateId: "t1",
  templateTitle: "Arbeitsvertrag",
  templateVersionId: "v1",
  templateVersionNumber: 1,
  latestTemplateVersionId: "v2",
  newerVersionAvailable: true,
  deprecatedPins: [],
  warning: null,
  clauseVersionIds: [],
};

it("shows the word diff and the migration report, then upgrades", async () => {
  const fake = fakeApi();
  api.current = fake;
  fake.session.signIn({ accessToken: "a1", refreshToken: "r1", expiresAt: Date.now() + 900_000, provider: "local" });
  fake.on("GET /api/v1/identity/me", () => json(ME));
  fake.on("GET /api/v1/contracts/k1/upgrade-preview", () => json(REPORT));
  fake.on("POST /api/v1/contracts/k1/upgrade", () => json({ contract: { id: "k1" }, migrationReport: REPORT }));
  const onUpgraded = vi.fn();
  const user = userEvent.setup();
  render(
    <QueryClientProvider client={new QueryClient()}>
      <UpgradeBanner contractId="k1" versionInfo={INFO} onUpgraded={onUpgraded} />
    </QueryClientProvider>,
  );

  expect(screen.getByRole("alert")).toHaveTextContent("Neuere Version verfügbar");
  await user.click(screen.getByRole("button", { name: "Änderungen ansehen" }));
  const dialog = await screen.findByRole("dialog");
  await within(dialog).findByText("Von Version 1 auf Version 2 der Vorlage.");
  const diff = dialog.querySelector(".diff")!;
  // runs are joined by spaces; changes are named for screen readers
  expect(diff.textContent).toBe(
    "kann das Arbeitsverhältnis von [gestrichen: beiden Parteien] [eingefügt: jeder Partei] gekündigt werden.",
  );
  expect(diff.querySelector("del")).toHaveTextContent("beiden Parteien");
  expect(diff.querySelector("ins")).toHaveTextContent("jeder Partei");
  expect(within(dialog).getByText("Homeoffice")).toBeInTheDocument();
  expect(within(dialog).getByText("altfrage")).toBeInTheDocument();

  await user.click(within(dialog).getByRole("button", { name: "Jetzt aktualisieren" }));

  await waitFor(() => expect(onUpgraded).toHaveBeenCalled());
  expect(fake.calls.some((c) => c.method === "POST" && c.path === "/api/v1/contracts/k1/upgrade")).toBe(true);
  expect(fake.calls.find((c) => c.path.endsWith("/upgrade"))?.authorization).toBe("Bearer a1");
});

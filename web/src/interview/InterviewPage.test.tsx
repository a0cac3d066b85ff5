// The interview page against a mocked fetch (the only mock; testing.tsx answers like the contract
// API): conditional visibility from the API, autosave (debounce, failure and retry, no lost
// keystrokes, 422 at the field, restore after reload, changes made elsewhere), the conflicts panel
// (one-click resolution, dismissal), slot choices and completion.
import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";

import "../i18n";
import { storageKeyOf } from "./autosave";
import { CLAUSE, CONTRACT_ID, createFakeServer, etagOf, HARD_FP, renderInterview, SOFT_FP, type FakeServer } from "./testing";

vi.hoisted(() => {
  // Node's Request (kept by jsdom) rejects relative URLs; a browser resolves them against the page.
  const NativeRequest = globalThis.Request;
  globalThis.Request = class extends NativeRequest {
    constructor(input: RequestInfo | URL, init?: RequestInit) {
      super(typeof input === "string" ? new URL(input, globalThis.location.href) : input, init);
    }
  } as typeof Request;
  globalThis.fetch = ((...args: Parameters<typeof fetch>) =>
    (globalThis as unknown as { __interviewFetch: typeof fetch }).__interviewFetch(...args)) as typeof fetch;
});

let server: FakeServer;

beforeEach(() => {
  sessionStorage.clear();
  server = createFakeServer();
});

async function openSection(user: ReturnType<typeof userEvent.setup>, title: RegExp) {
  const nav = await screen.findByRole("navigation", { name: "Abschnitte des Interviews" });
  await user.click(within(nav).getByRole("button", { name: title }));
}

const saved = () => screen.findByText(/^Gespeichert um/, {}, { timeout: 3000 });

test("sidebar: sections with titles from the outline and answered/required progress", async () => {
  server = createFakeServer({ answers: { name: "Erika" } });
  renderInterview();
  const nav = await screen.findByRole("navigation", { name: "Abschnitte des Interviews" });
  expect(within(nav).getByRole("button", { name: /^Parteien.*1 von 1 beantwortet/ })).toHaveAttribute("aria-current", "step");
  // "beginn" takes the template section's title from the preview outline.
  expect(await within(nav).findByRole("button", { name: /^Beginn und Dauer.*0 von 1 beantwortet/ })).toBeInTheDocument();
  expect(within(nav).getByRole("progressbar", { name: "Fortschritt" })).toHaveAttribute("aria-valuetext", "1 von 3 Pflichtangaben");
});

test("conditional question appears and disappears as the API says after the answer is saved", async () => {
  const user = userEvent.setup();
  renderInterview();
  await openSection(user, /^Beginn und Dauer|^Beginn/);
  const group = await screen.findByRole("radiogroup", { name: /^Ist der Vertrag befristet/ });
  expect(screen.queryByRole("group", { name: /^Wann endet die Befristung/ })).not.toBeInTheDocument();
  await user.click(within(group).getByRole("radio", { name: "Ja" }));
  expect((await screen.findAllByRole("group", { name: /^Wann endet die Befristung/ }, { timeout: 3000 }))[0]).toBeInTheDocument();
  expect(server.patches()).toEqual([{ answers: { befristet: true } }]);
  await user.click(within(group).getByRole("radio", { name: "Nein" }));
  await waitFor(() => expect(screen.queryByRole("group", { name: /^Wann endet die Befristung/ })).not.toBeInTheDocument(), { timeout: 3000 });
});

test("autosave: typing is debounced into one PATCH with the final text", async () => {
  const user = userEvent.setup();
  renderInterview();
  const input = await screen.findByRole("textbox", { name: /^Wie heißt der Arbeitnehmer/ });
  await user.type(input, "Erika Mustermann");
  expect(screen.getByTestId("save-status")).toHaveTextContent("Wird gespeichert");
  await saved();
  expect(server.patches()).toEqual([{ answers: { name: "Erika Mustermann" } }]);
  expect(server.answers.name).toBe("Erika Mustermann");
  expect(sessionStorage.getItem(storageKeyOf(CONTRACT_ID))).toBeNull();
});

test("autosave: a failed save keeps every keystroke, shows the error with retry, and resends everything", async () => {
  const user = userEvent.setup();
  server.patchFailures = ["network", 503];
  renderInterview();
  const input = await screen.findByRole("textbox", { name: /^Wie heißt der Arbeitnehmer/ });
  await user.type(input, "Erika");
  await screen.findByText(/Keine Verbindung/, {}, { timeout: 3000 });
  // Kept locally (this tab's sessionStorage) while the server does not have it.
  expect(JSON.parse(sessionStorage.getItem(storageKeyOf(CONTRACT_ID))!).answers).toEqual({ name: "Erika" });
  // Typing on while offline loses nothing.
  await user.type(input, " Mustermann");
  await screen.findByText(/Speichern fehlgeschlagen/, {}, { timeout: 3000 }); // the 503
  expect(input).toHaveValue("Erika Mustermann");
  await user.click(screen.getByRole("button", { name: "Erneut versuchen" }));
  await saved();
  expect(server.answers.name).toBe("Erika Mustermann");
  expect(server.patches().at(-1)).toEqual({ answers: { name: "Erika Mustermann" } });
  expect(sessionStorage.getItem(storageKeyOf(CONTRACT_ID))).toBeNull();
});

test("autosave: after a reload the unsaved answers from sessionStorage are restored and sent", async () => {
  sessionStorage.setItem(
    storageKeyOf(CONTRACT_ID),
    JSON.stringify({ bases: { "answers.name": null }, answers: { name: "Erika" }, slots: {}, dismissed: null }),
  );
  renderInterview();
  const input = await screen.findByRole("textbox", { name: /^Wie heißt der Arbeitnehmer/ });
  expect(input).toHaveValue("Erika");
  await saved();
  expect(server.answers.name).toBe("Erika");
});

test("autosave: a 422 is shown at its field and held back while the valid answers are saved", async () => {
  const user = userEvent.setup();
  renderInterview();
  await openSection(user, /^Zeit/);
  const hours = await screen.findByRole("textbox", { name: /^Wie viele Wochenstunden/ });
  const salary = screen.getByRole("textbox", { name: /^Wie hoch ist das Bruttogehalt/ });
  await user.type(hours, "60");
  await user.type(salary, "4.500");
  await screen.findByText("Der Wert darf höchstens 48 betragen.", {}, { timeout: 3000 });
  expect(hours).toHaveAttribute("aria-invalid", "true");
  await waitFor(() => expect(server.answers.gehalt).toBe("4500.00"), { timeout: 3000 });
  expect(server.answers.stunden).toBeUndefined();
  expect(screen.getByTestId("save-status")).toHaveTextContent("ungültig");
  // Correcting the field sends it.
  await user.clear(hours);
  await user.type(hours, "40");
  await waitFor(() => expect(server.answers.stunden).toBe(40), { timeout: 3000 });
  expect(screen.queryByText("Der Wert darf höchstens 48 betragen.")).not.toBeInTheDocument();
});

/** Another tab (or a colleague) saves meanwhile: the stored version moves on, this page's ETag is stale. */
function savedElsewhere() {
  server.answers.stunden = 38;
  server.updatedAt += 1000;
}

test("two editors: a save on a stale version gets 412; saving stops, nothing typed is lost, the differences are shown", async () => {
  const user = userEvent.setup();
  renderInterview();
  await openSection(user, /^Zeit/);
  const salary = await screen.findByRole("textbox", { name: /^Wie hoch ist das Bruttogehalt/ });
  const firstTag = etagOf(server);
  savedElsewhere();
  await user.type(salary, "4.000");
  const notice = await screen.findByTestId("stale-conflict", {}, { timeout: 3000 });
  expect(notice).toHaveAttribute("role", "alert");
  expect(notice).toHaveTextContent("Der Vertrag wurde inzwischen an anderer Stelle geändert");
  expect(notice).toHaveTextContent("in einem anderen Tab oder von einer Kollegin oder einem Kollegen");
  // the PATCH named the version this page had; the server refused it and stored nothing
  expect(server.calls.find((c) => c.method === "PATCH")?.ifMatch).toBe(firstTag);
  expect(server.answers.gehalt).toBeUndefined();
  // which fields differ: theirs (saved elsewhere) and mine (not saved)
  const table = await within(notice).findByRole("table");
  const rows = within(table).getAllByRole("row").map((r) => r.textContent);
  expect(rows).toContain("Wie viele Wochenstunden?38unverändert");
  expect(rows).toContain("Wie hoch ist das Bruttogehalt?– keine Angabe –4.000,00 EUR");
  expect(screen.getByTestId("save-status")).toHaveTextContent("Speichern angehalten – der Vertrag wurde an anderer Stelle geändert");
  // typing on is kept (screen and sessionStorage) but not sent while the user has not decided
  const patches = server.patches().length;
  await user.clear(salary);
  await user.type(salary, "4.500");
  expect(salary).toHaveValue("4.500");
  await act(() => new Promise((resolve) => setTimeout(resolve, 800)));
  expect(server.patches()).toHaveLength(patches);
  expect(JSON.parse(sessionStorage.getItem(storageKeyOf(CONTRACT_ID))!).answers).toEqual({ gehalt: "4500.00" });
  expect(within(notice).getByRole("table")).toHaveTextContent("4.500,00 EUR");

  // "Meine Eingaben übernehmen": sent again on the stored version, the other answers stay as stored
  await user.click(within(notice).getByRole("button", { name: "Meine Eingaben übernehmen" }));
  await waitFor(() => expect(server.answers.gehalt).toBe("4500.00"), { timeout: 3000 });
  expect(server.answers.stunden).toBe(38);
  expect(server.calls.filter((c) => c.method === "PATCH").at(-1)?.ifMatch).not.toBe(firstTag);
  await waitFor(() => expect(screen.queryByTestId("stale-conflict")).not.toBeInTheDocument());
  expect(screen.getByRole("textbox", { name: /^Wie viele Wochenstunden/ })).toHaveValue("38");
  await saved();
});

test("two editors: after a 412, \"Neu laden\" names the input it replaces, then shows the stored version", async () => {
  const user = userEvent.setup();
  renderInterview();
  await openSection(user, /^Zeit/);
  const salary = await screen.findByRole("textbox", { name: /^Wie hoch ist das Bruttogehalt/ });
  savedElsewhere();
  await user.type(salary, "4.000");
  const notice = await screen.findByTestId("stale-conflict", {}, { timeout: 3000 });
  await within(notice).findByRole("table");
  await user.click(within(notice).getByRole("button", { name: "Neu laden" }));
  const dialog = await screen.findByRole("alertdialog", { name: "Eingaben verwerfen und neu laden?" });
  expect(dialog).toHaveTextContent("Wie hoch ist das Bruttogehalt? – 4.000,00 EUR");
  expect(salary).toHaveValue("4.000,00"); // nothing is dropped before the user confirms (formatted on blur)
  await user.click(within(dialog).getByRole("button", { name: "Verwerfen und neu laden" }));
  await waitFor(() => expect(screen.queryByTestId("stale-conflict")).not.toBeInTheDocument());
  expect(screen.getByRole("textbox", { name: /^Wie hoch ist das Bruttogehalt/ })).toHaveValue("");
  expect(screen.getByRole("textbox", { name: /^Wie viele Wochenstunden/ })).toHaveValue("38");
  expect(sessionStorage.getItem(storageKeyOf(CONTRACT_ID))).toBeNull();
  // saving goes on with the stored version's tag
  await user.type(screen.getByRole("textbox", { name: /^Wie hoch ist das Bruttogehalt/ }), "3.000");
  await waitFor(() => expect(server.answers.gehalt).toBe("3000.00"), { timeout: 3000 });
});

test("two editors: a one-click resolution on a stale version is refused and explained the same way", async () => {
  server = createFakeServer({ answers: { befristet: true }, selectedSlots: { laufzeit: CLAUSE.unbefristet } });
  const user = userEvent.setup();
  renderInterview();
  const panel = await screen.findByRole("region", { name: /^Prüfhinweise/ });
  savedElsewhere();
  await user.click(within(panel).getByRole("button", { name: "„Beginn und Befristung“ statt „Beginn (unbefristet)“ wählen" }));
  expect(await screen.findByTestId("stale-conflict", {}, { timeout: 3000 })).toHaveTextContent("an anderer Stelle geändert");
  expect(server.selectedSlots.laufzeit).toBe(CLAUSE.unbefristet);
});

test("two editors: an upgrade on a stale version gets 412 and is explained like a save; nothing typed is lost", async () => {
  server.newerVersion = true;
  const user = userEvent.setup();
  renderInterview();
  await openSection(user, /^Zeit/);
  const salary = await screen.findByRole("textbox", { name: /^Wie hoch ist das Bruttogehalt/ });
  await user.type(salary, "4.000");
  await saved();
  const tag = etagOf(server);
  savedElsewhere();
  const banner = await screen.findByText("Neuere Version verfügbar");
  await user.click(within(banner.closest("[role=alert]") as HTMLElement).getByRole("button", { name: "Änderungen ansehen" }));
  const dialog = await screen.findByRole("dialog");
  await within(dialog).findByText("Von Version 1 auf Version 2 der Vorlage.");
  await user.click(within(dialog).getByRole("button", { name: "Jetzt aktualisieren" }));
  // refused (the upgrade named the version this page had); the dialog gives way to the page's notice
  const notice = await screen.findByTestId("stale-conflict", {}, { timeout: 3000 });
  expect(notice).toHaveTextContent("Der Vertrag wurde inzwischen an anderer Stelle geändert");
  await waitFor(() => expect(screen.queryByRole("dialog")).not.toBeInTheDocument());
  expect(server.calls.find((c) => c.path.endsWith("/upgrade"))?.ifMatch).toBe(tag);
  expect(server.templateVersion).toBe(1);
  expect(screen.getByTestId("save-status")).toHaveTextContent("Speichern angehalten – der Vertrag wurde an anderer Stelle geändert");
  // autosave stopped: typing on is kept (screen and sessionStorage), not sent until the user decides
  const patches = server.patches().length;
  await user.clear(salary);
  await user.type(salary, "4.500");
  await act(() => new Promise((resolve) => setTimeout(resolve, 800)));
  expect(server.patches()).toHaveLength(patches);
  expect(salary).toHaveValue("4.500");
  expect(JSON.parse(sessionStorage.getItem(storageKeyOf(CONTRACT_ID))!).answers).toEqual({ gehalt: "4500.00" });
  const table = await within(notice).findByRole("table");
  expect(within(table).getAllByRole("row").map((r) => r.textContent)).toContain("Wie viele Wochenstunden?38unverändert");
  // "Meine Eingaben übernehmen" saves on the stored version; then the upgrade goes through
  await user.click(within(notice).getByRole("button", { name: "Meine Eingaben übernehmen" }));
  await waitFor(() => expect(server.answers.gehalt).toBe("4500.00"), { timeout: 3000 });
  expect(server.answers.stunden).toBe(38);
  await waitFor(() => expect(screen.queryByTestId("stale-conflict")).not.toBeInTheDocument());
  await user.click(within(screen.getByText("Neuere Version verfügbar").closest("[role=alert]") as HTMLElement).getByRole("button", { name: "Änderungen ansehen" }));
  await user.click(await within(await screen.findByRole("dialog")).findByRole("button", { name: "Jetzt aktualisieren" }));
  await waitFor(() => expect(server.templateVersion).toBe(2));
  expect(await screen.findByText(/Arbeitsvertrag, Version 2/)).toBeInTheDocument();
});

test("two editors: an unsaved answer changed elsewhere pauses saving until the user decides", async () => {
  sessionStorage.setItem(
    storageKeyOf(CONTRACT_ID),
    JSON.stringify({ bases: { "answers.name": "Erika" }, answers: { name: "Erika M." }, slots: {}, dismissed: null }),
  );
  server = createFakeServer({ answers: { name: "Max" } }); // saved elsewhere since
  const user = userEvent.setup();
  renderInterview();
  const notice = await screen.findByTestId("edit-conflict");
  expect(notice).toHaveTextContent("Wie heißt der Arbeitnehmer?");
  expect(screen.getByTestId("save-status")).toHaveTextContent("Speichern angehalten");
  expect(server.patches()).toEqual([]);
  await user.click(within(notice).getByRole("button", { name: "Meine Eingaben speichern" }));
  await waitFor(() => expect(server.answers.name).toBe("Erika M."), { timeout: 3000 });
});

test("conflicts panel: a hard conflict with clause title and suggestion, resolved in one click", async () => {
  server = createFakeServer({ answers: { befristet: true }, selectedSlots: { laufzeit: CLAUSE.unbefristet } });
  const user = userEvent.setup();
  renderInterview();
  const panel = await screen.findByRole("region", { name: /^Prüfhinweise/ });
  const item = within(panel).getByRole("listitem");
  expect(item).toHaveTextContent("Konflikt");
  expect(item).toHaveTextContent("Beginn und Befristung");
  expect(item).toHaveTextContent("Ein befristeter Vertrag braucht die Befristungsklausel.");
  expect(item).toHaveTextContent("Vorschlag: Wählen Sie die Klausel „Beginn und Befristung“.");
  expect(within(item).queryByRole("button", { name: /Ausblenden/ })).not.toBeInTheDocument(); // hard: no dismissal
  await user.click(within(item).getByRole("button", { name: "„Beginn und Befristung“ statt „Beginn (unbefristet)“ wählen" }));
  await waitFor(() => expect(screen.queryByRole("region", { name: /^Prüfhinweise/ })).not.toBeInTheDocument());
  const call = server.calls.find((c) => c.path.endsWith("/resolutions"));
  expect(call?.body).toEqual({ fingerprint: HARD_FP, optionId: `add_clause:laufzeit:${CLAUSE.befristet}` });
  expect(server.selectedSlots.laufzeit).toBe(CLAUSE.befristet);
});

test("conflicts panel: a soft warning is dismissed (PATCH dismissedWarnings) and can be shown again", async () => {
  server = createFakeServer({ answers: { gehalt: "12000.00" } });
  const user = userEvent.setup();
  renderInterview();
  const panel = await screen.findByRole("region", { name: /^Prüfhinweise/ });
  const item = within(panel).getByRole("listitem");
  expect(item).toHaveTextContent("Hinweis");
  await user.click(within(item).getByRole("button", { name: /ausblenden/i }));
  await waitFor(() => expect(server.dismissed).toEqual([SOFT_FP]), { timeout: 3000 });
  expect(server.patches()).toEqual([{ dismissedWarnings: [SOFT_FP] }]);
  expect(within(panel).getByText("Keine offenen Prüfhinweise.")).toBeInTheDocument();
  await user.click(within(panel).getByRole("button", { name: "1 ausgeblendeter Hinweis" }));
  await user.click(within(panel).getByRole("button", { name: "Wieder einblenden" }));
  await waitFor(() => expect(server.dismissed).toEqual([]), { timeout: 3000 });
});

test("slot choices: alternatives and optional clauses with their texts; a choice is saved", async () => {
  const user = userEvent.setup();
  renderInterview();
  await openSection(user, /^Klauselauswahl/);
  const group = await screen.findByRole("radiogroup", { name: "Fassung für „Beginn“" });
  const befristet = within(group).getByRole("radio", { name: "Beginn und Befristung" });
  expect(befristet).toHaveAccessibleDescription(expect.stringContaining("Das Arbeitsverhältnis ist befristet bis zum [[ende]]."));
  expect(within(group).getByText("Es wird auf unbestimmte Zeit geschlossen.")).toBeInTheDocument();
  await user.click(befristet);
  await waitFor(() => expect(server.selectedSlots.laufzeit).toBe(CLAUSE.befristet), { timeout: 3000 });
  await user.click(screen.getByRole("checkbox", { name: "„Probezeit“ aufnehmen" }));
  await waitFor(() => expect(server.selectedSlots.probezeit).toBe(CLAUSE.probezeit), { timeout: 3000 });
});

test("completion: refused with the API's reasons, then completed and read-only", async () => {
  server = createFakeServer({ answers: { name: "Erika", befristet: false, stunden: 40 } });
  server.refuseCompletion = true;
  const user = userEvent.setup();
  renderInterview();
  await openSection(user, /^Prüfung und Abschluss/);
  await user.click(await screen.findByRole("button", { name: "Vertrag abschließen" }));
  const dialog = await screen.findByRole("dialog", { name: "Vertrag abschließen?" });
  await user.click(within(dialog).getByRole("button", { name: "Vertrag abschließen" }));
  const alert = await screen.findByText("Der Vertrag kann noch nicht abgeschlossen werden.");
  expect(alert.parentElement).toHaveTextContent("Die Frage „Wie viele Wochenstunden?“ ist noch nicht beantwortet.");
  server.refuseCompletion = false;
  await user.click(screen.getByRole("button", { name: "Abschließen …" })); // from the header, anywhere
  await user.click(within(await screen.findByRole("dialog")).getByRole("button", { name: "Vertrag abschließen" }));
  const banner = await screen.findByTestId("readonly-banner");
  expect(banner).toHaveTextContent("abgeschlossen");
  expect(screen.queryByRole("button", { name: /abschließen/i })).not.toBeInTheDocument();
  await openSection(user, /^Parteien/);
  expect(screen.getByRole("textbox", { name: /^Wie heißt der Arbeitnehmer/ })).toHaveAttribute("readonly");
  await act(async () => {});
});

test("preview: re-read after each save, the edited part marked, headings nested below the pane's", async () => {
  const user = userEvent.setup();
  renderInterview();
  const pane = await screen.findByRole("region", { name: "Vorschau des Vertrags" });
  expect(await within(pane).findByText("[[name]]")).toBeInTheDocument();
  const input = screen.getByRole("textbox", { name: /^Wie heißt der Arbeitnehmer/ });
  await user.click(input); // focusing a question marks the clause with its placeholder
  expect(within(pane).getByText("[[name]]").closest(".parties")).toHaveClass("iv-preview-current");
  await user.type(input, "Erika Mustermann");
  expect(await within(pane).findByText("Erika Mustermann", {}, { timeout: 3000 })).toBeInTheDocument();
  expect(server.calls.filter((c) => c.path.endsWith("/preview")).length).toBe(2);
  expect(within(pane).getByRole("heading", { name: "Arbeitsvertrag" }).tagName).toBe("H3");
  expect(within(pane).getByRole("heading", { name: "§ 1 Beginn" }).tagName).toBe("H4");
});

test("two tabs of this browser: the second tab is told, and a save in one shows up in the other at once", async () => {
  const user = userEvent.setup();
  renderInterview(); // tab A
  renderInterview(); // tab B (same contract; the BroadcastChannel connects them)
  await waitFor(() => expect(screen.getAllByText(/in einem weiteren Tab geöffnet/)).toHaveLength(2));
  const [inputA, inputB] = screen.getAllByRole("textbox", { name: /^Wie heißt der Arbeitnehmer/ });
  await user.type(inputA!, "Erika");
  await waitFor(() => expect(inputB).toHaveValue("Erika"), { timeout: 3000 });
  const notices = screen.getAllByTestId("edit-conflict");
  expect(notices).toHaveLength(1); // only tab B learnt of a change made elsewhere
  expect(notices[0]).toHaveTextContent("Änderungen aus einem anderen Tab");
});

test("a draft whose template has a newer version shows the upgrade banner; preview and upgrade from the interview", async () => {
  server.newerVersion = true;
  const user = userEvent.setup();
  renderInterview();
  const banner = await screen.findByText("Neuere Version verfügbar");
  await user.click(within(banner.closest("[role=alert]") as HTMLElement).getByRole("button", { name: "Änderungen ansehen" }));
  const dialog = await screen.findByRole("dialog");
  await within(dialog).findByText("Von Version 1 auf Version 2 der Vorlage.");
  expect(dialog.querySelector(".diff")?.textContent).toContain("[gestrichen: sechs] [eingefügt: drei]");
  const tag = etagOf(server);
  await user.click(within(dialog).getByRole("button", { name: "Jetzt aktualisieren" }));
  await waitFor(() => expect(server.templateVersion).toBe(2));
  expect(server.calls.find((c) => c.path.endsWith("/upgrade"))?.ifMatch).toBe(tag);
  // the page starts again on the new version: no banner, the header names version 2
  expect(await screen.findByText(/Arbeitsvertrag, Version 2/)).toBeInTheDocument();
  expect(screen.queryByText("Neuere Version verfügbar")).not.toBeInTheDocument();
});

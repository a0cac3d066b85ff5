// The OIDC provider down mid-session, as the user sees it: the silent refresh cannot reach the firm's
// sign-in service. The page says so (not "Sitzung abgelaufen", not a 401), keeps the session and the
// request that met the expired token, and retries; once the service answers, the request goes out.
// Real AuthProvider, session and client; only fetch is faked (the API and the provider's token endpoint).
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router";

import "../i18n";
import { AuthProvider } from "../api/auth";
import { ME, fakeApi, json, problem } from "../test/fakeApi";
import { ReauthDialog } from "./ReauthDialog";
import { SessionNotice } from "./SessionNotice";

const ISSUER = "https://sso.kanzlei.example/realms/servanda";
const TOKEN_PATH = "/realms/servanda/protocol/openid-connect/token";

afterEach(() => {
  localStorage.clear();
});

it("the sign-in service down during the silent refresh: says so, keeps page and request, retries", async () => {
  const api = fakeApi();
  api.on("GET /api/v1/auth/config", () =>
    json({ provider: "oidc", issuer: ISSUER, clientId: "servanda-web", audience: "servanda-api" }),
  );
  api.on("GET /api/v1/identity/me", () => json(ME));
  let providerUp = false;
  api.on(`POST ${TOKEN_PATH}`, () =>
    providerUp
      ? json({ access_token: "at2", refresh_token: "rt2", expires_in: 300 })
      : Promise.reject(new TypeError("Failed to fetch")),
  );
  api.on("PATCH /api/v1/contracts/c1", (request) =>
    request.headers.get("Authorization") === "Bearer at2"
      ? json({ saved: true })
      : problem(401, "auth.token_expired", "Die Sitzung ist abgelaufen."),
  );
  api.session.signIn({
    accessToken: "at",
    refreshToken: "rt",
    expiresAt: Date.now() + 300_000,
    lifetimeMs: 300_000,
    provider: "oidc",
    tokenEndpoint: `${ISSUER}/protocol/openid-connect/token`,
    clientId: "servanda-web",
  });
  render(
    <QueryClientProvider client={new QueryClient()}>
      <AuthProvider client={api}>
        <MemoryRouter initialEntries={["/vertraege/c1"]}>
          <SessionNotice />
          <ReauthDialog />
          <p>Interview</p>
        </MemoryRouter>
      </AuthProvider>
    </QueryClientProvider>,
  );
  await vi.waitFor(() => expect(api.calls.some((c) => c.path === "/api/v1/identity/me")).toBe(true));
  await screen.findByText("Interview");

  await act(() => api.session.refresh()); // the silent refresh: the provider cannot be reached
  const notice = await screen.findByRole("alert");
  expect(notice).toHaveTextContent("Der Anmeldedienst Ihrer Kanzlei ist nicht erreichbar");
  expect(notice).toHaveTextContent("Ihre Eingaben bleiben erhalten");
  expect(screen.queryByRole("alertdialog", { name: "Sitzung abgelaufen" })).not.toBeInTheDocument();

  // an autosave meets the expired token meanwhile: it waits instead of failing with 401
  let settled = false;
  const pending = api.api
    .PATCH("/api/v1/contracts/{contract_id}", { params: { path: { contract_id: "c1" } }, body: { answers: { probezeit: 6 } } })
    .finally(() => {
      settled = true;
    });
  await waitFor(() => expect(api.calls.filter((c) => c.path === TOKEN_PATH).length).toBeGreaterThanOrEqual(2));
  await act(() => new Promise((resolve) => setTimeout(resolve, 50)));
  expect(settled).toBe(false);
  expect(screen.getByText("Interview")).toBeInTheDocument(); // the page stays
  expect(api.session.getState()).toBe("signedIn");

  // the service is back: "Jetzt erneut versuchen" renews the session, the waiting request goes out
  providerUp = true;
  await userEvent.setup().click(screen.getByRole("button", { name: "Jetzt erneut versuchen" }));
  const result = await pending;
  expect(result.response.status).toBe(200);
  expect(api.calls.filter((c) => c.method === "PATCH").at(-1)).toMatchObject({
    authorization: "Bearer at2",
    body: { answers: { probezeit: 6 } },
  });
  await waitFor(() => expect(screen.queryByRole("alert")).not.toBeInTheDocument());
  expect(screen.queryByRole("alertdialog")).not.toBeInTheDocument();
});

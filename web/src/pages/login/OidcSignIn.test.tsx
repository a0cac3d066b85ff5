// The OIDC sign-in as the user sees it (sign-in page, callback page, the "Sitzung abgelaufen" dialog)
// through the real AuthProvider and client; only fetch is faked (the API and the provider's endpoints).
// Found in the browser run against the Keycloak stand-in (tests/test_web_oidc_e2e.py, docs/web.md).
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router";

import "../../i18n";
import { AuthProvider } from "../../api/auth";
import { ReauthDialog } from "../../app/ReauthDialog";
import { ME, fakeApi, json, problem } from "../../test/fakeApi";
import { LoginPage } from "./LoginPage";
import { OidcCallbackPage } from "./OidcCallbackPage";

const ISSUER = "https://sso.kanzlei.example/realms/servanda";
const DISCOVERY_PATH = "/realms/servanda/.well-known/openid-configuration";
const TOKEN_PATH = "/realms/servanda/protocol/openid-connect/token";
const UNREACHABLE = /Der Anmeldedienst Ihrer Kanzlei ist nicht erreichbar/;

function oidcApi() {
  const api = fakeApi();
  api.on("GET /api/v1/auth/config", () =>
    json({ provider: "oidc", issuer: ISSUER, clientId: "servanda-web", audience: "servanda-api" }),
  );
  return api;
}

function renderWith(api: ReturnType<typeof fakeApi>, ui: React.ReactNode, path = "/anmelden") {
  render(
    <QueryClientProvider client={new QueryClient()}>
      <AuthProvider client={api}>
        <MemoryRouter initialEntries={[path]}>{ui}</MemoryRouter>
      </AuthProvider>
    </QueryClientProvider>,
  );
  return userEvent.setup();
}

afterEach(() => {
  localStorage.clear();
  sessionStorage.clear();
  window.history.replaceState(null, "", "/");
});

it("says the firm's sign-in service is unreachable, not our server, when the provider cannot be reached", async () => {
  const api = oidcApi();
  api.on(`GET ${DISCOVERY_PATH}`, () => Promise.reject(new TypeError("Failed to fetch"))); // down, or no CORS
  const user = renderWith(api, <LoginPage />);

  await user.click(await screen.findByRole("button", { name: "Mit Single Sign-on anmelden" }));

  expect(await screen.findByRole("alert")).toHaveTextContent(UNREACHABLE);
  expect(screen.queryByText(/Der Server ist nicht erreichbar/)).not.toBeInTheDocument();
});

it("counts a provider whose discovery answers an error as unreachable too", async () => {
  const api = oidcApi();
  api.on(`GET ${DISCOVERY_PATH}`, () => new Response("Bad Gateway", { status: 502 }));
  const user = renderWith(api, <LoginPage />);

  await user.click(await screen.findByRole("button", { name: "Mit Single Sign-on anmelden" }));

  expect(await screen.findByRole("alert")).toHaveTextContent(UNREACHABLE);
});

describe("the callback page", () => {
  function pendingSignIn(state: string) {
    sessionStorage.setItem(
      "servanda.oidc.pending",
      JSON.stringify({ state, verifier: "v".repeat(64), next: "/vertraege", issuer: ISSUER, clientId: "servanda-web" }),
    );
  }

  it("explains a sign-in cancelled at the provider in German", async () => {
    pendingSignIn("s1");
    window.history.replaceState(null, "", "/anmelden/oidc?error=access_denied&state=s1");
    renderWith(oidcApi(), <OidcCallbackPage />, "/anmelden/oidc");

    expect(await screen.findByRole("alert")).toHaveTextContent(
      "Die Anmeldung wurde beim Anmeldedienst Ihrer Kanzlei abgebrochen.",
    );
    expect(screen.getByRole("link", { name: "Erneut anmelden" })).toBeInTheDocument();
  });

  it("explains a callback that does not belong to a sign-in begun here", async () => {
    pendingSignIn("s1");
    window.history.replaceState(null, "", "/anmelden/oidc?code=c0de&state=forged");
    renderWith(oidcApi(), <OidcCallbackPage />, "/anmelden/oidc");

    expect(await screen.findByRole("alert")).toHaveTextContent(/nicht in diesem Fenster begonnen/);
    expect(screen.queryByText("state mismatch")).not.toBeInTheDocument();
  });

  it("shows the API's words when the provider signed the user in but the account is unknown here", async () => {
    pendingSignIn("s1");
    window.history.replaceState(null, "", "/anmelden/oidc?code=c0de&state=s1");
    const api = oidcApi();
    api.on(`GET ${DISCOVERY_PATH}`, () =>
      json({ authorization_endpoint: `${ISSUER}/auth`, token_endpoint: `${ISSUER}/protocol/openid-connect/token` }),
    );
    api.on(`POST ${TOKEN_PATH}`, () => json({ access_token: "at", refresh_token: "rt", id_token: "it", expires_in: 300 }));
    api.on("GET /api/v1/identity/me", () => problem(401, "auth.unknown_user", "Dieses Konto ist nicht bekannt."));
    renderWith(api, <OidcCallbackPage />, "/anmelden/oidc");

    expect(await screen.findByRole("alert")).toHaveTextContent("Dieses Konto ist nicht bekannt.");
    expect(api.session.current()).toBeNull(); // the provider's tokens are not kept
  });
});

describe("the session-expired dialog with OIDC", () => {
  async function expiredSession() {
    const api = oidcApi();
    api.on("GET /api/v1/identity/me", () => json(ME));
    api.on(`POST ${TOKEN_PATH}`, () => json({ error: "invalid_grant" }, 400)); // the provider ended the session
    api.session.signIn({
      accessToken: "at",
      refreshToken: "rt",
      expiresAt: Date.now() + 300_000,
      lifetimeMs: 300_000,
      provider: "oidc",
      tokenEndpoint: `${ISSUER}/protocol/openid-connect/token`,
      clientId: "servanda-web",
    });
    const user = renderWith(api, <ReauthDialog />, "/katalog?q=Arbeitsvertrag");
    await vi.waitFor(() => expect(api.calls.some((c) => c.path === "/api/v1/identity/me")).toBe(true));
    await act(() => api.session.refresh()); // refused: the session is over
    return { api, user };
  }

  it("says the sign-in goes through the firm's sign-in service and back to this page", async () => {
    await expiredSession();

    const dialog = await screen.findByRole("alertdialog", { name: "Sitzung abgelaufen" });
    expect(dialog).toHaveTextContent(/beim Anmeldedienst Ihrer Kanzlei erneut an und kehren danach auf diese Seite zurück/);
    expect(dialog).not.toHaveTextContent(/Ihre Eingaben bleiben erhalten/); // a redirect keeps no page state
  });

  it("shows why the sign-in cannot start instead of doing nothing", async () => {
    const { api, user } = await expiredSession();
    api.on(`GET ${DISCOVERY_PATH}`, () => Promise.reject(new TypeError("Failed to fetch")));

    const dialog = await screen.findByRole("alertdialog", { name: "Sitzung abgelaufen" });
    await user.click(screen.getByRole("button", { name: "Mit Single Sign-on anmelden" }));

    expect(await screen.findByRole("alert")).toHaveTextContent(UNREACHABLE);
    expect(dialog).toBeInTheDocument();
  });
});

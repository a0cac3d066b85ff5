// The login form through the real AuthProvider, client and React Aria fields; only fetch is faked.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router";

import "../../i18n";
import { AuthProvider, useAuth } from "../../api/auth";
import { ME, fakeApi, json, problem, tokenResponse } from "../../test/fakeApi";
import { LoginForm } from "./LoginForm";

function Who() {
  const { user } = useAuth();
  return <p data-testid="who">{user ? user.displayName : "niemand"}</p>;
}

function setup() {
  const api = fakeApi();
  api.on("GET /api/v1/auth/config", () => json({ provider: "local" }));
  api.on("GET /api/v1/identity/me", (request) =>
    request.headers.get("Authorization") === "Bearer a1" ? json(ME) : problem(401, "auth.invalid_token", "x"),
  );
  const onSuccess = vi.fn();
  render(
    <QueryClientProvider client={new QueryClient()}>
      <AuthProvider client={api}>
        <MemoryRouter>
          <LoginForm initialTenant="kanzlei-demo" onSuccess={onSuccess} />
          <Who />
        </MemoryRouter>
      </AuthProvider>
    </QueryClientProvider>,
  );
  return { api, onSuccess, user: userEvent.setup() };
}

async function fillCredentials(user: ReturnType<typeof userEvent.setup>, password = "richtig-geheim-1") {
  await user.type(screen.getByRole("textbox", { name: /E-Mail-Adresse/ }), ME.email);
  await user.type(screen.getByLabelText(/^Passwort/), password);
  await user.click(screen.getByRole("button", { name: "Anmelden" }));
}

afterEach(() => localStorage.clear());

describe("LoginForm", () => {
  it("signs in with tenant, e-mail and password and loads the user", async () => {
    const { api, onSuccess, user } = setup();
    api.on("POST /api/v1/auth/login", () => tokenResponse("a1", "r1"));

    expect(screen.getByRole("textbox", { name: /Mandant/ })).toHaveValue("kanzlei-demo");
    await fillCredentials(user);

    await waitFor(() => expect(onSuccess).toHaveBeenCalled());
    expect(screen.getByTestId("who")).toHaveTextContent(ME.displayName);
    expect(api.calls.find((c) => c.path === "/api/v1/auth/login")?.body).toEqual({
      tenant: "kanzlei-demo",
      email: ME.email,
      password: "richtig-geheim-1",
      totp: null,
    });
  });

  it("shows the API's German message for wrong credentials and stays on the form", async () => {
    const { api, onSuccess, user } = setup();
    api.on("POST /api/v1/auth/login", () =>
      problem(401, "auth.invalid_credentials", "Mandant, E-Mail-Adresse oder Passwort sind nicht korrekt."),
    );

    await fillCredentials(user, "falsch-falsch-1");

    expect(await screen.findByRole("alert")).toHaveTextContent(
      "Mandant, E-Mail-Adresse oder Passwort sind nicht korrekt.",
    );
    expect(onSuccess).not.toHaveBeenCalled();
    expect(screen.getByTestId("who")).toHaveTextContent("niemand");
  });

  it("asks for the TOTP code when the API requires it, shows a wrong code's message, then signs in", async () => {
    const { api, onSuccess, user } = setup();
    api.on("POST /api/v1/auth/login", async (request) => {
      const body = (await request.json()) as { totp: string | null };
      if (!body.totp) return problem(401, "auth.mfa_required", "Bitte geben Sie den Code Ihrer Authenticator-App ein.");
      if (body.totp !== "123456") return problem(401, "auth.invalid_totp", "Der Code ist nicht korrekt.");
      return tokenResponse("a1", "r1");
    });

    await fillCredentials(user);
    const code = await screen.findByRole("textbox", { name: /Bestätigungscode/ });
    expect(code).toHaveFocus();
    expect(screen.getByText("Bitte geben Sie den Code Ihrer Authenticator-App ein.")).toBeInTheDocument();
    expect(screen.queryByLabelText(/^Passwort/)).not.toBeInTheDocument();

    await user.type(code, "654321");
    await user.click(screen.getByRole("button", { name: "Code bestätigen" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Der Code ist nicht korrekt.");
    expect(onSuccess).not.toHaveBeenCalled();

    await user.type(screen.getByRole("textbox", { name: /Bestätigungscode/ }), "123 456");
    await user.click(screen.getByRole("button", { name: "Code bestätigen" }));

    await waitFor(() => expect(onSuccess).toHaveBeenCalled());
    const logins = api.calls.filter((c) => c.path === "/api/v1/auth/login");
    expect(logins.map((c) => (c.body as { totp: string | null }).totp)).toEqual([null, "654321", "123456"]);
    expect((logins[2]?.body as { password: string }).password).toBe("richtig-geheim-1");
  });

  it("shows the throttle message with the wait from Retry-After and holds the button meanwhile", async () => {
    const { api, user } = setup();
    api.on("POST /api/v1/auth/login", () =>
      problem(429, "auth.rate_limited", "Zu viele fehlgeschlagene Anmeldungen. Bitte warten Sie.", {
        "Retry-After": "8",
      }),
    );

    await fillCredentials(user);

    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Zu viele fehlgeschlagene Anmeldungen. Bitte warten Sie.");
    expect(alert).toHaveTextContent("Bitte warten Sie 8 Sekunden, bevor Sie es erneut versuchen.");
    expect(screen.getByRole("button", { name: "Anmelden" })).toBeDisabled();
  });

  it("names an unreachable server instead of failing silently", async () => {
    const { api, user } = setup();
    api.on("POST /api/v1/auth/login", () => {
      throw new TypeError("Failed to fetch");
    });

    await fillCredentials(user);

    expect(await screen.findByRole("alert")).toHaveTextContent("Der Server ist nicht erreichbar.");
  });
});

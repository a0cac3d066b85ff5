// Protected routes: without a session to /anmelden?next=<page>, and back to that page after signing in.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { createMemoryRouter, RouterProvider, useLocation } from "react-router";

import "../i18n";
import { AuthProvider } from "../api/auth";
import { LoginPage } from "../pages/login/LoginPage";
import { ME, fakeApi, json, tokenResponse } from "../test/fakeApi";
import { RequireAuth } from "./RequireAuth";

function Here() {
  const location = useLocation();
  return <p data-testid="here">{location.pathname + location.search}</p>;
}

it("sends a visitor to the sign-in with the way back, and returns there afterwards", async () => {
  const api = fakeApi();
  api.on("GET /api/v1/auth/config", () => json({ provider: "local" }));
  api.on("POST /api/v1/auth/login", () => tokenResponse("a1", "r1"));
  api.on("GET /api/v1/identity/me", () => json(ME));
  const router = createMemoryRouter(
    [
      { path: "/anmelden", element: <LoginPage /> },
      { element: <RequireAuth />, children: [{ path: "*", element: <Here /> }] },
    ],
    { initialEntries: ["/vertraege?status=draft"] },
  );
  const user = userEvent.setup();
  render(
    <QueryClientProvider client={new QueryClient()}>
      <AuthProvider client={api}>
        <RouterProvider router={router} />
      </AuthProvider>
    </QueryClientProvider>,
  );

  await screen.findByRole("heading", { name: "Anmelden" });
  expect(router.state.location.pathname).toBe("/anmelden");
  expect(router.state.location.search).toBe(`?next=${encodeURIComponent("/vertraege?status=draft")}`);

  await user.type(await screen.findByRole("textbox", { name: /Mandant/ }), "kanzlei-demo");
  await user.type(screen.getByRole("textbox", { name: /E-Mail-Adresse/ }), ME.email);
  await user.type(screen.getByLabelText(/^Passwort/), "richtig-geheim-1");
  await user.click(screen.getByRole("button", { name: "Anmelden" }));

  expect(await screen.findByTestId("here")).toHaveTextContent("/vertraege?status=draft");
});

it("never follows a next that leaves the app", async () => {
  const { safeNext } = await import("./next");
  expect(safeNext("//evil.example/x")).toBe("/");
  expect(safeNext("https://evil.example")).toBe("/");
  expect(safeNext("/\\evil.example")).toBe("/");
  expect(safeNext("/anmelden?next=/x")).toBe("/");
  expect(safeNext("/vertraege/1?tab=2#a")).toBe("/vertraege/1?tab=2#a");
});

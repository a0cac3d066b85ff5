import { render, screen } from "@testing-library/react";
import { createMemoryRouter, RouterProvider } from "react-router";

import "../i18n";
import { RouteError } from "./RouteError";

function renderFailing(error: unknown) {
  const Boom = () => {
    throw error;
  };
  const router = createMemoryRouter([{ path: "/", element: <Boom />, errorElement: <RouteError /> }]);
  render(<RouterProvider router={router} />);
}

test("a page chunk gone after a deploy asks to reload, keeping the entries", async () => {
  renderFailing(new TypeError("Failed to fetch dynamically imported module: /assets/InterviewPage-abc.js"));
  expect(await screen.findByRole("heading", { name: "Eine neue Version ist verfügbar" })).toBeInTheDocument();
  expect(screen.getByRole("alert")).toHaveTextContent("Ihre Eingaben bleiben erhalten");
  expect(screen.getByRole("button", { name: "Seite neu laden" })).toBeInTheDocument();
});

test("any other failure gets a plain message instead of the developer screen", async () => {
  vi.spyOn(console, "error").mockImplementation(() => undefined);
  renderFailing(new Error("boom"));
  expect(await screen.findByRole("heading", { name: "Diese Seite konnte nicht angezeigt werden" })).toBeInTheDocument();
});

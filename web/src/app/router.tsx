import { lazy } from "react";
import { createBrowserRouter, type RouteObject } from "react-router";

import { CatalogDetailPage } from "../pages/catalog/CatalogDetailPage";
import { CatalogPage } from "../pages/catalog/CatalogPage";
import { ContractsPage } from "../pages/contracts/ContractsPage";
import { DashboardPage } from "../pages/dashboard/DashboardPage";
import { LoginPage } from "../pages/login/LoginPage";
import { OidcCallbackPage } from "../pages/login/OidcCallbackPage";
import { NotFoundPage } from "../pages/NotFoundPage";
import { AppLayout } from "./AppLayout";
import { RequireAuth } from "./RequireAuth";

// The interview is the largest page: its own chunk, loaded when a contract is opened.
// (A placeholder until web/src/interview/InterviewPage.tsx exists.)
const InterviewPage = lazy(() => import("./InterviewPlaceholder"));

export const routes: RouteObject[] = [
  { path: "/anmelden", element: <LoginPage /> },
  { path: "/anmelden/oidc", element: <OidcCallbackPage /> },
  {
    element: <RequireAuth />,
    children: [
      {
        element: <AppLayout />,
        children: [
          { index: true, element: <DashboardPage /> },
          { path: "katalog", element: <CatalogPage /> },
          { path: "katalog/:templateId", element: <CatalogDetailPage /> },
          { path: "vertraege", element: <ContractsPage /> },
          { path: "vertraege/:contractId", element: <InterviewPage /> },
          { path: "*", element: <NotFoundPage /> },
        ],
      },
    ],
  },
];

export function createRouter() {
  return createBrowserRouter(routes);
}

import { lazy } from "react";
import { createBrowserRouter, type RouteObject } from "react-router";

import { LoginPage } from "../pages/login/LoginPage";
import { OidcCallbackPage } from "../pages/login/OidcCallbackPage";
import { NotFoundPage } from "../pages/NotFoundPage";
import { AppLayout } from "./AppLayout";
import { RequireAuth } from "./RequireAuth";

// Pages load as their own chunks: the initial JavaScript stays small (sign-in and the layout).
const DashboardPage = lazy(() => import("../pages/dashboard/DashboardPage").then((m) => ({ default: m.DashboardPage })));
const CatalogPage = lazy(() => import("../pages/catalog/CatalogPage").then((m) => ({ default: m.CatalogPage })));
const CatalogDetailPage = lazy(() =>
  import("../pages/catalog/CatalogDetailPage").then((m) => ({ default: m.CatalogDetailPage })),
);
const ContractsPage = lazy(() => import("../pages/contracts/ContractsPage").then((m) => ({ default: m.ContractsPage })));

// The interview is the largest page: its own chunk, loaded when a contract is opened.
const InterviewPage = lazy(() => import("../interview/InterviewPage").then((m) => ({ default: m.InterviewPage })));

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

import { lazy, Suspense } from "react";
import { createBrowserRouter, type RouteObject } from "react-router";

import { LoginPage } from "../pages/login/LoginPage";
import { OidcCallbackPage } from "../pages/login/OidcCallbackPage";
import { NotFoundPage } from "../pages/NotFoundPage";
import { AppLayout } from "./AppLayout";
import { RequireAuth } from "./RequireAuth";
import { RouteError } from "./RouteError";

// Pages load as their own chunks: the initial JavaScript stays small (sign-in and the layout).
const DashboardPage = lazy(() => import("../pages/dashboard/DashboardPage").then((m) => ({ default: m.DashboardPage })));
const CatalogPage = lazy(() => import("../pages/catalog/CatalogPage").then((m) => ({ default: m.CatalogPage })));
const CatalogDetailPage = lazy(() =>
  import("../pages/catalog/CatalogDetailPage").then((m) => ({ default: m.CatalogDetailPage })),
);
const ContractsPage = lazy(() => import("../pages/contracts/ContractsPage").then((m) => ({ default: m.ContractsPage })));

const AcceptInvitePage = lazy(() =>
  import("../pages/login/AccountPages").then((m) => ({ default: m.AcceptInvitePage })),
);
const ResetPasswordPage = lazy(() =>
  import("../pages/login/AccountPages").then((m) => ({ default: m.ResetPasswordPage })),
);
const ForgotPasswordPage = lazy(() =>
  import("../pages/login/AccountPages").then((m) => ({ default: m.ForgotPasswordPage })),
);

// The interview is the largest page: its own chunk, loaded when a contract is opened.
const InterviewPage = lazy(() => import("../interview/InterviewPage").then((m) => ({ default: m.InterviewPage })));

export const routes: RouteObject[] = [
  { path: "/anmelden", element: <LoginPage /> },
  { path: "/anmelden/oidc", element: <OidcCallbackPage /> },
  // the links in the server's mails (PUBLIC_BASE_URL/einladung, /passwort-zuruecksetzen)
  { path: "/einladung", element: <Suspense fallback={null}><AcceptInvitePage /></Suspense> },
  { path: "/passwort-zuruecksetzen", element: <Suspense fallback={null}><ResetPasswordPage /></Suspense> },
  { path: "/passwort-vergessen", element: <Suspense fallback={null}><ForgotPasswordPage /></Suspense> },
  {
    element: <RequireAuth />,
    errorElement: <RouteError />,
    children: [
      {
        element: <AppLayout />,
        errorElement: <RouteError />,
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

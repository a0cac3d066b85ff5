import { Navigate, Outlet, useLocation } from "react-router";

import { useAuth } from "../api/auth";
import { Spinner } from "../ui/Status";
import { loginPath } from "./next";

/** Signed-in routes: without a session, to /anmelden?next=<this page> (and back after sign-in). */
export function RequireAuth() {
  const { status } = useAuth();
  const location = useLocation();
  if (status === "loading") return <Spinner />;
  if (status === "anonymous") {
    return <Navigate to={loginPath(location.pathname + location.search + location.hash)} replace />;
  }
  return <Outlet />;
}

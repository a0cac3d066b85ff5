import { lazy, Suspense, useEffect, useRef } from "react";
import { useTranslation } from "react-i18next";
import { NavLink, Outlet, useLocation, useNavigate } from "react-router";

import { useAuth } from "../api/auth";
import { Button } from "../ui/Button";
import { Spinner } from "../ui/Status";
import { LanguageSwitch } from "./LanguageSwitch";
import { SessionNotice } from "./SessionNotice";

// Loaded when the session ends (rarely): keeps the dialog widgets out of the initial JavaScript.
const ReauthDialog = lazy(() => import("./ReauthDialog").then((m) => ({ default: m.ReauthDialog })));

/** Header (product, navigation, tenant, user, language, logout), skip link and the main landmark. */
export function AppLayout() {
  const { t } = useTranslation();
  const { user, logout, sessionExpired } = useAuth();
  const location = useLocation();
  const navigate = useNavigate();
  const mainRef = useRef<HTMLElement>(null);
  const firstRender = useRef(true);

  // After a navigation, focus moves to the new page's content (a screen reader starts there).
  useEffect(() => {
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    const heading = mainRef.current?.querySelector<HTMLElement>("h1");
    if (heading) {
      heading.tabIndex = -1;
      heading.focus();
    } else {
      mainRef.current?.focus();
    }
  }, [location.pathname]);

  return (
    <>
      <a className="skip-link" href="#main">
        {t("app.skipLink")}
      </a>
      <header className="app-header">
        <div className="app-header-inner">
          <NavLink to="/" className="app-brand">
            {t("app.name")}
          </NavLink>
          <nav aria-label={t("app.nav.label")} className="app-nav">
            <ul>
              <li>
                <NavLink to="/" end>
                  {t("app.nav.dashboard")}
                </NavLink>
              </li>
              <li>
                <NavLink to="/katalog">{t("app.nav.catalog")}</NavLink>
              </li>
              <li>
                <NavLink to="/vertraege">{t("app.nav.contracts")}</NavLink>
              </li>
            </ul>
          </nav>
          <div className="app-header-tools">
            {user ? (
              <p className="app-user">
                <span>{user.displayName || user.email}</span>
                <span className="app-user-tenant">
                  <span className="ui-visually-hidden">{t("app.header.tenant")}: </span>
                  {user.tenantSlug}
                </span>
              </p>
            ) : null}
            <LanguageSwitch />
            {/* An explicit sign-out does not come back to this page (the next user may be someone else). */}
            <Button variant="quiet" onPress={() => void logout().then(() => navigate("/anmelden", { replace: true }))}>
              {t("app.header.logout")}
            </Button>
          </div>
        </div>
      </header>
      <main id="main" className="app-main" tabIndex={-1} ref={mainRef}>
        <SessionNotice />
        <Suspense fallback={<Spinner />}>
          <Outlet />
        </Suspense>
      </main>
      {sessionExpired ? (
        <Suspense fallback={null}>
          <ReauthDialog />
        </Suspense>
      ) : null}
    </>
  );
}

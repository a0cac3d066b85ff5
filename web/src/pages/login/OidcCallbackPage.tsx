import { useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router";

import { useAuth } from "../../api/auth";
import { safeNext } from "../../app/next";
import { usePageTitle } from "../../app/usePageTitle";
import { Spinner } from "../../ui/Status";
import { OidcFailureMessage } from "./OidcSignIn";

/** /anmelden/oidc: the identity provider's redirect back; exchanges the code (PKCE) and returns to `next`. */
export function OidcCallbackPage() {
  const { t } = useTranslation();
  const { completeOidcLogin } = useAuth();
  const navigate = useNavigate();
  const [failed, setFailed] = useState<unknown>(null);
  const started = useRef(false);
  usePageTitle(t("app.login.title"));

  useEffect(() => {
    if (started.current) return; // the code can be exchanged once (StrictMode runs effects twice)
    started.current = true;
    completeOidcLogin(new URLSearchParams(window.location.search))
      .then((next) => navigate(safeNext(next), { replace: true }))
      .catch((error: unknown) => setFailed(error ?? new Error("sign-in failed")));
  }, [completeOidcLogin, navigate]);

  return (
    <div className="login-page">
      <main className="card login-card" id="main">
        <h1>{t("app.login.title")}</h1>
        {failed ? (
          <div className="stack">
            <OidcFailureMessage error={failed} title={t("app.login.oidcFailed")} />
            <Link to="/anmelden">{t("app.login.again")}</Link>
          </div>
        ) : (
          <Spinner label={t("app.login.submitting")} />
        )}
      </main>
    </div>
  );
}

import { useTranslation } from "react-i18next";
import { Navigate, useNavigate, useSearchParams } from "react-router";

import { useAuth } from "../../api/auth";
import { LanguageSwitch } from "../../app/LanguageSwitch";
import { safeNext } from "../../app/next";
import { usePageTitle } from "../../app/usePageTitle";
import { Spinner } from "../../ui/Status";
import { LoginForm } from "./LoginForm";
import { OidcSignInButton } from "./OidcSignIn";

/** /anmelden?tenant=<slug>&next=<path>: local sign-in, or the button to the OIDC provider. */
export function LoginPage() {
  const { t } = useTranslation();
  const { status, config } = useAuth();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const next = safeNext(params.get("next"));
  usePageTitle(t("app.login.title"));

  if (status === "authenticated") return <Navigate to={next} replace />;

  return (
    <div className="login-page">
      <main className="card login-card" id="main">
        <div className="login-lang">
          <LanguageSwitch className="app-lang" />
        </div>
        <p className="login-brand">{t("app.name")}</p>
        <h1>{t("app.login.title")}</h1>
        {status === "loading" || config === null ? (
          <Spinner />
        ) : config.provider === "oidc" ? (
          <div className="stack">
            <p>{t("app.login.oidcText")}</p>
            <OidcSignInButton next={next} />
          </div>
        ) : (
          <LoginForm initialTenant={params.get("tenant")} onSuccess={() => navigate(next, { replace: true })} />
        )}
      </main>
    </div>
  );
}

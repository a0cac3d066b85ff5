import { useTranslation } from "react-i18next";
import { useLocation } from "react-router";

import { useAuth } from "../api/auth";
import { LoginForm } from "../pages/login/LoginForm";
import { OidcSignInButton } from "../pages/login/OidcSignIn";
import { Button } from "../ui/Button";
import { Dialog } from "../ui/Dialog";

/**
 * The session ended while the user worked: sign in again over the page, which stays as it is - requests
 * that met the ended session (an autosave, say) wait and are sent again afterwards. "Abmelden" gives up:
 * they fail, and the sign-in page opens with the way back to this page.
 */
export function ReauthDialog() {
  const { t } = useTranslation();
  const { sessionExpired, user, config, abandonSession } = useAuth();
  const location = useLocation();
  if (!sessionExpired || !user) return null;
  const here = location.pathname + location.search;
  const oidc = config?.provider === "oidc";
  return (
    <Dialog title={t("app.reauth.title")} isOpen isDismissable={false} role="alertdialog">
      {/* With OIDC the sign-in is a redirect: the user comes back to this page, not to its state. */}
      <p>{oidc ? t("app.reauth.oidcText") : t("app.reauth.text")}</p>
      {oidc ? (
        <OidcSignInButton next={here} actionsClassName="ui-dialog-actions" />
      ) : (
        <LoginForm fixedIdentity={{ tenant: user.tenantSlug, email: user.email }} />
      )}
      <div className="ui-dialog-actions">
        <Button variant="quiet" onPress={abandonSession}>
          {t("app.header.logout")}
        </Button>
      </div>
    </Dialog>
  );
}

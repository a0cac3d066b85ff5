import { useTranslation } from "react-i18next";

import { useAuth } from "../api/auth";
import { Alert } from "../ui/Alert";
import { Button } from "../ui/Button";

/**
 * The session cannot be renewed because the sign-in service of the firm (OIDC) or, with the built-in
 * sign-in, our server cannot be reached. Not "Sitzung abgelaufen": the session is not over, the page
 * and its unsaved input stay, requests that need a new token wait and go out once a retry gets through.
 */
export function SessionNotice() {
  const { t } = useTranslation();
  const { sessionUnreachable, config, retrySession } = useAuth();
  if (!sessionUnreachable) return null;
  const oidc = config?.provider === "oidc";
  return (
    <Alert
      tone="warning"
      title={oidc ? t("app.sessionUnreachable.oidcTitle") : t("app.sessionUnreachable.title")}
      className="session-notice"
    >
      <p>{t("app.sessionUnreachable.text")}</p>
      <Button onPress={retrySession}>{t("app.sessionUnreachable.retry")}</Button>
    </Alert>
  );
}

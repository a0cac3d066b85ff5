import { useState, type ReactNode } from "react";
import { useTranslation } from "react-i18next";

import { useAuth } from "../../api/auth";
import { oidcFailureOf } from "../../api/oidc";
import { ApiError } from "../../api/problem";
import { Alert, ProblemMessage } from "../../ui/Alert";
import { Button } from "../../ui/Button";

/**
 * Why signing in through the firm's identity provider failed, in the user's words: the provider (not our
 * server) unreachable, the sign-in refused or cancelled there, a stale callback; or the API's problem
 * when the provider signed the user in but the API refused the account (e.g. not invited).
 */
export function OidcFailureMessage({ error, title }: { error: unknown; title?: ReactNode }) {
  const { t } = useTranslation();
  if (error === null || error === undefined) return null;
  if (error instanceof ApiError) return <ProblemMessage problem={error.problem} title={title} />;
  const detail = error instanceof Error ? error.message : String(error);
  return (
    <Alert tone="error" title={title}>
      <p>{t(`app.login.oidcError.${oidcFailureOf(error)}`, { detail })}</p>
    </Alert>
  );
}

/** "Mit Single Sign-on anmelden": to the provider, back to `next`; why it cannot start when it cannot. */
export function OidcSignInButton({ next, actionsClassName }: { next: string; actionsClassName?: string }) {
  const { t } = useTranslation();
  const { startOidcLogin } = useAuth();
  const [error, setError] = useState<unknown>(null);
  const button = (
    <Button
      variant="primary"
      onPress={() => {
        setError(null);
        startOidcLogin(next).catch((failure: unknown) => setError(failure));
      }}
    >
      {t("app.login.oidc")}
    </Button>
  );
  return (
    <>
      <OidcFailureMessage error={error} />
      {actionsClassName ? <div className={actionsClassName}>{button}</div> : button}
    </>
  );
}

import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";

import { oidcFailureOf } from "../../api/oidc";
import { ApiError } from "../../api/problem";
import { Alert, ProblemMessage } from "../../ui/Alert";

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

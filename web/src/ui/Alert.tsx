import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";

import type { ApiProblem } from "../api/problem";

export type AlertTone = "error" | "warning" | "info" | "success";

/** A message box; errors and warnings are announced at once (role="alert"), the others politely. */
export function Alert({
  tone = "info",
  title,
  children,
  className,
}: {
  tone?: AlertTone;
  title?: ReactNode;
  children?: ReactNode;
  className?: string;
}) {
  const urgent = tone === "error" || tone === "warning";
  return (
    <div
      role={urgent ? "alert" : "status"}
      className={["ui-alert", `ui-alert--${tone}`, className ?? ""].filter(Boolean).join(" ")}
    >
      {title ? <p className="ui-alert-title">{title}</p> : null}
      {children ? <div className="ui-alert-body">{children}</div> : null}
    </div>
  );
}

/**
 * An API problem as the API words it: its `detail` (German, or English with the English UI), the
 * field messages, and the wait of a 429. Network failures and answers without a detail get a generic text.
 */
export function ProblemMessage({
  problem,
  title,
  className,
}: {
  problem: ApiProblem | null | undefined;
  title?: ReactNode;
  className?: string;
}) {
  const { t } = useTranslation();
  if (!problem) return null;
  const detail =
    problem.code === "network.unreachable"
      ? t("app.problem.network")
      : problem.detail || problem.title || t("app.problem.generic", { status: problem.status });
  return (
    <Alert tone="error" title={title} {...(className ? { className } : {})}>
      <p>{detail}</p>
      {problem.errors.length > 0 ? (
        <ul className="ui-problem-errors">
          {problem.errors.map((e) => (
            <li key={`${e.field}:${e.message}`}>{e.message}</li>
          ))}
        </ul>
      ) : null}
      {problem.retryAfter !== null && problem.status === 429 ? (
        <p>{t("app.problem.retryAfter", { count: problem.retryAfter })}</p>
      ) : null}
    </Alert>
  );
}

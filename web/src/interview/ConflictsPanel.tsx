// The contract's rule violations (validation.messages): hard conflicts (red) before soft warnings
// (amber), each with the clauses it concerns, the API's message and suggestion, one button per
// resolution option the API offers (POST /resolutions) and, for warnings, "Ausblenden" (dismissal by
// fingerprint through the autosave PATCH). Dismissed warnings stay listed, collapsed, to show again.
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Button } from "react-aria-components";

import type { Violation } from "./model";

export interface ConflictsPanelProps {
  messages: Violation[];
  /** Clause id → title (from the slots' candidates). */
  titles: Map<string, { title: string; heading: string }>;
  /** Fingerprints currently dismissed (including unsaved dismissals). */
  dismissed: readonly string[];
  readOnly?: boolean;
  /** The fingerprint+option being applied, if any. */
  busy?: string | null;
  onResolve: (violation: Violation, optionId: string) => void;
  onDismiss: (fingerprint: string) => void;
  onRestore: (fingerprint: string) => void;
  /** The API's message when applying a resolution or dismissal failed. */
  error?: string | null;
}

function ViolationItem({
  violation,
  titles,
  readOnly,
  busy,
  dismissed,
  onResolve,
  onDismiss,
  onRestore,
}: { violation: Violation; dismissed: boolean } & Omit<ConflictsPanelProps, "messages" | "dismissed" | "error">) {
  const { t } = useTranslation();
  const hard = violation.severity === "hard";
  const source = titles.get(violation.sourceClauseId)?.title;
  const targets = violation.targetClauseIds.map((id) => titles.get(id)?.title).filter(Boolean) as string[];
  const headingId = `konflikt-${violation.fingerprint.slice(0, 12)}`;
  return (
    <li
      className={`iv-violation ${hard ? "iv-violation--hard" : "iv-violation--soft"}${dismissed ? " iv-violation--dismissed" : ""}`}
      aria-labelledby={headingId}
      data-testid={`violation-${violation.fingerprint.slice(0, 12)}`}
    >
      <p className="iv-violation-head" id={headingId}>
        <span className={`iv-badge ${hard ? "iv-badge--hard" : "iv-badge--soft"}`}>
          {hard ? t("interview.conflicts.hard") : t("interview.conflicts.soft")}
        </span>
        {source ? <strong className="iv-violation-clause">{source}</strong> : null}
        {targets.length > 0 ? (
          <span className="iv-violation-targets">
            {" "}
            {t("interview.conflicts.concerns", { clauses: targets.map((x) => `„${x}“`).join(", ") })}
          </span>
        ) : null}
      </p>
      {dismissed ? null : (
        <>
          <p className="iv-violation-message">{violation.message}</p>
          {violation.suggestion ? (
            <p className="iv-violation-suggestion">
              <span className="iv-violation-suggestion-label">{t("interview.conflicts.suggestion")}</span>{" "}
              {violation.suggestion}
            </p>
          ) : null}
        </>
      )}
      {readOnly ? null : (
        <div className="iv-violation-actions">
          {dismissed
            ? null
            : violation.resolutionOptions.map((option) => (
                <Button
                  key={option.optionId}
                  className={`ui-button ${hard ? "ui-button--primary" : "ui-button--secondary"}`}
                  isDisabled={Boolean(busy)}
                  onPress={() => onResolve(violation, option.optionId)}
                >
                  {busy === `${violation.fingerprint}|${option.optionId}` ? t("interview.conflicts.applying") : option.label}
                </Button>
              ))}
          {!hard && !dismissed ? (
            <Button
              className="ui-button ui-button--quiet"
              isDisabled={Boolean(busy)}
              onPress={() => onDismiss(violation.fingerprint)}
              aria-label={t("interview.conflicts.dismissLabel", { clause: source ?? "" })}
            >
              {t("interview.conflicts.dismiss")}
            </Button>
          ) : null}
          {dismissed ? (
            <Button className="ui-button ui-button--quiet" onPress={() => onRestore(violation.fingerprint)}>
              {t("interview.conflicts.restore")}
            </Button>
          ) : null}
          {hard && violation.resolutionOptions.length === 0 ? (
            <p className="iv-violation-manual">{t("interview.conflicts.manual")}</p>
          ) : null}
        </div>
      )}
    </li>
  );
}

export function ConflictsPanel({ messages, dismissed, error, ...rest }: ConflictsPanelProps) {
  const { t } = useTranslation();
  const [showDismissed, setShowDismissed] = useState(false);
  const isDismissed = (v: Violation) => v.severity === "soft" && dismissed.includes(v.fingerprint);
  const active = messages.filter((v) => !isDismissed(v));
  const hidden = messages.filter(isDismissed);
  const hard = active.filter((v) => v.severity === "hard").length;
  const soft = active.length - hard;
  if (messages.length === 0) return null;
  return (
    <section className="iv-conflicts" aria-labelledby="iv-conflicts-title" data-testid="conflicts-panel">
      <h2 id="iv-conflicts-title" className="iv-conflicts-title">
        {t("interview.conflicts.title")}
        <span className="iv-conflicts-count">
          {hard > 0 ? <span className="iv-count iv-count--hard">{t("interview.conflicts.hardCount", { count: hard })}</span> : null}
          {soft > 0 ? <span className="iv-count iv-count--soft">{t("interview.conflicts.softCount", { count: soft })}</span> : null}
        </span>
      </h2>
      {error ? (
        <p className="iv-error" role="alert">
          {error}
        </p>
      ) : null}
      {active.length > 0 ? (
        <ul className="iv-violations">
          {active.map((v) => (
            <ViolationItem key={v.fingerprint} violation={v} dismissed={false} {...rest} />
          ))}
        </ul>
      ) : (
        <p className="iv-muted">{t("interview.conflicts.noneActive")}</p>
      )}
      {hidden.length > 0 ? (
        <div className="iv-dismissed">
          <Button
            className="iv-link-button"
            aria-expanded={showDismissed}
            onPress={() => setShowDismissed((s) => !s)}
          >
            {t("interview.conflicts.dismissedToggle", { count: hidden.length })}
          </Button>
          {showDismissed ? (
            <ul className="iv-violations">
              {hidden.map((v) => (
                <ViolationItem key={v.fingerprint} violation={v} dismissed {...rest} />
              ))}
            </ul>
          ) : null}
        </div>
      ) : null}
    </section>
  );
}

// The autosave indicator (saved / saving / error with retry) and the notice about changes made
// elsewhere (another tab or colleague), with the choice when they touch unsaved input.
import { useTranslation } from "react-i18next";
import { Button } from "react-aria-components";

import { formatDateTime } from "../ui/format";
import type { AutosaveSnapshot } from "./autosave";
import type { Question, Slot } from "./model";

export function SaveIndicator({ snapshot, onRetry }: { snapshot: AutosaveSnapshot; onRetry: () => void }) {
  const { t } = useTranslation();
  const { status, failure } = snapshot;
  let text: string;
  switch (status) {
    case "saving":
    case "pending":
      text = t("interview.save.saving");
      break;
    case "error":
      text =
        failure?.problem.status === 0
          ? t("interview.save.offline")
          : failure?.problem.status === 401
            ? t("interview.save.sessionExpired")
            : t("interview.save.failed");
      break;
    case "invalid":
      text = t("interview.save.invalid");
      break;
    case "conflict":
      text = t("interview.save.paused");
      break;
    case "stale":
      text = t("interview.save.stale");
      break;
    case "readonly":
      text = t("interview.save.readonly");
      break;
    default:
      text = snapshot.savedAt
        ? t("interview.save.savedAt", { time: formatDateTime(snapshot.savedAt).split(", ")[1] ?? "" })
        : t("interview.save.saved");
  }
  return (
    <div className={`iv-save iv-save--${status}`} data-testid="save-status">
      <span role="status" aria-live="polite" className="iv-save-text">
        <span className="iv-save-dot" aria-hidden="true" />
        {text}
      </span>
      {status === "error" ? (
        <>
          {failure?.problem.detail && failure.problem.status !== 0 ? (
            <span className="iv-save-detail">{failure.problem.detail}</span>
          ) : null}
          <Button className="ui-button ui-button--secondary iv-save-retry" onPress={onRetry}>
            {t("interview.save.retry")}
          </Button>
        </>
      ) : null}
    </div>
  );
}

/** The name of a field ("answers.k": the question's text, "selectedSlots.s": the slot's heading). */
export function fieldLabel(field: string, questions: Question[], slots: Slot[]): string {
  if (field.startsWith("answers.")) return questions.find((q) => q.key === field.slice(8))?.text ?? field.slice(8);
  const slot = slots.find((s) => s.slotId === field.slice(14));
  return slot?.options[0]?.heading ?? field.slice(14);
}

export function RemoteNotice({
  snapshot,
  questions,
  slots,
  otherTabOpen,
  onKeepMine,
  onTakeTheirs,
  onAcknowledge,
}: {
  snapshot: AutosaveSnapshot;
  questions: Question[];
  slots: Slot[];
  otherTabOpen: boolean;
  onKeepMine: () => void;
  onTakeTheirs: () => void;
  onAcknowledge: () => void;
}) {
  const { t } = useTranslation();
  const remote = snapshot.remote;
  const label = (field: string): string => fieldLabel(field, questions, slots);
  if (remote && remote.collisions.length > 0) {
    return (
      <div className="iv-notice iv-notice--warning" role="alert" data-testid="edit-conflict">
        <p className="iv-notice-title">
          {remote.source === "restore" ? t("interview.remote.restoreTitle") : t("interview.remote.collisionTitle")}
        </p>
        <p>{remote.source === "restore" ? t("interview.remote.restoreText") : t("interview.remote.collisionText")}</p>
        <ul>
          {remote.collisions.map((field) => (
            <li key={field}>{label(field)}</li>
          ))}
        </ul>
        <div className="iv-notice-actions">
          <Button className="ui-button ui-button--primary" onPress={onKeepMine}>
            {t("interview.remote.keepMine")}
          </Button>
          <Button className="ui-button ui-button--secondary" onPress={onTakeTheirs}>
            {t("interview.remote.takeTheirs")}
          </Button>
        </div>
      </div>
    );
  }
  if (remote && (remote.questions.length > 0 || remote.slots.length > 0)) {
    const changed = [...remote.questions.map((k) => `answers.${k}`), ...remote.slots.map((k) => `selectedSlots.${k}`)];
    return (
      <div className="iv-notice iv-notice--info" role="status" data-testid="edit-conflict">
        <p className="iv-notice-title">
          {remote.source === "tab" ? t("interview.remote.otherTabTitle") : t("interview.remote.elsewhereTitle")}
        </p>
        <p>{t("interview.remote.mergedText")}</p>
        <ul>
          {changed.map((field) => (
            <li key={field}>{label(field)}</li>
          ))}
        </ul>
        <Button className="ui-button ui-button--quiet" onPress={onAcknowledge}>
          {t("interview.remote.acknowledge")}
        </Button>
      </div>
    );
  }
  if (otherTabOpen && snapshot.status !== "readonly") {
    return (
      <p className="iv-notice iv-notice--quiet" role="status">
        {t("interview.remote.otherTabOpen")}
      </p>
    );
  }
  return null;
}

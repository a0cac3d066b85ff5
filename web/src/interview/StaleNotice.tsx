// A save (or resolution, completion) refused with 412: the contract was saved elsewhere (another tab,
// a colleague) since the version this page had. Autosave has stopped and kept every unsaved value;
// this notice explains it, shows per field the stored value next to the unsaved input, and lets the
// user reload (the unsaved input is replaced, after a confirmation naming it) or keep their input
// (saved over the stored version; all other answers stay as stored).
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Button } from "react-aria-components";

import { Dialog } from "../ui/Dialog";
import type { AutosaveSnapshot } from "./autosave";
import type { ContractView, Question, Slot } from "./model";
import { formatAnswer } from "./ReviewStep";
import { fieldLabel } from "./SaveStatus";

function shown(field: string, value: unknown, questions: Question[], slots: Slot[], t: (key: string) => string): string {
  if (value === null || value === undefined) return "";
  if (field.startsWith("answers.")) {
    const question = questions.find((q) => q.key === field.slice(8));
    return question ? formatAnswer(question, value, t) : String(value);
  }
  const slot = slots.find((s) => s.slotId === field.slice(14));
  return slot?.options.find((o) => o.clauseId === value)?.title ?? String(value);
}

function storedValue(view: ContractView, field: string): unknown {
  return field.startsWith("answers.") ? view.answers[field.slice(8)] : view.selectedSlots[field.slice(14)];
}

export function StaleNotice({
  snapshot,
  onReload,
  onOverwrite,
}: {
  snapshot: AutosaveSnapshot;
  onReload: () => void;
  onOverwrite: () => void;
}) {
  const { t } = useTranslation();
  const [confirming, setConfirming] = useState(false);
  const stale = snapshot.stale;
  if (!stale) return null;
  const current = stale.current;
  const questions = current?.interview ?? snapshot.view.interview;
  const slots = current?.slots ?? snapshot.view.slots;
  const label = (field: string) => fieldLabel(field, questions, slots);
  const fields = [...new Set([...stale.mine, ...stale.changed])];
  const mineOf = (field: string): unknown =>
    field.startsWith("answers.") ? snapshot.answers[field.slice(8)] : snapshot.slots[field.slice(14)];
  const isMine = (field: string) => stale.mine.includes(field);
  const value = (field: string, v: unknown) => shown(field, v, questions, slots, t) || t("interview.stale.empty");
  const reload = () => (stale.mine.length > 0 ? setConfirming(true) : onReload());
  return (
    <div className="iv-notice iv-notice--warning iv-stale" role="alert" data-testid="stale-conflict">
      <p className="iv-notice-title">{t("interview.stale.title")}</p>
      <p>{t("interview.stale.text")}</p>
      {stale.loading ? <p>{t("interview.stale.loading")}</p> : null}
      {!stale.loading && !current ? <p>{t("interview.stale.loadFailed")}</p> : null}
      {current && fields.length > 0 ? (
        <table className="iv-stale-table">
          <caption className="ui-visually-hidden">{t("interview.stale.differences")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("interview.stale.field")}</th>
              <th scope="col">{t("interview.stale.stored")}</th>
              <th scope="col">{t("interview.stale.mine")}</th>
            </tr>
          </thead>
          <tbody>
            {fields.map((field) => (
              <tr key={field}>
                <th scope="row">{label(field)}</th>
                <td>{value(field, storedValue(current, field))}</td>
                <td>{isMine(field) ? value(field, mineOf(field)) : t("interview.stale.unchanged")}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {current ? <p className="iv-help">{t("interview.stale.reloadHint")}</p> : null}
      <div className="iv-notice-actions">
        {current && current.status === "draft" && stale.mine.length > 0 ? (
          <Button className="ui-button ui-button--primary" onPress={onOverwrite}>
            {t("interview.stale.overwrite")}
          </Button>
        ) : null}
        <Button className="ui-button ui-button--secondary" onPress={reload} isDisabled={stale.loading}>
          {t("interview.stale.reload")}
        </Button>
      </div>
      <Dialog
        title={t("interview.stale.confirmTitle")}
        isOpen={confirming}
        onOpenChange={setConfirming}
        role="alertdialog"
      >
        <p>{t("interview.stale.confirmText")}</p>
        <ul>
          {stale.mine.map((field) => (
            <li key={field}>
              {label(field)} – {value(field, mineOf(field))}
            </li>
          ))}
        </ul>
        <div className="iv-dialog-actions">
          <Button className="ui-button ui-button--secondary" onPress={() => setConfirming(false)}>
            {t("interview.stale.cancel")}
          </Button>
          <Button
            className="ui-button ui-button--primary"
            onPress={() => {
              setConfirming(false);
              onReload();
            }}
          >
            {t("interview.stale.confirm")}
          </Button>
        </div>
      </Dialog>
    </div>
  );
}

// The review screen: validation state, what still stands in the way of completion (with a jump to
// the question), the answers per section, and "Vertrag abschließen" (POST /complete; a refusal shows
// the API's reasons). Once completed the page is read-only and offers the export.
import { useTranslation } from "react-i18next";
import { Button } from "react-aria-components";

import { formatDate } from "../ui/format";
import type { ApiProblem } from "../api/problem";
import { currencyOf, isAnswered, optionsOf, type CompletionProblem, type ContractView, type Question, type Section } from "./model";
import { formatCurrencyInput, formatGermanNumber } from "./numbers";

export function formatAnswer(question: Question, value: unknown, t: (key: string) => string): string {
  if (!isAnswered(value)) return "";
  switch (question.type) {
    case "number":
      return formatGermanNumber(value);
    case "currency":
      return `${formatCurrencyInput(value)} ${currencyOf(question)}`;
    case "date":
      return typeof value === "string" ? formatDate(`${value}T00:00:00`) : "";
    case "yes_no":
      return value === true ? t("interview.question.yes") : t("interview.question.no");
    case "single_choice":
      return optionsOf(question).find((o) => o.value === value)?.label ?? String(value);
    case "multiple_choice": {
      const labels = (Array.isArray(value) ? value : []).map(
        (v) => optionsOf(question).find((o) => o.value === v)?.label ?? String(v),
      );
      return labels.join(", ");
    }
    default:
      return String(value);
  }
}

interface Reason {
  code: string;
  ref: string;
  message: string;
}

function reasonsOf(problem: ApiProblem | null): Reason[] {
  const reasons = problem?.extra.reasons;
  if (!Array.isArray(reasons)) return [];
  return reasons.filter((r): r is Reason => typeof r === "object" && r !== null && "message" in r);
}

export function ReviewStep({
  view,
  sections,
  valueOf,
  unsaved,
  completing,
  problem,
  onComplete,
  onJump,
}: {
  view: ContractView;
  sections: Section[];
  valueOf: (q: Question) => unknown;
  unsaved: boolean;
  completing: boolean;
  problem: ApiProblem | null;
  onComplete: () => void;
  onJump: (questionKey: string) => void;
}) {
  const { t } = useTranslation();
  const state = view.validation.validationState;
  const readOnly = view.status !== "draft";
  const openProblems: CompletionProblem[] = problem ? [] : view.completionProblems;
  const reasons = reasonsOf(problem);
  const questionKeys = new Set(view.interview.map((q) => q.key));
  const renderReason = (reason: Reason) => (
    <li key={`${reason.code}:${reason.ref}`}>
      {reason.message}{" "}
      {questionKeys.has(reason.ref) && !readOnly ? (
        <Button className="iv-link-button" onPress={() => onJump(reason.ref)}>
          {t("interview.review.toQuestion")}
        </Button>
      ) : null}
    </li>
  );
  return (
    <div className="iv-review">
      {readOnly ? null : (
        <div className={`iv-state iv-state--${state}`} data-testid="validation-state">
          <p className="iv-state-title">{t(`interview.state.${state}`)}</p>
          <p>{t(`interview.state.${state}Text`)}</p>
        </div>
      )}

      {problem ? (
        <div className="iv-notice iv-notice--error" role="alert">
          <p className="iv-notice-title">{t("interview.review.refused")}</p>
          <p>{problem.detail || problem.title}</p>
          {reasons.length > 0 ? <ul className="iv-reasons">{reasons.map(renderReason)}</ul> : null}
        </div>
      ) : null}

      {!readOnly && openProblems.length > 0 ? (
        <details className="iv-open-problems">
          <summary>{t("interview.review.openProblems", { count: openProblems.length })}</summary>
          <ul className="iv-reasons">{openProblems.map(renderReason)}</ul>
        </details>
      ) : null}

      {readOnly ? null : (
        <div className="iv-complete">
          <Button
            className="ui-button ui-button--primary iv-complete-button"
            onPress={onComplete}
            isDisabled={completing || unsaved}
          >
            {completing ? t("interview.review.completing") : t("interview.review.complete")}
          </Button>
          <p className="iv-help">{unsaved ? t("interview.review.unsavedHint") : t("interview.review.completeHint")}</p>
        </div>
      )}

      <h3 className="iv-subheading">{t("interview.review.answers")}</h3>
      {sections.map((section) => {
        const answered = section.questions.filter((q) => q.visible && isAnswered(valueOf(q)));
        if (answered.length === 0) return null;
        return (
          <section key={section.id} className="iv-summary" aria-label={section.title}>
            <h4 className="iv-summary-title">{section.title}</h4>
            <dl className="iv-summary-list">
              {answered.map((q) => (
                <div key={q.key} className="iv-summary-row">
                  <dt>{q.text}</dt>
                  <dd>{formatAnswer(q, valueOf(q), t)}</dd>
                </div>
              ))}
            </dl>
          </section>
        );
      })}
    </div>
  );
}

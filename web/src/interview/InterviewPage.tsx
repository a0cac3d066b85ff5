// The interview (issue 13, point 4) at /vertraege/:contractId: sections sidebar with progress, the
// questions of one section at a time (visibility and requiredness as the API computes them), the slot
// choices, the review with completion; the conflicts panel above the questions, the live preview
// beside them; autosave throughout (autosave.ts). Decisions: docs/web.md, "Interview".
import { useQuery } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Button, I18nProvider, Label, ProgressBar } from "react-aria-components";
import { useParams, useSearchParams } from "react-router";

import type { ApiProblem } from "../api/problem";
import { ExportPanel } from "../export/ExportPanel";
import { UpgradeBanner } from "../pages/contracts/UpgradeBanner";
import { Dialog } from "../ui/Dialog";
import { formatDateTime } from "../ui/format";
import { completeContract, fetchContract, interviewKeys, isModifiedElsewhere, resolveViolation } from "./interviewApi";
import { ConflictsPanel } from "./ConflictsPanel";
import { clauseTitles, isReadOnly, progressOf, sectionsOf, type ContractView, type Question, type Violation } from "./model";
import { PreviewPane, usePreview, type PreviewTarget } from "./PreviewPane";
import { QuestionField } from "./QuestionField";
import { ReviewStep } from "./ReviewStep";
import { RemoteNotice, SaveIndicator } from "./SaveStatus";
import { SlotChoices } from "./SlotChoices";
import { StaleNotice } from "./StaleNotice";
import { useAutosave } from "./useAutosave";

import "./interview.css";

const SLOTS_STEP = "klauseln";
const REVIEW_STEP = "pruefung";

function Interview({ initial, etag }: { initial: ContractView; etag: string | null }) {
  const { t } = useTranslation();
  const { engine, snapshot, otherTabOpen } = useAutosave(initial, { etag });
  const view = snapshot.view;
  const readOnly = isReadOnly(view);
  const preview = usePreview(view.id, view.updatedAt);
  const outline = useMemo(() => preview.data?.outline ?? [], [preview.data]);
  const sections = useMemo(
    () => sectionsOf(view.interview, outline, t("interview.sections.general")),
    [view.interview, outline, t],
  );
  const titles = useMemo(() => clauseTitles(view.slots), [view.slots]);
  const valueOf = useCallback(
    (q: Question): unknown => (q.key in snapshot.answers ? snapshot.answers[q.key] : q.answer),
    [snapshot.answers],
  );
  const [searchParams, setSearchParams] = useSearchParams();
  const requested = searchParams.get("schritt");
  const step =
    requested === SLOTS_STEP || requested === REVIEW_STEP || sections.some((s) => s.id === requested)
      ? (requested as string)
      : readOnly
        ? REVIEW_STEP
        : (sections[0]?.id ?? REVIEW_STEP);
  const goTo = useCallback(
    (next: string) => {
      setSearchParams(
        (params) => {
          const copy = new URLSearchParams(params);
          copy.set("schritt", next);
          return copy;
        },
        { replace: false },
      );
    },
    [setSearchParams],
  );
  const stepHeading = useRef<HTMLHeadingElement>(null);
  const [pendingFocus, setPendingFocus] = useState<string | null>(null);
  const firstRender = useRef(true);
  useEffect(() => {
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    if (pendingFocus) {
      const el = document.querySelector<HTMLElement>(
        `#frage-${CSS.escape(pendingFocus)} input, #frage-${CSS.escape(pendingFocus)} [role="spinbutton"]`,
      );
      el?.focus();
      setPendingFocus(null);
      return;
    }
    stepHeading.current?.focus();
    // eslint-disable-next-line react-hooks/exhaustive-deps -- on step change only
  }, [step]);

  // One stable change handler per question, so a keystroke re-renders only its own (memoised) field.
  const handlers = useMemo(() => new Map<string, (value: unknown, options?: { quick?: boolean }) => void>(), []);
  const handlerFor = (key: string) => {
    let handler = handlers.get(key);
    if (!handler) {
      handler = (value, options) => engine.setAnswer(key, value, options);
      handlers.set(key, handler);
    }
    return handler;
  };
  const [target, setTarget] = useState<PreviewTarget | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [completing, setCompleting] = useState(false);
  const [completeProblem, setCompleteProblem] = useState<ApiProblem | null>(null);

  const dismissed = snapshot.dismissed ?? view.dismissedWarnings;
  const messages = view.validation.messages;

  const resolve = async (violation: Violation, optionId: string) => {
    setBusy(`${violation.fingerprint}|${optionId}`);
    setActionError(null);
    await engine.flush();
    const result = await resolveViolation(view.id, violation.fingerprint, optionId, engine.etag);
    setBusy(null);
    if ("problem" in result && isModifiedElsewhere(result.problem)) engine.markStale();
    else if ("data" in result) {
      engine.receive(result.data, { own: true, etag: result.etag });
      const option = violation.resolutionOptions.find((o) => o.optionId === optionId);
      if (option) setTarget({ clauseId: option.action === "remove_clause" ? null : option.clauseId, sectionId: "" });
    } else setActionError(result.problem.detail || result.problem.title);
  };

  const [confirmOpen, setConfirmOpen] = useState(false);
  const complete = async () => {
    setConfirmOpen(false);
    setCompleting(true);
    setCompleteProblem(null);
    await engine.flush();
    const result = await completeContract(view.id, engine.etag);
    setCompleting(false);
    if ("data" in result) engine.receive(result.data, { own: true, etag: result.etag });
    else if (isModifiedElsewhere(result.problem)) engine.markStale();
    else setCompleteProblem(result.problem);
    goTo(REVIEW_STEP);
  };

  const jumpTo = (questionKey: string) => {
    const question = view.interview.find((q) => q.key === questionKey);
    const section = sections.find((s) => s.keys.includes(question?.section ?? ""));
    if (!section) return;
    setPendingFocus(questionKey);
    goTo(section.id);
  };

  const total = progressOf(view.interview, valueOf);
  const sectionIndex = sections.findIndex((s) => s.id === step);
  const current = sectionIndex >= 0 ? sections[sectionIndex] : undefined;
  const stepOrder = [...sections.map((s) => s.id), SLOTS_STEP, REVIEW_STEP];
  const stepPosition = stepOrder.indexOf(step);
  const previousStep = stepPosition > 0 ? stepOrder[stepPosition - 1] : undefined;
  const nextStep = stepPosition < stepOrder.length - 1 ? stepOrder[stepPosition + 1] : undefined;
  const stepTitle = (id: string | undefined) =>
    id === SLOTS_STEP
      ? t("interview.steps.slots")
      : id === REVIEW_STEP
        ? t("interview.steps.review")
        : (sections.find((s) => s.id === id)?.title ?? "");
  const choosable = view.slots.filter((s) => s.type !== "required" && s.editable).length;
  const hardCount = messages.filter((m) => m.severity === "hard").length;

  useEffect(() => {
    document.title = `${view.title} – ${t("interview.documentTitle")}`;
  }, [view.title, t]);

  return (
    <I18nProvider locale="de-DE">
      <div className="iv-page">
        <header className="iv-header">
          <div className="iv-header-text">
            <h1 className="iv-title">{view.title}</h1>
            <p className="iv-meta">
              {t("interview.header.template", {
                template: view.versionInfo.templateTitle,
                version: view.versionInfo.templateVersionNumber,
              })}
              {view.clientReference ? ` · ${t("interview.header.reference", { reference: view.clientReference })}` : ""}
              {" · "}
              {t(`interview.status.${view.status}`)}
            </p>
          </div>
          <div className="iv-header-actions">
            <SaveIndicator snapshot={snapshot} onRetry={() => void engine.retry()} />
            {readOnly ? null : (
              <Button
                className="ui-button ui-button--secondary"
                onPress={() => setConfirmOpen(true)}
                isDisabled={completing}
              >
                {t("interview.complete.open")}
              </Button>
            )}
          </div>
        </header>

        <Dialog title={t("interview.complete.title")} isOpen={confirmOpen} onOpenChange={setConfirmOpen}>
          <p>{t("interview.complete.text")}</p>
          {view.validation.validationState === "has_conflicts" || view.validation.validationState === "incomplete" ? (
            <p className="iv-notice iv-notice--warning">
              {t("interview.complete.notReady", { count: Math.max(view.completionProblems.length, hardCount) })}
            </p>
          ) : null}
          {snapshot.status !== "saved" ? <p className="iv-help">{t("interview.review.unsavedHint")}</p> : null}
          <div className="iv-dialog-actions">
            <Button className="ui-button ui-button--secondary" onPress={() => setConfirmOpen(false)}>
              {t("interview.complete.cancel")}
            </Button>
            <Button
              className="ui-button ui-button--primary"
              onPress={() => void complete()}
              isDisabled={snapshot.status !== "saved"}
            >
              {t("interview.review.complete")}
            </Button>
          </div>
        </Dialog>

        {readOnly ? (
          <div className="iv-banner" role="status" data-testid="readonly-banner">
            <p className="iv-banner-title">
              {view.status === "completed"
                ? t("interview.readonly.completedTitle", { date: formatDateTime(view.completedAt) })
                : t("interview.readonly.archivedTitle")}
            </p>
            <p>{t("interview.readonly.text")}</p>
          </div>
        ) : null}

        {readOnly ? null : (
          <UpgradeBanner
            contractId={view.id}
            versionInfo={view.versionInfo}
            ifMatch={async () => {
              await engine.flush(); // the upgrade carries over what is saved
              return engine.etag;
            }}
            onModifiedElsewhere={() => engine.markStale()}
          />
        )}

        <StaleNotice snapshot={snapshot} onReload={() => engine.reload()} onOverwrite={() => engine.overwrite()} />

        <RemoteNotice
          snapshot={snapshot}
          questions={view.interview}
          slots={view.slots}
          otherTabOpen={otherTabOpen}
          onKeepMine={() => engine.keepMine()}
          onTakeTheirs={() => engine.takeTheirs()}
          onAcknowledge={() => engine.acknowledgeRemote()}
        />

        <div className="iv-layout">
          <nav className="iv-sidebar" aria-label={t("interview.sidebar.label")}>
            <ProgressBar
              className="iv-progress"
              value={total.required === 0 ? 100 : (100 * total.answered) / total.required}
              valueLabel={t("interview.sidebar.progressValue", { answered: total.answered, required: total.required })}
            >
              {({ percentage }) => (
                <>
                  <Label className="iv-progress-label">{t("interview.sidebar.progress")}</Label>
                  <span className="iv-progress-value">
                    {t("interview.sidebar.progressValue", { answered: total.answered, required: total.required })}
                  </span>
                  <div className="iv-progress-track">
                    <div className="iv-progress-fill" style={{ width: `${percentage ?? 0}%` }} />
                  </div>
                </>
              )}
            </ProgressBar>
            <ol className="iv-steps">
              {sections.map((section) => {
                const p = progressOf(section.questions, valueOf);
                const done = p.required > 0 && p.answered === p.required;
                return (
                  <li key={section.id}>
                    <Button
                      className={`iv-step${step === section.id ? " iv-step--current" : ""}${done ? " iv-step--done" : ""}`}
                      aria-current={step === section.id ? "step" : undefined}
                      onPress={() => goTo(section.id)}
                    >
                      <span className="iv-step-title">{section.title}</span>
                      <span className="iv-step-progress">
                        {p.required > 0
                          ? t("interview.sidebar.sectionProgress", { answered: p.answered, required: p.required })
                          : t("interview.sidebar.optional")}
                      </span>
                    </Button>
                  </li>
                );
              })}
              <li>
                <Button
                  className={`iv-step${step === SLOTS_STEP ? " iv-step--current" : ""}`}
                  aria-current={step === SLOTS_STEP ? "step" : undefined}
                  onPress={() => goTo(SLOTS_STEP)}
                >
                  <span className="iv-step-title">{t("interview.steps.slots")}</span>
                  <span className="iv-step-progress">
                    {readOnly ? t("interview.sidebar.choicesReadOnly") : t("interview.sidebar.choices", { count: choosable })}
                  </span>
                </Button>
              </li>
              <li>
                <Button
                  className={`iv-step${step === REVIEW_STEP ? " iv-step--current" : ""}`}
                  aria-current={step === REVIEW_STEP ? "step" : undefined}
                  onPress={() => goTo(REVIEW_STEP)}
                >
                  <span className="iv-step-title">{t("interview.steps.review")}</span>
                  <span className={`iv-step-progress${hardCount > 0 ? " iv-step-progress--hard" : ""}`}>
                    {hardCount > 0
                      ? t("interview.conflicts.hardCount", { count: hardCount })
                      : t(`interview.state.${view.validation.validationState}`)}
                  </span>
                </Button>
              </li>
            </ol>
          </nav>

          <section className="iv-main" aria-labelledby="iv-step-title">
            <ConflictsPanel
              messages={messages}
              titles={titles}
              dismissed={dismissed}
              readOnly={readOnly}
              busy={busy}
              error={actionError ?? snapshot.fieldErrors.dismissedWarnings ?? null}
              onResolve={(violation, optionId) => void resolve(violation, optionId)}
              onDismiss={(fp) => engine.setDismissed([...dismissed.filter((d) => d !== fp), fp])}
              onRestore={(fp) => engine.setDismissed(dismissed.filter((d) => d !== fp))}
            />

            <h2 id="iv-step-title" className="iv-step-heading" tabIndex={-1} ref={stepHeading}>
              {stepTitle(step)}
            </h2>

            {current ? (
              <div className="iv-questions">
                {current.questions.some((q) => q.visible && q.required) && !readOnly ? (
                  <p className="iv-legend">
                    <span className="iv-required" aria-hidden="true">
                      *
                    </span>{" "}
                    {t("interview.question.requiredLegend")}
                  </p>
                ) : null}
                {current.questions
                  .filter((q) => q.visible)
                  .map((q) => (
                    <div
                      key={q.key}
                      onFocusCapture={() => setTarget({ parameterKeys: q.parameterKeys ?? [], sectionKeys: [q.section ?? ""] })}
                    >
                      <QuestionField
                        question={q}
                        value={valueOf(q)}
                        error={snapshot.fieldErrors[`answers.${q.key}`]}
                        readOnly={readOnly}
                        onChange={handlerFor(q.key)}
                      />
                    </div>
                  ))}
                <AppearanceAnnouncer questions={current.questions} />
              </div>
            ) : null}

            {step === SLOTS_STEP ? (
              <SlotChoices
                slots={view.slots}
                outline={outline}
                pending={snapshot.slots}
                errors={snapshot.fieldErrors}
                readOnly={readOnly}
                onChoose={(slotId, clauseId) => engine.setSlot(slotId, clauseId)}
                onFocusClause={(clauseId, sectionId) => setTarget({ clauseId, sectionId })}
              />
            ) : null}

            {step === REVIEW_STEP ? (
              <>
                {view.status === "completed" ? <ExportPanel contractId={view.id} /> : null}
                <ReviewStep
                  view={view}
                  sections={sections}
                  valueOf={valueOf}
                  unsaved={snapshot.status !== "saved" && snapshot.status !== "readonly"}
                  completing={completing}
                  problem={completeProblem}
                  onComplete={() => setConfirmOpen(true)}
                  onJump={jumpTo}
                />
              </>
            ) : null}

            <div className="iv-step-nav">
              {previousStep ? (
                <Button className="ui-button ui-button--secondary" onPress={() => goTo(previousStep)}>
                  {t("interview.steps.back", { step: stepTitle(previousStep) })}
                </Button>
              ) : (
                <span />
              )}
              {nextStep ? (
                <Button className="ui-button ui-button--primary" onPress={() => goTo(nextStep)}>
                  {t("interview.steps.next", { step: stepTitle(nextStep) })}
                </Button>
              ) : null}
            </div>
          </section>

          <PreviewPane
            preview={preview.data}
            isFetching={preview.isFetching}
            isError={preview.isError}
            target={target}
          />
        </div>
      </div>
    </I18nProvider>
  );
}

/** Tells screen readers when a conditional question appears in the current section. */
function AppearanceAnnouncer({ questions }: { questions: Question[] }) {
  const { t } = useTranslation();
  const visible = questions.filter((q) => q.visible).map((q) => q.key);
  const previous = useRef<string[]>(visible);
  const [message, setMessage] = useState("");
  const key = visible.join("|");
  useEffect(() => {
    const added = visible.filter((k) => !previous.current.includes(k));
    const removed = previous.current.filter((k) => !visible.includes(k));
    previous.current = visible;
    if (added.length > 0) {
      const texts = questions.filter((q) => added.includes(q.key)).map((q) => q.text);
      setMessage(t("interview.question.appeared", { count: added.length, questions: texts.join(" ") }));
    } else if (removed.length > 0) setMessage(t("interview.question.disappeared", { count: removed.length }));
    // eslint-disable-next-line react-hooks/exhaustive-deps -- on visibility changes only
  }, [key]);
  return (
    <p className="ui-visually-hidden" role="status" aria-live="polite">
      {message}
    </p>
  );
}

export function InterviewPage() {
  const { t } = useTranslation();
  const { contractId = "" } = useParams();
  const query = useQuery<{ view: ContractView; etag: string | null }, ApiProblemError>({
    queryKey: interviewKeys.contract(contractId),
    queryFn: async () => {
      const result = await fetchContract(contractId);
      if ("problem" in result) throw new ApiProblemError(result.problem);
      return { view: result.data, etag: result.etag };
    },
    staleTime: Infinity,
    gcTime: 0,
    refetchOnWindowFocus: false,
    retry: (count, error) => error.problem.status === 0 && count < 2,
  });
  if (query.isPending) {
    return (
      <p className="iv-loading" role="status">
        {t("interview.loading")}
      </p>
    );
  }
  if (query.isError) {
    const problem = query.error.problem;
    return (
      <div className="iv-notice iv-notice--error" role="alert">
        <p className="iv-notice-title">
          {problem.status === 404 ? t("interview.notFound") : t("interview.loadFailed")}
        </p>
        {problem.detail ? <p>{problem.detail}</p> : null}
        <Button className="ui-button ui-button--secondary" onPress={() => void query.refetch()}>
          {t("interview.retry")}
        </Button>
      </div>
    );
  }
  // An upgrade (the banner refetches this query) pins other versions with other questions: a fresh start.
  const { view, etag } = query.data;
  return <Interview key={`${contractId}:${view.versionInfo.templateVersionId}`} initial={view} etag={etag} />;
}

class ApiProblemError extends Error {
  readonly problem: ApiProblem;
  constructor(problem: ApiProblem) {
    super(problem.detail || problem.code);
    this.problem = problem;
  }
}

export default InterviewPage;

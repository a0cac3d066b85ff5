// One accessible control per question type (engine.md): text, number, currency, date, yes_no,
// single_choice, multiple_choice - React Aria wires label, description, error and required state.
// Typed inputs keep their own draft text, so the server's normalised answer ("Muster GmbH" for
// "Muster GmbH ", 4500 for "4.500") never overwrites what the user is typing.
import { parseDate, type CalendarDate } from "@internationalized/date";
import { memo, useEffect, useId, useState, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import {
  Button,
  Calendar,
  CalendarCell,
  CalendarGrid,
  Checkbox,
  CheckboxGroup,
  DateInput,
  DatePicker,
  DateSegment,
  Dialog,
  FieldError,
  Group,
  Heading,
  Input,
  Label,
  Popover,
  Radio,
  RadioGroup,
  Text,
  TextField,
} from "react-aria-components";

import { currencyOf, optionsOf, validationOf, type Question } from "./model";
import { formatCurrencyInput, formatGermanNumber, parseCurrency, parseGermanNumber, sameAmount } from "./numbers";

export interface QuestionFieldProps {
  question: Question;
  value: unknown;
  onChange: (value: unknown, options?: { quick?: boolean }) => void;
  /** The API's message for this answer (422), shown at the field. */
  error?: string | undefined;
  readOnly?: boolean;
}

function RequiredMark({ required }: { required: boolean }) {
  if (!required) return null;
  return (
    <span className="iv-required" aria-hidden="true">
      {" "}
      *
    </span>
  );
}

function Explanation({ text }: { text: string | null | undefined }) {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  const id = useId();
  if (!text) return null;
  return (
    <div className="iv-explanation">
      <Button className="iv-link-button" aria-expanded={open} aria-controls={id} onPress={() => setOpen((o) => !o)}>
        {open ? t("interview.question.hideExplanation") : t("interview.question.showExplanation")}
      </Button>
      <div id={id} hidden={!open} className="iv-explanation-text">
        {text}
      </div>
    </div>
  );
}

/** The draft text of a typed input: follows the saved value unless the draft already denotes it. */
function useDraft(display: string, denotesValue: (draft: string) => boolean) {
  const [draft, setDraft] = useState(display);
  useEffect(() => {
    setDraft((current) => (denotesValue(current) ? current : display));
    // eslint-disable-next-line react-hooks/exhaustive-deps -- only when the saved value changes
  }, [display]);
  return [draft, setDraft] as const;
}

function numberHint(question: Question, t: (key: string, options?: Record<string, unknown>) => string): string | null {
  const v = validationOf(question);
  const min = typeof v.min === "number" ? formatGermanNumber(v.min) : null;
  const max = typeof v.max === "number" ? formatGermanNumber(v.max) : null;
  if (min !== null && max !== null) return t("interview.question.range", { min, max });
  if (min !== null) return t("interview.question.min", { min });
  if (max !== null) return t("interview.question.max", { max });
  return null;
}

function Description({ children }: { children: ReactNode[] }) {
  const parts = children.filter(Boolean);
  if (parts.length === 0) return null;
  return (
    <Text slot="description" className="iv-help">
      {parts.map((part, i) => (
        <span key={i} className="iv-help-part">
          {part}
        </span>
      ))}
    </Text>
  );
}

function TextQuestion({ question, value, onChange, error, readOnly }: QuestionFieldProps) {
  const display = typeof value === "string" ? value : "";
  const [draft, setDraft] = useDraft(display, (d) => d.trim() === display.trim());
  return (
    <TextField
      className="iv-field"
      value={draft}
      onChange={(text) => {
        setDraft(text);
        onChange(text.trim() === "" ? null : text);
      }}
      isRequired={question.required}
      isInvalid={Boolean(error)}
      isReadOnly={readOnly}
      validationBehavior="aria"
    >
      <Label className="iv-label">
        {question.text}
        <RequiredMark required={question.required} />
      </Label>
      <Input className="iv-input" maxLength={2000} />
      <Description>{[question.helpText]}</Description>
      <FieldError className="iv-error">{error}</FieldError>
    </TextField>
  );
}

function NumberQuestion({ question, value, onChange, error, readOnly }: QuestionFieldProps) {
  const { t } = useTranslation();
  const currency = question.type === "currency";
  const display = currency ? formatCurrencyInput(value) : formatGermanNumber(value);
  const parse = (text: string) => (currency ? parseCurrency(text) : parseGermanNumber(text));
  const [draft, setDraft] = useDraft(display, (d) =>
    d.trim() === "" ? value === null || value === undefined : sameAmount(parse(d), value),
  );
  const [localError, setLocalError] = useState<string | null>(null);
  const shown = localError ?? error;
  return (
    <TextField
      className="iv-field"
      value={draft}
      onChange={(text) => {
        setDraft(text);
        if (text.trim() === "") {
          setLocalError(null);
          onChange(null);
          return;
        }
        const parsed = parse(text);
        if (parsed === null) {
          setLocalError(currency ? t("interview.question.invalidAmount") : t("interview.question.invalidNumber"));
          return;
        }
        setLocalError(null);
        onChange(parsed);
      }}
      onBlur={() => {
        if (currency && !localError && parse(draft) !== null) setDraft(formatCurrencyInput(parse(draft)));
      }}
      isRequired={question.required}
      isInvalid={Boolean(shown)}
      isReadOnly={readOnly}
      validationBehavior="aria"
    >
      <Label className="iv-label">
        {question.text}
        <RequiredMark required={question.required} />
      </Label>
      <div className="iv-input-group">
        <Input className="iv-input iv-input--number" inputMode="decimal" autoComplete="off" />
        {currency ? (
          <span className="iv-unit" aria-hidden="true">
            {currencyOf(question) === "EUR" ? "€" : currencyOf(question)}
          </span>
        ) : null}
      </div>
      <Description>
        {[
          question.helpText,
          currency ? t("interview.question.amountHint", { currency: currencyOf(question) }) : numberHint(question, t),
        ]}
      </Description>
      <FieldError className="iv-error">{shown}</FieldError>
    </TextField>
  );
}

function toDate(value: unknown): CalendarDate | null {
  if (typeof value !== "string") return null;
  try {
    return parseDate(value);
  } catch {
    return null;
  }
}

function DateQuestion({ question, value, onChange, error, readOnly }: QuestionFieldProps) {
  const { t } = useTranslation();
  const v = validationOf(question);
  const min = toDate(v.min);
  const max = toDate(v.max);
  return (
    <DatePicker
      className="iv-field"
      shouldForceLeadingZeros
      value={toDate(value)}
      onChange={(date) => onChange(date ? date.toString() : null, { quick: true })}
      isRequired={question.required}
      isInvalid={Boolean(error)}
      isReadOnly={readOnly}
      validationBehavior="aria"
      {...(min ? { minValue: min } : {})}
      {...(max ? { maxValue: max } : {})}
    >
      <Label className="iv-label">
        {question.text}
        <RequiredMark required={question.required} />
      </Label>
      <Group className="iv-date">
        <DateInput className="iv-date-input">{(segment) => <DateSegment segment={segment} className="iv-segment" />}</DateInput>
        <Button className="iv-date-button" aria-label={t("interview.question.openCalendar")}>
          <span aria-hidden="true">▾</span>
        </Button>
      </Group>
      <Description>{[question.helpText, t("interview.question.dateHint")]}</Description>
      <FieldError className="iv-error">{error}</FieldError>
      <Popover className="iv-popover">
        <Dialog className="iv-calendar-dialog" aria-label={t("interview.question.calendar")}>
          <Calendar className="iv-calendar">
            <header className="iv-calendar-header">
              <Button slot="previous" aria-label={t("interview.question.previousMonth")}>
                ‹
              </Button>
              <Heading />
              <Button slot="next" aria-label={t("interview.question.nextMonth")}>
                ›
              </Button>
            </header>
            <CalendarGrid>{(date) => <CalendarCell date={date} className="iv-calendar-cell" />}</CalendarGrid>
          </Calendar>
        </Dialog>
      </Popover>
    </DatePicker>
  );
}

function ChoiceQuestion({ question, value, onChange, error, readOnly }: QuestionFieldProps) {
  const { t } = useTranslation();
  const yesNo = question.type === "yes_no";
  const options = yesNo
    ? [
        { value: "true", label: t("interview.question.yes") },
        { value: "false", label: t("interview.question.no") },
      ]
    : optionsOf(question);
  const selected = yesNo ? (value === true ? "true" : value === false ? "false" : null) : typeof value === "string" ? value : null;
  return (
    <RadioGroup
      className="iv-field iv-choice"
      value={selected}
      onChange={(v) => onChange(yesNo ? v === "true" : v, { quick: true })}
      isRequired={question.required}
      isInvalid={Boolean(error)}
      isReadOnly={readOnly}
      validationBehavior="aria"
      orientation={yesNo ? "horizontal" : "vertical"}
    >
      <Label className="iv-label">
        {question.text}
        <RequiredMark required={question.required} />
      </Label>
      <Description>{[question.helpText]}</Description>
      <div className={yesNo ? "iv-options iv-options--inline" : "iv-options"}>
        {options.map((option) => (
          <Radio key={option.value} value={option.value} className="iv-option">
            <span className="iv-option-mark" aria-hidden="true" />
            {option.label}
          </Radio>
        ))}
      </div>
      <FieldError className="iv-error">{error}</FieldError>
    </RadioGroup>
  );
}

function MultipleChoiceQuestion({ question, value, onChange, error, readOnly }: QuestionFieldProps) {
  const selected = Array.isArray(value) ? value.map(String) : [];
  return (
    <CheckboxGroup
      className="iv-field iv-choice"
      value={selected}
      onChange={(values) => onChange(values.length > 0 ? values : null, { quick: true })}
      isRequired={question.required}
      isInvalid={Boolean(error)}
      isReadOnly={readOnly}
      validationBehavior="aria"
    >
      <Label className="iv-label">
        {question.text}
        <RequiredMark required={question.required} />
      </Label>
      <Description>{[question.helpText]}</Description>
      <div className="iv-options">
        {optionsOf(question).map((option) => (
          <Checkbox key={option.value} value={option.value} className="iv-option iv-option--check">
            <span className="iv-option-mark" aria-hidden="true" />
            {option.label}
          </Checkbox>
        ))}
      </div>
      <FieldError className="iv-error">{error}</FieldError>
    </CheckboxGroup>
  );
}

/**
 * The control for `question.type`, with its explanation (if any) below. Memoised: typing in one
 * field re-renders that field only (the page passes stable callbacks).
 */
export const QuestionField = memo(function QuestionField(props: QuestionFieldProps) {
  const { question } = props;
  let control: ReactNode;
  switch (question.type) {
    case "number":
    case "currency":
      control = <NumberQuestion {...props} />;
      break;
    case "date":
      control = <DateQuestion {...props} />;
      break;
    case "yes_no":
    case "single_choice":
      control = <ChoiceQuestion {...props} />;
      break;
    case "multiple_choice":
      control = <MultipleChoiceQuestion {...props} />;
      break;
    default:
      control = <TextQuestion {...props} />;
  }
  return (
    <div className="iv-question" data-question={question.key} id={`frage-${question.key}`}>
      {control}
      <Explanation text={question.explanation} />
    </div>
  );
});

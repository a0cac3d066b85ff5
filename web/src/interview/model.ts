// Types of the contract view (generated from the API) and the pure helpers the interview derives from
// it: sections with progress, clause titles, answered-ness. Visibility and requiredness come from the
// API (`visible`, `required`); nothing here re-implements the rules engine.
import type { components } from "../api/schema";

export type ContractView = components["schemas"]["ContractView"];
export type Question = components["schemas"]["InterviewQuestion"];
export type QuestionOption = components["schemas"]["Option"];
export type Slot = components["schemas"]["SlotView"];
export type Violation = components["schemas"]["ViolationOut"];
export type ResolutionOption = components["schemas"]["ResolutionOptionOut"];
export type Preview = components["schemas"]["Preview"];
export type OutlineEntry = components["schemas"]["OutlineEntryOut"];
export type CompletionProblem = components["schemas"]["CompletionProblemOut"];
export type AnswerValue = Question["answer"];

export interface Section {
  /** Stable id: the first question section key of the group. */
  id: string;
  title: string;
  /** The question section keys grouped under this title (adjacent keys with the same title merge). */
  keys: string[];
  questions: Question[];
}

/** A value counts as answered when it is present and not empty. */
export function isAnswered(value: unknown): boolean {
  if (value === null || value === undefined) return false;
  if (typeof value === "string") return value.trim() !== "";
  if (Array.isArray(value)) return value.length > 0;
  return true;
}

export function optionsOf(question: Question): QuestionOption[] {
  return Array.isArray(question.options) ? question.options : [];
}

/** The currency code of a currency question (`options.currency`, default EUR). */
export function currencyOf(question: Question): string {
  const options = question.options;
  if (options && !Array.isArray(options) && typeof options.currency === "string") return options.currency;
  return "EUR";
}

export function validationOf(question: Question): Record<string, unknown> {
  return question.validation ?? {};
}

function capitalise(key: string): string {
  return key.charAt(0).toUpperCase() + key.slice(1).replace(/[_-]+/g, " ");
}

/**
 * The title of a question section. The contract view names no interview section titles, so the
 * preview outline's template sections lend theirs: the same id, else a template section whose id
 * joins this key with others ("arbeitszeit-verguetung" for "verguetung"); else the key itself.
 */
export function sectionTitle(key: string, outline: OutlineEntry[]): string {
  const exact = outline.find((entry) => entry.sectionId === key);
  if (exact) return exact.title;
  const joined = outline.find((entry) => entry.sectionId.split("-").includes(key));
  if (joined) return joined.title;
  return capitalise(key);
}

/** The interview's sections in question order; adjacent sections that share a title are one. */
export function sectionsOf(questions: Question[], outline: OutlineEntry[], fallbackTitle: string): Section[] {
  const sections: Section[] = [];
  for (const question of questions) {
    const key = question.section ?? "";
    const title = key ? sectionTitle(key, outline) : fallbackTitle;
    const last = sections[sections.length - 1];
    if (last && (last.keys.includes(key) || last.title === title)) {
      if (!last.keys.includes(key)) last.keys.push(key);
      last.questions.push(question);
      continue;
    }
    const existing = sections.find((s) => s.keys.includes(key));
    if (existing) {
      existing.questions.push(question);
      continue;
    }
    sections.push({ id: key || "allgemein", title, keys: [key], questions: [question] });
  }
  return sections;
}

export interface Progress {
  answered: number;
  required: number;
}

/** Answered visible required questions / visible required questions (engine.md), on `values`. */
export function progressOf(questions: Question[], valueOf: (q: Question) => unknown): Progress {
  let answered = 0;
  let required = 0;
  for (const question of questions) {
    if (!question.visible || !question.required) continue;
    required += 1;
    if (isAnswered(valueOf(question))) answered += 1;
  }
  return { answered, required };
}

/** Clause id → title and heading, from every slot's candidates (the contract view carries them all). */
export function clauseTitles(slots: Slot[]): Map<string, { title: string; heading: string }> {
  const titles = new Map<string, { title: string; heading: string }>();
  for (const slot of slots) {
    for (const option of slot.options) titles.set(option.clauseId, { title: option.title, heading: option.heading });
  }
  return titles;
}

/** Structural equality of JSON values (answers, slot choices). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || a === undefined || b === undefined) return (a ?? null) === (b ?? null);
  return JSON.stringify(a) === JSON.stringify(b);
}

export function isReadOnly(view: ContractView): boolean {
  return view.status !== "draft";
}

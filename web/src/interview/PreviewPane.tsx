// The live preview: GET /preview's HTML (sanitized by the server, the same document model as the
// export) in a scrollable pane, re-read after every save (its query key is the contract's updatedAt)
// while the previous rendering stays visible. It scrolls to and marks what is being edited: the clause
// still showing the question's placeholder, else the template section (outline sectionId) or the
// parties block.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useEffect, useMemo, useRef } from "react";
import { useTranslation } from "react-i18next";

import { fetchPreview, interviewKeys } from "./interviewApi";
import type { OutlineEntry, Preview } from "./model";

export interface PreviewTarget {
  /** Parameter keys of the question being edited (their placeholders are "[[key]]"). */
  parameterKeys?: string[];
  /** Question section keys, matched against the outline's sectionIds. */
  sectionKeys?: string[];
  /** A clause chosen in the slot step. */
  clauseId?: string | null;
  /** A template section (slot step). */
  sectionId?: string;
}

export function usePreview(contractId: string, updatedAt: string) {
  return useQuery<Preview>({
    queryKey: interviewKeys.preview(contractId, updatedAt),
    queryFn: async () => {
      const result = await fetchPreview(contractId);
      if ("problem" in result) throw new Error(result.problem.detail || result.problem.code);
      return result.data;
    },
    placeholderData: keepPreviousData,
    staleTime: Infinity,
    retry: 1,
  });
}

function cssEscape(value: string): string {
  return typeof CSS !== "undefined" && CSS.escape ? CSS.escape(value) : value.replace(/["\\]/g, "\\$&");
}

/** The element of the preview that `target` concerns, or null. */
export function findTarget(root: HTMLElement, target: PreviewTarget, outline: OutlineEntry[]): HTMLElement | null {
  if (target.clauseId) {
    const clause = root.querySelector<HTMLElement>(`[data-clause-id="${cssEscape(target.clauseId)}"]`);
    if (clause) return clause;
  }
  for (const key of target.parameterKeys ?? []) {
    const placeholder = [...root.querySelectorAll<HTMLElement>(".placeholder")].find((el) => el.textContent === `[[${key}]]`);
    const container = placeholder?.closest<HTMLElement>(".clause, .parties, .signatures, section");
    if (container) return container;
  }
  const sectionIds = [...(target.sectionId ? [target.sectionId] : [])];
  for (const key of target.sectionKeys ?? []) {
    const entry =
      outline.find((e) => e.sectionId === key) ?? outline.find((e) => e.sectionId.split("-").includes(key));
    if (entry) sectionIds.push(entry.sectionId);
  }
  for (const id of sectionIds) {
    const section = root.querySelector<HTMLElement>(`[data-section-id="${cssEscape(id)}"]`);
    if (section) return section;
  }
  if ((target.sectionKeys ?? []).some((k) => k.startsWith("partei"))) return root.querySelector<HTMLElement>(".parties");
  return null;
}

/**
 * The document's heading levels renumbered below the pane's own h2 (the levels it uses, in order, become
 * h3, h4, …), so the page keeps one outline without skipped levels. Only tag names change: the server
 * sanitized the HTML and nothing else is touched.
 */
export function nestHeadings(html: string): string {
  const pattern = /<(\/?)h([1-6])(?=[\s>])/gi;
  const used = [...new Set([...html.matchAll(pattern)].map((m) => Number(m[2])))].sort();
  return html.replace(pattern, (_match, slash: string, level: string) => {
    const nested = Math.min(6, 3 + used.indexOf(Number(level)));
    return `<${slash}h${nested}`;
  });
}

export function PreviewPane({
  preview,
  isFetching,
  isError,
  target,
}: {
  preview: Preview | undefined;
  isFetching: boolean;
  isError: boolean;
  target: PreviewTarget | null;
}) {
  const { t } = useTranslation();
  const scroller = useRef<HTMLDivElement>(null);
  const content = useRef<HTMLDivElement>(null);
  const html = useMemo(() => nestHeadings(preview?.html ?? ""), [preview?.html]);

  useEffect(() => {
    const root = content.current;
    const pane = scroller.current;
    if (!root || !pane || !target) return;
    root.querySelectorAll(".iv-preview-current").forEach((el) => el.classList.remove("iv-preview-current"));
    const element = findTarget(root, target, preview?.outline ?? []);
    if (!element) return;
    element.classList.add("iv-preview-current");
    const top = element.getBoundingClientRect().top - pane.getBoundingClientRect().top + pane.scrollTop;
    const visible = top >= pane.scrollTop && top <= pane.scrollTop + pane.clientHeight * 0.6;
    if (!visible && typeof pane.scrollTo === "function") {
      const reduce = typeof matchMedia === "function" && matchMedia("(prefers-reduced-motion: reduce)").matches;
      pane.scrollTo({ top: Math.max(0, top - 16), behavior: reduce ? "auto" : "smooth" });
    }
  }, [target, html, preview?.outline]);

  return (
    <section className="iv-preview" aria-labelledby="iv-preview-title">
      <div className="iv-preview-bar">
        <h2 id="iv-preview-title" className="iv-preview-title">
          {t("interview.preview.title")}
        </h2>
        <span className="iv-preview-state" role="status">
          {isFetching ? t("interview.preview.updating") : ""}
        </span>
      </div>
      {isError && !preview ? <p className="iv-error">{t("interview.preview.failed")}</p> : null}
      <div
        ref={scroller}
        className="iv-preview-scroll"
        tabIndex={0}
        role="region"
        aria-label={t("interview.preview.documentLabel")}
        data-testid="preview"
      >
        {/* The server sanitizes this HTML (same document model as the export); answers are text. */}
        <div ref={content} className="iv-preview-document" dangerouslySetInnerHTML={{ __html: html }} />
      </div>
    </section>
  );
}

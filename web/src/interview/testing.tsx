// Test support for the interview's component tests: an in-memory stand-in for the contract API
// behind the mocked fetch (the only mock), shaped like the real answers (GET/PATCH /contracts/{id},
// /preview, /resolutions, /complete, /upgrade-preview, /upgrade) with the contract's ETag and the
// If-Match check (412), and a render helper with router and query cache.
// The fetch stub itself is installed by each test file in vi.hoisted (before the client module loads):
//   vi.hoisted(() => { globalThis.fetch = (...a) => globalThis.__interviewFetch(...a) })
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import { MemoryRouter, Route, Routes } from "react-router";

import { InterviewPage } from "./InterviewPage";
import type { ContractView, Question, Slot, Violation } from "./model";

export const CONTRACT_ID = "6a1503f5-ef50-48c7-8579-5b21a86870c7";
export const CLAUSE = {
  unbefristet: "0b0f4a36-0000-4000-8000-000000000001",
  befristet: "0b0f4a36-0000-4000-8000-000000000002",
  probezeit: "0b0f4a36-0000-4000-8000-000000000003",
};
export const HARD_FP = "a".repeat(64);
const VERSION_1 = "e2885697-218c-4d27-8e68-e044d72c8e44";
const VERSION_2 = "5d1c0d6e-0000-4000-8000-000000000002";
export const SOFT_FP = "b".repeat(64);

type Q = Omit<Question, "visible" | "answer" | "inactive">;

export const QUESTIONS: Q[] = [
  { key: "name", text: "Wie heißt der Arbeitnehmer?", type: "text", required: true, section: "parteien", helpText: "Vor- und Nachname.", parameterKeys: ["name"], conditions: [] },
  { key: "befristet", text: "Ist der Vertrag befristet?", type: "yes_no", required: true, section: "beginn", explanation: "Eine Befristung braucht die Schriftform (§ 14 Abs. 4 TzBfG).", parameterKeys: [], conditions: [] },
  { key: "ende", text: "Wann endet die Befristung?", type: "date", required: true, section: "beginn", parameterKeys: ["ende"], conditions: [{ question: "befristet", operator: "equals", value: true, logic: "show" }] },
  { key: "stunden", text: "Wie viele Wochenstunden?", type: "number", required: true, section: "zeit", validation: { min: 10, max: 48 }, parameterKeys: ["stunden"], conditions: [] },
  { key: "gehalt", text: "Wie hoch ist das Bruttogehalt?", type: "currency", required: false, section: "zeit", parameterKeys: ["gehalt"], conditions: [] },
  { key: "modell", text: "Welches Vergütungsmodell?", type: "single_choice", required: false, section: "zeit", options: [{ value: "monat", label: "Monatsgehalt" }, { value: "stunde", label: "Stundenlohn" }], parameterKeys: [], conditions: [] },
  { key: "extras", text: "Welche Zusatzleistungen?", type: "multiple_choice", required: false, section: "zeit", options: [{ value: "auto", label: "Dienstwagen" }, { value: "handy", label: "Diensthandy" }, { value: "bahn", label: "Bahncard" }], parameterKeys: [], conditions: [] },
];

export interface FakeServer {
  answers: Record<string, unknown>;
  selectedSlots: Record<string, string | null>;
  dismissed: string[];
  status: "draft" | "completed" | "archived";
  /** Every stored change moves it on (the ETag is derived from it), as the API's row version. */
  updatedAt: number;
  /** A newer published template version exists (the upgrade banner shows). */
  newerVersion: boolean;
  templateVersion: 1 | 2;
  calls: Array<{ method: string; path: string; body: unknown; ifMatch: string | null }>;
  /** Next answers to PATCH, consumed in order: "network" rejects the fetch, a number answers that status. */
  patchFailures: Array<"network" | number>;
  /** Refuse completion (409 contract.incomplete) while true. */
  refuseCompletion: boolean;
  view: () => ContractView;
  patches: () => Array<Record<string, unknown>>;
}

function visibleOf(q: Q, answers: Record<string, unknown>): boolean {
  return q.conditions.every((c) => answers[c.question] === c.value);
}

function iso(ms: number): string {
  return new Date(Date.UTC(2026, 10, 29, 10, 0, 0) + ms).toISOString();
}

function json(body: unknown, status = 200, etag?: string): Response {
  const type = status >= 400 ? "application/problem+json" : "application/json";
  const headers: Record<string, string> = { "content-type": type };
  if (etag) headers.etag = etag;
  return new Response(JSON.stringify(body), { status, headers });
}

export function etagOf(server: FakeServer): string {
  return `"v${server.updatedAt}"`;
}

const MODIFIED_ELSEWHERE = {
  status: 412,
  code: "contract.modified_elsewhere",
  title: "Vorbedingung nicht erfüllt",
  detail: "Der Vertrag wurde inzwischen an anderer Stelle geändert (in einem anderen Tab oder von einer anderen Person). Nichts wurde gespeichert; bitte laden Sie den aktuellen Stand.",
};

const REPORT = {
  migratedAnswers: ["name"],
  droppedAnswers: [],
  resetSlots: [],
  fromTemplateVersion: 1,
  toTemplateVersion: 2,
  addedClauses: [],
  removedClauses: [],
  updatedClauses: [
    { clauseId: CLAUSE.probezeit, title: "Probezeit", fromVersion: 1, toVersion: 2, diff: [{ op: "equal", text: "Die ersten" }, { op: "delete", text: "sechs" }, { op: "insert", text: "drei" }, { op: "equal", text: "Monate gelten als Probezeit." }] },
  ],
  newViolations: [],
};

export function createFakeServer(initial: Partial<Pick<FakeServer, "answers" | "selectedSlots" | "dismissed">> = {}): FakeServer {
  const server: FakeServer = {
    answers: { ...(initial.answers ?? {}) },
    selectedSlots: { ...(initial.selectedSlots ?? {}) },
    dismissed: [...(initial.dismissed ?? [])],
    status: "draft",
    updatedAt: 0,
    newerVersion: false,
    templateVersion: 1,
    calls: [],
    patchFailures: [],
    refuseCompletion: false,
    view: () => buildView(server),
    patches: () => server.calls.filter((c) => c.method === "PATCH").map((c) => c.body as Record<string, unknown>),
  };
  (globalThis as unknown as { __interviewFetch: typeof fetch }).__interviewFetch = (async (
    input: RequestInfo | URL,
    init?: RequestInit,
  ) => {
    const request = input instanceof Request ? input : new Request(new URL(String(input), "http://localhost"), init);
    const url = new URL(request.url, "http://localhost");
    const text = request.method === "GET" ? "" : await request.clone().text();
    const body = text ? (JSON.parse(text) as Record<string, unknown>) : null;
    const ifMatch = request.headers.get("If-Match");
    server.calls.push({ method: request.method, path: url.pathname, body, ifMatch });
    const base = `/api/v1/contracts/${CONTRACT_ID}`;
    if (request.method === "GET" && url.pathname === base) return json(server.view(), 200, etagOf(server));
    if (request.method !== "GET" && ifMatch !== null && ifMatch !== etagOf(server)) return json(MODIFIED_ELSEWHERE, 412);
    if (request.method === "GET" && url.pathname === `${base}/upgrade-preview`) return json(REPORT);
    if (request.method === "POST" && url.pathname === `${base}/upgrade`) {
      server.newerVersion = false;
      server.templateVersion = 2;
      server.updatedAt += 1000;
      return json({ contract: server.view(), migrationReport: REPORT }, 200, etagOf(server));
    }
    if (request.method === "GET" && url.pathname === `${base}/preview`) return json(preview(server));
    if (request.method === "PATCH" && url.pathname === base) return patch(server, body ?? {});
    if (request.method === "POST" && url.pathname === `${base}/resolutions`) {
      const violation = violations(server).find((v) => v.fingerprint === body?.fingerprint);
      const option = violation?.resolutionOptions.find((o) => o.optionId === body?.optionId);
      if (!violation || !option) {
        return json({ status: 422, code: "contract.unknown_resolution", title: "Ungültig", detail: "Diese Lösung gibt es nicht (mehr).", errors: [{ field: "fingerprint", message: "Kein solcher Konflikt." }] }, 422);
      }
      server.selectedSlots[option.slotId] = option.action === "remove_clause" ? null : option.clauseId;
      server.updatedAt += 1000;
      return json(server.view(), 200, etagOf(server));
    }
    if (request.method === "POST" && url.pathname === `${base}/complete`) {
      if (server.refuseCompletion) {
        return json({ status: 409, code: "contract.incomplete", title: "Konflikt", detail: "Der Vertrag ist noch nicht vollständig.", reasons: [{ code: "unanswered_question", ref: "stunden", message: "Die Frage „Wie viele Wochenstunden?“ ist noch nicht beantwortet." }] }, 409);
      }
      server.status = "completed";
      server.updatedAt += 1000;
      return json(server.view(), 200, etagOf(server));
    }
    return json({ status: 404, code: "test.unrouted", detail: `${request.method} ${url.pathname}` }, 404);
  }) as typeof fetch;
  return server;
}

function patch(server: FakeServer, body: Record<string, unknown>): Response | Promise<Response> {
  const failure = server.patchFailures.shift();
  if (failure === "network") return Promise.reject(new TypeError("Failed to fetch"));
  if (typeof failure === "number") {
    return json({ status: failure, code: "http.unexpected", title: "Fehler", detail: "Vorübergehend nicht verfügbar." }, failure);
  }
  if (server.status !== "draft") {
    return json({ status: 409, code: "contract.not_draft", title: "Konflikt", detail: "Nur Entwürfe können bearbeitet werden.", currentStatus: server.status }, 409);
  }
  const answers = (body.answers ?? {}) as Record<string, unknown>;
  const errors: Array<{ field: string; message: string }> = [];
  if ("stunden" in answers && answers.stunden !== null) {
    const n = answers.stunden as number;
    if (n > 48) errors.push({ field: "answers.stunden", message: "Der Wert darf höchstens 48 betragen." });
    if (n < 10) errors.push({ field: "answers.stunden", message: "Der Wert muss mindestens 10 betragen." });
  }
  const dismissals = body.dismissedWarnings as string[] | undefined;
  if (dismissals?.includes(HARD_FP)) {
    return json({ status: 422, code: "contract.cannot_dismiss", title: "Ungültige Eingabe", detail: "Nur Warnungen können ausgeblendet werden.", errors: [{ field: "dismissedWarnings", message: "Konflikte können nicht ausgeblendet werden." }] }, 422);
  }
  if (errors.length > 0) {
    return json({ status: 422, code: "contract.invalid_input", title: "Ungültige Eingabe", detail: "Die Eingaben sind ungültig; nichts wurde gespeichert.", errors }, 422);
  }
  for (const [key, value] of Object.entries(answers)) {
    if (value === null) delete server.answers[key];
    else server.answers[key] = typeof value === "string" && QUESTIONS.find((q) => q.key === key)?.type === "text" ? value.trim() : value;
  }
  Object.assign(server.selectedSlots, (body.selectedSlots ?? {}) as Record<string, string | null>);
  if (dismissals) server.dismissed = dismissals;
  server.updatedAt += 1000;
  return json(server.view(), 200, etagOf(server));
}

function slots(server: FakeServer): Slot[] {
  return [
    {
      slotId: "laufzeit",
      sectionId: "beginn",
      type: "alternative",
      clauseId: server.selectedSlots.laufzeit ?? (server.answers.befristet === true ? CLAUSE.befristet : CLAUSE.unbefristet),
      options: [
        { clauseId: CLAUSE.unbefristet, title: "Beginn (unbefristet)", heading: "Beginn", text: "Das Arbeitsverhältnis beginnt am [[beginn]].\n\nEs wird auf unbestimmte Zeit geschlossen." },
        { clauseId: CLAUSE.befristet, title: "Beginn und Befristung", heading: "Beginn", text: "Das Arbeitsverhältnis ist befristet bis zum [[ende]]." },
      ],
      source: server.selectedSlots.laufzeit ? "user" : "default",
      editable: true,
      answersClauseId: null,
      overridden: false,
    },
    {
      slotId: "probezeit",
      sectionId: "beginn",
      type: "optional",
      clauseId: server.selectedSlots.probezeit ?? null,
      options: [{ clauseId: CLAUSE.probezeit, title: "Probezeit", heading: "Probezeit", text: "Die ersten sechs Monate gelten als Probezeit." }],
      source: server.selectedSlots.probezeit ? "user" : "default",
      editable: true,
      answersClauseId: null,
      overridden: false,
    },
  ];
}

function violations(server: FakeServer): Violation[] {
  const list: Violation[] = [];
  const laufzeit = slots(server)[0]!.clauseId;
  if (server.answers.befristet === true && laufzeit !== CLAUSE.befristet) {
    list.push({
      fingerprint: HARD_FP,
      ruleType: "requires_answer",
      severity: "hard",
      sourceClauseId: CLAUSE.befristet,
      targetClauseIds: [],
      message: "Ein befristeter Vertrag braucht die Befristungsklausel.",
      suggestion: "Wählen Sie die Klausel „Beginn und Befristung“.",
      dismissed: false,
      resolutionOptions: [
        { optionId: `add_clause:laufzeit:${CLAUSE.befristet}`, action: "add_clause", clauseId: CLAUSE.befristet, slotId: "laufzeit", label: "„Beginn und Befristung“ statt „Beginn (unbefristet)“ wählen", autoApplicable: false },
      ],
    });
  }
  if (typeof server.answers.gehalt === "string" && Number(server.answers.gehalt) > 10000) {
    list.push({
      fingerprint: SOFT_FP,
      ruleType: "answer_override",
      severity: "soft",
      sourceClauseId: CLAUSE.unbefristet,
      targetClauseIds: [CLAUSE.befristet],
      message: "Das Gehalt liegt über der Beitragsbemessungsgrenze.",
      suggestion: "Prüfen Sie die Angabe.",
      dismissed: server.dismissed.includes(SOFT_FP),
      resolutionOptions: [],
    });
  }
  return list;
}

function buildView(server: FakeServer): ContractView {
  const interview = QUESTIONS.map((q) => {
    const visible = visibleOf(q, server.answers);
    return { ...q, visible, required: q.required && visible, answer: (server.answers[q.key] ?? null) as Question["answer"], inactive: !visible && q.key in server.answers };
  });
  const messages = violations(server);
  const missing = interview.filter((q) => q.visible && q.required && !(q.key in server.answers));
  const hard = messages.some((m) => m.severity === "hard");
  const soft = messages.some((m) => m.severity === "soft" && !server.dismissed.includes(m.fingerprint));
  const upgraded = server.templateVersion === 2;
  const state = hard ? "has_conflicts" : missing.length > 0 ? "incomplete" : soft ? "has_warnings" : "valid";
  return {
    id: CONTRACT_ID,
    title: "Arbeitsvertrag Mustermann",
    clientReference: "2026/0815",
    tags: [],
    status: server.status,
    validationState: state,
    jurisdiction: "DE",
    templateVersionId: upgraded ? VERSION_2 : VERSION_1,
    creatorId: "217ae012-beae-4ee9-982e-fc02ea585dac",
    visibility: "private",
    teamId: null,
    completedAt: server.status === "completed" ? iso(server.updatedAt) : null,
    createdAt: iso(0),
    updatedAt: iso(server.updatedAt),
    answers: { ...server.answers } as ContractView["answers"],
    inactiveAnswers: [],
    selectedSlots: { ...server.selectedSlots } as ContractView["selectedSlots"],
    dismissedWarnings: [...server.dismissed],
    interview,
    slots: slots(server),
    validation: { validationState: state, messages },
    progress: 0,
    completionProblems: missing.map((q) => ({ code: "unanswered_question", ref: q.key, message: `Die Frage „${q.text}“ ist noch nicht beantwortet.` })),
    versionInfo: {
      templateId: "86de9289-4aec-4df0-8be8-a18cd4526b38",
      templateTitle: "Arbeitsvertrag",
      templateVersionId: upgraded ? VERSION_2 : VERSION_1,
      templateVersionNumber: upgraded ? 2 : 1,
      latestTemplateVersionId: server.newerVersion || upgraded ? VERSION_2 : VERSION_1,
      newerVersionAvailable: server.newerVersion,
      deprecatedPins: [],
      warning: null,
      clauseVersionIds: [],
    },
  } as ContractView;
}

function preview(server: FakeServer) {
  const name = typeof server.answers.name === "string" ? server.answers.name : null;
  const nameHtml = name ? name.replace(/[<>&]/g, "") : '<span class="placeholder">[[name]]</span>';
  return {
    html: `<article class="contract"><h1>Arbeitsvertrag</h1><div class="parties"><p>${nameHtml}</p></div><section class="contract-section" data-section-id="beginn"><div class="clause" data-clause-id="${CLAUSE.unbefristet}"><h3>§ 1 Beginn</h3></div></section></article>`,
    outline: [{ sectionId: "beginn", title: "Beginn und Dauer", headings: ["§ 1 Beginn"] }],
  };
}

export function renderInterview(path = `/vertraege/${CONTRACT_ID}`) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={[path]}>
        <Routes>
          <Route path="/vertraege/:contractId" element={<InterviewPage />} />
        </Routes>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

// The interview's autosave, framework-free (the hook in useAutosave.ts wraps it).
//
// - Every change lands in a local overlay of unsaved values first (and in sessionStorage, so a reload,
//   a crash or an expired session loses nothing); the screen shows overlay over server state.
// - Debounced PATCHes (600 ms for typing, shortly for discrete choices), one in flight at a time; what
//   changed meanwhile goes in the next one. The API saves all-or-nothing: on 422 the invalid fields
//   are marked at the field and held back (until the user changes them) and the rest is resent at once.
// - Network errors, 5xx and 429 keep everything and retry with backoff (Retry-After when given); the
//   user can retry at once. A 409 `contract.not_draft` makes the page read-only.
// - Two editors: every save sends the contract's last `ETag` as `If-Match`. A 412 (saved elsewhere
//   since) stops autosaving, keeps every unsaved value, reads the stored state and shows which fields
//   differ; the user reloads (drops the unsaved values) or overwrites (resends them on the new version).
//   Changes learnt of earlier (refetch on focus, another tab's broadcast) are merged as before: compared
//   with the last known state, and a change touching a value we have not saved yet pauses saving until
//   the user decides (keep mine / take theirs). See docs/web.md, "Interview".
import type { ApiProblem } from "../api/problem";
import type { ContractView } from "./model";
import { sameValue } from "./model";

export interface Patch {
  answers?: Record<string, unknown>;
  selectedSlots?: Record<string, string | null>;
  dismissedWarnings?: string[];
}

export type SendResult = { view: ContractView; etag: string | null } | { problem: ApiProblem };
/** Sends a patch with the contract's last entity tag as `If-Match` (null: none known, no precondition). */
export type Sender = (patch: Patch, etag: string | null) => Promise<SendResult>;
/** Reads the contract as stored now (after a 412). */
export type Loader = () => Promise<{ view: ContractView; etag: string | null } | null>;

export type SaveStatus = "saved" | "pending" | "saving" | "error" | "invalid" | "conflict" | "stale" | "readonly";

/** A save refused with 412: the contract was saved elsewhere since the version we last had. */
export interface StaleConflict {
  /** The contract as stored now; null while it is read (or when reading it failed). */
  current: ContractView | null;
  loading: boolean;
  /** Fields ("answers.k", "selectedSlots.s") whose stored value changed since the version we had. */
  changed: string[];
  /** Fields where our unsaved input differs from the stored value: what "reload" would replace. */
  mine: string[];
}

export interface RemoteChange {
  /** Where we learnt of it: a save answer or refetch ("server"), another tab of this browser ("tab"), or unsaved input restored after a reload ("restore"). */
  source: "server" | "tab" | "restore";
  /** Question keys whose saved answer changed elsewhere. */
  questions: string[];
  /** Slot ids whose choice changed elsewhere. */
  slots: string[];
  /** Fields ("answers.k", "selectedSlots.s") changed elsewhere while we hold an unsaved value for them. */
  collisions: string[];
}

export interface SaveFailure {
  problem: ApiProblem;
  attempts: number;
  /** When the next automatic attempt runs (epoch ms), or null when only the user can retry. */
  retryAt: number | null;
}

export interface AutosaveSnapshot {
  view: ContractView;
  answers: Readonly<Record<string, unknown>>;
  slots: Readonly<Record<string, string | null>>;
  dismissed: readonly string[] | null;
  status: SaveStatus;
  /** API messages per field ("answers.gehalt", "selectedSlots.laufzeit", "dismissedWarnings"). */
  fieldErrors: Readonly<Record<string, string>>;
  failure: SaveFailure | null;
  remote: RemoteChange | null;
  stale: StaleConflict | null;
  savedAt: number | null;
}

export interface AutosaveOptions {
  send: Sender;
  /** The entity tag of the initial view (its `ETag`), sent as `If-Match` with the first save. */
  etag?: string | null;
  /** Reads the stored contract after a 412 (to show what differs). */
  load?: Loader;
  storage?: Storage | null;
  storageKey?: string;
  debounceMs?: number;
  quickMs?: number;
  /** Called after each successful save (e.g. to tell other tabs). */
  onSaved?: (view: ContractView) => void;
  now?: () => number;
}

interface Stored {
  /** The saved value each unsaved field had when we last knew the server state (to tell changes elsewhere). */
  bases: Record<string, unknown>;
  answers: Record<string, unknown>;
  slots: Record<string, string | null>;
  dismissed: string[] | null;
}

const RETRYABLE = (p: ApiProblem) => p.status === 0 || p.status === 429 || p.status >= 500 || p.status === 401;

export function storageKeyOf(contractId: string): string {
  return `servanda.interview.unsaved.${contractId}`;
}

export class AutosaveEngine {
  private base: ContractView;
  private answers: Record<string, unknown> = {};
  private slots: Record<string, string | null> = {};
  private dismissed: string[] | null = null;
  private heldBack = new Set<string>();
  /** Per unsaved field, the saved value it had when the user started changing it. */
  private bases: Record<string, unknown> = {};
  private fieldErrors: Record<string, string> = {};
  private inflight: Patch | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private failure: SaveFailure | null = null;
  private remote: RemoteChange | null = null;
  private paused = false;
  private currentEtag: string | null;
  /** After a 412: "loading" the stored state, "loaded" (in `staleCurrent`) or "failed"; null otherwise. */
  private staleLoad: "loading" | "loaded" | "failed" | null = null;
  private staleCurrent: { view: ContractView; etag: string | null } | null = null;
  private savedAt: number | null = null;
  private listeners = new Set<() => void>();
  private idleWaiters: Array<() => void> = [];
  private snapshot: AutosaveSnapshot;
  private disposed = false;
  private readonly send: Sender;
  private readonly load: Loader | undefined;
  private readonly storage: Storage | null;
  private readonly storageKey: string;
  private readonly debounceMs: number;
  private readonly quickMs: number;
  private readonly onSaved: ((view: ContractView) => void) | undefined;
  private readonly now: () => number;

  constructor(view: ContractView, options: AutosaveOptions) {
    this.base = view;
    this.send = options.send;
    this.load = options.load;
    this.currentEtag = options.etag ?? null;
    this.storage = options.storage === undefined ? safeSessionStorage() : options.storage;
    this.storageKey = options.storageKey ?? storageKeyOf(view.id);
    this.debounceMs = options.debounceMs ?? 600;
    this.quickMs = options.quickMs ?? 150;
    this.onSaved = options.onSaved;
    this.now = options.now ?? Date.now;
    this.snapshot = this.build();
    this.restore();
  }

  // -- reading -------------------------------------------------------------------------------

  getSnapshot = (): AutosaveSnapshot => this.snapshot;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** The entity tag of the version the overlay applies to (sent as `If-Match`). */
  get etag(): string | null {
    return this.currentEtag;
  }

  /** Whether anything is unsaved (overlay non-empty or a save in flight). */
  hasUnsaved(): boolean {
    return this.inflight !== null || this.pendingCount() > 0;
  }

  // -- changes -------------------------------------------------------------------------------

  setAnswer(key: string, value: unknown, options: { quick?: boolean } = {}): void {
    if (this.readOnly()) return;
    this.answers[key] = value;
    this.touch(`answers.${key}`);
    this.schedule(options.quick ? this.quickMs : this.debounceMs);
  }

  setSlot(slotId: string, clauseId: string | null): void {
    if (this.readOnly()) return;
    this.slots[slotId] = clauseId;
    this.touch(`selectedSlots.${slotId}`);
    this.schedule(0);
  }

  setDismissed(fingerprints: string[]): void {
    if (this.readOnly()) return;
    this.dismissed = [...fingerprints];
    this.touch("dismissedWarnings");
    this.schedule(0);
  }

  /** Save now (also the "retry" button); resolves when nothing is in flight any more. */
  flush(): Promise<void> {
    this.clearTimer();
    this.clearRetry();
    void this.run();
    return this.whenIdle();
  }

  retry(): Promise<void> {
    return this.flush();
  }

  /** A contract state from the server: `own` (answer of our own action, e.g. a resolution) or fetched. */
  receive(view: ContractView, options: { own?: boolean; source?: "server" | "tab"; etag?: string | null } = {}): void {
    if (this.staleLoad && !options.own) {
      // deciding after a 412: this is the stored state the user decides against
      this.staleCurrent = { view, etag: options.etag ?? null };
      this.staleLoad = "loaded";
      this.emit();
      return;
    }
    if (options.own) {
      this.base = view;
      if (options.etag !== undefined) this.currentEtag = options.etag;
      this.dropSavedOverlay(view);
      this.persist();
      this.emit();
      return;
    }
    if (this.inflight) return; // its answer is the newer state
    if (options.etag && options.etag === this.currentEtag) return;
    if (Date.parse(view.updatedAt) <= Date.parse(this.base.updatedAt) && view.status === this.base.status) return;
    this.noteForeign(this.base, view, new Set<string>(), options.source ?? "server");
    this.base = view;
    if (options.etag !== undefined) this.currentEtag = options.etag;
    this.persist();
    this.emit();
  }

  /** Collisions: save my unsaved values over the other version. */
  keepMine(): void {
    for (const field of this.remote?.collisions ?? []) this.bases[field] = this.savedValue(field);
    this.paused = false;
    if (this.remote) this.remote = { ...this.remote, collisions: [] };
    this.schedule(0);
    this.emit();
  }

  /** Collisions: drop my unsaved values where the other version changed them. */
  takeTheirs(): void {
    for (const field of this.remote?.collisions ?? []) this.dropField(field);
    this.paused = false;
    if (this.remote) this.remote = { ...this.remote, collisions: [] };
    this.persist();
    this.schedule(0);
    this.emit();
  }

  /** A call of the page (resolution, completion) was refused with 412: stop and show it like a save's. */
  markStale(): void {
    if (this.staleLoad) return;
    this.enterStale();
  }

  /** After a 412, "Neu laden": drop every unsaved value and continue on the stored state. */
  reload(): void {
    const loaded = this.staleCurrent;
    if (!loaded) {
      void this.loadStale();
      return;
    }
    this.answers = {};
    this.slots = {};
    this.dismissed = null;
    this.bases = {};
    this.heldBack.clear();
    this.fieldErrors = {};
    this.base = loaded.view;
    this.currentEtag = loaded.etag;
    this.leaveStale();
    this.persist();
    this.emit();
  }

  /** After a 412, "Meine Eingaben übernehmen": save the unsaved values over the stored state. */
  overwrite(): void {
    const loaded = this.staleCurrent;
    if (!loaded) {
      void this.loadStale();
      return;
    }
    this.base = loaded.view;
    this.currentEtag = loaded.etag;
    for (const field of this.pendingFields()) this.bases[field] = this.savedValue(field);
    this.leaveStale();
    this.persist();
    this.schedule(0);
  }

  acknowledgeRemote(): void {
    if (this.remote && this.remote.collisions.length > 0) return;
    this.remote = null;
    this.emit();
  }

  dispose(): void {
    this.disposed = true;
    this.clearTimer();
    this.clearRetry();
    this.listeners.clear();
  }

  // -- the send loop ---------------------------------------------------------------------------

  private async run(): Promise<void> {
    if (this.inflight || this.paused || this.disposed || this.readOnly()) {
      this.settleIdle();
      return;
    }
    const patch = this.sendable();
    if (!patch) {
      this.emit();
      this.settleIdle();
      return;
    }
    this.inflight = patch;
    this.emit();
    let result: SendResult;
    try {
      result = await this.send(patch, this.currentEtag);
    } catch (error) {
      result = { problem: networkFailure(error) };
    }
    this.inflight = null;
    if (this.disposed) return;
    if ("view" in result) this.accepted(result.view, result.etag, patch);
    else this.refused(result.problem, patch);
    this.persist();
    this.emit();
    if (!this.failure && !this.timer && !this.paused && this.sendable()) {
      void this.run();
      return;
    }
    this.settleIdle();
  }

  private accepted(view: ContractView, etag: string | null, patch: Patch): void {
    const sent = new Set<string>([
      ...Object.keys(patch.answers ?? {}).map((k) => `answers.${k}`),
      ...Object.keys(patch.selectedSlots ?? {}).map((k) => `selectedSlots.${k}`),
    ]);
    this.noteForeign(this.base, view, sent, "server");
    for (const [key, value] of Object.entries(patch.answers ?? {})) {
      if (key in this.answers && sameValue(this.answers[key], value)) {
        delete this.answers[key];
        delete this.bases[`answers.${key}`];
      } else this.bases[`answers.${key}`] = view.answers[key] ?? null;
      delete this.fieldErrors[`answers.${key}`];
    }
    for (const [key, value] of Object.entries(patch.selectedSlots ?? {})) {
      if (key in this.slots && sameValue(this.slots[key], value)) {
        delete this.slots[key];
        delete this.bases[`selectedSlots.${key}`];
      } else this.bases[`selectedSlots.${key}`] = view.selectedSlots[key] ?? null;
      delete this.fieldErrors[`selectedSlots.${key}`];
    }
    if (patch.dismissedWarnings && sameValue(this.dismissed, patch.dismissedWarnings)) this.dismissed = null;
    if (patch.dismissedWarnings) delete this.fieldErrors.dismissedWarnings;
    this.base = view;
    this.currentEtag = etag;
    this.failure = null;
    this.clearRetry();
    this.savedAt = this.now();
    this.onSaved?.(view);
  }

  private refused(problem: ApiProblem, patch: Patch): void {
    if (problem.status === 422 && problem.errors.length > 0) {
      let marked = 0;
      for (const error of problem.errors) {
        const field = error.field;
        const known =
          (field.startsWith("answers.") && field.slice(8) in (patch.answers ?? {})) ||
          (field.startsWith("selectedSlots.") && field.slice(14) in (patch.selectedSlots ?? {})) ||
          (field === "dismissedWarnings" && patch.dismissedWarnings !== undefined);
        if (!known) continue;
        this.fieldErrors[field] = error.message;
        marked += 1;
        if (field === "dismissedWarnings") this.dismissed = null; // nothing to hold: the list is the server's again
        else this.heldBack.add(field);
      }
      if (marked > 0) {
        this.failure = null;
        return; // the rest goes out again right away (run() continues)
      }
    }
    if (problem.status === 412) {
      // Saved elsewhere since our version: nothing was stored. Keep everything, stop, let the user decide.
      this.failure = null;
      this.clearRetry();
      this.enterStale();
      return;
    }
    if (problem.status === 409 && problem.code === "contract.not_draft") {
      this.answers = {};
      this.slots = {};
      this.dismissed = null;
      this.failure = { problem, attempts: 0, retryAt: null };
      const current = problem.extra.currentStatus;
      this.base = { ...this.base, status: current === "archived" ? "archived" : "completed" };
      return;
    }
    const attempts = (this.failure?.attempts ?? 0) + 1;
    let retryAt: number | null = null;
    if (RETRYABLE(problem)) {
      const delay = problem.retryAfter !== null ? problem.retryAfter * 1000 : Math.min(30_000, 1000 * 2 ** attempts);
      retryAt = this.now() + delay;
      this.clearRetry();
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        void this.run();
      }, delay);
    }
    this.failure = { problem, attempts, retryAt };
  }

  // -- helpers ---------------------------------------------------------------------------------

  private sendable(): Patch | null {
    const patch: Patch = {};
    const answers = Object.entries(this.answers).filter(([k]) => !this.heldBack.has(`answers.${k}`));
    const slots = Object.entries(this.slots).filter(([k]) => !this.heldBack.has(`selectedSlots.${k}`));
    if (answers.length > 0) patch.answers = Object.fromEntries(answers);
    if (slots.length > 0) patch.selectedSlots = Object.fromEntries(slots);
    if (this.dismissed !== null) patch.dismissedWarnings = [...this.dismissed];
    return Object.keys(patch).length > 0 ? patch : null;
  }

  private noteForeign(before: ContractView, after: ContractView, sent: Set<string>, source: "server" | "tab"): void {
    const questions: string[] = [];
    const slots: string[] = [];
    const collisions: string[] = [];
    const answerKeys = new Set([...Object.keys(before.answers), ...Object.keys(after.answers)]);
    for (const key of answerKeys) {
      const field = `answers.${key}`;
      if (sent.has(field) || sameValue(before.answers[key], after.answers[key])) continue;
      questions.push(key);
      if (key in this.answers && !sameValue(this.answers[key], after.answers[key])) collisions.push(field);
    }
    const slotKeys = new Set([...Object.keys(before.selectedSlots), ...Object.keys(after.selectedSlots)]);
    for (const key of slotKeys) {
      const field = `selectedSlots.${key}`;
      if (sent.has(field) || sameValue(before.selectedSlots[key], after.selectedSlots[key])) continue;
      slots.push(key);
      if (key in this.slots && !sameValue(this.slots[key], after.selectedSlots[key])) collisions.push(field);
    }
    if (questions.length === 0 && slots.length === 0) return;
    const previous = this.remote;
    this.remote = {
      source,
      questions: unique([...(previous?.questions ?? []), ...questions]),
      slots: unique([...(previous?.slots ?? []), ...slots]),
      collisions: unique([...(previous?.collisions ?? []), ...collisions]),
    };
    if (collisions.length > 0) {
      this.paused = true;
      this.clearTimer();
    }
  }

  private enterStale(): void {
    this.paused = true;
    this.clearTimer();
    this.staleCurrent = null;
    void this.loadStale();
  }

  private leaveStale(): void {
    this.staleLoad = null;
    this.staleCurrent = null;
    this.paused = false;
    this.remote = null;
  }

  private async loadStale(): Promise<void> {
    this.staleLoad = "loading";
    this.emit();
    let loaded: Awaited<ReturnType<Loader>> = null;
    try {
      loaded = this.load ? await this.load() : null;
    } catch {
      loaded = null;
    }
    if (this.disposed || this.staleLoad !== "loading") return;
    this.staleCurrent = loaded;
    this.staleLoad = loaded ? "loaded" : "failed";
    this.emit();
  }

  private staleConflict(): StaleConflict | null {
    if (!this.staleLoad) return null;
    const current = this.staleCurrent?.view ?? null;
    const changed: string[] = [];
    const mine: string[] = [];
    if (current) {
      for (const key of new Set([...Object.keys(this.base.answers), ...Object.keys(current.answers)])) {
        if (!sameValue(this.base.answers[key], current.answers[key])) changed.push(`answers.${key}`);
      }
      for (const key of new Set([...Object.keys(this.base.selectedSlots), ...Object.keys(current.selectedSlots)])) {
        if (!sameValue(this.base.selectedSlots[key], current.selectedSlots[key])) changed.push(`selectedSlots.${key}`);
      }
      for (const [key, value] of Object.entries(this.answers)) {
        if (!sameValue(value, current.answers[key] ?? null)) mine.push(`answers.${key}`);
      }
      for (const [key, value] of Object.entries(this.slots)) {
        if (!sameValue(value, current.selectedSlots[key] ?? null)) mine.push(`selectedSlots.${key}`);
      }
    }
    return { current, loading: this.staleLoad === "loading", changed, mine };
  }

  private dropSavedOverlay(view: ContractView): void {
    for (const key of Object.keys(this.answers)) {
      if (sameValue(this.answers[key], view.answers[key])) this.dropField(`answers.${key}`);
    }
    for (const key of Object.keys(this.slots)) {
      if (sameValue(this.slots[key], view.selectedSlots[key])) this.dropField(`selectedSlots.${key}`);
    }
    if (this.dismissed && sameValue(this.dismissed, view.dismissedWarnings)) this.dismissed = null;
  }

  private savedValue(field: string): unknown {
    if (field.startsWith("answers.")) return this.base.answers[field.slice(8)] ?? null;
    if (field.startsWith("selectedSlots.")) return this.base.selectedSlots[field.slice(14)] ?? null;
    return null;
  }

  private pendingFields(): string[] {
    return [
      ...Object.keys(this.answers).map((k) => `answers.${k}`),
      ...Object.keys(this.slots).map((k) => `selectedSlots.${k}`),
    ];
  }

  private dropField(field: string): void {
    delete this.bases[field];
    if (field.startsWith("answers.")) delete this.answers[field.slice(8)];
    if (field.startsWith("selectedSlots.")) delete this.slots[field.slice(14)];
    this.heldBack.delete(field);
    delete this.fieldErrors[field];
  }

  private touch(field: string): void {
    if (!(field in this.bases)) this.bases[field] = this.savedValue(field);
    this.heldBack.delete(field);
    delete this.fieldErrors[field];
    this.persist();
  }

  private schedule(ms: number): void {
    this.clearTimer();
    if (this.paused) {
      this.emit();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.failure && this.retryTimer) this.clearRetry(); // new input: try now rather than wait
      void this.run();
    }, ms);
    this.emit();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private readOnly(): boolean {
    return this.base.status !== "draft";
  }

  private pendingCount(): number {
    return Object.keys(this.answers).length + Object.keys(this.slots).length + (this.dismissed ? 1 : 0);
  }

  private whenIdle(): Promise<void> {
    if (!this.inflight && !this.timer) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private settleIdle(): void {
    if (this.inflight || this.timer) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private status(): SaveStatus {
    if (this.readOnly()) return "readonly";
    if (this.staleLoad) return "stale";
    if (this.paused) return "conflict";
    if (this.inflight) return "saving";
    if (this.failure) return "error";
    if (this.timer || this.sendable()) return "pending";
    if (Object.keys(this.fieldErrors).length > 0) return "invalid";
    return "saved";
  }

  private build(): AutosaveSnapshot {
    return {
      view: this.base,
      answers: { ...this.answers },
      slots: { ...this.slots },
      dismissed: this.dismissed ? [...this.dismissed] : null,
      status: this.status(),
      fieldErrors: { ...this.fieldErrors },
      failure: this.failure,
      remote: this.remote,
      stale: this.staleConflict(),
      savedAt: this.savedAt,
    };
  }

  private emit(): void {
    this.snapshot = this.build();
    for (const listener of this.listeners) listener();
  }

  private persist(): void {
    if (!this.storage) return;
    try {
      if (this.pendingCount() === 0) {
        this.storage.removeItem(this.storageKey);
        return;
      }
      const bases: Record<string, unknown> = {};
      for (const field of this.pendingFields()) bases[field] = field in this.bases ? this.bases[field] : this.savedValue(field);
      const stored: Stored = {
        bases,
        answers: this.answers,
        slots: this.slots,
        dismissed: this.dismissed,
      };
      this.storage.setItem(this.storageKey, JSON.stringify(stored));
    } catch {
      // storage full or unavailable: the overlay in memory still holds everything
    }
  }

  private restore(): void {
    if (!this.storage || this.readOnly()) return;
    let stored: Stored | null = null;
    try {
      const raw = this.storage.getItem(this.storageKey);
      stored = raw ? (JSON.parse(raw) as Stored) : null;
    } catch {
      stored = null;
    }
    if (!stored) return;
    this.answers = { ...(stored.answers ?? {}) };
    this.slots = { ...(stored.slots ?? {}) };
    this.dismissed = stored.dismissed ?? null;
    const bases = stored.bases ?? {};
    this.bases = { ...bases };
    this.dropSavedOverlay(this.base); // already saved (the reload interrupted the answer, not the save)
    // A value saved elsewhere since we last knew it collides with the unsaved one: the user decides.
    const collisions = [
      ...Object.keys(this.answers)
        .map((k) => `answers.${k}`)
        .filter((f) => !sameValue(bases[f] ?? null, this.base.answers[f.slice(8)] ?? null)),
      ...Object.keys(this.slots)
        .map((k) => `selectedSlots.${k}`)
        .filter((f) => !sameValue(bases[f] ?? null, this.base.selectedSlots[f.slice(14)] ?? null)),
    ];
    if (collisions.length > 0) {
      this.remote = { source: "restore", questions: [], slots: [], collisions };
      this.paused = true;
    }
    this.persist();
    this.snapshot = this.build();
    if (!this.paused && this.pendingCount() > 0) this.schedule(0);
  }
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

function safeSessionStorage(): Storage | null {
  try {
    return typeof sessionStorage !== "undefined" ? sessionStorage : null;
  } catch {
    return null;
  }
}

function networkFailure(error: unknown): ApiProblem {
  return {
    status: 0,
    code: "network.unreachable",
    title: "",
    detail: error instanceof Error ? error.message : "",
    errors: [],
    retryAfter: null,
    extra: {},
  };
}

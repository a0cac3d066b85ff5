// The signed-in session: tokens, silent refresh, and recovery after a 401.
//
// Tokens live in localStorage so every tab shares one session. The API rotates refresh tokens and ends
// the whole session when a spent one is presented (theft detection), so tabs must never refresh with the
// same token twice: a refresh runs under a Web Lock ("servanda.refresh") and re-reads the stored tokens
// inside it - when another tab refreshed meanwhile, its tokens are adopted instead of refreshing again.
// When the refresh itself is refused (the session ended), the session becomes "expired": requests that
// were waiting for a token keep waiting until the user signs in again (the sign-in dialog over the page),
// then they are retried - so an autosave in flight is not lost.
// When the refresh cannot reach the identity provider (OIDC: the firm's sign-in service; local: our API),
// the session is kept and marked "unreachable": the refresh is retried with backoff (or at once on
// `refresh()`), and requests of a signed-in user that meet a 401 meanwhile wait for the next successful
// refresh instead of failing - the page shows a notice, not "Sitzung abgelaufen".

export type Provider = "local" | "oidc";

export interface Tokens {
  accessToken: string;
  refreshToken: string;
  /** Epoch milliseconds at which the access token expires. */
  expiresAt: number;
  /** The access token's lifetime (ms), so short-lived tokens are not refreshed on every request. */
  lifetimeMs?: number | undefined;
  provider: Provider;
  /** OIDC only: for the end-session redirect and the token endpoint's refresh grant. */
  idToken?: string | undefined;
  tokenEndpoint?: string | undefined;
  endSessionEndpoint?: string | undefined;
  clientId?: string | undefined;
}

export type SessionState = "signedIn" | "signedOut" | "expired";

/** Thrown by a refresher when the identity provider refused the refresh token (session over). */
export class RefreshRefused extends Error {
  constructor() {
    super("refresh refused");
    this.name = "RefreshRefused";
  }
}

export type Refresher = (tokens: Tokens) => Promise<Tokens>;

interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
  query?(): Promise<{ held?: { name?: string }[] }>;
}

export interface SessionOptions {
  refresher: Refresher;
  storage?: Storage | null;
  now?: () => number;
  locks?: LockManagerLike | null;
  /** Refresh this long before the access token expires (ms). */
  leewayMs?: number;
}

export const STORAGE_KEY = "servanda.session";
const LOCK_NAME = "servanda.refresh";
// localStorage is not a synchronous channel between tabs in Chromium: a tab that takes the refresh lock
// right after another tab refreshed can still read the spent refresh token (seen in the browser run
// against a provider that spends refresh tokens on first use: two refreshes 59 ms apart, the second
// refused, both tabs signed out). The lock manager is consistent across tabs, so the refreshing tab
// also holds a lock named after the refresh token it spent, before it releases the refresh lock;
// a tab that finds that lock held waits for the new tokens to reach its storage instead of refreshing.
const SPENT_LOCK_PREFIX = "servanda.refresh.spent.";
const SPENT_HOLD_MS = 15_000;
const ADOPT_WAIT_MS = 5_000;
const ADOPT_POLL_MS = 50;
/** Waits between refresh attempts while the provider cannot be reached (the last one repeats). */
export const UNREACHABLE_RETRY_MS = [5_000, 10_000, 20_000, 30_000] as const;

/** A short fingerprint of a refresh token for a lock name (lock names are visible to this origin only). */
function fingerprint(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `${text.length}.${hash.toString(16)}`;
}

function parseTokens(raw: string | null): Tokens | null {
  if (!raw) return null;
  try {
    const value = JSON.parse(raw) as Partial<Tokens>;
    if (
      typeof value.accessToken === "string" &&
      typeof value.refreshToken === "string" &&
      typeof value.expiresAt === "number" &&
      (value.provider === "local" || value.provider === "oidc")
    ) {
      return value as Tokens;
    }
  } catch {
    // a damaged entry is no session
  }
  return null;
}

interface Waiter {
  resolve: (token: string | null) => void;
}

export class Session {
  private tokens: Tokens | null;
  private state: SessionState;
  private refreshing: Promise<Tokens | null> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private waiters: Waiter[] = [];
  private listeners = new Set<(state: SessionState) => void>();
  private holdOnExpiry = false;
  private unreachable = false;
  private unreachableRetries = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private reachabilityListeners = new Set<(unreachable: boolean) => void>();
  private readonly refresher: Refresher;
  private readonly storage: Storage | null;
  private readonly now: () => number;
  private readonly locks: LockManagerLike | null;
  private readonly leewayMs: number;

  constructor(options: SessionOptions) {
    this.refresher = options.refresher;
    this.storage = options.storage === undefined ? defaultStorage() : options.storage;
    this.now = options.now ?? (() => Date.now());
    this.locks = options.locks === undefined ? defaultLocks() : options.locks;
    this.leewayMs = options.leewayMs ?? 60_000;
    this.tokens = parseTokens(this.storage?.getItem(STORAGE_KEY) ?? null);
    this.state = this.tokens ? "signedIn" : "signedOut";
    this.schedule();
  }

  /**
   * Whether requests that meet an ended session wait for the user to sign in again (true while a user is
   * signed in on this page and the sign-in dialog can appear) or fail at once with their 401.
   */
  setHoldOnExpiry(hold: boolean): void {
    this.holdOnExpiry = hold;
  }

  getState(): SessionState {
    return this.state;
  }

  current(): Tokens | null {
    return this.tokens;
  }

  subscribe(listener: (state: SessionState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Whether the last refresh could not reach the provider (the session is kept; retries run). */
  isUnreachable(): boolean {
    return this.unreachable;
  }

  subscribeReachability(listener: (unreachable: boolean) => void): () => void {
    this.reachabilityListeners.add(listener);
    return () => this.reachabilityListeners.delete(listener);
  }

  /** Signed in (login, OIDC callback, sign-in again after expiry): waiting requests continue. */
  signIn(tokens: Tokens): void {
    this.adopt(tokens, true);
    this.setState("signedIn");
    const waiters = this.waiters.splice(0);
    for (const w of waiters) w.resolve(tokens.accessToken);
  }

  /** Signed out (logout, or giving up after expiry): waiting requests fail with their 401. */
  signOut(): void {
    this.tokens = null;
    this.storage?.removeItem(STORAGE_KEY);
    this.clearTimer();
    this.setUnreachable(false);
    this.setState("signedOut");
    const waiters = this.waiters.splice(0);
    for (const w of waiters) w.resolve(null);
  }

  /** Another tab changed the stored session (storage event). */
  syncFromStorage(): void {
    const stored = parseTokens(this.storage?.getItem(STORAGE_KEY) ?? null);
    if (stored === null) {
      if (this.tokens !== null) this.signOut();
      return;
    }
    if (this.state !== "signedIn") this.signIn(stored);
    else if (stored.accessToken !== this.tokens?.accessToken) this.adopt(stored, false);
  }

  /** The access token for a request, refreshed first when it expires within the leeway. */
  async accessToken(): Promise<string | null> {
    const tokens = this.tokens;
    if (!tokens || this.state === "expired") return tokens?.accessToken ?? null;
    if (tokens.expiresAt - this.now() <= this.leewayFor(tokens)) {
      const refreshed = await this.refresh();
      return refreshed?.accessToken ?? tokens.accessToken;
    }
    return tokens.accessToken;
  }

  /**
   * After a 401 for `usedToken`: a newer token if there is one (another request or tab refreshed),
   * else one refresh; when the session is over and the user had been signed in, wait for them to
   * sign in again; when the provider cannot be reached, wait for a refresh that gets through.
   * Null: give up (the caller keeps its 401).
   */
  async recover(usedToken: string | null): Promise<string | null> {
    if (this.tokens && this.tokens.accessToken !== usedToken && this.state === "signedIn") {
      return this.tokens.accessToken;
    }
    if (this.state === "signedIn") {
      const refreshed = await this.refresh();
      if (refreshed && refreshed.accessToken !== usedToken) return refreshed.accessToken;
    }
    const waitable = this.state === "expired" || (this.state === "signedIn" && this.unreachable);
    if (waitable && this.holdOnExpiry) return this.waitForToken();
    return null;
  }

  /** Refresh now (single flight; one tab at a time). Null when there is no session or it ended. */
  refresh(): Promise<Tokens | null> {
    if (!this.refreshing) {
      this.refreshing = this.runRefresh().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private async runRefresh(): Promise<Tokens | null> {
    const used = this.tokens;
    if (!used) return null;
    const work = async (): Promise<Tokens | null> => {
      // Another tab may have refreshed while this one waited for the lock: take its tokens.
      const stored = this.storage ? parseTokens(this.storage.getItem(STORAGE_KEY)) : this.tokens;
      if (stored && stored.refreshToken !== used.refreshToken) {
        this.adopt(stored, false);
        return stored;
      }
      if (this.storage && stored === null) {
        this.signOut(); // another tab signed out
        return null;
      }
      if (await this.spentElsewhere(used)) {
        const arrived = await this.awaitStoredTokens(used);
        if (arrived) this.adopt(arrived, false);
        return arrived; // null: keep the session, the next request looks again
      }
      try {
        const fresh = await this.refresher(used);
        this.adopt(fresh, true);
        await this.markSpent(used);
        return fresh;
      } catch (error) {
        if (error instanceof RefreshRefused) {
          this.expire();
          return null;
        }
        this.markUnreachable(); // network trouble or a provider error: keep the session, retry
        return null;
      }
    };
    return this.locks ? this.locks.request(LOCK_NAME, work) : work();
  }

  /** Whether another tab has just refreshed with this refresh token (it holds the token's spent lock). */
  private async spentElsewhere(used: Tokens): Promise<boolean> {
    if (!this.locks?.query) return false;
    const name = SPENT_LOCK_PREFIX + fingerprint(used.refreshToken);
    const state = await this.locks.query();
    return (state.held ?? []).some((lock) => lock.name === name);
  }

  /** Hold the spent token's lock for a while; resolves once it is granted (before the refresh lock goes). */
  private async markSpent(used: Tokens): Promise<void> {
    const locks = this.locks;
    if (!locks?.query) return;
    await new Promise<void>((granted) => {
      void locks.request(SPENT_LOCK_PREFIX + fingerprint(used.refreshToken), () => {
        granted();
        return new Promise<void>((release) => setTimeout(release, SPENT_HOLD_MS));
      });
    });
  }

  /** The tokens another tab stored after spending `used`, once they reach this tab's storage. */
  private async awaitStoredTokens(used: Tokens): Promise<Tokens | null> {
    for (let polls = 0; polls <= ADOPT_WAIT_MS / ADOPT_POLL_MS; polls += 1) {
      const stored = parseTokens(this.storage?.getItem(STORAGE_KEY) ?? null);
      if (stored && stored.refreshToken !== used.refreshToken) return stored;
      await new Promise((wait) => setTimeout(wait, ADOPT_POLL_MS));
    }
    return null;
  }

  private expire(): void {
    this.tokens = null;
    this.storage?.removeItem(STORAGE_KEY);
    this.clearTimer();
    this.setUnreachable(false);
    this.setState("expired");
  }

  /** The refresh did not get through: say so and try again after a growing wait. */
  private markUnreachable(): void {
    if (this.state !== "signedIn" || !this.tokens) return;
    const wait = UNREACHABLE_RETRY_MS[Math.min(this.unreachableRetries, UNREACHABLE_RETRY_MS.length - 1)];
    this.unreachableRetries += 1;
    this.setUnreachable(true);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.refresh();
    }, wait);
  }

  private setUnreachable(unreachable: boolean): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (!unreachable) this.unreachableRetries = 0;
    if (unreachable === this.unreachable) return;
    this.unreachable = unreachable;
    for (const listener of this.reachabilityListeners) listener(unreachable);
  }

  /** The user gave up signing in again: requests waiting for it fail with their 401. */
  abandon(): void {
    this.signOut();
  }

  /** Until a sign-in (after expiry) or a refresh that gets through (provider back); null on sign-out. */
  private waitForToken(): Promise<string | null> {
    return new Promise((resolve) => this.waiters.push({ resolve }));
  }

  private adopt(tokens: Tokens, store: boolean): void {
    this.tokens = tokens;
    if (store) this.storage?.setItem(STORAGE_KEY, JSON.stringify(tokens));
    this.schedule();
    if (this.unreachable) {
      // fresh tokens (this tab's retry, or another tab's refresh): the requests that waited go out
      this.setUnreachable(false);
      const waiters = this.waiters.splice(0);
      for (const w of waiters) w.resolve(tokens.accessToken);
    }
  }

  private setState(state: SessionState): void {
    if (state === this.state) return;
    this.state = state;
    for (const listener of this.listeners) listener(state);
  }

  private leewayFor(tokens: Tokens): number {
    return tokens.lifetimeMs ? Math.min(this.leewayMs, tokens.lifetimeMs / 4) : this.leewayMs;
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Silent refresh: shortly before the access token expires. */
  private schedule(): void {
    this.clearTimer();
    if (!this.tokens) return;
    const delay = Math.max(this.tokens.expiresAt - this.leewayFor(this.tokens) - this.now(), 1_000);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.refresh();
    }, delay);
  }
}

function defaultStorage(): Storage | null {
  try {
    return typeof localStorage !== "undefined" ? localStorage : null;
  } catch {
    return null;
  }
}

function defaultLocks(): LockManagerLike | null {
  const locks = typeof navigator !== "undefined" ? (navigator as { locks?: LockManagerLike }).locks : undefined;
  return locks ?? null;
}

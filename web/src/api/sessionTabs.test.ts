// Two tabs, one session, a provider that spends each refresh token on first use. In Chromium a tab
// can read localStorage a moment before another tab's write reaches it (found in the browser run
// against the Keycloak stand-in, tests/test_web_oidc_e2e.py): the refresh lock alone let the second
// tab refresh with the spent token, which ended the session in both tabs.
import { RefreshRefused, STORAGE_KEY, Session, type Tokens } from "./session";

/** A lock manager as the browser's: one holder per name, FIFO, and a consistent `query()`. */
function lockManager() {
  const tails = new Map<string, Promise<unknown>>();
  const held = new Set<string>();
  return {
    request<T>(name: string, callback: () => Promise<T>): Promise<T> {
      const before = tails.get(name) ?? Promise.resolve();
      const run = before.then(async () => {
        held.add(name);
        try {
          return await callback();
        } finally {
          held.delete(name);
        }
      });
      tails.set(name, run.catch(() => undefined));
      return run;
    },
    async query() {
      return { held: [...held].map((name) => ({ name })) };
    },
  };
}

/** localStorage as two tabs see it: one tab's writes reach the other `lagMs` later. */
function laggingStorages(lagMs: number): [Storage, Storage] {
  const views = [new Map<string, string>(), new Map<string, string>()];
  const storage = (own: number): Storage => ({
    get length() {
      return views[own]!.size;
    },
    clear: () => views[own]!.clear(),
    key: (index: number) => [...views[own]!.keys()][index] ?? null,
    getItem: (key: string) => views[own]!.get(key) ?? null,
    removeItem: (key: string) => {
      views[own]!.delete(key);
      setTimeout(() => views[1 - own]!.delete(key), lagMs);
    },
    setItem: (key: string, value: string) => {
      views[own]!.set(key, value);
      setTimeout(() => views[1 - own]!.set(key, value), lagMs);
    },
  });
  return [storage(0), storage(1)];
}

function tokens(n: number): Tokens {
  return { accessToken: `a${n}`, refreshToken: `r${n}`, expiresAt: Date.now() + 5_000, lifetimeMs: 20_000, provider: "oidc" };
}

it("two tabs refresh once per refresh token even when storage lags between them", async () => {
  const spent = new Set<string>();
  let issued = 1;
  const refresher = async (used: Tokens): Promise<Tokens> => {
    await new Promise((r) => setTimeout(r, 5));
    if (spent.has(used.refreshToken)) throw new RefreshRefused(); // the provider spends each token once
    spent.add(used.refreshToken);
    issued += 1;
    return { ...tokens(issued), expiresAt: Date.now() + 20_000 };
  };
  const locks = lockManager();
  const [left, right] = laggingStorages(40);
  left.setItem(STORAGE_KEY, JSON.stringify(tokens(1)));
  await new Promise((r) => setTimeout(r, 60));
  const tabs = [left, right].map((storage) => new Session({ refresher, storage, locks, leewayMs: 60_000 }));
  const states: string[] = [];
  for (const tab of tabs) tab.subscribe((state) => states.push(state));

  const [a, b] = await Promise.all(tabs.map((tab) => tab.accessToken()));

  expect(spent).toEqual(new Set(["r1"])); // one refresh for the token both tabs held
  expect(a).toBe("a2");
  expect(b).toBe("a2"); // the second tab waited for the first tab's tokens
  expect(states).not.toContain("expired");
  expect(tabs.map((tab) => tab.getState())).toEqual(["signedIn", "signedIn"]);
});

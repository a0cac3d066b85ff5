// The auth refresh logic: the real Session and middleware over a fake API (fetch is the only fake).
import { STORAGE_KEY, type Tokens } from "./session";
import { ME, fakeApi, json, problem, tokenResponse } from "../test/fakeApi";

function tokens(access: string, refresh: string, inMs: number, lifetimeMs = 900_000): Tokens {
  return { accessToken: access, refreshToken: refresh, expiresAt: Date.now() + inMs, lifetimeMs, provider: "local" };
}

/** /me answers 200 for one access token, 401 auth.token_expired for any other. */
function meFor(api: ReturnType<typeof fakeApi>, valid: () => string) {
  api.on("GET /api/v1/identity/me", (request) =>
    request.headers.get("Authorization") === `Bearer ${valid()}`
      ? json(ME)
      : problem(401, "auth.token_expired", "Die Sitzung ist abgelaufen."),
  );
}

afterEach(() => {
  vi.useRealTimers();
});

describe("session refresh", () => {
  it("adds the bearer token and refreshes before a request when the token is about to expire", async () => {
    const api = fakeApi();
    api.session.signIn(tokens("a1", "r1", 20_000)); // inside the 60 s leeway
    api.on("POST /api/v1/auth/refresh", () => tokenResponse("a2", "r2"));
    meFor(api, () => "a2");

    const { data } = await api.api.GET("/api/v1/identity/me");

    expect(data?.email).toBe(ME.email);
    expect(api.calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      "POST /api/v1/auth/refresh",
      "GET /api/v1/identity/me",
    ]);
    expect(api.calls[0]?.body).toEqual({ refreshToken: "r1" });
    expect(api.calls[0]?.authorization).toBeNull(); // the public client sends no token
    expect(api.calls[1]?.authorization).toBe("Bearer a2");
    expect(JSON.parse(api.storage.getItem(STORAGE_KEY) ?? "{}").refreshToken).toBe("r2");
  });

  it("refreshes once for parallel requests (a spent refresh token would end the session)", async () => {
    const api = fakeApi();
    api.session.signIn(tokens("a1", "r1", 5_000));
    let refreshes = 0;
    api.on("POST /api/v1/auth/refresh", async () => {
      refreshes += 1;
      await new Promise((r) => setTimeout(r, 10));
      return tokenResponse("a2", "r2");
    });
    meFor(api, () => "a2");

    const results = await Promise.all([1, 2, 3].map(() => api.api.GET("/api/v1/identity/me")));

    expect(results.every((r) => r.data?.id === ME.id)).toBe(true);
    expect(refreshes).toBe(1);
  });

  it("on a 401 refreshes and retries the request once, with its body", async () => {
    const api = fakeApi();
    api.session.signIn(tokens("a1", "r1", 600_000)); // looks fresh, but the server ended it
    api.on("POST /api/v1/auth/refresh", () => tokenResponse("a2", "r2"));
    api.on("PATCH /api/v1/contracts/c1", (request) =>
      request.headers.get("Authorization") === "Bearer a2"
        ? json({ ok: true })
        : problem(401, "auth.token_expired", "abgelaufen"),
    );

    const result = await api.api.PATCH("/api/v1/contracts/{contract_id}", {
      params: { path: { contract_id: "c1" } },
      body: { answers: { gehalt: 4200 } },
    });

    expect(result.response.status).toBe(200);
    const patches = api.calls.filter((c) => c.method === "PATCH");
    expect(patches.map((c) => c.authorization)).toEqual(["Bearer a1", "Bearer a2"]);
    expect(patches[1]?.body).toEqual({ answers: { gehalt: 4200 } });
  });

  it("retries at most once: a second 401 reaches the caller", async () => {
    const api = fakeApi();
    api.session.signIn(tokens("a1", "r1", 600_000));
    let n = 0;
    api.on("POST /api/v1/auth/refresh", () => tokenResponse(`a${(n += 1) + 1}`, `r${n + 1}`));
    api.on("GET /api/v1/identity/me", () => problem(401, "auth.user_disabled", "Das Konto ist deaktiviert."));

    const result = await api.api.GET("/api/v1/identity/me");

    expect(result.response.status).toBe(401);
    expect(api.calls.filter((c) => c.path === "/api/v1/identity/me")).toHaveLength(2);
    expect(n).toBe(1);
  });

  it("refreshes silently before expiry without any request", async () => {
    vi.useFakeTimers();
    const api = fakeApi();
    api.on("POST /api/v1/auth/refresh", () => tokenResponse("a2", "r2"));
    api.session.signIn(tokens("a1", "r1", 120_000)); // refresh due at 120 s - 60 s leeway

    await vi.advanceTimersByTimeAsync(59_000);
    expect(api.calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(2_000);

    expect(api.calls.map((c) => c.path)).toEqual(["/api/v1/auth/refresh"]);
    expect(api.session.current()?.accessToken).toBe("a2");
  });

  it("adopts tokens another tab refreshed instead of spending the old refresh token", async () => {
    const api = fakeApi();
    api.session.signIn(tokens("a1", "r1", 5_000));
    // another tab refreshed meanwhile and stored its tokens
    api.storage.setItem(STORAGE_KEY, JSON.stringify(tokens("a9", "r9", 900_000)));
    meFor(api, () => "a9");

    const { data } = await api.api.GET("/api/v1/identity/me");

    expect(data?.id).toBe(ME.id);
    expect(api.calls.some((c) => c.path === "/api/v1/auth/refresh")).toBe(false);
  });

  it("when the session ended, a signed-in user's request waits for signing in again and is sent then", async () => {
    const api = fakeApi();
    api.session.signIn(tokens("a1", "r1", 600_000));
    api.session.setHoldOnExpiry(true); // a user is signed in on the page
    api.on("POST /api/v1/auth/refresh", () => problem(401, "auth.invalid_refresh_token", "abgelaufen"));
    let valid = "nobody";
    api.on("PATCH /api/v1/contracts/c1", (request) =>
      request.headers.get("Authorization") === `Bearer ${valid}`
        ? json({ saved: true })
        : problem(401, "auth.session_revoked", "Die Sitzung wurde beendet."),
    );
    const states: string[] = [];
    api.session.subscribe((s) => states.push(s));

    const pending = api.api.PATCH("/api/v1/contracts/{contract_id}", {
      params: { path: { contract_id: "c1" } },
      body: { answers: { probezeit: 6 } },
    });
    await vi.waitFor(() => expect(states).toEqual(["expired"]));
    expect(api.storage.getItem(STORAGE_KEY)).toBeNull();

    valid = "a2";
    api.session.signIn(tokens("a2", "r2", 900_000)); // the sign-in dialog succeeded
    const result = await pending;

    expect(result.response.status).toBe(200);
    expect(api.calls.filter((c) => c.method === "PATCH").at(-1)?.body).toEqual({ answers: { probezeit: 6 } });
  });

  it("without a signed-in user (page load), an ended session fails at once", async () => {
    const api = fakeApi();
    api.session.signIn(tokens("a1", "r1", 5_000));
    api.on("POST /api/v1/auth/refresh", () => problem(401, "auth.invalid_refresh_token", "abgelaufen"));
    api.on("GET /api/v1/identity/me", () => problem(401, "auth.token_expired", "abgelaufen"));

    const result = await api.api.GET("/api/v1/identity/me");

    expect(result.response.status).toBe(401);
    expect(api.session.getState()).toBe("expired");
  });

  it("giving up after expiry lets the waiting request fail with its 401", async () => {
    const api = fakeApi();
    api.session.signIn(tokens("a1", "r1", 600_000));
    api.session.setHoldOnExpiry(true);
    api.on("POST /api/v1/auth/refresh", () => problem(401, "auth.invalid_refresh_token", "abgelaufen"));
    api.on("GET /api/v1/identity/me", () => problem(401, "auth.session_revoked", "beendet"));

    const pending = api.api.GET("/api/v1/identity/me");
    await vi.waitFor(() => expect(api.session.getState()).toBe("expired"));
    api.session.abandon();

    expect((await pending).response.status).toBe(401);
    expect(api.session.getState()).toBe("signedOut");
  });

  it("OIDC provider down mid-session: a signed-in user's request waits, the refresh is retried, the request goes out once it answers", async () => {
    vi.useFakeTimers();
    const api = fakeApi();
    const tokenPath = "/realms/servanda/protocol/openid-connect/token";
    let providerUp = false;
    api.on(`POST ${tokenPath}`, () =>
      providerUp
        ? json({ access_token: "a2", refresh_token: "r2", expires_in: 300 })
        : Promise.reject(new TypeError("Failed to fetch")),
    );
    api.on("PATCH /api/v1/contracts/c1", (request) =>
      request.headers.get("Authorization") === "Bearer a2"
        ? json({ saved: true })
        : problem(401, "auth.token_expired", "Die Sitzung ist abgelaufen."),
    );
    api.session.signIn({
      ...tokens("a1", "r1", 120_000, 300_000), // silent refresh due at 60 s
      provider: "oidc",
      tokenEndpoint: `https://sso.kanzlei.example${tokenPath}`,
      clientId: "servanda-web",
    });
    api.session.setHoldOnExpiry(true);
    const reachability: boolean[] = [];
    api.session.subscribeReachability((unreachable) => reachability.push(unreachable));

    await vi.advanceTimersByTimeAsync(61_000); // the silent refresh meets the provider down
    expect(reachability).toEqual([true]);
    let settled = false;
    const pending = api.api
      .PATCH("/api/v1/contracts/{contract_id}", { params: { path: { contract_id: "c1" } }, body: { answers: { probezeit: 6 } } })
      .finally(() => {
        settled = true;
      });
    await vi.advanceTimersByTimeAsync(40_000); // retries keep failing; the request waits, no 401 reaches it
    expect(settled).toBe(false);
    const attempts = api.calls.filter((c) => c.path === tokenPath).length;
    expect(attempts).toBeGreaterThanOrEqual(4); // silent refresh, request, 401 recovery, retries
    expect(api.session.getState()).toBe("signedIn");
    expect(api.session.current()?.refreshToken).toBe("r1");

    providerUp = true;
    await vi.advanceTimersByTimeAsync(30_000); // the next retry gets through
    const result = await pending;

    expect(result.response.status).toBe(200);
    expect(api.calls.filter((c) => c.method === "PATCH").at(-1)).toMatchObject({
      authorization: "Bearer a2",
      body: { answers: { probezeit: 6 } },
    });
    expect(reachability).toEqual([true, false]);
    expect(api.session.current()?.refreshToken).toBe("r2");
  });

  it("keeps the session when the refresh fails for lack of network", async () => {
    const api = fakeApi();
    api.session.signIn(tokens("a1", "r1", 5_000));
    api.on("POST /api/v1/auth/refresh", () => {
      throw new TypeError("Failed to fetch");
    });

    expect(await api.session.refresh()).toBeNull();
    expect(api.session.getState()).toBe("signedIn");
    expect(api.session.current()?.refreshToken).toBe("r1");
  });
});

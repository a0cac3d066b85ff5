// The OIDC authorization code flow with PKCE, against a scripted provider (discovery and token
// endpoint answered by a fake fetch). The browser run against a Keycloak stand-in: tests/test_web_oidc_e2e.py.
import { codeChallenge, completeOidcSignIn, endSessionUrl, oidcFailureOf, startOidcSignIn } from "./oidc";

const ISSUER = "https://sso.kanzlei.example/realms/servanda";
const DISCOVERY = {
  authorization_endpoint: `${ISSUER}/protocol/openid-connect/auth`,
  token_endpoint: `${ISSUER}/protocol/openid-connect/token`,
  end_session_endpoint: `${ISSUER}/protocol/openid-connect/logout`,
};

function provider(tokenStatus = 200) {
  const requests: Request[] = [];
  const fetchImpl = async (request: Request): Promise<Response> => {
    requests.push(request.clone());
    if (request.url === `${ISSUER}/.well-known/openid-configuration`) return Response.json(DISCOVERY);
    if (request.url === DISCOVERY.token_endpoint && request.method === "POST") {
      return Response.json(
        { access_token: "at", refresh_token: "rt", id_token: "it", expires_in: 300 },
        { status: tokenStatus },
      );
    }
    return new Response("not found", { status: 404 });
  };
  return { requests, fetchImpl };
}

let assigned: string[] = [];
const realLocation = window.location;
beforeEach(() => {
  sessionStorage.clear();
  assigned = [];
  // jsdom's location.assign cannot be spied on: a stand-in with the same origin records it.
  Object.defineProperty(window, "location", {
    configurable: true,
    value: { origin: realLocation.origin, href: realLocation.href, assign: (url: string | URL) => assigned.push(String(url)) },
  });
});
afterEach(() => {
  Object.defineProperty(window, "location", { configurable: true, value: realLocation });
});

async function signIn(next = "/vertraege/42") {
  const { requests, fetchImpl } = provider();
  await startOidcSignIn({ issuer: ISSUER, clientId: "servanda-web" }, next, fetchImpl);
  const url = new URL(assigned[assigned.length - 1]!);
  return { url, requests, fetchImpl };
}

test("sign-in goes to the provider with an S256 challenge of a one-time verifier", async () => {
  const { url } = await signIn();
  expect(`${url.origin}${url.pathname}`).toBe(DISCOVERY.authorization_endpoint);
  const params = url.searchParams;
  expect(params.get("response_type")).toBe("code");
  expect(params.get("client_id")).toBe("servanda-web");
  expect(params.get("redirect_uri")).toBe(`${window.location.origin}/anmelden/oidc`);
  expect(params.get("code_challenge_method")).toBe("S256");
  const pending = JSON.parse(sessionStorage.getItem("servanda.oidc.pending")!) as { verifier: string; state: string };
  expect(params.get("state")).toBe(pending.state);
  expect(params.get("code_challenge")).toBe(await codeChallenge(pending.verifier));
  expect(pending.verifier.length).toBeGreaterThanOrEqual(43); // RFC 7636: 43-128 characters
});

test("the callback redeems the code with the verifier and returns to the page asked for", async () => {
  const { url } = await signIn("/vertraege/42");
  const { requests, fetchImpl } = provider();
  const { tokens, next } = await completeOidcSignIn(
    new URLSearchParams({ code: "c0de", state: url.searchParams.get("state")! }),
    fetchImpl,
  );
  const tokenRequest = requests.find((r) => r.method === "POST")!;
  const body = new URLSearchParams(await tokenRequest.text());
  expect(body.get("grant_type")).toBe("authorization_code");
  expect(body.get("code")).toBe("c0de");
  expect(body.get("client_id")).toBe("servanda-web");
  expect(await codeChallenge(body.get("code_verifier")!)).toBe(url.searchParams.get("code_challenge"));
  expect(tokens).toMatchObject({ accessToken: "at", refreshToken: "rt", idToken: "it", provider: "oidc" });
  expect(next).toBe("/vertraege/42");
  expect(sessionStorage.getItem("servanda.oidc.pending")).toBeNull(); // one use only
  expect(endSessionUrl(tokens)).toContain("id_token_hint=it");
});

test("a callback with a foreign state, a provider error or a refused code signs nobody in", async () => {
  await signIn();
  await expect(completeOidcSignIn(new URLSearchParams({ code: "c", state: "forged" }), provider().fetchImpl)).rejects.toThrow(
    "state mismatch",
  );
  const { url } = await signIn();
  await expect(
    completeOidcSignIn(new URLSearchParams({ error: "access_denied", state: url.searchParams.get("state")! }), provider().fetchImpl),
  ).rejects.toThrow("access_denied");
  const again = await signIn();
  await expect(
    completeOidcSignIn(new URLSearchParams({ code: "c", state: again.url.searchParams.get("state")! }), provider(400).fetchImpl),
  ).rejects.toThrow("token endpoint answered 400");
});

test("each failure names its reason, so the pages can word it (the provider down is not our server down)", async () => {
  const down = async (): Promise<Response> => {
    throw new TypeError("Failed to fetch");
  };
  await expect(startOidcSignIn({ issuer: ISSUER, clientId: "servanda-web" }, "/", down)).rejects.toMatchObject({
    reason: "unreachable",
  });
  const { url } = await signIn();
  const state = url.searchParams.get("state")!;
  await expect(completeOidcSignIn(new URLSearchParams({ code: "c", state }), provider(400).fetchImpl)).rejects.toMatchObject({
    reason: "refused",
  });
  const again = await signIn();
  await expect(
    completeOidcSignIn(new URLSearchParams({ error: "access_denied", state: again.url.searchParams.get("state")! }), provider().fetchImpl),
  ).rejects.toMatchObject({ reason: "denied" });
  await expect(completeOidcSignIn(new URLSearchParams({ code: "c", state: "x" }), provider().fetchImpl)).rejects.toMatchObject({
    reason: "state",
  });
  expect(oidcFailureOf(new Error("anything else"))).toBe("unreachable");
});

// OIDC authorization code flow with PKCE (RFC 7636), used when GET /api/v1/auth/config answers
// provider "oidc" (Keycloak). The SPA is a public client: no secret, a one-time code verifier per sign-in.
import { oidcTokens, type FetchLike, type OidcTokenResponse } from "./client";
import type { Tokens } from "./session";

export const CALLBACK_PATH = "/anmelden/oidc";
const PENDING_KEY = "servanda.oidc.pending";

export interface OidcConfig {
  issuer: string;
  clientId: string;
}

interface Discovery {
  authorization_endpoint: string;
  token_endpoint: string;
  end_session_endpoint?: string;
}

interface Pending {
  state: string;
  verifier: string;
  next: string;
  issuer: string;
  clientId: string;
}

function base64url(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function randomToken(byteCount = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(byteCount)));
}

/** The S256 code challenge of a verifier. */
export async function codeChallenge(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

/**
 * Why an OIDC sign-in failed, for the message the user sees: the firm's sign-in service cannot be reached
 * (network, CORS, its discovery answering an error), it refused the code, the callback does not belong
 * to a sign-in begun here (state), the user cancelled there, or it answered another error.
 */
export type OidcFailure = "unreachable" | "refused" | "state" | "denied" | "provider";

export class OidcError extends Error {
  readonly reason: OidcFailure;
  constructor(reason: OidcFailure, message: string) {
    super(message);
    this.name = "OidcError";
    this.reason = reason;
  }
}

/** The failure of an OIDC step; anything else that went wrong there counts as an unreachable provider. */
export function oidcFailureOf(error: unknown): OidcFailure {
  return error instanceof OidcError ? error.reason : "unreachable";
}

/** A request to the provider; a network or CORS failure (fetch rejects) is "unreachable". */
async function callProvider(request: Request, fetchImpl: FetchLike): Promise<Response> {
  try {
    return await fetchImpl(request);
  } catch (error) {
    throw new OidcError("unreachable", `${request.url}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

async function discover(issuer: string, fetchImpl: FetchLike): Promise<Discovery> {
  const url = `${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
  const response = await callProvider(new Request(url), fetchImpl);
  if (!response.ok) throw new OidcError("unreachable", `discovery answered ${response.status}`);
  try {
    return (await response.json()) as Discovery;
  } catch {
    throw new OidcError("unreachable", "discovery answered no JSON");
  }
}

function redirectUri(): string {
  return `${window.location.origin}${CALLBACK_PATH}`;
}

/** Go to the identity provider's sign-in page; `next` is where to return afterwards. */
export async function startOidcSignIn(config: OidcConfig, next: string, fetchImpl: FetchLike): Promise<void> {
  const discovery = await discover(config.issuer, fetchImpl);
  const pending: Pending = {
    state: randomToken(16),
    verifier: randomToken(48),
    next,
    issuer: config.issuer,
    clientId: config.clientId,
  };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const url = new URL(discovery.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: config.clientId,
    redirect_uri: redirectUri(),
    scope: "openid",
    state: pending.state,
    code_challenge: await codeChallenge(pending.verifier),
    code_challenge_method: "S256",
  }).toString();
  window.location.assign(url.toString());
}

/** Exchange the callback's code for tokens; returns them with the path to return to. */
export async function completeOidcSignIn(
  params: URLSearchParams,
  fetchImpl: FetchLike,
): Promise<{ tokens: Tokens; next: string }> {
  const raw = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  const pending = raw ? (JSON.parse(raw) as Pending) : null;
  const error = params.get("error");
  if (error) {
    throw new OidcError(error === "access_denied" ? "denied" : "provider", params.get("error_description") ?? error);
  }
  const code = params.get("code");
  if (!pending || !code || params.get("state") !== pending.state) throw new OidcError("state", "state mismatch");
  const discovery = await discover(pending.issuer, fetchImpl);
  const response = await callProvider(
    new Request(discovery.token_endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: pending.clientId,
        code,
        redirect_uri: redirectUri(),
        code_verifier: pending.verifier,
      }),
    }),
    fetchImpl,
  );
  if (!response.ok) throw new OidcError("refused", `token endpoint answered ${response.status}`);
  const body = (await response.json()) as OidcTokenResponse;
  const tokens = oidcTokens(body, {
    tokenEndpoint: discovery.token_endpoint,
    endSessionEndpoint: discovery.end_session_endpoint,
    clientId: pending.clientId,
    idToken: undefined,
    refreshToken: "",
  });
  return { tokens, next: pending.next };
}

/** The identity provider's end-session URL (RP-initiated logout), if it has one. */
export function endSessionUrl(tokens: Tokens): string | null {
  if (!tokens.endSessionEndpoint) return null;
  const url = new URL(tokens.endSessionEndpoint);
  url.searchParams.set("post_logout_redirect_uri", `${window.location.origin}/anmelden`);
  if (tokens.clientId) url.searchParams.set("client_id", tokens.clientId);
  if (tokens.idToken) url.searchParams.set("id_token_hint", tokens.idToken);
  return url.toString();
}

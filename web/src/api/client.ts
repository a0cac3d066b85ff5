// The API client: openapi-fetch over the types generated from the server's OpenAPI document
// (`npm run gen:api`; src/api/schema.d.ts is generated, never edited by hand).
//
// `api` is authenticated: a middleware adds the bearer token (refreshed first when it is about to expire)
// and, on a 401, retries the request once with a fresh token (see session.ts). `publicApi` carries no
// token (login, refresh, auth config).
import createClient, { type Client, type Middleware } from "openapi-fetch";

import i18n from "../i18n";
import type { components, paths } from "./schema";
import { RefreshRefused, Session, type Tokens } from "./session";

export type Schemas = components["schemas"];
export type FetchLike = (request: Request) => Promise<Response>;

const PUBLIC_PATHS = /^\/api\/v1\/auth\/(config|jwks|login|refresh|accept-invite|password-reset)/;

function bearerOf(request: Request): string | null {
  const header = request.headers.get("Authorization");
  return header?.startsWith("Bearer ") ? header.slice(7) : null;
}

/** Adds the bearer token; on a 401 asks the session to recover and retries once with the new token. */
export function authMiddleware(session: Session, fetchImpl: FetchLike): Middleware {
  const originals = new Map<string, Request>();
  return {
    async onRequest({ request, schemaPath, id }) {
      if (PUBLIC_PATHS.test(schemaPath)) return undefined;
      const token = await session.accessToken();
      if (!token) return undefined;
      originals.set(id, request.clone());
      request.headers.set("Authorization", `Bearer ${token}`);
      return request;
    },
    async onResponse({ request, response, id }) {
      const original = originals.get(id);
      originals.delete(id);
      if (response.status !== 401 || !original) return undefined;
      const token = await session.recover(bearerOf(request));
      if (!token) return undefined;
      original.headers.set("Authorization", `Bearer ${token}`);
      return fetchImpl(original);
    },
    onError({ id }) {
      originals.delete(id);
      return undefined;
    },
  };
}

/** The API's messages (problem `detail`, validation texts) in the UI's language. */
export const languageMiddleware: Middleware = {
  onRequest({ request }) {
    request.headers.set("Accept-Language", i18n.language === "en" ? "en" : "de");
    return request;
  },
};

/** Tokens from the API's TokenResponse (local provider). */
export function tokensFromResponse(data: Schemas["TokenResponse"], now = Date.now()): Tokens {
  return {
    accessToken: data.accessToken,
    refreshToken: data.refreshToken,
    expiresAt: now + data.expiresIn * 1000,
    lifetimeMs: data.expiresIn * 1000,
    provider: "local",
  };
}

/** Refresh through the API (local provider) or the OIDC provider's token endpoint. */
export function createRefresher(publicClient: Client<paths>, fetchImpl: FetchLike) {
  return async (tokens: Tokens): Promise<Tokens> => {
    if (tokens.provider === "oidc") {
      if (!tokens.tokenEndpoint || !tokens.clientId) throw new RefreshRefused();
      const response = await fetchImpl(
        new Request(tokens.tokenEndpoint, {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({
            grant_type: "refresh_token",
            client_id: tokens.clientId,
            refresh_token: tokens.refreshToken,
          }),
        }),
      );
      if (response.status === 400 || response.status === 401) throw new RefreshRefused();
      if (!response.ok) throw new Error(`token endpoint answered ${response.status}`);
      const body = (await response.json()) as OidcTokenResponse;
      return oidcTokens(body, tokens);
    }
    const { data, response } = await publicClient.POST("/api/v1/auth/refresh", {
      body: { refreshToken: tokens.refreshToken },
    });
    if (response.status === 401 || response.status === 403) throw new RefreshRefused();
    if (!data) throw new Error(`refresh answered ${response.status}`);
    return tokensFromResponse(data);
  };
}

export interface OidcTokenResponse {
  access_token: string;
  refresh_token?: string;
  id_token?: string;
  expires_in: number;
}

export function oidcTokens(
  body: OidcTokenResponse,
  base: Pick<Tokens, "tokenEndpoint" | "endSessionEndpoint" | "clientId" | "idToken" | "refreshToken">,
  now = Date.now(),
): Tokens {
  return {
    accessToken: body.access_token,
    refreshToken: body.refresh_token ?? base.refreshToken,
    expiresAt: now + body.expires_in * 1000,
    lifetimeMs: body.expires_in * 1000,
    provider: "oidc",
    idToken: body.id_token ?? base.idToken,
    tokenEndpoint: base.tokenEndpoint,
    endSessionEndpoint: base.endSessionEndpoint,
    clientId: base.clientId,
  };
}

/** The authenticated client, its token-free twin and the session, wired together. */
export function createApi(fetchImpl: FetchLike = (request) => globalThis.fetch(request), storage?: Storage | null) {
  // Same origin as the page (the API serves the app); absolute, so the clients also run outside a browser.
  const baseUrl = typeof window !== "undefined" ? window.location.origin : "";
  const publicApi = createClient<paths>({ baseUrl, fetch: fetchImpl });
  publicApi.use(languageMiddleware);
  const session = new Session({
    refresher: createRefresher(publicApi, fetchImpl),
    ...(storage === undefined ? {} : { storage }),
  });
  const api = createClient<paths>({ baseUrl, fetch: fetchImpl });
  api.use(languageMiddleware, authMiddleware(session, fetchImpl));
  return { api, publicApi, session, fetchImpl };
}

export type ApiBundle = ReturnType<typeof createApi>;

const instance = createApi();

/** The app's one client bundle (what AuthProvider uses unless a test passes its own). */
export const apiBundle: ApiBundle = instance;

/** The authenticated API client (bearer token, silent refresh, one retry after a 401). */
export const api = instance.api;
/** The API client for the public auth routes (no token). */
export const publicApi = instance.publicApi;
/** The browser's one session. */
export const session = instance.session;

if (typeof window !== "undefined") {
  window.addEventListener("storage", (event) => {
    if (event.key === null || event.key === "servanda.session") session.syncFromStorage();
  });
}

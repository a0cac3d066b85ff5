// Who is signed in: AuthProvider / useAuth. Local sign-in (tenant, e-mail, password, TOTP step) or
// OIDC (authorization code + PKCE) when GET /api/v1/auth/config names Keycloak; the current user from
// GET /api/v1/identity/me; logout. When the session ends while a user works, `sessionExpired` turns true
// and the app shows the sign-in dialog over the page (requests wait and are retried afterwards).
import { useQueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";

import * as defaultClient from "./client";
import { tokensFromResponse, type Schemas } from "./client";
import { completeOidcSignIn, endSessionUrl, startOidcSignIn } from "./oidc";
import { ApiError, networkProblem, problemOf, type ApiProblem } from "./problem";

export type Me = Schemas["Me"];
export type AuthConfig = Schemas["AuthConfig"];
export type { ApiBundle } from "./client";

export interface Credentials {
  tenant: string;
  email: string;
  password: string;
  totp?: string | undefined;
}

export type LoginOutcome = { ok: true } | { ok: false; problem: ApiProblem; totpRequired: boolean };

export interface AuthValue {
  status: "loading" | "anonymous" | "authenticated";
  user: Me | null;
  config: AuthConfig | null;
  /** The session ended while the user was signed in: sign in again (the page stays as it is). */
  sessionExpired: boolean;
  /**
   * The session cannot be renewed now (the sign-in service or server is unreachable) while a user is
   * signed in: the page stays, requests that need a new token wait, the refresh is retried.
   */
  sessionUnreachable: boolean;
  /** Try renewing the session at once (instead of waiting for the next automatic attempt). */
  retrySession(): void;
  login(credentials: Credentials): Promise<LoginOutcome>;
  /** Sign in with tokens another public call answered (accepting an invitation). */
  signInWithTokens(tokens: Schemas["TokenResponse"]): Promise<ApiProblem | null>;
  startOidcLogin(next: string): Promise<void>;
  completeOidcLogin(params: URLSearchParams): Promise<string>;
  logout(): Promise<void>;
  /** Leave the expired session for good (requests that waited for it fail). */
  abandonSession(): void;
}

const AuthContext = createContext<AuthValue | null>(null);

const TOTP_CODES = new Set(["auth.mfa_required", "auth.invalid_totp"]);

export function AuthProvider({ children, client }: { children: ReactNode; client?: defaultClient.ApiBundle }) {
  const { api, publicApi, session, fetchImpl } = client ?? defaultClient.apiBundle;
  const queryClient = useQueryClient();
  const [user, setUser] = useState<Me | null>(null);
  const [status, setStatus] = useState<AuthValue["status"]>(session.current() ? "loading" : "anonymous");
  const [config, setConfig] = useState<AuthConfig | null>(null);
  const [sessionExpired, setSessionExpired] = useState(false);
  const [sessionUnreachable, setSessionUnreachable] = useState(false);
  const userRef = useRef<Me | null>(null);
  const signingIn = useRef(false);

  const adoptUser = useCallback(
    (me: Me | null) => {
      if (userRef.current && me && userRef.current.id !== me.id) queryClient.clear();
      userRef.current = me;
      session.setHoldOnExpiry(me !== null);
      setUser(me);
      setStatus(me ? "authenticated" : "anonymous");
    },
    [queryClient, session],
  );

  const loadMe = useCallback(async (): Promise<ApiProblem | null> => {
    try {
      const result = await api.GET("/api/v1/identity/me");
      const problem = problemOf(result);
      if (problem || !result.data) {
        if (problem?.status === 401) session.signOut();
        adoptUser(null);
        return problem ?? networkProblem(null);
      }
      adoptUser(result.data);
      return null;
    } catch (error) {
      adoptUser(null);
      return networkProblem(error);
    }
  }, [api, session, adoptUser]);

  useEffect(() => {
    let cancelled = false;
    publicApi
      .GET("/api/v1/auth/config")
      .then(({ data }) => {
        if (!cancelled && data) setConfig(data);
      })
      .catch(() => undefined);
    if (session.current()) void loadMe();
    return () => {
      cancelled = true;
    };
  }, [publicApi, session, loadMe]);

  useEffect(
    () =>
      session.subscribe((state) => {
        if (state === "expired") {
          if (userRef.current) setSessionExpired(true);
          else adoptUser(null);
        } else if (state === "signedIn") {
          setSessionExpired(false);
          if (!userRef.current && !signingIn.current) void loadMe(); // signed in in another tab
        } else {
          setSessionExpired(false);
          queryClient.clear();
          adoptUser(null);
        }
      }),
    [session, queryClient, adoptUser, loadMe],
  );

  useEffect(
    () => session.subscribeReachability((unreachable) => setSessionUnreachable(unreachable && userRef.current !== null)),
    [session],
  );

  const login = useCallback(
    async (credentials: Credentials): Promise<LoginOutcome> => {
      try {
        const result = await publicApi.POST("/api/v1/auth/login", {
          body: {
            tenant: credentials.tenant.trim(),
            email: credentials.email.trim(),
            password: credentials.password,
            totp: credentials.totp ? credentials.totp.replace(/\s+/g, "") : null,
          },
        });
        const problem = problemOf(result);
        if (problem || !result.data) {
          const p = problem ?? networkProblem(null);
          return { ok: false, problem: p, totpRequired: TOTP_CODES.has(p.code) };
        }
        signingIn.current = true;
        session.signIn(tokensFromResponse(result.data));
        const meProblem = await loadMe().finally(() => {
          signingIn.current = false;
        });
        if (meProblem) return { ok: false, problem: meProblem, totpRequired: false };
        return { ok: true };
      } catch (error) {
        return { ok: false, problem: networkProblem(error), totpRequired: false };
      }
    },
    [publicApi, session, loadMe],
  );

  const signInWithTokens = useCallback(
    async (tokens: Schemas["TokenResponse"]) => {
      signingIn.current = true;
      session.signIn(tokensFromResponse(tokens));
      return loadMe().finally(() => {
        signingIn.current = false;
      });
    },
    [session, loadMe],
  );

  const startOidcLogin = useCallback(
    async (next: string) => {
      if (config?.provider !== "oidc" || !config.issuer || !config.clientId) return;
      await startOidcSignIn({ issuer: config.issuer, clientId: config.clientId }, next, fetchImpl);
    },
    [config, fetchImpl],
  );

  const completeOidcLogin = useCallback(
    async (params: URLSearchParams) => {
      const { tokens, next } = await completeOidcSignIn(params, fetchImpl);
      signingIn.current = true;
      session.signIn(tokens);
      const problem = await loadMe().finally(() => {
        signingIn.current = false;
      });
      if (problem) throw new ApiError(problem); // signed in at the provider, refused by the API
      return next;
    },
    [fetchImpl, session, loadMe],
  );

  const logout = useCallback(async () => {
    const tokens = session.current();
    if (tokens?.provider === "local") {
      try {
        await api.POST("/api/v1/auth/logout");
      } catch {
        // signed out locally anyway
      }
    }
    session.signOut();
    const endSession = tokens?.provider === "oidc" ? endSessionUrl(tokens) : null;
    if (endSession) window.location.assign(endSession);
  }, [api, session]);

  const abandonSession = useCallback(() => session.abandon(), [session]);
  const retrySession = useCallback(() => void session.refresh(), [session]);

  const value = useMemo<AuthValue>(
    () => ({
      status,
      user,
      config,
      sessionExpired,
      sessionUnreachable,
      retrySession,
      login,
      signInWithTokens,
      startOidcLogin,
      completeOidcLogin,
      logout,
      abandonSession,
    }),
    [
      status,
      user,
      config,
      sessionExpired,
      sessionUnreachable,
      retrySession,
      login,
      signInWithTokens,
      startOidcLogin,
      completeOidcLogin,
      logout,
      abandonSession,
    ],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthValue {
  const value = useContext(AuthContext);
  if (!value) throw new Error("useAuth outside AuthProvider");
  return value;
}

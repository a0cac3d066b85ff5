// A fake API for component and client tests: routes "METHOD /path" to handlers, records every call
// (with its Authorization header), answers 404 problem JSON for anything unrouted.
import { createApi } from "../api/client";

export type Handler = (request: Request) => Response | Promise<Response>;

export interface Call {
  method: string;
  path: string;
  authorization: string | null;
  body: unknown;
}

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  const type = status >= 400 ? "application/problem+json" : "application/json";
  return new Response(JSON.stringify(body), { status, headers: { "content-type": type, ...headers } });
}

export function problem(status: number, code: string, detail: string, headers: Record<string, string> = {}) {
  return json({ type: "about:blank", title: code, status, detail, code }, status, headers);
}

export class MemoryStorage implements Storage {
  private map = new Map<string, string>();
  get length() {
    return this.map.size;
  }
  clear() {
    this.map.clear();
  }
  getItem(key: string) {
    return this.map.get(key) ?? null;
  }
  key(index: number) {
    return [...this.map.keys()][index] ?? null;
  }
  removeItem(key: string) {
    this.map.delete(key);
  }
  setItem(key: string, value: string) {
    this.map.set(key, value);
  }
}

export function fakeApi() {
  const routes = new Map<string, Handler>();
  const calls: Call[] = [];
  const fetchImpl = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const text = request.method === "GET" || request.method === "HEAD" ? "" : await request.clone().text();
    let body: unknown = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = text;
    }
    calls.push({ method: request.method, path: url.pathname, authorization: request.headers.get("Authorization"), body });
    const handler = routes.get(`${request.method} ${url.pathname}`);
    if (!handler) return problem(404, "test.unrouted", `${request.method} ${url.pathname}`);
    return handler(request);
  };
  const storage = new MemoryStorage();
  const bundle = createApi(fetchImpl, storage);
  return {
    ...bundle,
    storage,
    calls,
    on(route: string, handler: Handler) {
      routes.set(route, handler);
    },
  };
}

export const ME = {
  id: "0b4c5d3e-1111-4222-8333-944455556666",
  tenantId: "1b4c5d3e-1111-4222-8333-944455556666",
  tenantSlug: "kanzlei-demo",
  tenantType: "law_firm",
  email: "anna@kanzlei-demo.de",
  displayName: "Anna Anwältin",
  role: "user",
  status: "active",
  mfaEnabled: false,
  mfaSetupRequired: false,
  platformAdmin: false,
};

export function tokenResponse(access: string, refresh: string, expiresIn = 900) {
  return json({ accessToken: access, tokenType: "bearer", expiresIn, refreshToken: refresh });
}

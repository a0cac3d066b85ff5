// ExportPanel against a mocked fetch (the only mock): the real openapi-fetch client, TanStack Query
// and React Aria components run as in the browser.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { ReactNode } from "react";

import "../i18n";
import { ExportPanel, refetchDelay } from "./ExportPanel";

type Handler = (request: Request) => Response | Promise<Response>;

// openapi-fetch keeps the fetch it found when the client module was created, so the mock is
// installed before any import runs.
const routes = vi.hoisted(() => {
  const table = new Map<string, (request: Request) => Response | Promise<Response>>();
  const calls: { method: string; path: string; body: unknown }[] = [];
  // Node's Request (which jsdom keeps) rejects relative URLs; a browser resolves them against the page.
  const NativeRequest = globalThis.Request;
  globalThis.Request = class extends NativeRequest {
    constructor(input: RequestInfo | URL, init?: RequestInit) {
      super(typeof input === "string" ? new URL(input, globalThis.location.href) : input, init);
    }
  } as typeof Request;
  globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(new URL(String(input), "http://localhost"), init);
    const url = new URL(request.url, "http://localhost");
    const key = `${request.method} ${url.pathname}`;
    const text = request.method === "GET" ? "" : await request.clone().text();
    calls.push({ method: request.method, path: url.pathname, body: text ? JSON.parse(text) : null });
    const handler = table.get(key);
    if (!handler) return new Response(JSON.stringify({ status: 404, code: "test.unrouted", detail: key }), { status: 404 });
    return handler(request);
  }) as typeof fetch;
  return { table, calls };
});

const CONTRACT = "6a1503f5-ef50-48c7-8579-5b21a86870c7";
const JOB = "dff4ab3b-11d9-4faf-9362-bc10b7b93f39";

function json(body: unknown, status = 200): Response {
  const type = status >= 400 ? "application/problem+json" : "application/json";
  return new Response(JSON.stringify(body), { status, headers: { "content-type": type } });
}

function style(id: string, name: string, isDefault: boolean) {
  return {
    id, name, isDefault, type: isDefault ? "system" : "tenant", readOnly: isDefault, hasBaseDocx: false, logo: null,
    fonts: { body: "Liberation Serif", headings: "Liberation Sans" },
    fontSizes: { body: 11, heading: 13, title: 16, small: null },
    colors: { primary: "#1F3A5F", secondary: "#5B6B7F" },
    marginsMm: { top: 25, bottom: 25, left: 25, right: 20 },
    header: { text: "", logo: false, clientReference: null }, footer: { text: "", pageNumbers: true },
    createdAt: "2026-11-29T22:46:33Z", updatedAt: "2026-11-29T22:46:33Z",
  };
}

function job(status: string, extra: Record<string, unknown> = {}) {
  return {
    id: JOB, contractId: CONTRACT, format: "docx", styleTemplateId: null, status, attempts: 1,
    requestedBy: null, queuedAt: "2026-11-29T22:47:20Z", startedAt: null, completedAt: null,
    nextAttemptAt: null, archivedAt: null, durationMs: null, errorCode: null, errorMessage: null,
    size: null, sha256: null, downloadUrl: null, downloadUrlExpiresAt: null, ...extra,
  };
}

function route(key: string, handler: Handler) {
  routes.table.set(key, handler);
}

function renderPanel(): void {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  const wrapper = ({ children }: { children: ReactNode }) => (
    <QueryClientProvider client={client}>{children}</QueryClientProvider>
  );
  render(<ExportPanel contractId={CONTRACT} />, { wrapper });
}

beforeEach(() => {
  routes.table.clear();
  routes.calls.length = 0;
  route("GET /api/v1/tenant/features", () => json({ odtExport: false, mfaRequired: false }));
  route("GET /api/v1/export-jobs", () => json({ items: [], total: 0, page: 1, pageSize: 1 }));
  route("GET /api/v1/export/style-templates", () =>
    json({ items: [style("s-tenant", "Kanzlei Hausstil", false), style("s-system", "Servanda Standard", true)], total: 2, page: 1, pageSize: 50 }),
  );
});

test("exports DOCX with the default style, shows progress until done, then the download link", async () => {
  let polls = 0;
  route("POST /api/v1/export-jobs", () => json(job("queued", { attempts: 0 }), 202));
  route(`GET /api/v1/export-jobs/${JOB}`, () => {
    polls += 1;
    if (polls === 1) return json(job("running"));
    return json(job("done", {
      size: 41046,
      downloadUrl: `/api/v1/export-jobs/${JOB}/download?tenant=t1&expires=1&signature=ab`,
      downloadUrlExpiresAt: new Date(Date.now() + 15 * 60_000).toISOString(),
    }));
  });
  const user = userEvent.setup();
  renderPanel();

  const start = await screen.findByRole("button", { name: "Exportieren" });
  await waitFor(() => expect(start).toBeEnabled());
  expect(screen.getByRole("radio", { name: "Word (DOCX)" })).toBeChecked();
  expect(screen.queryByRole("radio", { name: /ODT/ })).not.toBeInTheDocument();
  await user.click(start);

  expect(await screen.findByRole("progressbar", { name: "Fortschritt des Exports" })).toBeInTheDocument();
  const link = await screen.findByRole("link", { name: "Word (DOCX) herunterladen (40 KB)" }, { timeout: 4000 });
  expect(link).toHaveAttribute("href", `/api/v1/export-jobs/${JOB}/download?tenant=t1&expires=1&signature=ab`);
  expect(link).toHaveAttribute("download");
  expect(screen.queryByRole("progressbar")).not.toBeInTheDocument();
  expect(polls).toBeGreaterThanOrEqual(2);
  const post = routes.calls.find((c) => c.method === "POST");
  expect(post?.body).toEqual({ contractId: CONTRACT, format: "docx", styleTemplateId: "s-system" });
});

test("the chosen format and style go into the request", async () => {
  route("POST /api/v1/export-jobs", () => json(job("queued"), 202));
  route(`GET /api/v1/export-jobs/${JOB}`, () => json(job("running")));
  const user = userEvent.setup();
  renderPanel();
  await waitFor(() => expect(screen.getByRole("button", { name: "Exportieren" })).toBeEnabled());

  await user.click(screen.getByRole("radio", { name: "PDF" }));
  await user.click(screen.getByRole("button", { name: /Formatvorlage/ }));
  await user.click(await screen.findByRole("option", { name: "Kanzlei Hausstil" }));
  await user.click(screen.getByRole("button", { name: "Exportieren" }));

  await waitFor(() => expect(routes.calls.some((c) => c.method === "POST")).toBe(true));
  const post = routes.calls.find((c) => c.method === "POST");
  expect(post?.body).toEqual({ contractId: CONTRACT, format: "pdf", styleTemplateId: "s-tenant" });
  // While the job runs the form is locked, so a second click cannot start a duplicate.
  expect(await screen.findByRole("progressbar")).toBeInTheDocument();
  expect(screen.getByRole("button", { name: "Exportieren" })).toBeDisabled();
});

test("a hard conflict is shown as the API words it", async () => {
  route("POST /api/v1/export-jobs", () =>
    json({ type: "urn:servanda:problem:contract.has_conflicts", title: "Konflikt", status: 409, code: "contract.has_conflicts",
      detail: "Der Vertrag hat ungelöste harte Konflikte." }, 409),
  );
  const user = userEvent.setup();
  renderPanel();
  const start = await screen.findByRole("button", { name: "Exportieren" });
  await waitFor(() => expect(start).toBeEnabled());
  await user.click(start);
  expect(await screen.findByRole("alert")).toHaveTextContent("Der Vertrag hat ungelöste harte Konflikte.");
  expect(start).toBeEnabled();
});

test("ODT is offered as Beta to every user when the tenant has the flag on, and 403 odt_disabled is shown", async () => {
  route("GET /api/v1/tenant/features", () => json({ odtExport: true, mfaRequired: false }));
  route("POST /api/v1/export-jobs", () =>
    json({ status: 403, code: "export.odt_disabled", title: "Keine Berechtigung",
      detail: "Der ODT-Export ist für Ihre Kanzlei nicht freigeschaltet." }, 403),
  );
  const user = userEvent.setup();
  renderPanel();
  const odt = await screen.findByRole("radio", { name: /OpenDocument \(ODT\)/ }, { timeout: 3000 });
  expect(odt.closest("label")).toHaveTextContent("OpenDocument (ODT) Beta");
  await waitFor(() => expect(screen.getByRole("button", { name: "Exportieren" })).toBeEnabled());
  await user.click(odt);
  await user.click(screen.getByRole("button", { name: "Exportieren" }));
  expect(await screen.findByRole("alert")).toHaveTextContent("Der ODT-Export ist für Ihre Kanzlei nicht freigeschaltet.");
  expect(routes.calls.find((c) => c.method === "POST")?.body).toMatchObject({ format: "odt" });
});

test("ODT stays hidden when the flag is off", async () => {
  renderPanel();
  await waitFor(() => expect(routes.calls.some((c) => c.path === "/api/v1/tenant/features")).toBe(true));
  await act(() => new Promise((resolve) => setTimeout(resolve, 20)));
  expect(screen.getAllByRole("radio").map((r) => r.getAttribute("value"))).toEqual(["docx", "pdf"]);
});

test("an export already running for the contract is followed instead of failing", async () => {
  route("POST /api/v1/export-jobs", () =>
    json({ status: 409, code: "export.already_queued", detail: "Für diesen Vertrag läuft bereits ein Export.", jobId: JOB }, 409),
  );
  route(`GET /api/v1/export-jobs/${JOB}`, () => json(job("running")));
  const user = userEvent.setup();
  renderPanel();
  await waitFor(() => expect(screen.getByRole("button", { name: "Exportieren" })).toBeEnabled());
  await user.click(screen.getByRole("button", { name: "Exportieren" }));
  expect(await screen.findByText("Dokument wird erstellt …")).toBeInTheDocument();
  expect(screen.queryByRole("alert")).not.toBeInTheDocument();
});

test("a failed job shows the worker's message", async () => {
  route("POST /api/v1/export-jobs", () => json(job("queued"), 202));
  route(`GET /api/v1/export-jobs/${JOB}`, () =>
    json(job("failed", { errorCode: "converter.unavailable", errorMessage: "Der Konverter ist nicht verfügbar." })),
  );
  const user = userEvent.setup();
  renderPanel();
  await waitFor(() => expect(screen.getByRole("button", { name: "Exportieren" })).toBeEnabled());
  await user.click(screen.getByRole("button", { name: "Exportieren" }));
  expect(await screen.findByRole("alert")).toHaveTextContent("Der Export ist fehlgeschlagen. Der Konverter ist nicht verfügbar.");
  expect(screen.getByRole("button", { name: "Exportieren" })).toBeEnabled();
});

test("polling: every second while the job runs, re-read a minute before the link expires, then stop", () => {
  const now = Date.parse("2026-11-29T23:00:00Z");
  const base = job("running") as Parameters<typeof refetchDelay>[0];
  expect(refetchDelay(base, now)).toBe(1000);
  expect(refetchDelay({ ...base!, status: "done", downloadUrlExpiresAt: "2026-11-29T23:15:00Z" }, now)).toBe(14 * 60_000);
  expect(refetchDelay({ ...base!, status: "failed" }, now)).toBe(false);
});

test("coming back to the contract picks up its running export, with the download once done", async () => {
  let polls = 0;
  route("GET /api/v1/export-jobs", (request) => {
    expect(new URL(request.url).searchParams.get("contractId")).toBe(CONTRACT);
    return json({ items: [job("running")], total: 1, page: 1, pageSize: 1 });
  });
  route(`GET /api/v1/export-jobs/${JOB}`, () => {
    polls += 1;
    return polls === 1
      ? json(job("running"))
      : json(job("done", { size: 2048, downloadUrl: "/dl", downloadUrlExpiresAt: new Date(Date.now() + 900_000).toISOString() }));
  });
  renderPanel();
  expect(await screen.findByText("Dokument wird erstellt …")).toBeInTheDocument();
  expect(await screen.findByRole("link", { name: "Word (DOCX) herunterladen (2 KB)" }, { timeout: 4000 })).toHaveAttribute("href", "/dl");
  expect(routes.calls.some((c) => c.method === "POST")).toBe(false);
});

test("a failed earlier export is not brought back", async () => {
  route("GET /api/v1/export-jobs", () => json({ items: [job("failed", { errorMessage: "alt" })], total: 1, page: 1, pageSize: 1 }));
  renderPanel();
  await waitFor(() => expect(routes.calls.some((c) => c.path === "/api/v1/export-jobs")).toBe(true));
  await act(() => new Promise((resolve) => setTimeout(resolve, 20)));
  expect(screen.queryByRole("alert")).not.toBeInTheDocument();
  expect(screen.queryByRole("progressbar")).not.toBeInTheDocument();
});

// RFC 9457 problem documents (application/problem+json) as the API answers every error:
// `code` is the stable machine code to switch on, `detail` the German (or English) message to show.
export interface FieldError {
  field: string;
  message: string;
}

export interface ApiProblem {
  status: number;
  code: string;
  title: string;
  detail: string;
  errors: FieldError[];
  /** Seconds from a 429/503 `Retry-After` header, when present. */
  retryAfter: number | null;
  /** Extension members (e.g. `reasons`, `currentStatus`, `gates`). */
  extra: Record<string, unknown>;
}

const KNOWN = new Set(["type", "status", "code", "title", "detail", "errors", "instance"]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function retryAfterOf(response: Response | undefined): number | null {
  const header = response?.headers.get("Retry-After");
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/** A typed problem from an error body (parsed JSON or text) and the response it came with. */
export function problemFrom(body: unknown, response?: Response): ApiProblem {
  const status = response?.status ?? (isRecord(body) && typeof body.status === "number" ? body.status : 0);
  if (!isRecord(body)) {
    return {
      status,
      code: status === 0 ? "network.unreachable" : "http.unexpected",
      title: response?.statusText ?? "",
      detail: typeof body === "string" ? body.slice(0, 300) : "",
      errors: [],
      retryAfter: retryAfterOf(response),
      extra: {},
    };
  }
  const errors = Array.isArray(body.errors)
    ? body.errors.filter(isRecord).map((e) => ({ field: String(e.field ?? ""), message: String(e.message ?? "") }))
    : [];
  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) if (!KNOWN.has(key)) extra[key] = value;
  return {
    status,
    code: typeof body.code === "string" ? body.code : "http.unexpected",
    title: typeof body.title === "string" ? body.title : "",
    detail: typeof body.detail === "string" ? body.detail : "",
    errors,
    retryAfter: retryAfterOf(response),
    extra,
  };
}

/** The problem of an openapi-fetch result (`{ error, response }`), or null when it succeeded. */
export function problemOf(result: { error?: unknown; response: Response }): ApiProblem | null {
  if (result.response.ok) return null;
  return problemFrom(result.error, result.response);
}

/** Thrown by `unwrap` (and so by query functions) when the API answers an error. */
export class ApiError extends Error {
  readonly problem: ApiProblem;
  constructor(problem: ApiProblem) {
    super(problem.detail || problem.title || problem.code);
    this.name = "ApiError";
    this.problem = problem;
  }
}

/** A network failure (no answer at all) as a problem, so the UI shows one kind of message. */
export function networkProblem(error: unknown): ApiProblem {
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

/** The data of an openapi-fetch result, or an ApiError with its problem (for TanStack Query). */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  const problem = problemOf(result);
  if (problem) throw new ApiError(problem);
  return result.data as T;
}

/** The problem behind any error a query or mutation raised. */
export function asProblem(error: unknown): ApiProblem {
  if (error instanceof ApiError) return error.problem;
  return networkProblem(error);
}

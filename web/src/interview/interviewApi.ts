// The interview's calls, over the generated client: each answers a view or a typed problem. Answers
// that carry the contract view also carry its `ETag` (the contract's version); the calls that change
// the contract send the last one as `If-Match`, so a change made elsewhere meanwhile is refused with
// 412 `contract.modified_elsewhere` instead of being overwritten (docs/api.md).
import { api } from "../api/client";
import { networkProblem, problemFrom, type ApiProblem } from "../api/problem";
import type { Patch, SendResult } from "./autosave";
import type { ContractView, Preview } from "./model";

type Result<T> = { data: T; etag: string | null } | { problem: ApiProblem };

async function call<T>(request: () => Promise<{ data?: T; error?: unknown; response: Response }>): Promise<Result<T>> {
  try {
    const { data, error, response } = await request();
    if (response.ok && data !== undefined) return { data, etag: response.headers.get("ETag") };
    return { problem: problemFrom(error, response) };
  } catch (error) {
    return { problem: networkProblem(error) };
  }
}

const path = (contractId: string) => ({ params: { path: { contract_id: contractId } } });

/** Path and, when known, the `If-Match` precondition of a changing call. */
const guarded = (contractId: string, etag: string | null) => ({
  params: { path: { contract_id: contractId }, ...(etag ? { header: { "If-Match": etag } } : {}) },
});

export const interviewKeys = {
  contract: (id: string) => ["contract", id] as const,
  preview: (id: string, updatedAt: string) => ["contract", id, "preview", updatedAt] as const,
};

/** Whether a problem says the contract was changed elsewhere since our version (412). */
export function isModifiedElsewhere(problem: ApiProblem): boolean {
  return problem.status === 412;
}

export function fetchContract(contractId: string): Promise<Result<ContractView>> {
  return call(() => api.GET("/api/v1/contracts/{contract_id}", path(contractId)));
}

export function fetchPreview(contractId: string): Promise<Result<Preview>> {
  return call(() => api.GET("/api/v1/contracts/{contract_id}/preview", path(contractId)));
}

export async function patchContract(contractId: string, patch: Patch, etag: string | null): Promise<SendResult> {
  const result = await call(() =>
    api.PATCH("/api/v1/contracts/{contract_id}", { ...guarded(contractId, etag), body: patch }),
  );
  return "data" in result ? { view: result.data, etag: result.etag } : result;
}

export function resolveViolation(
  contractId: string,
  fingerprint: string,
  optionId: string,
  etag: string | null,
): Promise<Result<ContractView>> {
  return call(() =>
    api.POST("/api/v1/contracts/{contract_id}/resolutions", {
      ...guarded(contractId, etag),
      body: { fingerprint, optionId },
    }),
  );
}

export function completeContract(contractId: string, etag: string | null): Promise<Result<ContractView>> {
  return call(() => api.POST("/api/v1/contracts/{contract_id}/complete", guarded(contractId, etag)));
}

// The interview's calls, over the generated client: each answers a view or a typed problem.
import { api } from "../api/client";
import { networkProblem, problemFrom, type ApiProblem } from "../api/problem";
import type { Patch, SendResult } from "./autosave";
import type { ContractView, Preview } from "./model";

type Result<T> = { data: T } | { problem: ApiProblem };

async function call<T>(request: () => Promise<{ data?: T; error?: unknown; response: Response }>): Promise<Result<T>> {
  try {
    const { data, error, response } = await request();
    if (response.ok && data !== undefined) return { data };
    return { problem: problemFrom(error, response) };
  } catch (error) {
    return { problem: networkProblem(error) };
  }
}

const path = (contractId: string) => ({ params: { path: { contract_id: contractId } } });

export const interviewKeys = {
  contract: (id: string) => ["contract", id] as const,
  preview: (id: string, updatedAt: string) => ["contract", id, "preview", updatedAt] as const,
};

export function fetchContract(contractId: string): Promise<Result<ContractView>> {
  return call(() => api.GET("/api/v1/contracts/{contract_id}", path(contractId)));
}

export function fetchPreview(contractId: string): Promise<Result<Preview>> {
  return call(() => api.GET("/api/v1/contracts/{contract_id}/preview", path(contractId)));
}

export async function patchContract(contractId: string, patch: Patch): Promise<SendResult> {
  const result = await call(() =>
    api.PATCH("/api/v1/contracts/{contract_id}", { ...path(contractId), body: patch }),
  );
  return "data" in result ? { view: result.data } : result;
}

export function resolveViolation(
  contractId: string,
  fingerprint: string,
  optionId: string,
): Promise<Result<ContractView>> {
  return call(() =>
    api.POST("/api/v1/contracts/{contract_id}/resolutions", { ...path(contractId), body: { fingerprint, optionId } }),
  );
}

export function completeContract(contractId: string): Promise<Result<ContractView>> {
  return call(() => api.POST("/api/v1/contracts/{contract_id}/complete", path(contractId)));
}

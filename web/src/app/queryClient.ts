import { QueryClient } from "@tanstack/react-query";

import { ApiError } from "../api/problem";

/** Server state: cached for 30 s; a 4xx answer is not retried (it would answer the same). */
export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 30_000,
        refetchOnWindowFocus: false,
        retry: (failureCount, error) =>
          !(error instanceof ApiError && error.problem.status >= 400 && error.problem.status < 500) &&
          failureCount < 2,
      },
      mutations: { retry: false },
    },
  });
}

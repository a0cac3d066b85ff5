"""Request rate limits per authenticated user and per tenant (api.md: 429 with Retry-After).

Token buckets in process memory: each key may spend ``burst`` requests at once
and regains ``rate`` requests per second. The counts are per API process (N
workers or replicas allow N times the rate); a shared store is a later step.
A bucket that has been idle long enough to be full again is the same as no
bucket, so idle keys are dropped from time to time and memory stays bounded by
the number of recently active users.
"""

from __future__ import annotations

import math
import time
import uuid

from servanda.platform import errors

SWEEP_INTERVAL_S = 60.0


class TokenBuckets:
    """One bucket per key; ``take`` spends a token or says how long to wait for one."""

    def __init__(self, rate_per_s: float, burst: int) -> None:
        self.rate = rate_per_s
        self.burst = float(burst)
        self._buckets: dict[object, list[float]] = {}  # key -> [tokens, updated at]
        self._swept = float("-inf")

    def take(self, key: object, now: float) -> float:
        """0.0 when a token was taken, else the seconds until the next token."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if now - self._swept > SWEEP_INTERVAL_S:
                self._sweep(now)
            self._buckets[key] = [self.burst - 1.0, now]
            return 0.0
        tokens = bucket[0] + (now - bucket[1]) * self.rate
        if tokens > self.burst:
            tokens = self.burst
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / self.rate

    def refund(self, key: object) -> None:
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket[0] = min(self.burst, bucket[0] + 1.0)

    def _sweep(self, now: float) -> None:
        refill_s = self.burst / self.rate
        self._buckets = {k: b for k, b in self._buckets.items() if now - b[1] < refill_s}
        self._swept = now

    def __len__(self) -> int:
        return len(self._buckets)


def rate_limited(wait_s: float) -> errors.TooManyRequests:
    retry = max(1, math.ceil(wait_s))
    return errors.TooManyRequests(
        "request.rate_limited",
        f"Zu viele Anfragen. Bitte versuchen Sie es in {retry} Sekunden erneut.",
        retry_after=retry,
    )


class RequestRateLimiter:
    """The per-user and the per-tenant limit of authenticated API requests."""

    def __init__(self, user_per_s: float, user_burst: int, tenant_per_s: float, tenant_burst: int) -> None:
        self.users = TokenBuckets(user_per_s, user_burst) if user_per_s > 0 else None
        self.tenants = TokenBuckets(tenant_per_s, tenant_burst) if tenant_per_s > 0 else None

    def check(self, tenant_id: uuid.UUID, subject: str) -> None:
        """Spend one request of the user and of the tenant, or raise 429 ``request.rate_limited``."""
        now = time.monotonic()
        user_key = (tenant_id, subject)
        if self.users is not None:
            wait = self.users.take(user_key, now)
            if wait:
                raise rate_limited(wait)
        if self.tenants is not None:
            wait = self.tenants.take(tenant_id, now)
            if wait:
                if self.users is not None:
                    self.users.refund(user_key)  # the request is not served: it costs the user nothing
                raise rate_limited(wait)

"""Plans (tariffs) and what they bound: counted limits and the audit retention.

A tenant's plan lives in ``tenants.settings.plan`` (set by the operator);
``starter`` when missing. Counted limits are enforced atomically: the
creating transaction takes ``lock_counted_limit`` (a transaction-level advisory
lock per tenant and limit) before it counts, so concurrent creations serialise
and the count a request sees includes every row committed before it. An
advisory lock rather than ``SELECT ... FOR UPDATE`` on the tenant row: the row
lock would also block every concurrent INSERT of the tenant (their foreign-key
checks take KEY SHARE on that row) and every settings change.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

PLANS = ("starter", "team", "pro", "enterprise")
DEFAULT_PLAN = "starter"

# Counted limits per plan (None: unlimited). The only counted limit today (domain.md).
LAWFIRM_TEMPLATE_LIMITS: dict[str, int | None] = {"starter": 5, "team": 50, "pro": None, "enterprise": None}

# Audit retention in days: the plan's default and at the same time the most a tenant may
# configure (None: unlimited, bounded only by the API's 3650). The purge function in
# migration 0002 has the same defaults.
RETENTION_DAYS: dict[str, int | None] = {"starter": 90, "team": 180, "pro": 365, "enterprise": None}
RETENTION_MIN_DAYS = 30
RETENTION_MAX_DAYS = 3650

_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended('servanda.plan_limit:' || :key, 0))")


def plan_of(settings: dict[str, Any] | None) -> str:
    plan = str((settings or {}).get("plan") or DEFAULT_PLAN)
    return plan if plan in PLANS else DEFAULT_PLAN


def max_retention_days(plan: str) -> int:
    limit = RETENTION_DAYS.get(plan, RETENTION_DAYS[DEFAULT_PLAN])
    return RETENTION_MAX_DAYS if limit is None else limit


async def lock_counted_limit(session: AsyncSession, tenant_id: uuid.UUID, limit: str) -> None:
    """Serialise count-then-insert of one tenant's ``limit`` until the transaction ends."""
    await session.execute(_LOCK, {"key": f"{limit}:{tenant_id}"})

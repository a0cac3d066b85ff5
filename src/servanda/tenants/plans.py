"""Plans (tariffs) and what they bound: counted limits and the audit retention.

``LIMITS`` is the one table of plan values; everything else reads it (the law-firm
template limit, the retention a tenant may configure, its default). One copy
lives outside Python: the purge function of migration 0002 computes the
default retention in SQL, and ``tests/test_plans.py`` fails when the two differ.

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
from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

PlanName = Literal["starter", "team", "pro", "enterprise"]


@dataclass(frozen=True)
class PlanLimits:
    lawfirm_templates: int | None
    """Counted limit of law-firm templates (None: unlimited). The only counted limit today (domain.md)."""
    retention_days: int | None
    """Audit retention in days: the default, and the most a tenant may configure (None: unlimited,
    bounded only by RETENTION_MAX_DAYS)."""


LIMITS: Final[dict[PlanName, PlanLimits]] = {
    "starter": PlanLimits(lawfirm_templates=5, retention_days=90),
    "team": PlanLimits(lawfirm_templates=50, retention_days=180),
    "pro": PlanLimits(lawfirm_templates=None, retention_days=365),
    "enterprise": PlanLimits(lawfirm_templates=None, retention_days=None),
}
PLANS: Final[tuple[PlanName, ...]] = tuple(LIMITS)
DEFAULT_PLAN: Final[PlanName] = "starter"
RETENTION_MIN_DAYS: Final = 30
RETENTION_MAX_DAYS: Final = 3650

_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended('servanda.plan_limit:' || :key, 0))")


def known(plan: str) -> PlanName:
    """``plan`` if it is one, else the default plan."""
    return next((p for p in PLANS if p == plan), DEFAULT_PLAN)


def plan_of(settings: dict[str, Any] | None) -> PlanName:
    """The plan named in a tenant's settings; the default plan when missing or unknown."""
    return known(str((settings or {}).get("plan") or DEFAULT_PLAN))


def limits(plan: str) -> PlanLimits:
    return LIMITS[known(plan)]


def max_retention_days(plan: str) -> int:
    """The most retention a tenant of ``plan`` may configure."""
    days = limits(plan).retention_days
    return RETENTION_MAX_DAYS if days is None else days


async def lock_counted_limit(session: AsyncSession, tenant_id: uuid.UUID, limit: str) -> None:
    """Serialise count-then-insert of one tenant's ``limit`` until the transaction ends."""
    await session.execute(_LOCK, {"key": f"{limit}:{tenant_id}"})

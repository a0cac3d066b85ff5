"""Queries of the identity module: tenants (until they move), users, the login back-off."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from servanda.identity.models import Tenant, User


@dataclass(frozen=True)
class TenantRef:
    id: uuid.UUID
    type: str
    status: str


class TenantRepository:
    """Tenant rows. The ``platform_*`` methods reach every tenant through security-definer
    functions (migration 0003) and serve only platform-admin callers."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _platform(self, sql: str, params: dict[str, Any] | None = None) -> list[Tenant]:
        statement = select(Tenant).from_statement(text(sql)).execution_options(populate_existing=True)
        result = await self.session.scalars(statement, params or {})
        return list(result.all())

    async def platform_all(self) -> list[Tenant]:
        return await self._platform("SELECT * FROM servanda_platform_tenants()")

    async def platform_by_slug(self, slug: str) -> Tenant | None:
        return next((t for t in await self.platform_all() if t.slug == slug), None)

    async def platform_create(self, slug: str, name: str, type: str, jurisdiction: str) -> Tenant:
        created = await self._platform(
            "SELECT * FROM servanda_platform_create_tenant(:slug, :name, :type, :jurisdiction)",
            {"slug": slug, "name": name, "type": type, "jurisdiction": jurisdiction},
        )
        return created[0]

    async def platform_update(
        self, tenant_id: uuid.UUID, status: str | None, plan: str | None
    ) -> Tenant | None:
        updated = await self._platform(
            "SELECT * FROM servanda_platform_update_tenant(:id, :status, :plan)",
            {"id": tenant_id, "status": status, "plan": plan},
        )
        return updated[0] if updated else None

    async def platform_stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = (
            await self.session.execute(text("SELECT servanda_platform_stats()"))
        ).scalar_one()
        return stats

    async def status_of(self, tenant_id: uuid.UUID) -> str | None:
        """The status of the current tenant (its own row is visible under RLS)."""
        return await self.session.scalar(select(Tenant.status).where(Tenant.id == tenant_id))

    async def resolve_slug(self, slug: str) -> TenantRef | None:
        """Look a tenant up by slug without a tenant context (security-definer function)."""
        row = (
            await self.session.execute(
                text("SELECT id, type, status FROM servanda_tenant_by_slug(:s)"), {"s": slug}
            )
        ).one_or_none()
        return TenantRef(row.id, row.type, row.status) if row else None


class LoginBackoffRepository:
    """Failed logins per (tenant slug, e-mail, source) digest, through the functions of migration 0009.

    Works without a tenant context, so unknown tenants and e-mails are counted like known ones.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def wait_s(self, key: str) -> int:
        """Seconds the key must still wait (0: go on). Holds the key's lock until the transaction ends."""
        wait: int = (
            await self.session.execute(text("SELECT servanda_login_backoff_wait(:k)"), {"k": key})
        ).scalar_one()
        return wait

    async def failed(self, key: str, *, free: int, max_delay_s: int, forget_s: int) -> int:
        """Count a failure; returns the delay it imposes (0 while under ``free`` failures)."""
        delay: int = (
            await self.session.execute(
                text("SELECT servanda_login_backoff_failed(:k, :free, :max_delay, :forget)"),
                {"k": key, "free": free, "max_delay": max_delay_s, "forget": forget_s},
            )
        ).scalar_one()
        return delay

    async def clear(self, key: str) -> None:
        await self.session.execute(text("SELECT servanda_login_backoff_clear(:k)"), {"k": key})


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, user: User) -> User:
        self.session.add(user)
        await self.session.flush()
        await self.session.refresh(user)
        return user

    async def by_email(self, email: str) -> User | None:
        return await self.session.scalar(select(User).where(func.lower(User.email) == email.lower()))

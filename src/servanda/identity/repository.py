"""Queries of the platform context: tenants, users, audit events."""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from servanda.identity import audit_chain
from servanda.identity.models import AuditEvent, Tenant, User


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


class AuditRepository:
    """Appends hash-chained events; call inside the transaction of the change they describe."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def append(
        self,
        *,
        tenant_id: uuid.UUID,
        action: str,
        actor_id: uuid.UUID | None = None,
        object_type: str | None = None,
        object_id: str | None = None,
        details: dict[str, Any] | None = None,
        request_id: str | None = None,
        ip_address: str | None = None,
    ) -> None:
        # Serialise appends per tenant so the chain stays linear across API processes.
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended('servanda.audit:' || :t, 0))"),
            {"t": str(tenant_id)},
        )
        row = (
            await self.session.execute(
                text(
                    "SELECT clock_timestamp() AS now, "
                    "(SELECT seq FROM audit_events WHERE tenant_id = :t ORDER BY seq DESC LIMIT 1) AS seq, "
                    "(SELECT hash FROM audit_events WHERE tenant_id = :t ORDER BY seq DESC LIMIT 1) AS hash, "
                    "(SELECT last_seq FROM audit_purges WHERE tenant_id = :t ORDER BY last_seq DESC LIMIT 1) AS a_seq, "
                    "(SELECT last_hash FROM audit_purges WHERE tenant_id = :t ORDER BY last_seq DESC LIMIT 1) AS a_hash"
                ),
                {"t": tenant_id},
            )
        ).one()
        if row.seq is not None:
            seq, prev_hash = row.seq + 1, row.hash
        elif row.a_seq is not None:  # everything before was purged by retention
            seq, prev_hash = row.a_seq + 1, row.a_hash
        else:
            seq, prev_hash = 1, audit_chain.GENESIS
        if ip_address is not None:  # hash the form PostgreSQL will store (INET normalises)
            ip_address = str(ipaddress.ip_address(ip_address))
        event = AuditEvent(
            tenant_id=tenant_id,
            actor_id=actor_id,
            action=action,
            object_type=object_type,
            object_id=object_id,
            details=details or {},
            request_id=request_id,
            ip_address=ip_address,
            created_at=row.now,
            seq=seq,
            prev_hash=prev_hash,
        )
        event.hash = audit_chain.event_hash(event)
        self.session.add(event)
        await self.session.flush()

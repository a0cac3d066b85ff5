"""Queries of the platform context: tenants, users, audit events."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from servanda.identity import audit_chain
from servanda.identity.models import AuditEvent, Tenant, User


@dataclass(frozen=True)
class TenantRef:
    id: uuid.UUID
    type: str
    status: str


class TenantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, tenant: Tenant) -> Tenant:
        self.session.add(tenant)
        await self.session.flush()
        await self.session.refresh(tenant)
        return tenant

    async def all(self) -> list[Tenant]:
        return list((await self.session.scalars(select(Tenant).order_by(Tenant.slug))).all())

    async def by_slug(self, slug: str) -> Tenant | None:
        return await self.session.scalar(select(Tenant).where(Tenant.slug == slug))

    async def set_status(self, tenant_id: uuid.UUID, status: str) -> None:
        await self.session.execute(
            update(Tenant).where(Tenant.id == tenant_id).values(status=status, updated_at=func.now())
        )

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
        created = row.now
        details = details or {}
        digest = audit_chain.link_hash(
            prev_hash,
            audit_chain.canonical(
                tenant_id=tenant_id,
                seq=seq,
                actor_id=actor_id,
                action=action,
                object_type=object_type,
                object_id=object_id,
                details=details,
                ip_address=ip_address,
                request_id=request_id,
                created_at=created,
            ),
        )
        self.session.add(
            AuditEvent(
                tenant_id=tenant_id,
                actor_id=actor_id,
                action=action,
                object_type=object_type,
                object_id=object_id,
                details=details,
                request_id=request_id,
                ip_address=ip_address,
                created_at=created,
                seq=seq,
                prev_hash=prev_hash,
                hash=digest,
            )
        )
        await self.session.flush()

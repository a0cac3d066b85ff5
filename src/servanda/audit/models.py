"""The audit trail's tables: hash-chained events per tenant and the retention anchors."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.orm import Mapped, mapped_column

from servanda.platform.orm import Base, created_at, jsonb_object, uuid_pk


class AuditEvent(Base):
    """Append-only and hash-chained per tenant: ``hash = sha256(prev_hash + canonical form)``.

    The application role may only INSERT and SELECT; only the retention
    function deletes (a contiguous oldest prefix, recorded in audit_purges).
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        UniqueConstraint("tenant_id", "seq"),
        Index("ix_audit_events_tenant_id_created_at", "tenant_id", "created_at"),
        Index("ix_audit_events_tenant_id_action_created_at", "tenant_id", "action", "created_at"),
        Index("ix_audit_events_tenant_id_object", "tenant_id", "object_type", "object_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    actor_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(String(100))
    object_type: Mapped[str | None] = mapped_column(String(100))
    object_id: Mapped[str | None] = mapped_column(String(100))
    details: Mapped[dict[str, Any]] = jsonb_object()
    ip_address: Mapped[str | None] = mapped_column(INET)
    request_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = created_at()
    seq: Mapped[int] = mapped_column(BigInteger)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditPurge(Base):
    """What the retention job removed: the anchor from which the chain continues."""

    __tablename__ = "audit_purges"
    __table_args__ = (Index("ix_audit_purges_tenant_id_last_seq", "tenant_id", "last_seq"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    cutoff: Mapped[datetime]
    purged_count: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))
    purged_by: Mapped[str] = mapped_column(String(100))
    purged_at: Mapped[datetime] = created_at()

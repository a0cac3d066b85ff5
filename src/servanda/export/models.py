"""Export context: export jobs and style templates."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from servanda.platform.orm import Base, created_at, jsonb_list, jsonb_object, updated_at, uuid_pk

EXPORT_FORMATS = ("docx", "odt", "pdf")
EXPORT_STATUSES = ("queued", "running", "done", "failed", "archived")
STYLE_TYPES = ("system", "vendor", "lawfirm")


class ExportJob(Base):
    __tablename__ = "export_jobs"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "contract_id"], ["contracts.tenant_id", "contracts.id"]),
        Index("ix_export_jobs_tenant_id_status_queued_at", "tenant_id", "status", "queued_at"),
        Index("ix_export_jobs_tenant_id_contract_id", "tenant_id", "contract_id"),
        # At most one queued/running job per (contract, format).
        Index(
            "uq_export_jobs_active_per_contract_format",
            "contract_id",
            "format",
            unique=True,
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
        CheckConstraint(f"format IN {EXPORT_FORMATS}", name="format"),
        CheckConstraint(f"status IN {EXPORT_STATUSES}", name="status"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    contract_id: Mapped[uuid.UUID]
    requested_by: Mapped[uuid.UUID | None]
    format: Mapped[str] = mapped_column(String(10))
    style_template_id: Mapped[uuid.UUID | None]
    status: Mapped[str] = mapped_column(String(20), server_default="queued")
    attempts: Mapped[int] = mapped_column(server_default=text("0"))
    result_storage_key: Mapped[str | None] = mapped_column(String(500))
    result_size: Mapped[int | None] = mapped_column(BigInteger)
    result_sha256: Mapped[str | None] = mapped_column(String(64))
    error_code: Mapped[str | None] = mapped_column(String(100))
    error_message: Mapped[str | None] = mapped_column(Text)
    queued_at: Mapped[datetime] = created_at()
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    queue_job_id: Mapped[int | None] = mapped_column(BigInteger)  # procrastinate_jobs.id
    next_attempt_at: Mapped[datetime | None]  # when a failed attempt is retried
    archived_at: Mapped[datetime | None]


class ExportBatch(Base):
    """Up to 20 contracts exported into one ZIP with a manifest (ids, titles, SHA-256, failures)."""

    __tablename__ = "export_batches"
    __table_args__ = (
        Index("ix_export_batches_tenant_id_queued_at", "tenant_id", "queued_at"),
        CheckConstraint(f"format IN {EXPORT_FORMATS}", name="format"),
        CheckConstraint(f"status IN {EXPORT_STATUSES}", name="status"),
        CheckConstraint("cardinality(contract_ids) BETWEEN 1 AND 20", name="contract_count"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    requested_by: Mapped[uuid.UUID | None]
    format: Mapped[str] = mapped_column(String(10))
    style_template_id: Mapped[uuid.UUID | None]
    contract_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)))
    status: Mapped[str] = mapped_column(String(20), server_default="queued")
    attempts: Mapped[int] = mapped_column(server_default=text("0"))
    done_count: Mapped[int] = mapped_column(server_default=text("0"))
    failed_count: Mapped[int] = mapped_column(server_default=text("0"))
    manifest: Mapped[list[Any]] = jsonb_list()
    queue_job_id: Mapped[int | None] = mapped_column(BigInteger)
    result_storage_key: Mapped[str | None] = mapped_column(String(500))
    result_size: Mapped[int | None] = mapped_column(BigInteger)
    result_sha256: Mapped[str | None] = mapped_column(String(64))
    error_code: Mapped[str | None] = mapped_column(String(100))
    error_message: Mapped[str | None] = mapped_column(Text)
    queued_at: Mapped[datetime] = created_at()
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]


class StyleTemplate(Base):
    """``tenant_id`` is NULL only for the built-in system style (readable by all, writable by none)."""

    __tablename__ = "style_templates"
    __table_args__ = (
        Index("ix_style_templates_tenant_id_name", "tenant_id", "name"),
        CheckConstraint(f"type IN {STYLE_TYPES}", name="type"),
        CheckConstraint("(tenant_id IS NULL) = (type = 'system')", name="system_has_no_tenant"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(20))
    base_docx_key: Mapped[str | None] = mapped_column(String(500))
    fonts: Mapped[dict[str, Any]] = jsonb_object()
    font_sizes: Mapped[dict[str, Any]] = jsonb_object()
    colors: Mapped[dict[str, Any]] = jsonb_object()
    margins_mm: Mapped[dict[str, Any]] = jsonb_object()
    header: Mapped[dict[str, Any]] = jsonb_object()
    footer: Mapped[dict[str, Any]] = jsonb_object()
    is_default: Mapped[bool] = mapped_column(server_default=text("false"))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

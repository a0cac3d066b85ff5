"""Contract context: contract instances (with pins) and law-firm templates."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    FetchedValue,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from servanda.platform.orm import Base, created_at, jsonb_list, jsonb_object, text_array, updated_at, uuid_pk

CONTRACT_STATUSES = ("draft", "completed", "archived")
VALIDATION_STATES = ("valid", "has_warnings", "incomplete", "has_conflicts")
VISIBILITIES = ("private", "team")


class ContractInstance(Base):
    __tablename__ = "contracts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        ForeignKeyConstraint(["tenant_id", "creator_id"], ["users.tenant_id", "users.id"]),
        ForeignKeyConstraint(["tenant_id", "team_id"], ["teams.tenant_id", "teams.id"]),
        Index("ix_contracts_tenant_id_status_updated_at", "tenant_id", "status", "updated_at"),
        Index("ix_contracts_tenant_id_creator_id", "tenant_id", "creator_id"),
        Index("ix_contracts_tenant_id_template_version_id", "tenant_id", "template_version_id"),
        CheckConstraint(f"status IN {CONTRACT_STATUSES}", name="status"),
        CheckConstraint(f"validation_state IN {VALIDATION_STATES}", name="validation_state"),
        CheckConstraint(f"visibility IN {VISIBILITIES}", name="visibility"),
        CheckConstraint("visibility <> 'team' OR team_id IS NOT NULL", name="team_visibility_needs_team"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    creator_id: Mapped[uuid.UUID]
    title: Mapped[str] = mapped_column(String(300))
    client_reference: Mapped[str | None] = mapped_column(String(200))
    tags: Mapped[list[str]] = text_array()
    jurisdiction: Mapped[str] = mapped_column(String(2))
    template_version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("template_versions.id"))
    clause_version_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)))
    answers: Mapped[dict[str, Any]] = jsonb_object()
    selected_slots: Mapped[dict[str, Any]] = jsonb_object()
    dismissed_warnings: Mapped[list[Any]] = jsonb_list()
    validation_state: Mapped[str] = mapped_column(String(20), server_default="valid")
    validation_messages: Mapped[list[Any]] = jsonb_list()
    status: Mapped[str] = mapped_column(String(20), server_default="draft")
    completed_at: Mapped[datetime | None]
    visibility: Mapped[str] = mapped_column(String(10), server_default="private")
    team_id: Mapped[uuid.UUID | None]
    source_lawfirm_template_id: Mapped[uuid.UUID | None]
    derived_from_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
    # The row version (migration 0014): a trigger adds one on every UPDATE; the entity tag of the
    # contract view, compared with If-Match under the row lock (contracts/versioning.py).
    version: Mapped[int] = mapped_column(BigInteger, server_default=text("1"), server_onupdate=FetchedValue())

    # read the trigger's new version back with the UPDATE (RETURNING), never lazily afterwards
    __mapper_args__ = {"eager_defaults": True}


class LawFirmTemplate(Base):
    __tablename__ = "lawfirm_templates"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "team_id"], ["teams.tenant_id", "teams.id"]),
        Index("ix_lawfirm_templates_tenant_id_status", "tenant_id", "status"),
        CheckConstraint("status IN ('draft', 'published')", name="status"),
        CheckConstraint(f"visibility IN {VISIBILITIES}", name="visibility"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(server_default="")
    source_template_version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("template_versions.id"))
    source_contract_id: Mapped[uuid.UUID | None]
    custom_answers: Mapped[dict[str, Any]] = jsonb_object()
    custom_slot_selections: Mapped[dict[str, Any]] = jsonb_object()
    status: Mapped[str] = mapped_column(String(20), server_default="draft")
    visibility: Mapped[str] = mapped_column(String(10), server_default="private")
    team_id: Mapped[uuid.UUID | None]
    tags: Mapped[list[str]] = text_array()
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

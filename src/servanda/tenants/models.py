"""The tenant: a law firm, a publisher or an individual; its profile and settings (plan, branding, flags)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from servanda.platform.orm import Base, created_at, jsonb_object, updated_at, uuid_pk

TENANT_TYPES = ("vendor", "lawfirm", "individual")
TENANT_STATUSES = ("active", "suspended", "deleted")


class Tenant(Base):
    __tablename__ = "tenants"
    __table_args__ = (
        CheckConstraint(f"type IN {TENANT_TYPES}", name="type"),
        CheckConstraint(f"status IN {TENANT_STATUSES}", name="status"),
        CheckConstraint("slug ~ '^[a-z0-9-]{3,63}$'", name="slug"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(20))
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    address: Mapped[dict[str, Any]] = jsonb_object()
    default_jurisdiction: Mapped[str] = mapped_column(String(2), server_default="DE")
    default_language: Mapped[str] = mapped_column(String(5), server_default="de")
    settings: Mapped[dict[str, Any]] = jsonb_object()
    status: Mapped[str] = mapped_column(String(20), server_default="active")
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

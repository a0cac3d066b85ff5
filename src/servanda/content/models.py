"""Content context: clauses and templates with immutable versions.

``publisher_is_vendor`` is maintained by a database trigger from the owning
tenant's (immutable) type; the publisher-content RLS policy uses it to let
every tenant read published vendor content without reading the tenants table.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Computed,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR, UUID
from sqlalchemy.orm import Mapped, mapped_column

from servanda.platform.orm import Base, created_at, jsonb_list, jsonb_object, text_array, updated_at, uuid_pk

VERSION_STATUSES = ("draft", "review", "approved", "published", "deprecated")
# ``edit``: a user other than the version's contributors so far changed the draft (once per user).
REVIEW_ACTIONS = ("create", "edit", "submit", "approve", "reject", "request_changes", "publish", "deprecate")
# German full-text search over title, description and tags (catalog); the tag
# wrapper exists because array_to_string is not IMMUTABLE.
TEMPLATE_SEARCH = (
    "to_tsvector('german'::regconfig, coalesce(title, '') || ' ' || coalesce(description, '') || ' ' "
    "|| servanda_tags_text(tags))"
)


def contributors() -> Mapped[list[uuid.UUID]]:
    """Everyone who wrote a version's content: its author, then every user who edited the draft.

    Four-eyes: none of them may review or approve the version. Kept on the version
    row because every workflow transition locks that row anyway, so the check and
    the change it guards are atomic, and the row's RLS policies cover it.
    """
    return mapped_column(ARRAY(UUID(as_uuid=True)), server_default=text("'{}'::uuid[]"))


class Clause(Base):
    __tablename__ = "clauses"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        Index(
            "uq_clauses_tenant_id_external_key",
            "tenant_id",
            "external_key",
            unique=True,
            postgresql_where=text("external_key IS NOT NULL"),
        ),
        Index("ix_clauses_public", "id", postgresql_where=text("publisher_is_vendor AND has_public_version")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    title: Mapped[str] = mapped_column(String(300))
    tags: Mapped[list[str]] = text_array()
    jurisdiction: Mapped[str | None] = mapped_column(String(2))
    legal_area: Mapped[str | None] = mapped_column(String(100))
    current_published_version_id: Mapped[uuid.UUID | None]
    has_public_version: Mapped[bool] = mapped_column(server_default=text("false"))
    publisher_is_vendor: Mapped[bool] = mapped_column(server_default=text("false"))
    external_key: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class ClauseVersion(Base):
    __tablename__ = "clause_versions"
    __table_args__ = (
        UniqueConstraint("clause_id", "version_number"),
        ForeignKeyConstraint(["tenant_id", "clause_id"], ["clauses.tenant_id", "clauses.id"]),
        Index("ix_clause_versions_tenant_id_clause_id", "tenant_id", "clause_id"),
        CheckConstraint(f"status IN {VERSION_STATUSES}", name="status"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    clause_id: Mapped[uuid.UUID]
    version_number: Mapped[int]
    content: Mapped[str] = mapped_column(Text, server_default="")
    heading: Mapped[str | None] = mapped_column(String(300))  # display heading; NULL: the title
    parameters: Mapped[dict[str, Any]] = jsonb_object()
    rules: Mapped[list[Any]] = jsonb_list()
    status: Mapped[str] = mapped_column(String(20), server_default="draft")
    change_note: Mapped[str | None] = mapped_column(Text)
    valid_from: Mapped[date | None]
    valid_until: Mapped[date | None]
    author_id: Mapped[uuid.UUID | None]
    contributor_ids: Mapped[list[uuid.UUID]] = contributors()
    reviewer_id: Mapped[uuid.UUID | None]
    published_at: Mapped[datetime | None]
    publisher_is_vendor: Mapped[bool] = mapped_column(server_default=text("false"))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class Template(Base):
    __tablename__ = "templates"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        Index(
            "uq_templates_tenant_id_external_key",
            "tenant_id",
            "external_key",
            unique=True,
            postgresql_where=text("external_key IS NOT NULL"),
        ),
        Index("ix_templates_search", "search", postgresql_using="gin"),
        Index(
            "ix_templates_catalog",
            "category",
            "legal_area",
            "jurisdiction",
            postgresql_where=text("current_published_version_id IS NOT NULL"),
        ),
        Index(
            "ix_templates_public", "id", postgresql_where=text("publisher_is_vendor AND has_public_version")
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, server_default="")
    category: Mapped[str | None] = mapped_column(String(100))
    jurisdiction: Mapped[str | None] = mapped_column(String(2))
    legal_area: Mapped[str | None] = mapped_column(String(100))
    tags: Mapped[list[str]] = text_array()
    current_published_version_id: Mapped[uuid.UUID | None]
    has_public_version: Mapped[bool] = mapped_column(server_default=text("false"))
    publisher_is_vendor: Mapped[bool] = mapped_column(server_default=text("false"))
    external_key: Mapped[str | None] = mapped_column(String(100))
    search: Mapped[str] = mapped_column(TSVECTOR, Computed(TEMPLATE_SEARCH, persisted=True), deferred=True)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class TemplateVersion(Base):
    __tablename__ = "template_versions"
    __table_args__ = (
        UniqueConstraint("template_id", "version_number"),
        ForeignKeyConstraint(["tenant_id", "template_id"], ["templates.tenant_id", "templates.id"]),
        Index("ix_template_versions_tenant_id_template_id", "tenant_id", "template_id"),
        CheckConstraint(f"status IN {VERSION_STATUSES}", name="status"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    template_id: Mapped[uuid.UUID]
    version_number: Mapped[int]
    structure: Mapped[dict[str, Any]] = jsonb_object()
    interview: Mapped[list[Any]] = jsonb_list()
    default_style_template_id: Mapped[uuid.UUID | None]
    status: Mapped[str] = mapped_column(String(20), server_default="draft")
    change_note: Mapped[str | None] = mapped_column(Text)
    author_id: Mapped[uuid.UUID | None]
    contributor_ids: Mapped[list[uuid.UUID]] = contributors()
    reviewer_id: Mapped[uuid.UUID | None]
    published_at: Mapped[datetime | None]
    publisher_is_vendor: Mapped[bool] = mapped_column(server_default=text("false"))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class ContentReview(Base):
    """One workflow step of a clause or template version: status history and review comments."""

    __tablename__ = "content_reviews"
    __table_args__ = (
        Index("ix_content_reviews_tenant_id_version_id", "tenant_id", "version_id"),
        Index("ix_content_reviews_tenant_id_created_at", "tenant_id", "created_at"),
        CheckConstraint("kind IN ('clause', 'template')", name="kind"),
        CheckConstraint(f"action IN {REVIEW_ACTIONS}", name="action"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    kind: Mapped[str] = mapped_column(String(10))
    entity_id: Mapped[uuid.UUID]
    version_id: Mapped[uuid.UUID]
    version_number: Mapped[int]
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[uuid.UUID | None]
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at()

"""The catalog: published templates a tenant may start contracts from (its own and publishers').

Full-text search uses PostgreSQL's German configuration (stemming, so
"Arbeitsverträge" finds "Arbeitsvertrag") over title, description and tags,
served by a GIN index on a generated tsvector column. Row-level security
decides what is visible; the catalog only asks for a current published version.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from servanda.content.models import Clause, Template, TemplateVersion
from servanda.engine.shapes import Structure
from servanda.identity.access import Principal
from servanda.platform.db import Database
from servanda.platform.problems import Problem


@dataclass(frozen=True)
class CatalogFilters:
    q: str | None = None
    category: str | None = None
    legal_area: str | None = None
    jurisdiction: str | None = None


@dataclass(frozen=True)
class CatalogEntry:
    template: Template
    version: TemplateVersion
    publisher_name: str | None


async def _publishers(session: AsyncSession, tenant_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not tenant_ids:
        return {}
    rows = await session.execute(
        text("SELECT id, name FROM servanda_publisher_names(:ids)"), {"ids": list(tenant_ids)}
    )
    return {row.id: row.name for row in rows}


class CatalogService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def search(self, principal: Principal, filters: CatalogFilters, page: int,
                     page_size: int) -> tuple[list[CatalogEntry], int]:  # fmt: skip
        async with self.db.session(principal.tenant_id) as session:
            query = (
                select(Template, TemplateVersion)
                .join(TemplateVersion, TemplateVersion.id == Template.current_published_version_id)
                .where(Template.current_published_version_id.is_not(None))
            )
            order: list[Any] = []
            if filters.q:
                tsquery = func.websearch_to_tsquery(text("'german'::regconfig"), filters.q)
                query = query.where(Template.search.op("@@")(tsquery))
                order.append(func.ts_rank(Template.search, tsquery).desc())
            if filters.category:
                query = query.where(Template.category == filters.category)
            if filters.legal_area:
                query = query.where(Template.legal_area == filters.legal_area)
            if filters.jurisdiction:
                query = query.where(Template.jurisdiction == filters.jurisdiction)
            total = await session.scalar(
                select(func.count()).select_from(query.with_only_columns(Template.id).subquery())
            )
            rows = (
                await session.execute(
                    query.order_by(*order, func.lower(Template.title), Template.id)
                    .offset((page - 1) * page_size)
                    .limit(page_size)
                )
            ).all()
            names = await _publishers(session, {t.tenant_id for t, _ in rows})
            return [CatalogEntry(t, v, names.get(t.tenant_id)) for t, v in rows], total or 0

    async def detail(
        self, principal: Principal, template_id: uuid.UUID
    ) -> tuple[CatalogEntry, list[dict[str, Any]], int]:
        async with self.db.session(principal.tenant_id) as session:
            row = (
                await session.execute(
                    select(Template, TemplateVersion)
                    .join(TemplateVersion, TemplateVersion.id == Template.current_published_version_id)
                    .where(Template.id == template_id)
                )
            ).first()
            if row is None:
                raise Problem(404, "template.not_found", "Die Vorlage ist im Katalog nicht verfügbar.")
            template, version = row
            structure = Structure.model_validate(version.structure or {})
            ids = {c for slot in structure.slots() for c in slot.clause_ids()}
            titles = (
                dict(
                    (row.id, row.title)
                    for row in await session.execute(
                        select(Clause.id, Clause.title).where(Clause.id.in_(ids))
                    )
                )
                if ids
                else {}
            )
            sections = [
                {
                    "id": section.id,
                    "title": section.title,
                    "slots": [
                        {"id": slot.id, "type": slot.type,
                         "clauses": [{"id": c, "title": titles.get(c, "")} for c in slot.clause_ids()]}
                        for slot in sorted(section.slots, key=lambda s: s.order)
                    ],
                }
                for section in sorted(structure.sections, key=lambda s: s.order)
            ]  # fmt: skip
            names = await _publishers(session, {template.tenant_id})
            return (
                CatalogEntry(template, version, names.get(template.tenant_id)),
                sections,
                len(version.interview or []),
            )

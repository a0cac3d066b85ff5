"""The catalog: published templates a tenant may start contracts from (its own and publishers').

Full-text search uses PostgreSQL's German configuration (stemming, so
"Arbeitsverträge" finds "Arbeitsvertrag") over title, description and tags,
served by a GIN index on a generated tsvector column. Words also match as
prefixes ("Arbeit" finds "Arbeitsvertrag"): the websearch query is OR-ed with
a prefix query built from the search's plain words, which the same index serves.
Row-level security decides what is visible; the catalog only asks for a current
published version.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import ColumnElement, Integer, bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from servanda.content.models import Clause, Template, TemplateVersion
from servanda.engine.shapes import Structure
from servanda.identity.principal import Principal
from servanda.platform import errors
from servanda.platform.orm import any_of
from servanda.platform.paging import count_rows


@dataclass(frozen=True)
class CatalogFilters:
    q: str | None = None
    category: str | None = None
    legal_area: str | None = None
    jurisdiction: str | None = None


@dataclass(frozen=True)
class CatalogEntry:
    id: uuid.UUID
    tenant_id: uuid.UUID
    title: str
    description: str
    category: str | None
    legal_area: str | None
    jurisdiction: str | None
    tags: list[str]
    version_id: uuid.UUID
    version_number: int
    published_at: datetime | None
    publisher_name: str | None


async def _publishers(session: AsyncSession, tenant_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = await session.execute(
        text("SELECT id, name FROM servanda_publisher_names(:ids)"), {"ids": list(tenant_ids)}
    )
    return {row.id: row.name for row in rows}


_ENTRY_COLUMNS = (
    Template.id,
    Template.tenant_id,
    Template.title,
    Template.description,
    Template.category,
    Template.legal_area,
    Template.jurisdiction,
    Template.tags,
    TemplateVersion.id.label("version_id"),
    TemplateVersion.version_number,
    TemplateVersion.published_at,
)
PUBLISHER_NAMES_TTL_S = 60.0

# The search statement's fixed parts, built once per process instead of per request: building a
# Core statement and computing its cache key cost more CPU than the rest of a catalog page's own
# work (bench/cpu_per_request). The page without filters, the catalog's first view, is complete
# here, so SQLAlchemy computes its cache key once (memoised on the statement) and only the page's
# limit and offset travel as parameters. It selects table columns, not mapped attributes: a plain
# Core statement, which the session executes without the ORM's compile and result stages.
_T = Template.__table__.c
_V = TemplateVersion.__table__.c
_SEARCH = (
    select(
        *(_T[name] for name in ("id", "tenant_id", "title", "description", "category")),
        *(_T[name] for name in ("legal_area", "jurisdiction", "tags")),
        _V.id.label("version_id"),
        _V.version_number,
        _V.published_at,
        func.count().over().label("total"),
    )
    .select_from(Template.__table__.join(TemplateVersion.__table__, _V.id == _T.current_published_version_id))
    .where(_T.current_published_version_id.is_not(None))
)
_TITLE_ORDER = (func.lower(_T.title), _T.id)
_OFFSET = bindparam("page_offset", type_=Integer)
_LIMIT = bindparam("page_limit", type_=Integer)
_UNFILTERED_PAGE = _SEARCH.order_by(*_TITLE_ORDER).offset(_OFFSET).limit(_LIMIT)

# Letters and digits only: whatever else the user typed (& | ! : * ( ) ' ...) separates words and
# never reaches the tsquery syntax.
_WORD = re.compile(r"[^\W_]+")


def prefix_query(q: str) -> str | None:
    """A to_tsquery text matching each word of ``q`` as a prefix: "arbeit:* & probe:*".

    It follows the websearch syntax it widens: words are AND-ed, "or" between words makes
    alternatives, a leading "-" negates (as a prefix too: "-befrist" excludes "befristet").
    Quotes and every other character only separate words. At most 32 words; None when no
    word is left.
    """
    groups: list[list[str]] = [[]]
    count = 0
    for token in q.split():
        if token.lower() == "or":
            if groups[-1]:
                groups.append([])
            continue
        negate = "!" if token.startswith("-") else ""
        for word in _WORD.findall(token):
            if count == 32:
                break
            count += 1
            groups[-1].append(f"{negate}{word}:*")
    return " | ".join(" & ".join(group) for group in groups if group) or None


class CatalogService:
    # Publisher names change rarely and are public; cache them per process for a minute.
    _publisher_cache: ClassVar[dict[uuid.UUID, tuple[float, str | None]]] = {}

    def __init__(self, session: AsyncSession) -> None:
        self.session = session  # the caller's transaction

    async def _names(self, session: AsyncSession, tenant_ids: set[uuid.UUID]) -> dict[uuid.UUID, str | None]:
        now = time.monotonic()
        cache = self._publisher_cache
        missing = {t for t in tenant_ids if t not in cache or cache[t][0] < now}
        if missing:
            found = await _publishers(session, missing)
            for tenant_id in missing:
                cache[tenant_id] = (now + PUBLISHER_NAMES_TTL_S, found.get(tenant_id))
        return {t: cache[t][1] for t in tenant_ids}

    async def search(
        self, principal: Principal, filters: CatalogFilters, page: int, page_size: int
    ) -> tuple[list[CatalogEntry], int]:
        """One statement: the page of entries plus the total (window count), only the columns shown."""
        session = self.session
        query = _SEARCH
        order: list[Any] = []
        if filters.q:
            german = text("'german'::regconfig")
            tsquery: ColumnElement[Any] = func.websearch_to_tsquery(german, filters.q)
            prefixes = prefix_query(filters.q)
            if prefixes is not None:
                tsquery = tsquery.op("||")(func.to_tsquery(german, prefixes))
            query = query.where(_T.search.op("@@")(tsquery))
            order.append(func.ts_rank(_T.search, tsquery).desc())
        if filters.category:
            query = query.where(_T.category == filters.category)
        if filters.legal_area:
            query = query.where(_T.legal_area == filters.legal_area)
        if filters.jurisdiction:
            query = query.where(_T.jurisdiction == filters.jurisdiction)
        paged = (
            _UNFILTERED_PAGE
            if query is _SEARCH
            else query.order_by(*order, *_TITLE_ORDER).offset(_OFFSET).limit(_LIMIT)
        )
        bounds = {"page_offset": (page - 1) * page_size, "page_limit": page_size}
        rows = (await session.execute(paged, bounds)).all()
        if not rows and page > 1:  # beyond the last page: the window count is not there to read
            total = await count_rows(session, query)
        else:
            total = rows[0].total if rows else 0
        names = await self._names(session, {row.tenant_id for row in rows})
        entries = [
            CatalogEntry(
                **{k: v for k, v in row._mapping.items() if k != "total"},
                publisher_name=names.get(row.tenant_id),
            )
            for row in rows
        ]
        return entries, total or 0

    async def changelog(self, template_id: uuid.UUID) -> list[dict[str, Any]]:
        """The template's released versions (published or deprecated), newest first, with their notes.

        Drafts and versions in review stay out: the catalog shows what readers could have used.
        """
        rows = await self.session.execute(
            select(TemplateVersion.version_number, TemplateVersion.published_at, TemplateVersion.change_note)
            .where(
                TemplateVersion.template_id == template_id,
                TemplateVersion.status.in_(("published", "deprecated")),
            )
            .order_by(TemplateVersion.version_number.desc())
        )
        return [
            {"version_number": r.version_number, "published_at": r.published_at, "change_note": r.change_note}
            for r in rows
        ]

    async def detail(
        self, principal: Principal, template_id: uuid.UUID
    ) -> tuple[CatalogEntry, list[dict[str, Any]], int]:
        session = self.session
        row = (
            await session.execute(
                select(*_ENTRY_COLUMNS, TemplateVersion.structure, TemplateVersion.interview)
                .join(TemplateVersion, TemplateVersion.id == Template.current_published_version_id)
                .where(Template.id == template_id)
            )
        ).first()
        if row is None:
            raise errors.NotFound("template.not_found", "Die Vorlage ist im Katalog nicht verfügbar.")
        version = row
        structure = Structure.model_validate(version.structure or {})
        ids = {c for slot in structure.slots() for c in slot.clause_ids()}
        titles = (
            dict(
                (row.id, row.title)
                for row in await session.execute(
                    select(Clause.id, Clause.title).where(any_of(Clause.id, ids))
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
                    {
                        "id": slot.id,
                        "type": slot.type,
                        "clauses": [{"id": c, "title": titles.get(c, "")} for c in slot.clause_ids()],
                    }
                    for slot in sorted(section.slots, key=lambda s: s.order)
                ],
            }
            for section in sorted(structure.sections, key=lambda s: s.order)
        ]
        names = await self._names(session, {row.tenant_id})
        fields = {k: v for k, v in row._mapping.items() if k not in ("structure", "interview")}
        entry = CatalogEntry(**fields, publisher_name=names.get(row.tenant_id))
        return entry, sections, len(row.interview or [])

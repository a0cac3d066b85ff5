"""Content as other modules read it: templates and versions as values, never as rows.

The contracts module pins template and clause versions and evaluates
contracts from them; it reads content only through these functions (the
import contracts in pyproject.toml hold it to that). Everything here runs in
the caller's transaction and tenant (row-level security decides what is
visible: the own content and publishers' published content).

Published and deprecated versions never change their content, so their heavy
columns (texts, rules, structures) are cached per process by version id; the
status, which can still move from published to deprecated, is read from the
database every time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CompoundSelect, Select, bindparam, literal_column, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from servanda.content.models import Clause, ClauseVersion, Template, TemplateVersion
from servanda.platform.memo import Memo
from servanda.platform.orm import any_of


@dataclass(frozen=True)
class TemplateRef:
    """A template (the logical row) as a value."""

    id: uuid.UUID
    title: str
    jurisdiction: str | None
    current_published_version_id: uuid.UUID | None

    @classmethod
    def of(cls, t: Template) -> TemplateRef:
        return cls(t.id, t.title, t.jurisdiction, t.current_published_version_id)


@dataclass(frozen=True)
class TemplateVersionPin:
    """A template version as a value (not an ORM row)."""

    id: uuid.UUID
    template_id: uuid.UUID
    version_number: int
    status: str
    structure: dict[str, Any]
    interview: list[Any]

    @classmethod
    def of(cls, v: TemplateVersion) -> TemplateVersionPin:
        return cls(v.id, v.template_id, v.version_number, v.status, v.structure or {}, v.interview or [])


@dataclass(frozen=True)
class ClauseVersionPin:
    id: uuid.UUID
    clause_id: uuid.UUID
    version_number: int
    status: str
    content: str
    parameters: dict[str, Any]
    rules: list[Any]
    heading: str | None = None

    @classmethod
    def of(cls, v: ClauseVersion) -> ClauseVersionPin:
        return cls(
            v.id,
            v.clause_id,
            v.version_number,
            v.status,
            v.content or "",
            v.parameters or {},
            v.rules or [],
            v.heading,
        )


@dataclass(frozen=True)
class TitledClauseVersion:
    """A clause version with its clause's title."""

    title: str
    version: ClauseVersionPin


async def template(session: AsyncSession, template_id: uuid.UUID) -> TemplateRef | None:
    found = await session.get(Template, template_id)
    return TemplateRef.of(found) if found is not None else None


async def template_version(session: AsyncSession, version_id: uuid.UUID) -> TemplateVersionPin | None:
    found = await session.get(TemplateVersion, version_id)
    return TemplateVersionPin.of(found) if found is not None else None


async def version_number(session: AsyncSession, template_version_id: uuid.UUID) -> int | None:
    number: int | None = await session.scalar(
        select(TemplateVersion.version_number).where(TemplateVersion.id == template_version_id)
    )
    return number


def version_ids_of(template_id: uuid.UUID) -> Select[uuid.UUID]:
    """The versions of a template, as a subquery for ``template_version_id IN (...)`` filters."""
    return select(TemplateVersion.id).where(TemplateVersion.template_id == template_id)


async def current_clause_versions(
    session: AsyncSession, clause_ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, ClauseVersionPin | None]]:
    """Each visible clause's title and current published version (None when it has none)."""
    if not clause_ids:
        return {}
    result = await session.execute(
        select(Clause, ClauseVersion)
        .outerjoin(ClauseVersion, ClauseVersion.id == Clause.current_published_version_id)
        .where(any_of(Clause.id, clause_ids))
    )
    return {
        clause.id: (clause.title, ClauseVersionPin.of(version) if version is not None else None)
        for clause, version in result
    }


# The heavy content of published and deprecated versions (structure and interview; a clause's
# text, parameters, rules and heading) never changes: kept per process by version id. Drafts are
# read every time, as their content can still change.
_CONTENT: Memo[uuid.UUID, tuple[Any, ...]] = Memo(20_000)


def _remember(version_id: uuid.UUID, status: str, content: tuple[Any, ...]) -> None:
    if status != "draft":
        _CONTENT.put(version_id, content)


# Built once: the light columns of a template version and of clause versions, as one statement.
_PINNED_VERSIONS: CompoundSelect[Any] = union_all(
    select(
        literal_column("'t'").label("kind"),
        TemplateVersion.id,
        TemplateVersion.template_id.label("parent_id"),
        TemplateVersion.version_number,
        TemplateVersion.status,
        Template.title,
        Template.jurisdiction,
        Template.current_published_version_id,
    )
    .join(Template, Template.id == TemplateVersion.template_id)
    .where(TemplateVersion.id == bindparam("tv")),
    select(
        literal_column("'c'").label("kind"),
        ClauseVersion.id,
        ClauseVersion.clause_id.label("parent_id"),
        ClauseVersion.version_number,
        ClauseVersion.status,
        Clause.title,
        null().label("jurisdiction"),
        null().label("current_published_version_id"),
    )
    .join(Clause, Clause.id == ClauseVersion.clause_id)
    .where(any_of(ClauseVersion.id, key="cvs")),
)


async def pinned_versions(
    session: AsyncSession, template_version_id: uuid.UUID, clause_version_ids: list[uuid.UUID]
) -> tuple[TemplateRef, TemplateVersionPin, list[TitledClauseVersion]] | None:
    """A template version and clause versions by id, whatever their status (deprecated included),
    with their template and clauses (visible ones only); None when the template version is not.

    The light columns of all of them (status and titles can still change) come in one statement;
    the heavy content from the cache, or one more statement per kind for versions not seen yet.
    """
    rows = (
        await session.execute(_PINNED_VERSIONS, {"tv": template_version_id, "cvs": clause_version_ids})
    ).all()
    tv = next((r for r in rows if r.kind == "t"), None)
    if tv is None:
        return None
    kept = _CONTENT.get(tv.id)
    if kept is None:
        heavy = (
            await session.execute(
                select(TemplateVersion.structure, TemplateVersion.interview).where(
                    TemplateVersion.id == tv.id
                )
            )
        ).one()
        kept = (heavy.structure or {}, heavy.interview or [])
        _remember(tv.id, tv.status, kept)
    structure, interview = kept
    template = TemplateRef(tv.parent_id, tv.title, tv.jurisdiction, tv.current_published_version_id)
    version = TemplateVersionPin(tv.id, tv.parent_id, tv.version_number, tv.status, structure, interview)
    clauses = [r for r in rows if r.kind == "c"]
    # What the memo holds is taken before the next await: other requests may evict meanwhile.
    contents = {r.id: c for r in clauses if (c := _CONTENT.get(r.id)) is not None}
    missing = [r.id for r in clauses if r.id not in contents]
    if missing:
        heavy_clauses = await session.execute(
            select(
                ClauseVersion.id,
                ClauseVersion.content,
                ClauseVersion.parameters,
                ClauseVersion.rules,
                ClauseVersion.heading,
            ).where(any_of(ClauseVersion.id, missing))
        )
        status = {r.id: r.status for r in clauses}
        for r in heavy_clauses:
            contents[r.id] = (r.content or "", r.parameters or {}, r.rules or [], r.heading)
            _remember(r.id, status[r.id], contents[r.id])
    pinned: list[TitledClauseVersion] = []
    for r in clauses:
        pinned.append(
            TitledClauseVersion(
                r.title, ClauseVersionPin(r.id, r.parent_id, r.version_number, r.status, *contents[r.id])
            )
        )
    return template, version, pinned

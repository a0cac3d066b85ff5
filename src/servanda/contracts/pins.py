"""Version pinning: resolve, once, the versions a new contract is built from.

The template's current published version, and the current published version
of every clause any of its slots names (alternatives included). Without a
published version there is nothing to pin: 409.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from servanda.content.models import Clause, ClauseVersion, Template, TemplateVersion
from servanda.engine.shapes import Structure
from servanda.platform.problems import Problem


@dataclass(frozen=True)
class TemplateVersionPin:
    """A pinned template version as a value (not an ORM row)."""

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
            v.id, v.clause_id, v.version_number, v.status, v.content or "", v.parameters or {}, v.rules or [],
            v.heading,
        )  # fmt: skip


@dataclass(frozen=True)
class PinnedClause:
    clause_id: uuid.UUID
    title: str
    version: ClauseVersionPin


@dataclass(frozen=True)
class Pins:
    template: Template
    template_version: TemplateVersionPin
    clauses: dict[uuid.UUID, PinnedClause]  # clause id -> pinned version, in slot order

    @property
    def clause_version_ids(self) -> list[uuid.UUID]:
        return [p.version.id for p in self.clauses.values()]


async def resolve_pins(session: AsyncSession, template_id: uuid.UUID) -> Pins:
    template = await session.get(Template, template_id)
    if template is None:
        raise Problem(404, "template.not_found", "Die Vorlage wurde nicht gefunden.")
    if template.current_published_version_id is None:
        raise Problem(409, "contract.template_not_published",
                      f"Die Vorlage '{template.title}' hat keine veröffentlichte Fassung.")  # fmt: skip
    version = await session.get(TemplateVersion, template.current_published_version_id)
    assert version is not None
    clause_ids = list(dict.fromkeys(c for slot in Structure.model_validate(version.structure or {}).slots()
                                    for c in slot.clause_ids()))  # fmt: skip
    return Pins(template, TemplateVersionPin.of(version), await _clauses(session, clause_ids))


async def _clauses(session: AsyncSession, clause_ids: list[uuid.UUID]) -> dict[uuid.UUID, PinnedClause]:
    rows: dict[uuid.UUID, Any] = {}
    if clause_ids:
        result = await session.execute(
            select(Clause, ClauseVersion)
            .outerjoin(ClauseVersion, ClauseVersion.id == Clause.current_published_version_id)
            .where(Clause.id.in_(clause_ids))
        )
        rows = {clause.id: (clause, version) for clause, version in result}
    missing = [str(c) for c in clause_ids if c not in rows]
    unpublished = [rows[c][0].title for c in clause_ids
                   if c in rows and (rows[c][1] is None or rows[c][1].status != "published")]  # fmt: skip
    if missing or unpublished:
        names = ", ".join([*unpublished, *missing])
        raise Problem(409, "contract.clause_not_published",
                      f"Für diese Klauseln gibt es keine veröffentlichte Fassung: {names}.")  # fmt: skip
    return {c: PinnedClause(c, rows[c][0].title, ClauseVersionPin.of(rows[c][1])) for c in clause_ids}


# Published and deprecated versions never change their content, so their heavy columns
# (texts, rules, structures) are cached per process by version id; the status, which can
# still move from published to deprecated, is read from the database every time.
_CONTENT_CACHE: dict[uuid.UUID, tuple[Any, ...]] = {}
_CONTENT_CACHE_MAX = 20_000


def _remember(version_id: uuid.UUID, status: str, content: tuple[Any, ...]) -> None:
    if status == "draft":
        return
    if len(_CONTENT_CACHE) >= _CONTENT_CACHE_MAX:
        _CONTENT_CACHE.pop(next(iter(_CONTENT_CACHE)))
    _CONTENT_CACHE[version_id] = content


async def load_pins(session: AsyncSession, template_version_id: uuid.UUID,
                    clause_version_ids: list[uuid.UUID]) -> Pins:  # fmt: skip
    """The pins of an existing contract, exactly as pinned (deprecated versions included)."""
    tv = (await session.execute(
        select(TemplateVersion.id, TemplateVersion.template_id, TemplateVersion.version_number, TemplateVersion.status)
        .where(TemplateVersion.id == template_version_id)
    )).one_or_none()  # fmt: skip
    if tv is None:
        raise Problem(
            409, "contract.pins_unavailable", "Die angeheftete Vorlagenfassung ist nicht mehr lesbar."
        )
    if tv.id not in _CONTENT_CACHE:
        heavy = (await session.execute(select(TemplateVersion.structure, TemplateVersion.interview)
                                       .where(TemplateVersion.id == tv.id))).one()  # fmt: skip
        _remember(tv.id, tv.status, (heavy.structure or {}, heavy.interview or []))
        structure, interview = heavy.structure or {}, heavy.interview or []
    else:
        structure, interview = _CONTENT_CACHE[tv.id]
    template = await session.get(Template, tv.template_id)
    assert template is not None
    rows = (await session.execute(
        select(ClauseVersion.id, ClauseVersion.clause_id, ClauseVersion.version_number, ClauseVersion.status,
               Clause.title)
        .join(Clause, Clause.id == ClauseVersion.clause_id)
        .where(ClauseVersion.id.in_(clause_version_ids))
    )).all()  # fmt: skip
    missing = [r.id for r in rows if r.id not in _CONTENT_CACHE]
    fetched: dict[uuid.UUID, tuple[Any, ...]] = {}
    if missing:
        for r in await session.execute(select(ClauseVersion.id, ClauseVersion.content, ClauseVersion.parameters,
                                              ClauseVersion.rules, ClauseVersion.heading)
                                       .where(ClauseVersion.id.in_(missing))):  # fmt: skip
            fetched[r.id] = (r.content or "", r.parameters or {}, r.rules or [], r.heading)
    by_clause: dict[uuid.UUID, PinnedClause] = {}
    for r in rows:
        content = fetched.get(r.id) or _CONTENT_CACHE[r.id]
        if r.id in fetched:
            _remember(r.id, r.status, content)
        by_clause[r.clause_id] = PinnedClause(
            r.clause_id, r.title, ClauseVersionPin(r.id, r.clause_id, r.version_number, r.status, *content)
        )
    version = TemplateVersionPin(tv.id, tv.template_id, tv.version_number, tv.status, structure, interview)
    order = [c for slot in Structure.model_validate(structure).slots() for c in slot.clause_ids()]
    return Pins(template, version, {c: by_clause[c] for c in dict.fromkeys(order) if c in by_clause})

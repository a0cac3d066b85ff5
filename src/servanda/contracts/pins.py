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
class PinnedClause:
    clause_id: uuid.UUID
    title: str
    version: ClauseVersion


@dataclass(frozen=True)
class Pins:
    template: Template
    template_version: TemplateVersion
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
    return Pins(template, version, await _clauses(session, clause_ids))


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
    return {c: PinnedClause(c, rows[c][0].title, rows[c][1]) for c in clause_ids}


async def load_pins(session: AsyncSession, template_version_id: uuid.UUID,
                    clause_version_ids: list[uuid.UUID]) -> Pins:  # fmt: skip
    """The pins of an existing contract, exactly as pinned (deprecated versions included)."""
    version = await session.get(TemplateVersion, template_version_id)
    if version is None:
        raise Problem(
            409, "contract.pins_unavailable", "Die angeheftete Vorlagenfassung ist nicht mehr lesbar."
        )
    template = await session.get(Template, version.template_id)
    assert template is not None
    rows = (await session.execute(
        select(ClauseVersion, Clause.title).join(Clause, Clause.id == ClauseVersion.clause_id)
        .where(ClauseVersion.id.in_(clause_version_ids))
    )).all()  # fmt: skip
    by_clause = {v.clause_id: PinnedClause(v.clause_id, title, v) for v, title in rows}
    order = [
        c for slot in Structure.model_validate(version.structure or {}).slots() for c in slot.clause_ids()
    ]
    return Pins(template, version, {c: by_clause[c] for c in dict.fromkeys(order) if c in by_clause})

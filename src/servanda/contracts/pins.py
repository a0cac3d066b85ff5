"""Version pinning: resolve, once, the versions a new contract is built from.

The template's current published version, and the current published version
of every clause any of its slots names (alternatives included). Without a
published version there is nothing to pin: 409.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from servanda.content import published
from servanda.content.published import ClauseVersionPin, TemplateRef, TemplateVersionPin
from servanda.engine.shapes import Structure
from servanda.platform import errors
from servanda.platform.memo import Memo

__all__ = [
    "ClauseVersionPin",
    "PinnedClause",
    "Pins",
    "TemplateVersionPin",
    "load_pins",
    "resolve_pins",
    "version_pins",
]


@dataclass(frozen=True)
class PinnedClause:
    clause_id: uuid.UUID
    title: str
    version: ClauseVersionPin


@dataclass(frozen=True)
class Pins:
    template: TemplateRef
    template_version: TemplateVersionPin
    clauses: dict[uuid.UUID, PinnedClause]  # clause id -> pinned version, in slot order

    @property
    def clause_version_ids(self) -> list[uuid.UUID]:
        return [p.version.id for p in self.clauses.values()]


def slot_clause_ids(version: TemplateVersionPin) -> list[uuid.UUID]:
    """Every clause any slot of the version names (alternatives included), in document order.

    Published and deprecated versions never change: their order is parsed once per process.
    """
    known = _SLOT_ORDER.get(version.id) if version.status != "draft" else None
    if known is None:
        structure = Structure.model_validate(version.structure or {})
        known = tuple(dict.fromkeys(c for slot in structure.slots() for c in slot.clause_ids()))
        if version.status != "draft":
            _SLOT_ORDER.put(version.id, known)
    return list(known)


_SLOT_ORDER: Memo[uuid.UUID, tuple[uuid.UUID, ...]] = Memo(2048)


async def resolve_pins(session: AsyncSession, template_id: uuid.UUID) -> Pins:
    template = await published.template(session, template_id)
    if template is None:
        raise errors.NotFound("template.not_found", "Die Vorlage wurde nicht gefunden.")
    if template.current_published_version_id is None:
        raise errors.Conflict(
            "contract.template_not_published",
            f"Die Vorlage '{template.title}' hat keine veröffentlichte Fassung.",
        )
    version = await published.template_version(session, template.current_published_version_id)
    assert version is not None
    return Pins(template, version, await current_clauses(session, slot_clause_ids(version)))


async def version_pins(
    session: AsyncSession, template_version_id: uuid.UUID, *, clauses: bool
) -> Pins | None:
    """A given template version (a law-firm template's), with the current published version of its
    clauses when ``clauses`` (409 naming those without one), else without clauses; None when not visible."""
    version = await published.template_version(session, template_version_id)
    if version is None:
        return None
    template = await published.template(session, version.template_id)
    assert template is not None
    pinned = await current_clauses(session, slot_clause_ids(version)) if clauses else {}
    return Pins(template, version, pinned)


async def current_clauses(
    session: AsyncSession, clause_ids: list[uuid.UUID]
) -> dict[uuid.UUID, PinnedClause]:
    """The current published version of each clause; 409 naming those without one."""
    rows = await published.current_clause_versions(session, clause_ids)
    pinned: dict[uuid.UUID, PinnedClause] = {}
    missing: list[str] = []
    unpublished: list[str] = []
    for clause_id in clause_ids:
        if clause_id not in rows:
            missing.append(str(clause_id))
            continue
        title, version = rows[clause_id]
        if version is None or version.status != "published":
            unpublished.append(title)
        else:
            pinned[clause_id] = PinnedClause(clause_id, title, version)
    if missing or unpublished:
        names = ", ".join([*unpublished, *missing])
        raise errors.Conflict(
            "contract.clause_not_published",
            f"Für diese Klauseln gibt es keine veröffentlichte Fassung: {names}.",
        )
    return pinned


async def load_pins(
    session: AsyncSession, template_version_id: uuid.UUID, clause_version_ids: list[uuid.UUID]
) -> Pins:
    """The pins of an existing contract, exactly as pinned (deprecated versions included)."""
    pinned = await published.pinned_versions(session, template_version_id, clause_version_ids)
    if pinned is None:
        raise errors.Conflict(
            "contract.pins_unavailable", "Die angeheftete Vorlagenfassung ist nicht mehr lesbar."
        )
    template, version, clause_versions = pinned
    by_clause = {
        titled.version.clause_id: PinnedClause(titled.version.clause_id, titled.title, titled.version)
        for titled in clause_versions
    }
    order = slot_clause_ids(version)
    return Pins(template, version, {c: by_clause[c] for c in order if c in by_clause})

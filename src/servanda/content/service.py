"""Authoring and the four-eyes publishing workflow for clauses and templates.

```
draft --submit(reviewer)--> review --approve--> approved --publish--> published --deprecate--> deprecated
  ^                           |
  +-- reject / request_changes(comment)
```

Four-eyes: every version keeps its contributors (the author and everyone who
edited the draft; editing another editor's draft is allowed and makes you a
co-author). No contributor may be named reviewer, approve, or have approved
a version that gets published (403 ``content.four_eyes``; the author keeps the
older ``content.own_version`` when approving).

Every transition locks the version row first, so two concurrent transitions
on one version cannot both succeed (the second sees the new status: 409).
Publishing also locks the logical row, so at most one version is published.
Writes to another tenant's content are 404; published vendor content stays
readable to everyone through RLS.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import TypeAdapter
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from servanda.audit import repository as audit
from servanda.content import gates
from servanda.content.models import Clause, ClauseVersion, ContentReview, Template, TemplateVersion
from servanda.engine.shapes import Parameter, Question, Rule, Structure
from servanda.export.repository import style_template_exists
from servanda.identity.principal import Principal
from servanda.identity.repository import Colleague, UserRepository
from servanda.platform import errors, labels
from servanda.platform.orm import any_of
from servanda.platform.paging import paginate

RULES = TypeAdapter(list[Rule])
PARAMETERS = TypeAdapter(dict[str, Parameter])
QUESTIONS = TypeAdapter(list[Question])


Entity = Clause | Template
Version = ClauseVersion | TemplateVersion
E = TypeVar("E", bound=Entity)
V = TypeVar("V", bound=Version)
E_co = TypeVar("E_co", bound=Entity, covariant=True)
V_co = TypeVar("V_co", bound=Version, covariant=True)


@dataclass(frozen=True)
class Kind(Generic[E_co, V_co]):
    """Clauses or templates: the tables and columns one implementation of authoring works on.

    The service's methods are generic in the kind, so a caller holding ``CLAUSES`` gets
    ``Clause``/``ClauseVersion`` back; ``KINDS`` (by URL path) holds either.
    """

    name: Literal["clause", "template"]  # audit prefix, review kind
    entity: type[E_co]  # both share the columns used here
    version: type[V_co]
    parent: Literal["clause_id", "template_id"]  # foreign key column of the version
    entity_fields: tuple[str, ...]
    version_fields: tuple[str, ...]
    label: str  # German, for messages


CLAUSES: Kind[Clause, ClauseVersion] = Kind(
    name="clause",
    entity=Clause,
    version=ClauseVersion,
    parent="clause_id",
    entity_fields=("title", "tags", "jurisdiction", "legal_area"),
    version_fields=("content", "heading", "parameters", "rules", "change_note", "valid_from", "valid_until"),
    label="Klausel",
)
TEMPLATES: Kind[Template, TemplateVersion] = Kind(
    name="template",
    entity=Template,
    version=TemplateVersion,
    parent="template_id",
    entity_fields=("title", "tags", "jurisdiction", "legal_area", "description", "category"),
    version_fields=("structure", "interview", "default_style_template_id", "change_note"),
    label="Vorlage",
)
AnyKind = Kind[Entity, Version]
KINDS: dict[str, AnyKind] = {"clauses": CLAUSES, "templates": TEMPLATES}


def not_found(kind: AnyKind) -> errors.NotFound:
    return errors.NotFound(f"{kind.name}.not_found", f"Die {kind.label} wurde nicht gefunden.")


def version_not_found(kind: AnyKind) -> errors.NotFound:
    return errors.NotFound(
        f"{kind.name}.version_not_found", f"Die Fassung der {kind.label} wurde nicht gefunden."
    )


# A new version copies its source's content; unless someone else has approved that
# content, its writers stay contributors of the copy.
UNREVIEWED = ("draft", "review")


def contributors(version: Version) -> list[uuid.UUID]:
    """The author and every editor of the version, in order, without duplicates."""
    ids = [version.author_id, *(version.contributor_ids or [])]
    return list(dict.fromkeys(i for i in ids if i is not None))


def contributors_with(ids: list[uuid.UUID], more: list[uuid.UUID]) -> list[uuid.UUID]:
    return list(dict.fromkeys([*ids, *more]))


def four_eyes(detail: str) -> errors.Forbidden:
    return errors.Forbidden("content.four_eyes", detail)


def wrong_status(version: Version, action: str, allowed: str) -> errors.Conflict:
    return errors.Conflict(
        "content.invalid_transition",
        f"„{labels.workflow_action(action)}“ ist im Status „{labels.version_status(version.status)}“ "
        f"nicht möglich (erwartet: „{labels.version_status(allowed)}“).",
        extra={"currentStatus": version.status},
    )


def _jsonable(fields: dict[str, Any]) -> dict[str, Any]:
    """Store shapes in the database form (camelCase JSON, ids as strings)."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if key == "parameters" and value is not None:
            out[key] = {
                k: v.model_dump(mode="json", by_alias=True, exclude_none=True) for k, v in value.items()
            }
        elif key == "rules" and value is not None:
            out[key] = [r.model_dump(mode="json", by_alias=True, exclude_none=True) for r in value]
        elif key == "structure" and value is not None:
            out[key] = value.model_dump(mode="json", by_alias=True, exclude_none=True)
        elif key == "interview" and value is not None:
            out[key] = [q.model_dump(mode="json", by_alias=True, exclude_none=True) for q in value]
        else:
            out[key] = value
    return out


async def _require_style(session: AsyncSession, fields: dict[str, Any]) -> None:
    """A template's default style must exist and be visible to the tenant: the built-in system style
    or one of its own (RLS hides every other tenant's styles, so ``get`` finds exactly those)."""
    style_id = fields.get("default_style_template_id")
    if style_id is not None and not await style_template_exists(session, style_id):
        raise errors.Invalid(
            "content.unknown_style_template",
            "Die Formatvorlage gibt es nicht.",
            errors=[{"field": "defaultStyleTemplateId", "message": "unbekannte Formatvorlage"}],
        )


class ContentService:
    """Works in the caller's transaction: the request's unit of work, or an operator's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    async def _history(
        session: AsyncSession,
        principal: Principal,
        kind: Kind[E, V],
        version: V,
        action: str,
        from_status: str | None,
        comment: str | None = None,
    ) -> None:
        session.add(
            ContentReview(
                tenant_id=principal.tenant_id,
                kind=kind.name,
                entity_id=getattr(version, kind.parent),
                version_id=version.id,
                version_number=version.version_number,
                action=action,
                from_status=from_status,
                to_status=version.status,
                actor_id=principal.user_id,
                comment=comment,
            )
        )

    async def _step(
        self,
        principal: Principal,
        kind: Kind[E, V],
        entity_id: uuid.UUID,
        version: V,
        action: str,
        from_status: str | None,
        details: dict[str, Any] | None = None,
        comment: str | None = None,
    ) -> V:
        """Close a workflow transition: the review-history row, the audit event, the fresh version."""
        await self._history(self.session, principal, kind, version, action, from_status, comment)
        await audit.record(
            self.session,
            principal,
            f"{kind.name}.{action}",
            kind.name,
            entity_id,
            {"versionId": str(version.id), **(details or {})},
        )
        await self.session.flush()
        await self.session.refresh(version)
        return version

    async def _own_entity(
        self,
        session: AsyncSession,
        principal: Principal,
        kind: Kind[E, V],
        entity_id: uuid.UUID,
        lock: bool = False,
    ) -> E:
        entity = await session.get(kind.entity, entity_id, with_for_update=lock)
        if entity is None or entity.tenant_id != principal.tenant_id:
            raise not_found(kind)
        return entity

    async def _own_version(
        self,
        session: AsyncSession,
        principal: Principal,
        kind: Kind[E, V],
        entity_id: uuid.UUID,
        version_id: uuid.UUID,
    ) -> V:
        version = await session.get(kind.version, version_id, with_for_update=True)
        if (
            version is None
            or version.tenant_id != principal.tenant_id
            or getattr(version, kind.parent) != entity_id
        ):
            raise version_not_found(kind)
        return version

    # -- reading -----------------------------------------------------------------------------

    async def list_entities(
        self, principal: Principal, kind: Kind[E, V], page: int, page_size: int, q: str | None = None
    ) -> tuple[list[tuple[E, V | None]], int]:
        session = self.session
        query = select(kind.entity).where(kind.entity.tenant_id == principal.tenant_id)
        if q:
            query = query.where(func.lower(kind.entity.title).contains(q.lower(), autoescape=True))
        query = query.order_by(func.lower(kind.entity.title), kind.entity.id)
        entities, total = await paginate(session, query, page, page_size)
        latest = await self._latest_versions(session, kind, [e.id for e in entities])
        return [(e, latest.get(e.id)) for e in entities], total

    @staticmethod
    async def _latest_versions(
        session: AsyncSession, kind: Kind[E, V], ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, V]:
        if not ids:
            return {}
        parent = getattr(kind.version, kind.parent)
        rows = await session.scalars(
            select(kind.version)
            .where(any_of(parent, ids))
            .order_by(parent, kind.version.version_number.desc())
            .ext(distinct_on(parent))
        )
        return {getattr(v, kind.parent): v for v in rows}

    async def get_entity(
        self, principal: Principal, kind: Kind[E, V], entity_id: uuid.UUID
    ) -> tuple[E, V | None]:
        session = self.session
        entity = await session.get(kind.entity, entity_id)
        if entity is None:
            raise not_found(kind)
        return entity, (await self._latest_versions(session, kind, [entity.id])).get(entity.id)

    async def list_versions(self, principal: Principal, kind: Kind[E, V], entity_id: uuid.UUID) -> list[V]:
        session = self.session
        if await session.get(kind.entity, entity_id) is None:
            raise not_found(kind)
        parent = getattr(kind.version, kind.parent)
        return list(
            (
                await session.scalars(
                    select(kind.version).where(parent == entity_id).order_by(kind.version.version_number)
                )
            ).all()
        )

    async def latest_version(self, kind: Kind[E, V], entity_id: uuid.UUID) -> V | None:
        """The entity's version with the highest number (None: no such entity)."""
        parent = getattr(kind.version, kind.parent)
        query = select(kind.version).where(parent == entity_id).order_by(kind.version.version_number.desc())
        return await self.session.scalar(query.limit(1))

    async def get_version(
        self, principal: Principal, kind: Kind[E, V], entity_id: uuid.UUID, version_id: uuid.UUID
    ) -> V:
        session = self.session
        version = await session.get(kind.version, version_id)
        if version is None or getattr(version, kind.parent) != entity_id:
            raise version_not_found(kind)
        return version

    # -- authoring ---------------------------------------------------------------------------

    async def create(
        self,
        principal: Principal,
        kind: Kind[E, V],
        entity_fields: dict[str, Any],
        version_fields: dict[str, Any],
        external_key: str | None = None,
    ) -> tuple[E, V]:
        session = self.session
        await _require_style(session, version_fields)
        values = {k: v for k, v in entity_fields.items() if k in kind.entity_fields and v is not None}
        entity = kind.entity(tenant_id=principal.tenant_id, external_key=external_key, **values)
        session.add(entity)
        await session.flush()
        version = kind.version(
            tenant_id=principal.tenant_id,
            version_number=1,
            status="draft",
            author_id=principal.user_id,
            contributor_ids=[principal.user_id],
            **{kind.parent: entity.id},
            **{
                k: v
                for k, v in _jsonable(version_fields).items()
                if k in kind.version_fields and v is not None
            },
        )
        session.add(version)
        await session.flush()
        await self._history(session, principal, kind, version, "create", None)
        await audit.record(
            session,
            principal,
            f"{kind.name}.create",
            kind.name,
            entity.id,
            {"title": entity.title, "versionId": str(version.id)},
        )
        await session.refresh(entity)
        await session.refresh(version)
        return entity, version

    async def create_version(
        self,
        principal: Principal,
        kind: Kind[E, V],
        entity_id: uuid.UUID,
        based_on: uuid.UUID | None,
        fields: dict[str, Any],
    ) -> V:
        session = self.session
        entity = await self._own_entity(session, principal, kind, entity_id, lock=True)
        parent = getattr(kind.version, kind.parent)
        versions = list(
            (
                await session.scalars(
                    select(kind.version).where(parent == entity.id).order_by(kind.version.version_number)
                )
            ).all()
        )
        source = next((v for v in versions if v.id == based_on), None) if based_on else versions[-1]
        if source is None:
            raise errors.Invalid(
                "content.unknown_base_version",
                "Die Ausgangsfassung gehört nicht zu diesem Eintrag.",
                errors=[{"field": "basedOnVersionId", "message": "unbekannte Fassung"}],
            )
        await _require_style(session, fields)
        copied = {f: getattr(source, f) for f in kind.version_fields}
        copied.update(
            {k: v for k, v in _jsonable(fields).items() if k in kind.version_fields and v is not None}
        )
        inherited = contributors(source) if source.status in UNREVIEWED else []
        version = kind.version(
            tenant_id=principal.tenant_id,
            version_number=versions[-1].version_number + 1,
            status="draft",
            author_id=principal.user_id,
            contributor_ids=contributors_with([principal.user_id], inherited),
            **{kind.parent: entity.id},
            **copied,
        )
        session.add(version)
        await session.flush()
        await self._history(session, principal, kind, version, "create", None)
        await audit.record(
            session,
            principal,
            f"{kind.name}.version_create",
            kind.name,
            entity.id,
            {
                "versionId": str(version.id),
                "versionNumber": version.version_number,
                "basedOn": str(source.id),
            },
        )
        await session.refresh(version)
        return version

    async def update_version(
        self,
        principal: Principal,
        kind: Kind[E, V],
        entity_id: uuid.UUID,
        version_id: uuid.UUID,
        fields: dict[str, Any],
    ) -> V:
        session = self.session
        version = await self._own_version(session, principal, kind, entity_id, version_id)
        if version.status != "draft":
            raise errors.Conflict(
                "content.version_not_draft",
                f"Nur Entwürfe können bearbeitet werden "
                f"(Status der Fassung: „{labels.version_status(version.status)}“).",
                extra={"currentStatus": version.status},
            )
        await _require_style(session, fields)
        changed = sorted(k for k in fields if k in kind.version_fields)
        for key, value in _jsonable(fields).items():
            if key in kind.version_fields:
                setattr(version, key, value)
        version.updated_at = datetime.now(UTC)
        if changed and principal.user_id not in contributors(version):
            # co-authoring is allowed; the co-author can no longer review this version
            version.contributor_ids = contributors_with(contributors(version), [principal.user_id])
            await self._history(session, principal, kind, version, "edit", "draft")
        await audit.record(
            session,
            principal,
            f"{kind.name}.update",
            kind.name,
            entity_id,
            {"versionId": str(version.id), "fields": changed},
        )
        await session.flush()
        await session.refresh(version)
        return version

    # -- gates -------------------------------------------------------------------------------

    async def gate_results(
        self, principal: Principal, kind: Kind[E, V], entity_id: uuid.UUID, version_id: uuid.UUID
    ) -> list[gates.GateResult]:
        session = self.session
        version = await session.get(kind.version, version_id)
        if version is None or getattr(version, kind.parent) != entity_id:
            raise version_not_found(kind)
        return await self._gates(session, kind, version)

    async def _gates(self, session: AsyncSession, kind: Kind[E, V], version: V) -> list[gates.GateResult]:
        if isinstance(version, ClauseVersion):
            clause = await session.get(Clause, version.clause_id)
            assert clause is not None
            known = {row.id: row.title for row in await session.execute(select(Clause.id, Clause.title))}
            published = await session.execute(
                select(ClauseVersion.clause_id, ClauseVersion.rules).where(
                    ClauseVersion.status == "published", ClauseVersion.clause_id != clause.id
                )
            )
            requires: dict[uuid.UUID, set[uuid.UUID]] = {}
            for clause_id, rules in published:
                for rule in RULES.validate_python(rules or []):
                    if rule.type == "requires":
                        requires.setdefault(clause_id, set()).update(rule.target_clause_ids)
            return gates.clause_gates(
                clause_id=clause.id,
                title=clause.title,
                content=version.content or "",
                parameters=PARAMETERS.validate_python(version.parameters or {}),
                rules=RULES.validate_python(version.rules or []),
                known=known,
                published_requires=requires,
            )
        assert isinstance(version, TemplateVersion)
        structure = Structure.model_validate(version.structure or {})
        interview = QUESTIONS.validate_python(version.interview or [])
        ids = {c for slot in structure.slots() for c in slot.clause_ids()}
        infos: dict[uuid.UUID, gates.ClauseInfo] = {}
        if ids:
            rows = await session.execute(
                select(Clause.id, Clause.title, ClauseVersion.parameters, ClauseVersion.rules)
                .outerjoin(ClauseVersion, ClauseVersion.id == Clause.current_published_version_id)
                .where(any_of(Clause.id, ids))
            )
            for clause_id, title, parameters, rules in rows:
                has_published = parameters is not None  # outer join: NULL without a published version
                infos[clause_id] = gates.ClauseInfo(
                    clause_id,
                    title,
                    PARAMETERS.validate_python(parameters) if has_published else None,
                    RULES.validate_python(rules or []),
                )
        return gates.template_gates(structure=structure, interview=interview, clauses=infos)

    async def _require_gates(self, session: AsyncSession, kind: Kind[E, V], version: V) -> None:
        results = await self._gates(session, kind, version)
        failing = gates.failed(results)
        if failing:
            raise errors.GateFailed(
                "content.gates_failed",
                "Die Veröffentlichungsprüfungen sind nicht bestanden.",
                errors=[{"field": f["gate"], "message": m} for f in failing for m in f["messages"]],
                extra={"gates": failing},
            )

    # -- workflow ----------------------------------------------------------------------------

    async def submit(
        self,
        principal: Principal,
        kind: Kind[E, V],
        entity_id: uuid.UUID,
        version_id: uuid.UUID,
        reviewer_id: uuid.UUID,
    ) -> V:
        session = self.session
        version = await self._own_version(session, principal, kind, entity_id, version_id)
        if version.status != "draft":
            raise wrong_status(version, "submit", "draft")
        reviewer = await UserRepository(session).ref(reviewer_id)
        if reviewer is None or reviewer.status != "active" or reviewer.role not in ("editor", "admin"):
            raise errors.Invalid(
                "content.invalid_reviewer",
                "Prüfer muss ein aktiver Redakteur oder Admin sein.",
                errors=[{"field": "reviewerId", "message": "kein geeigneter Prüfer"}],
            )
        if reviewer.id == version.author_id:
            raise four_eyes("Autor und Prüfer müssen verschiedene Personen sein.")
        if reviewer.id in contributors(version):
            raise four_eyes("Der Prüfer hat diese Fassung mitbearbeitet und darf sie nicht prüfen.")
        await self._require_gates(session, kind, version)
        version.status, version.reviewer_id = "review", reviewer.id
        return await self._step(
            principal, kind, entity_id, version, "submit", "draft", {"reviewerId": str(reviewer.id)}
        )

    def _may_review(self, principal: Principal, version: V) -> None:
        if principal.user_id == version.author_id:
            raise errors.Forbidden(
                "content.own_version", "Eigene Fassungen dürfen nicht selbst geprüft werden."
            )
        if principal.user_id in contributors(version):
            raise four_eyes("Wer eine Fassung mitbearbeitet hat, darf sie nicht prüfen.")
        if principal.user_id != version.reviewer_id and principal.role != "admin":
            raise errors.Forbidden(
                "content.not_reviewer", "Nur der zugewiesene Prüfer (oder ein Admin) entscheidet."
            )

    async def approve(
        self, principal: Principal, kind: Kind[E, V], entity_id: uuid.UUID, version_id: uuid.UUID
    ) -> V:
        session = self.session
        version = await self._own_version(session, principal, kind, entity_id, version_id)
        if version.status != "review":
            raise wrong_status(version, "approve", "review")
        self._may_review(principal, version)
        version.status = "approved"
        return await self._step(principal, kind, entity_id, version, "approve", "review")

    async def send_back(
        self,
        principal: Principal,
        kind: Kind[E, V],
        entity_id: uuid.UUID,
        version_id: uuid.UUID,
        action: str,
        comment: str,
    ) -> V:
        """``reject`` or ``request_changes``: back to draft, with a mandatory comment."""
        if not comment.strip():
            raise errors.Invalid(
                "content.comment_required",
                "Bitte begründen Sie die Entscheidung.",
                errors=[{"field": "comment", "message": "Ein Kommentar ist erforderlich."}],
            )
        session = self.session
        version = await self._own_version(session, principal, kind, entity_id, version_id)
        if version.status != "review":
            raise wrong_status(version, action, "review")
        self._may_review(principal, version)
        version.status = "draft"
        note = comment.strip()
        return await self._step(
            principal, kind, entity_id, version, action, "review", {"comment": note}, note
        )

    async def publish(
        self,
        principal: Principal,
        kind: Kind[E, V],
        entity_id: uuid.UUID,
        version_id: uuid.UUID,
        *,
        skip_review: bool = False,
    ) -> V:
        session = self.session
        entity = await self._own_entity(session, principal, kind, entity_id, lock=True)
        version = await self._own_version(session, principal, kind, entity_id, version_id)
        allowed = ("approved", "draft") if skip_review else ("approved",)
        if version.status not in allowed:
            raise wrong_status(version, "publish", "approved")
        if version.status == "approved":
            await self._approved_by_other(session, version)
        await self._require_gates(session, kind, version)
        now = datetime.now(UTC)
        previous_status = version.status
        if entity.current_published_version_id and entity.current_published_version_id != version.id:
            previous = await session.get(
                kind.version, entity.current_published_version_id, with_for_update=True
            )
            if previous is not None and previous.status == "published":
                previous.status = "deprecated"
                await self._history(
                    session,
                    principal,
                    kind,
                    previous,
                    "deprecate",
                    "published",
                    f"abgelöst durch Fassung {version.version_number}",
                )
                await audit.record(
                    session,
                    principal,
                    f"{kind.name}.deprecate",
                    kind.name,
                    entity_id,
                    {"versionId": str(previous.id), "supersededBy": str(version.id)},
                )
        version.status, version.published_at = "published", now
        entity.current_published_version_id = version.id
        details: dict[str, Any] = {"versionNumber": version.version_number}
        if previous_status == "draft":
            details["withoutReview"] = True
        return await self._step(principal, kind, entity_id, version, "publish", previous_status, details)

    @staticmethod
    async def _approved_by_other(session: AsyncSession, version: V) -> None:
        """Check the approval again at publish: its approver must not be a contributor.

        Contributors cannot change after submit, so this refuses only approvals given
        before contributors were tracked (backfilled from the audit log by 0008).
        """
        approver = await session.scalar(
            select(ContentReview.actor_id)
            .where(ContentReview.version_id == version.id, ContentReview.action == "approve")
            .order_by(ContentReview.created_at.desc())
            .limit(1)
        )
        if approver is not None and approver in contributors(version):
            raise four_eyes(
                "Die Freigabe stammt von einem Bearbeiter dieser Fassung; sie kann nicht veröffentlicht werden."
            )

    async def deprecate(
        self, principal: Principal, kind: Kind[E, V], entity_id: uuid.UUID, version_id: uuid.UUID
    ) -> V:
        session = self.session
        entity = await self._own_entity(session, principal, kind, entity_id, lock=True)
        version = await self._own_version(session, principal, kind, entity_id, version_id)
        if version.status != "published":
            raise wrong_status(version, "deprecate", "published")
        version.status = "deprecated"
        if entity.current_published_version_id == version.id:
            entity.current_published_version_id = None
        return await self._step(principal, kind, entity_id, version, "deprecate", "published")

    # -- history -----------------------------------------------------------------------------

    async def reviews(
        self, principal: Principal, kind: Kind[E, V], entity_id: uuid.UUID, version_id: uuid.UUID
    ) -> list[ContentReview]:
        session = self.session
        version = await session.get(kind.version, version_id)
        if (
            version is None
            or version.tenant_id != principal.tenant_id
            or getattr(version, kind.parent) != entity_id
        ):
            raise version_not_found(kind)
        return list(
            (
                await session.scalars(
                    select(ContentReview)
                    .where(ContentReview.version_id == version.id)
                    .order_by(ContentReview.created_at)
                )
            ).all()
        )

    async def changelog(
        self, principal: Principal, kind: Kind[E, V], entity_id: uuid.UUID
    ) -> list[tuple[V, list[ContentReview], list[tuple[uuid.UUID, str | None]]]]:
        """Versions (newest first), each with its history and its contributors (id, display name)."""
        session = self.session
        await self._own_entity(session, principal, kind, entity_id)
        parent = getattr(kind.version, kind.parent)
        versions = (
            await session.scalars(
                select(kind.version).where(parent == entity_id).order_by(kind.version.version_number.desc())
            )
        ).all()
        history = (
            await session.scalars(
                select(ContentReview)
                .where(ContentReview.entity_id == entity_id)
                .order_by(ContentReview.created_at)
            )
        ).all()
        ids = {i for v in versions for i in contributors(v)}
        names = await UserRepository(session).display_names(ids)
        return [
            (v, [h for h in history if h.version_id == v.id], [(i, names.get(i)) for i in contributors(v)])
            for v in versions
        ]

    async def feed(self, principal: Principal, page: int, page_size: int) -> tuple[list[ContentReview], int]:
        # id breaks ties (one transaction's steps share created_at): a total order, so deep pages
        # read from the other end (paginate) are the same rows
        query = select(ContentReview).order_by(ContentReview.created_at.desc(), ContentReview.id)
        return await paginate(self.session, query, page, page_size)

    async def review_queue(self, principal: Principal) -> list[dict[str, Any]]:
        items = [
            *await self._awaiting_review(principal, CLAUSES),
            *await self._awaiting_review(principal, TEMPLATES),
        ]
        return sorted(items, key=lambda i: i["submitted_at"] or datetime.min.replace(tzinfo=UTC))

    async def reviewers(
        self, principal: Principal, version_id: uuid.UUID | None, page: int, page_size: int
    ) -> tuple[list[Colleague], int]:
        """Colleagues the caller may name reviewer: active editors and admins, not the caller.

        With ``version_id`` (a clause or template version of the own tenant, else 404) the
        version's contributors are left out too, as submit would refuse them (four eyes).
        """
        exclude = {principal.user_id}
        if version_id is not None:
            version: Version | None = None
            for kind in (CLAUSES, TEMPLATES):
                version = await self.session.get(kind.version, version_id)
                if version is not None:
                    break
            if version is None or version.tenant_id != principal.tenant_id:
                raise errors.NotFound("content.version_not_found", "Die Fassung wurde nicht gefunden.")
            exclude.update(contributors(version))
        return await UserRepository(self.session).reviewers(exclude, page, page_size)

    async def _awaiting_review(self, principal: Principal, kind: Kind[E, V]) -> list[dict[str, Any]]:
        parent = getattr(kind.version, kind.parent)
        submitted = (
            select(func.max(ContentReview.created_at))
            .where(ContentReview.version_id == kind.version.id, ContentReview.action == "submit")
            .scalar_subquery()
        )
        rows = await self.session.execute(
            select(kind.version, kind.entity.title, submitted)
            .join(kind.entity, kind.entity.id == parent)
            .where(kind.version.status == "review", kind.version.reviewer_id == principal.user_id)
        )
        return [
            {
                "kind": kind.name,
                "entity_id": getattr(version, kind.parent),
                "title": title,
                "version_id": version.id,
                "version_number": version.version_number,
                "author_id": version.author_id,
                "submitted_at": submitted_at,
            }
            for version, title, submitted_at in rows
        ]


async def rule_graph(
    session: AsyncSession, principal: Principal, template_id: uuid.UUID, version_id: uuid.UUID | None = None
) -> dict[str, Any]:
    """Nodes (the template's clauses, with their slots) and typed rule edges, for the editor.

    Uses the given template version, else its latest; each clause contributes the
    rules of its current published version, else of its latest version.
    """
    template = await session.get(Template, template_id)
    if template is None:
        raise not_found(TEMPLATES)
    query = select(TemplateVersion).where(TemplateVersion.template_id == template.id)
    query = query.where(TemplateVersion.id == version_id) if version_id else query
    version = await session.scalar(query.order_by(TemplateVersion.version_number.desc()).limit(1))
    if version is None:
        raise version_not_found(TEMPLATES)
    structure = Structure.model_validate(version.structure or {})
    slot_of = {c: (slot.id, slot.type) for slot in structure.slots() for c in slot.clause_ids()}
    clauses = {
        c.id: c for c in (await session.scalars(select(Clause).where(any_of(Clause.id, slot_of)))).all()
    }
    latest = await ContentService._latest_versions(session, CLAUSES, list(clauses))
    published_ids = [
        c.current_published_version_id for c in clauses.values() if c.current_published_version_id
    ]
    published = {
        v.clause_id: v
        for v in (
            await session.scalars(select(ClauseVersion).where(any_of(ClauseVersion.id, published_ids)))
        ).all()
    }
    nodes, edges = [], []
    for clause_id, (slot_id, slot_type) in slot_of.items():
        clause = clauses.get(clause_id)
        source = published.get(clause_id) or latest.get(clause_id)
        rules = RULES.validate_python(source.rules or []) if source is not None else []
        nodes.append(
            {
                "id": clause_id,
                "title": clause.title if clause else "?",
                "slotId": slot_id,
                "slotType": slot_type,
                "versionId": source.id if source else None,
                "published": clause_id in published,
                "scopedTo": sorted({j for r in rules if r.type == "scoped_to" for j in r.jurisdictions}),
                "requiresAnswer": [
                    r.condition.model_dump(by_alias=True) for r in rules if r.type == "requires_answer"
                ],
            }
        )
        for rule in rules:
            for target in getattr(rule, "target_clause_ids", []):
                edges.append(
                    {
                        "source": clause_id,
                        "target": target,
                        "type": rule.type,
                        "severity": rule.severity,
                        "message": rule.message,
                        "targetInTemplate": target in slot_of,
                    }
                )
    return {"templateId": template_id, "versionId": version.id, "nodes": nodes, "edges": edges}

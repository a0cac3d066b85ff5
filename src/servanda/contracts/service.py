"""Contracts: creation with version pinning, the interview (autosave), validation, preview, completion.

Every read and write evaluates the contract with the pure engine
(``engine.evaluate.evaluate_contract``) from its pins and its snapshot, so the
API, the live preview and (later) the export all see the same document.
Autosave is all-or-nothing: one invalid answer or slot choice is 422 naming
it, and nothing is saved.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from servanda.audit import repository as audit
from servanda.content import published
from servanda.contracts import permissions, repository
from servanda.contracts.models import ContractInstance
from servanda.contracts.pins import Pins, load_pins, resolve_pins
from servanda.engine import assembly, html, interview, rules
from servanda.engine.document import DocumentMeta, Pin
from servanda.engine.evaluate import ClauseVersion, ContractEvaluation, evaluate_contract
from servanda.engine.shapes import Parameter, Question, Rule, Structure
from servanda.identity.principal import Principal
from servanda.platform import errors
from servanda.platform.paging import paginate
from servanda.tenants.repository import TenantRepository

RULES = TypeAdapter(list[Rule])
PARAMETERS = TypeAdapter(dict[str, Parameter])
QUESTIONS = TypeAdapter(list[Question])


def not_found() -> errors.NotFound:
    return errors.NotFound("contract.not_found", "Der Vertrag wurde nicht gefunden.")


@dataclass(frozen=True)
class Evaluated:
    contract: ContractInstance
    pins: Pins
    questions: list[Question]
    structure: Structure
    evaluation: ContractEvaluation
    latest_template_version: tuple[uuid.UUID, int] | None  # current published version of the template


def _engine_inputs(pins: Pins) -> tuple[Structure, list[Question], dict[uuid.UUID, ClauseVersion]]:
    key = (pins.template_version.id, tuple(p.version.id for p in pins.clauses.values()))
    cached = _PARSED.get(key)
    if cached is None or pins.template_version.status == "draft":
        cached = _parse(pins)
        if pins.template_version.status != "draft":
            if len(_PARSED) >= _PARSED_MAX:
                _PARSED.pop(next(iter(_PARSED)))
            _PARSED[key] = cached
    return cached


# Pinned (published or deprecated) versions never change, so their parsed form is
# cached per process, keyed by the exact version ids (a bounded, insertion-ordered cache).
_PARSED: dict[
    tuple[uuid.UUID, tuple[uuid.UUID, ...]], tuple[Structure, list[Question], dict[uuid.UUID, ClauseVersion]]
] = {}
_PARSED_MAX = 512


def _parse(pins: Pins) -> tuple[Structure, list[Question], dict[uuid.UUID, ClauseVersion]]:
    structure = Structure.model_validate(pins.template_version.structure or {})
    questions = QUESTIONS.validate_python(pins.template_version.interview or [])
    clauses = {
        cid: ClauseVersion(
            cid,
            p.title,
            p.version.content or "",
            PARAMETERS.validate_python(p.version.parameters or {}),
            RULES.validate_python(p.version.rules or []),
            p.version.heading,
        )
        for cid, p in pins.clauses.items()
    }
    return structure, questions, clauses


def _evaluate(
    contract: ContractInstance,
    pins: Pins,
    *,
    answers: dict[str, Any] | None = None,
    selected_slots: dict[str, Any] | None = None,
    dismissed: list[str] | None = None,
) -> tuple[Structure, list[Question], ContractEvaluation]:
    structure, questions, clauses = _engine_inputs(pins)
    meta = DocumentMeta(
        title=contract.title,
        client_reference=contract.client_reference,
        date=(contract.completed_at or contract.created_at or datetime.now(UTC)).date(),
        template_title=pins.template.title,
        template_version=pins.template_version.version_number,
        draft=contract.completed_at is None,
        template_version_id=pins.template_version.id,
        pins=tuple(
            Pin(cid, p.title, p.version.version_number, p.version.id) for cid, p in pins.clauses.items()
        ),
    )
    evaluation = evaluate_contract(
        structure,
        questions,
        clauses,
        contract.answers if answers is None else answers,
        contract.selected_slots if selected_slots is None else selected_slots,
        contract.jurisdiction,
        contract.dismissed_warnings if dismissed is None else dismissed,
        meta=meta,
    )
    return structure, questions, evaluation


def _store_validation(contract: ContractInstance, evaluation: ContractEvaluation) -> None:
    contract.validation_state = evaluation.validation_state
    contract.validation_messages = evaluation.validation.messages_json()


class ContractService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _load(
        self, session: AsyncSession, principal: Principal, contract_id: uuid.UUID, lock: bool = False
    ) -> tuple[ContractInstance, Pins]:
        contract = await repository.get_visible(session, principal, contract_id, lock=lock)
        if contract is None:
            raise not_found()
        return contract, await load_pins(
            session, contract.template_version_id, list(contract.clause_version_ids)
        )

    async def _evaluated(
        self,
        session: AsyncSession,
        contract: ContractInstance,
        pins: Pins,
        evaluation: ContractEvaluation | None = None,
    ) -> Evaluated:
        structure, questions, _ = _engine_inputs(pins)
        if evaluation is None:
            evaluation = _evaluate(contract, pins)[2]
        latest = None
        current = pins.template.current_published_version_id  # the template row loaded with the pins
        if current is not None:
            number = await published.version_number(session, current)
            latest = (current, number) if number is not None else None
        return Evaluated(contract, pins, questions, structure, evaluation, latest)

    # -- create ------------------------------------------------------------------------------

    async def create(
        self,
        principal: Principal,
        *,
        template_id: uuid.UUID,
        title: str,
        client_reference: str | None,
        tags: list[str],
        jurisdiction: str | None,
        visibility: str,
        team_id: uuid.UUID | None,
    ) -> Evaluated:
        session = self.session
        pins = await resolve_pins(session, template_id)
        await repository.require_team(session, principal, visibility, team_id)
        if jurisdiction is None:
            tenants = TenantRepository(session)
            jurisdiction = pins.template.jurisdiction or await tenants.default_jurisdiction(
                principal.tenant_id
            )
        contract = ContractInstance(
            tenant_id=principal.tenant_id,
            creator_id=principal.user_id,
            title=title.strip(),
            client_reference=client_reference,
            tags=tags,
            jurisdiction=jurisdiction,
            template_version_id=pins.template_version.id,
            clause_version_ids=pins.clause_version_ids,
            answers={},
            selected_slots={},
            dismissed_warnings=[],
            visibility=visibility,
            team_id=team_id if visibility == "team" else None,
        )
        _store_validation(contract, _evaluate(contract, pins)[2])  # before the INSERT: no second write
        session.add(contract)
        await session.flush()
        await session.refresh(contract)
        await audit.record(
            session,
            principal,
            "contract.create",
            "contract",
            contract.id,
            {
                "templateId": str(pins.template.id),
                "templateVersionId": str(pins.template_version.id),
                "clauseVersions": len(pins.clauses),
            },
        )
        await session.flush()
        return await self._evaluated(session, contract, pins)

    # -- read --------------------------------------------------------------------------------

    async def list_contracts(
        self,
        principal: Principal,
        *,
        status: str | None,
        q: str | None,
        template_id: uuid.UUID | None,
        mine: bool,
        page: int,
        page_size: int,
    ) -> tuple[list[ContractInstance], int]:
        session = self.session
        query = repository.visible(principal, select(ContractInstance))
        query = (
            query.where(ContractInstance.status == status)
            if status
            else query.where(ContractInstance.status != "archived")
        )
        if q:
            # a substring search: %, _ and the escape character in q are literal characters
            needle = q.lower()
            query = query.where(
                func.lower(ContractInstance.title).contains(needle, autoescape=True)
                | func.lower(func.coalesce(ContractInstance.client_reference, "")).contains(
                    needle, autoescape=True
                )
            )
        if mine:
            query = query.where(ContractInstance.creator_id == principal.user_id)
        if template_id:
            query = query.where(
                ContractInstance.template_version_id.in_(published.version_ids_of(template_id))
            )
        query = query.order_by(ContractInstance.updated_at.desc(), ContractInstance.id)
        return await paginate(session, query, page, page_size)

    async def get(self, principal: Principal, contract_id: uuid.UUID) -> Evaluated:
        session = self.session
        contract, pins = await self._load(session, principal, contract_id)
        return await self._evaluated(session, contract, pins)

    # -- autosave ----------------------------------------------------------------------------

    async def update(
        self, principal: Principal, contract_id: uuid.UUID, changes: dict[str, Any]
    ) -> Evaluated:
        session = self.session
        contract, pins = await self._load(session, principal, contract_id, lock=True)
        before: permissions.Sharing = (contract.visibility, contract.team_id)
        sharing = permissions.requested_sharing(before, changes)
        if sharing != before:  # who sees it: creator and admins only, checked before anything else
            permissions.require_manage(contract.creator_id, principal, kind="contract", action="share")
        snapshot_keys = {"answers", "selected_slots", "dismissed_warnings"}
        if contract.status != "draft" and (snapshot_keys & changes.keys() or contract.status == "archived"):
            raise errors.Conflict(
                "contract.not_draft",
                "Nur Entwürfe können bearbeitet werden.",
                extra={"status": contract.status},
            )
        structure, questions, _ = _engine_inputs(pins)
        invalid: list[dict[str, str]] = []
        answers = dict(contract.answers)
        if changes.get("answers") is not None:
            try:
                answers = interview.apply_answers(questions, contract.answers, changes["answers"])
            except interview.AnswersError as error:
                invalid += [
                    {
                        "field": f"answers.{e['question']}" if "question" in e else "answers",
                        "message": e.get("message", ""),
                    }
                    for e in error.as_json()
                ]
        selected = dict(contract.selected_slots)
        if changes.get("selected_slots") is not None:
            requested = {k: (str(v) if v is not None else None) for k, v in changes["selected_slots"].items()}
            try:
                assembly.validate_slot_choices(structure, requested)
                selected.update(requested)
            except assembly.SlotErrors as error:
                invalid += [
                    {
                        "field": f"selectedSlots.{e['slot']}" if "slot" in e else "selectedSlots",
                        "message": e.get("message", ""),
                    }
                    for e in error.as_json()
                ]
        if invalid:
            raise errors.Invalid(
                "contract.invalid_input",
                "Die Eingaben sind ungültig; nichts wurde gespeichert.",
                errors=invalid,
            )
        dismissals: list[str] | None = changes.get("dismissed_warnings")
        dismissed = (
            list(dict.fromkeys(dismissals)) if dismissals is not None else list(contract.dismissed_warnings)
        )
        _, _, evaluation = _evaluate(
            contract, pins, answers=answers, selected_slots=selected, dismissed=dismissed
        )
        if dismissals is not None:
            try:
                rules.check_dismissals(evaluation.validation, dismissals)
            except rules.DismissalErrors as error:
                raise errors.Invalid(
                    "contract.cannot_dismiss",
                    "Nur Warnungen können ausgeblendet werden.",
                    errors=[{"field": "dismissedWarnings", "message": e.message} for e in error.errors],
                ) from None
        if sharing != before:
            await repository.require_team(session, principal, sharing[0], sharing[1])
            contract.visibility, contract.team_id = sharing
            await audit.record(
                session,
                principal,
                "contract.visibility_change",
                "contract",
                contract.id,
                {"from": permissions.sharing_json(before), "to": permissions.sharing_json(sharing)},
            )
        for field in ("title", "client_reference", "tags"):
            if changes.get(field) is not None:
                setattr(contract, field, changes[field])
        if contract.status == "draft":
            contract.answers, contract.selected_slots, contract.dismissed_warnings = (
                answers,
                selected,
                dismissed,
            )
        contract.updated_at = datetime.now(UTC)
        if contract.status != "draft":  # metadata only: the snapshot (and its evaluation) stays
            evaluation = _evaluate(contract, pins)[2]
        _store_validation(contract, evaluation)
        await audit.record(
            session,
            principal,
            "contract.update",
            "contract",
            contract.id,
            {"fields": sorted(k for k, v in changes.items() if v is not None)},
        )
        await session.flush()
        await session.refresh(contract)
        return await self._evaluated(session, contract, pins, evaluation)

    async def preview(self, principal: Principal, contract_id: uuid.UUID) -> tuple[str, list[dict[str, Any]]]:
        evaluated = await self.get(principal, contract_id)
        document = evaluated.evaluation.document
        outline = [
            {"sectionId": e.section_id, "title": e.title, "headings": list(e.headings)}
            for e in document.outline()
        ]
        return html.render(document), outline

    # -- lifecycle ---------------------------------------------------------------------------

    async def complete(self, principal: Principal, contract_id: uuid.UUID) -> Evaluated:
        session = self.session
        contract, pins = await self._load(session, principal, contract_id, lock=True)
        if contract.status != "draft":
            raise errors.Conflict(
                "contract.not_draft",
                "Nur Entwürfe können abgeschlossen werden.",
                extra={"status": contract.status},
            )
        _, _, evaluation = _evaluate(contract, pins)
        problems = evaluation.completion_problems()
        if problems:
            conflicts = [p for p in problems if p.code == "hard_violation"]
            code = "contract.has_conflicts" if conflicts else "contract.incomplete"
            detail = (
                "Der Vertrag enthält Konflikte, die zuerst gelöst werden müssen."
                if conflicts
                else "Der Vertrag ist noch nicht vollständig."
            )
            raise errors.Conflict(code, detail, extra={"reasons": [p.as_json() for p in problems]})
        contract.status, contract.completed_at = "completed", datetime.now(UTC)
        _store_validation(contract, evaluation)
        await audit.record(session, principal, "contract.complete", "contract", contract.id)
        await session.flush()
        await session.refresh(contract)
        return await self._evaluated(session, contract, pins, evaluation)

    async def archive(self, principal: Principal, contract_id: uuid.UUID) -> Evaluated:
        session = self.session
        contract, pins = await self._load(session, principal, contract_id, lock=True)
        permissions.require_manage(contract.creator_id, principal, kind="contract", action="archive")
        if contract.status == "archived":
            raise errors.Conflict("contract.already_archived", "Der Vertrag ist bereits archiviert.")
        contract.status = "archived"
        await audit.record(session, principal, "contract.archive", "contract", contract.id)
        await session.flush()
        await session.refresh(contract)
        return await self._evaluated(session, contract, pins)

    async def delete(self, principal: Principal, contract_id: uuid.UUID) -> None:
        session = self.session
        contract, _ = await self._load(session, principal, contract_id, lock=True)
        permissions.require_manage(contract.creator_id, principal, kind="contract", action="delete")
        if contract.status != "draft":
            raise errors.Conflict(
                "contract.not_draft",
                "Nur Entwürfe können gelöscht werden.",
                extra={"status": contract.status},
            )
        await audit.record(
            session, principal, "contract.delete", "contract", contract.id, {"title": contract.title}
        )
        await session.delete(contract)


# -- version info, upgrade, derive -------------------------------------------------------------


def word_diff(old: str, new: str) -> list[dict[str, str]]:
    """A word-level diff of two clause texts: runs of equal, deleted and inserted words."""
    import difflib

    a, b = old.split(), new.split()
    ops: list[dict[str, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            ops.append({"op": "equal", "text": " ".join(a[i1:i2])})
        if tag in ("delete", "replace"):
            ops.append({"op": "delete", "text": " ".join(a[i1:i2])})
        if tag in ("insert", "replace"):
            ops.append({"op": "insert", "text": " ".join(b[j1:j2])})
    return ops


def carry_over(
    old_questions: list[Question],
    new_questions: list[Question],
    answers: dict[str, Any],
    old_structure: Structure,
    new_structure: Structure,
    selected: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Answers survive when the question key and type are unchanged; slot choices when still valid."""
    old_types = {q.key: q.type for q in old_questions}
    new_by_key = {q.key: q for q in new_questions}
    kept, dropped = {}, []
    for key, value in answers.items():
        question = new_by_key.get(key)
        if question is None or question.type != old_types.get(key):
            dropped.append(key)
            continue
        try:
            kept[key] = interview.validate_answer(question, value)
        except interview.AnswerError:
            dropped.append(key)
    slots_kept, slots_reset = {}, []
    for slot_id, choice in selected.items():
        try:
            assembly.validate_slot_choices(new_structure, {slot_id: choice})
            slots_kept[slot_id] = choice
        except assembly.SlotErrors:
            slots_reset.append(slot_id)
    del old_structure  # the old structure only explains; choices are judged against the new one
    return (
        kept,
        slots_kept,
        {
            "migratedAnswers": sorted(kept),
            "droppedAnswers": sorted(dropped),
            "resetSlots": sorted(slots_reset),
        },
    )


async def _upgrade_plan(
    session: AsyncSession, contract: ContractInstance, pins: Pins, target_version_id: uuid.UUID | None
) -> tuple[Pins, dict[str, Any], ContractInstance]:
    new_pins = await resolve_pins(session, pins.template.id)
    if target_version_id is not None and target_version_id != new_pins.template_version.id:
        raise errors.Conflict(
            "contract.invalid_upgrade_target",
            "Ein Wechsel ist nur auf die aktuell veröffentlichte Fassung der Vorlage möglich.",
        )
    old_structure, old_questions, _ = _engine_inputs(pins)
    new_structure, new_questions, _ = _engine_inputs(new_pins)
    answers, selected, report = carry_over(
        old_questions, new_questions, contract.answers, old_structure, new_structure, contract.selected_slots
    )
    old_clauses = {cid: p.version for cid, p in pins.clauses.items()}
    new_clauses = {cid: p.version for cid, p in new_pins.clauses.items()}
    titles = {
        **{c: p.title for c, p in pins.clauses.items()},
        **{c: p.title for c, p in new_pins.clauses.items()},
    }
    report.update(
        fromTemplateVersion=pins.template_version.version_number,
        toTemplateVersion=new_pins.template_version.version_number,
        addedClauses=[{"clauseId": str(c), "title": titles[c]} for c in new_clauses if c not in old_clauses],
        removedClauses=[
            {"clauseId": str(c), "title": titles[c]} for c in old_clauses if c not in new_clauses
        ],
        updatedClauses=[
            {
                "clauseId": str(c),
                "title": titles[c],
                "fromVersion": old_clauses[c].version_number,
                "toVersion": v.version_number,
                "diff": word_diff(old_clauses[c].content or "", v.content or ""),
            }
            for c, v in new_clauses.items()
            if c in old_clauses and old_clauses[c].id != v.id
        ],
    )
    upgraded = ContractInstance(
        id=contract.id,
        tenant_id=contract.tenant_id,
        creator_id=contract.creator_id,
        title=contract.title,
        client_reference=contract.client_reference,
        jurisdiction=contract.jurisdiction,
        template_version_id=new_pins.template_version.id,
        clause_version_ids=new_pins.clause_version_ids,
        answers=answers,
        selected_slots=selected,
        dismissed_warnings=list(contract.dismissed_warnings),
        created_at=contract.created_at,
    )
    _, _, before = _evaluate(contract, pins)
    _, _, after = _evaluate(upgraded, new_pins)
    known = {v.fingerprint for v in before.validation.violations}
    report["newViolations"] = [v.as_json() for v in after.validation.violations if v.fingerprint not in known]
    return new_pins, report, upgraded


class ContractLifecycle(ContractService):
    """Upgrade and derive: moving a contract's content onto the current published versions."""

    async def upgrade_preview(
        self, principal: Principal, contract_id: uuid.UUID, target: uuid.UUID | None
    ) -> dict[str, Any]:
        session = self.session
        contract, pins = await self._load(session, principal, contract_id)
        if contract.status != "draft":
            raise errors.Conflict("contract.not_draft", "Nur Entwürfe können aktualisiert werden.")
        _, report, _ = await _upgrade_plan(session, contract, pins, target)
        return report

    async def upgrade(
        self, principal: Principal, contract_id: uuid.UUID, target: uuid.UUID | None
    ) -> tuple[Evaluated, dict[str, Any]]:
        session = self.session
        contract, pins = await self._load(session, principal, contract_id, lock=True)
        if contract.status != "draft":
            raise errors.Conflict("contract.not_draft", "Nur Entwürfe können aktualisiert werden.")
        new_pins, report, upgraded = await _upgrade_plan(session, contract, pins, target)
        contract.template_version_id = upgraded.template_version_id
        contract.clause_version_ids = upgraded.clause_version_ids
        contract.answers, contract.selected_slots = upgraded.answers, upgraded.selected_slots
        contract.updated_at = datetime.now(UTC)
        _, _, evaluation = _evaluate(contract, new_pins)
        _store_validation(contract, evaluation)
        await audit.record(
            session,
            principal,
            "contract.version_upgrade",
            "contract",
            contract.id,
            {
                k: report[k]
                for k in ("fromTemplateVersion", "toTemplateVersion", "droppedAnswers", "resetSlots")
            },
        )
        await session.flush()
        await session.refresh(contract)
        return await self._evaluated(session, contract, new_pins), report

    async def derive(self, principal: Principal, contract_id: uuid.UUID) -> tuple[Evaluated, dict[str, Any]]:
        session = self.session
        source, pins = await self._load(session, principal, contract_id)
        new_pins, report, planned = await _upgrade_plan(session, source, pins, None)
        contract = ContractInstance(
            tenant_id=principal.tenant_id,
            creator_id=principal.user_id,
            title=f"{source.title} (abgeleitet)",
            client_reference=source.client_reference,
            tags=list(source.tags),
            jurisdiction=source.jurisdiction,
            template_version_id=new_pins.template_version.id,
            clause_version_ids=new_pins.clause_version_ids,
            answers=planned.answers,
            selected_slots=planned.selected_slots,
            dismissed_warnings=[],
            visibility="private",
            derived_from_id=source.id,
        )
        _store_validation(contract, _evaluate(contract, new_pins)[2])
        session.add(contract)
        await session.flush()
        await session.refresh(contract)
        await audit.record(
            session,
            principal,
            "contract.derive",
            "contract",
            contract.id,
            {"derivedFrom": str(source.id), "droppedAnswers": report["droppedAnswers"]},
        )
        await session.flush()
        return await self._evaluated(session, contract, new_pins), report

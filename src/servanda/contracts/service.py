"""Contracts: creation with version pinning, the interview (autosave), validation, preview, completion.

Every read and write evaluates the contract with the pure engine from its pins
and its snapshot (``evaluation``). Autosave is all-or-nothing: one invalid
answer or slot choice is 422 naming it, and nothing is saved. The service works
in the caller's session (the request's unit of work); it never commits.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from servanda.audit import repository as audit
from servanda.contracts import permissions, repository
from servanda.contracts.evaluation import Evaluated, engine_inputs, evaluate, evaluated, store_validation
from servanda.contracts.models import ContractInstance
from servanda.contracts.pins import Pins, resolve_pins
from servanda.contracts.versioning import require_version
from servanda.engine import assembly, html, interview, rules
from servanda.export.repository import discard_contract_exports
from servanda.identity.principal import Principal
from servanda.platform import errors, labels
from servanda.platform.storage import Storage
from servanda.tenants.repository import TenantRepository


async def add_contract(
    session: AsyncSession,
    principal: Principal,
    contract: ContractInstance,
    pins: Pins,
    action: str,
    details: dict[str, Any],
) -> Evaluated:
    """Insert a new contract on ``pins`` with its validation, audit ``action``, and evaluate it.

    The one way a contract comes into being (created, started from a law-firm template, derived).
    """
    store_validation(contract, evaluate(contract, pins))  # before the INSERT: no second write
    session.add(contract)
    await session.flush()
    await session.refresh(contract)
    await audit.record(session, principal, action, "contract", contract.id, details)
    await session.flush()
    return await evaluated(session, contract, pins)


class ContractService:
    """A contract's own life: create, read, autosave, preview, complete, archive, delete."""

    def __init__(self, session: AsyncSession, storage: Storage | None = None) -> None:
        self.session = session
        self.storage = storage  # only deleting a draft needs it (its export files go with it)

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
        pins = await resolve_pins(self.session, template_id)
        await repository.require_team(self.session, principal, visibility, team_id)
        if jurisdiction is None:
            tenants = TenantRepository(self.session)
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
        details = {
            "templateId": str(pins.template.id),
            "templateVersionId": str(pins.template_version.id),
            "clauseVersions": len(pins.clauses),
        }
        return await add_contract(self.session, principal, contract, pins, "contract.create", details)

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
        updated_from: date | None = None,
        updated_to: date | None = None,
    ) -> tuple[list[ContractInstance], int]:
        return await repository.list_contracts(
            self.session,
            principal,
            status=status,
            q=q,
            template_id=template_id,
            mine=mine,
            updated_from=updated_from,
            updated_to=updated_to,
            page=page,
            page_size=page_size,
        )

    async def get(self, principal: Principal, contract_id: uuid.UUID) -> Evaluated:
        contract, pins = await repository.contract_with_pins(self.session, principal, contract_id)
        return await evaluated(self.session, contract, pins)

    async def preview(self, principal: Principal, contract_id: uuid.UUID) -> tuple[str, list[dict[str, Any]]]:
        document = (await self.get(principal, contract_id)).evaluation.document
        outline = [
            {"sectionId": e.section_id, "title": e.title, "headings": list(e.headings)}
            for e in document.outline()
        ]
        return html.render(document), outline

    # -- autosave ----------------------------------------------------------------------------

    async def update(
        self,
        principal: Principal,
        contract_id: uuid.UUID,
        changes: dict[str, Any],
        *,
        if_match: frozenset[int] | None = None,
    ) -> Evaluated:
        """Autosave ``changes``; ``if_match``: the versions the caller accepts (412 otherwise)."""
        contract, pins = await repository.contract_with_pins(self.session, principal, contract_id, lock=True)
        require_version(contract, if_match)
        details = {"fields": sorted(k for k, v in changes.items() if v is not None)}
        return await self._save(principal, contract, pins, changes, "contract.update", details)

    async def apply_resolution(
        self,
        principal: Principal,
        contract_id: uuid.UUID,
        fingerprint: str,
        option_id: str,
        *,
        if_match: frozenset[int] | None = None,
    ) -> Evaluated:
        """Apply one resolution option the contract's validation offers now (by fingerprint and id).

        The option becomes the slot choice a client would PATCH (``add_clause`` and
        ``replace_clause`` choose the clause, ``remove_clause`` leaves the slot empty, the
        option of an ``answer_override`` drops the override, i.e. ``None``) and is saved
        like autosave: all-or-nothing, evaluated, audited (``contract.resolve``). Options
        that are not auto-applicable (choosing another alternative displaces the current
        one) are applied too: the user picked them explicitly.
        """
        contract, pins = await repository.contract_with_pins(self.session, principal, contract_id, lock=True)
        require_version(contract, if_match)
        if contract.status != "draft":
            raise errors.Conflict(
                "contract.not_draft",
                f"Nur Entwürfe können bearbeitet werden "
                f"(Status des Vertrags: „{labels.contract_status(contract.status)}“).",
                extra={"currentStatus": contract.status},
            )
        violations = evaluate(contract, pins).validation.violations
        violation = next((v for v in violations if v.fingerprint == fingerprint), None)
        if violation is None:
            raise _unknown_resolution("fingerprint", "Diesen Konflikt gibt es im Vertrag (nicht mehr).")
        option = next((o for o in violation.resolution_options if o.option_id == option_id), None)
        if option is None:
            raise _unknown_resolution("optionId", "Diese Lösung wird für den Konflikt nicht angeboten.")
        if option.action == "remove_clause" or violation.rule_type == "answer_override":
            choice = None
        else:
            choice = str(option.clause_id)
        details = {
            "fingerprint": fingerprint,
            "optionId": option_id,
            "ruleType": violation.rule_type,
            "selectedSlots": {option.slot_id: choice},
        }
        changes = {"selected_slots": {option.slot_id: choice}}
        return await self._save(principal, contract, pins, changes, "contract.resolve", details)

    async def _save(
        self,
        principal: Principal,
        contract: ContractInstance,
        pins: Pins,
        changes: dict[str, Any],
        action: str,
        details: dict[str, Any],
    ) -> Evaluated:
        """Autosave ``changes`` on the locked ``contract`` and audit them as ``action``."""
        session = self.session
        before: permissions.Sharing = (contract.visibility, contract.team_id)
        sharing = permissions.requested_sharing(before, changes)
        if sharing != before:  # who sees it: creator and admins only, checked before anything else
            permissions.require_manage(contract.creator_id, principal, kind="contract", action="share")
        snapshot_keys = {"answers", "selected_slots", "dismissed_warnings"}
        if contract.status != "draft" and (snapshot_keys & changes.keys() or contract.status == "archived"):
            raise errors.Conflict(
                "contract.not_draft",
                f"Nur Entwürfe können bearbeitet werden "
                f"(Status des Vertrags: „{labels.contract_status(contract.status)}“).",
                extra={"currentStatus": contract.status},
            )
        answers, selected = _validated_snapshot(contract, pins, changes)
        dismissals: list[str] | None = changes.get("dismissed_warnings")
        dismissed = (
            list(dict.fromkeys(dismissals)) if dismissals is not None else list(contract.dismissed_warnings)
        )
        evaluation = evaluate(contract, pins, answers=answers, selected_slots=selected, dismissed=dismissed)
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
            contract.answers, contract.selected_slots = answers, selected
            contract.dismissed_warnings = dismissed
        contract.updated_at = datetime.now(UTC)
        if contract.status != "draft":  # metadata only: the snapshot (and its evaluation) stays
            evaluation = evaluate(contract, pins)
        store_validation(contract, evaluation)
        await audit.record(session, principal, action, "contract", contract.id, details)
        await session.flush()  # the UPDATE returns the trigger's new version (eager_defaults)
        return await evaluated(session, contract, pins, evaluation)

    # -- complete, archive, delete -----------------------------------------------------------

    async def complete(
        self, principal: Principal, contract_id: uuid.UUID, *, if_match: frozenset[int] | None = None
    ) -> Evaluated:
        session = self.session
        contract, pins = await repository.contract_with_pins(session, principal, contract_id, lock=True)
        require_version(contract, if_match)
        if contract.status != "draft":
            raise errors.Conflict(
                "contract.not_draft",
                f"Nur Entwürfe können abgeschlossen werden "
                f"(Status des Vertrags: „{labels.contract_status(contract.status)}“).",
                extra={"currentStatus": contract.status},
            )
        evaluation = evaluate(contract, pins)
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
        store_validation(contract, evaluation)
        await audit.record(session, principal, "contract.complete", "contract", contract.id)
        await session.flush()
        await session.refresh(contract)
        return await evaluated(session, contract, pins, evaluation)

    async def archive(
        self, principal: Principal, contract_id: uuid.UUID, *, if_match: frozenset[int] | None = None
    ) -> Evaluated:
        session = self.session
        contract, pins = await repository.contract_with_pins(session, principal, contract_id, lock=True)
        require_version(contract, if_match)
        permissions.require_manage(contract.creator_id, principal, kind="contract", action="archive")
        if contract.status == "archived":
            raise errors.Conflict("contract.already_archived", "Der Vertrag ist bereits archiviert.")
        contract.status = "archived"
        await audit.record(session, principal, "contract.archive", "contract", contract.id)
        await session.flush()
        await session.refresh(contract)
        return await evaluated(session, contract, pins)

    async def delete(
        self, principal: Principal, contract_id: uuid.UUID, *, if_match: frozenset[int] | None = None
    ) -> None:
        session = self.session
        contract = await repository.contract(session, principal, contract_id, lock=True)  # no pins needed
        require_version(contract, if_match)
        permissions.require_manage(contract.creator_id, principal, kind="contract", action="delete")
        if contract.status != "draft":
            raise errors.Conflict(
                "contract.not_draft",
                f"Nur Entwürfe können gelöscht werden "
                f"(Status des Vertrags: „{labels.contract_status(contract.status)}“).",
                extra={"currentStatus": contract.status},
            )
        assert self.storage is not None, "deleting needs the storage (export files)"
        await discard_contract_exports(session, self.storage, contract.id)
        await audit.record(
            session, principal, "contract.delete", "contract", contract.id, {"title": contract.title}
        )
        await session.delete(contract)


def _unknown_resolution(field: str, message: str) -> errors.Invalid:
    return errors.Invalid(
        "contract.unknown_resolution",
        "Diese Lösung kann nicht angewendet werden; nichts wurde gespeichert.",
        errors=[{"field": field, "message": message}],
    )


def _validated_snapshot(
    contract: ContractInstance, pins: Pins, changes: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The answers and slot choices after ``changes``; 422 naming every invalid one (nothing is saved)."""
    inputs = engine_inputs(pins)
    invalid: list[dict[str, str]] = []
    answers = dict(contract.answers)
    if changes.get("answers") is not None:
        try:
            answers = interview.apply_answers(inputs.questions, contract.answers, changes["answers"])
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
            assembly.validate_slot_choices(inputs.structure, requested)
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
    return answers, selected

"""Upgrade and derive: moving a contract's content onto the current published versions.

The plan (which answers and slot choices survive, which clauses changed, which
violations are new) comes from the pure engine (``engine.upgrade``); this
service loads the pins, applies the plan and audits it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from servanda.audit import repository as audit
from servanda.contracts import repository
from servanda.contracts.evaluation import Evaluated, engine_inputs, evaluate, evaluated, store_validation
from servanda.contracts.models import ContractInstance
from servanda.contracts.pins import Pins, resolve_pins
from servanda.contracts.service import add_contract
from servanda.contracts.versioning import require_version
from servanda.engine import upgrade
from servanda.engine.evaluate import ContractEvaluation
from servanda.identity.principal import Principal
from servanda.platform import errors


@dataclass(frozen=True)
class UpgradePlan:
    pins: Pins  # the current published versions
    carried: upgrade.CarryOver
    report: dict[str, Any]  # the migration report
    after: ContractEvaluation  # the contract's evaluation on the new pins


def _clause_texts(pins: Pins) -> dict[uuid.UUID, upgrade.ClauseText]:
    return {
        cid: upgrade.ClauseText(p.title, p.version.id, p.version.version_number, p.version.content)
        for cid, p in pins.clauses.items()
    }


async def plan_upgrade(
    session: AsyncSession, contract: ContractInstance, pins: Pins, target_version_id: uuid.UUID | None
) -> UpgradePlan:
    """Move ``contract`` (on ``pins``) onto the template's current published versions, without writing."""
    new_pins = await resolve_pins(session, pins.template.id)
    if target_version_id is not None and target_version_id != new_pins.template_version.id:
        raise errors.Conflict(
            "contract.invalid_upgrade_target",
            "Ein Wechsel ist nur auf die aktuell veröffentlichte Fassung der Vorlage möglich.",
        )
    old, new = engine_inputs(pins), engine_inputs(new_pins)
    carried = upgrade.carry_over(
        old.questions, new.questions, new.structure, contract.answers, contract.selected_slots
    )
    before = evaluate(contract, pins)
    after = evaluate(contract, new_pins, answers=carried.answers, selected_slots=carried.selected_slots)
    report: dict[str, Any] = {
        **carried.report_json(),
        "fromTemplateVersion": pins.template_version.version_number,
        "toTemplateVersion": new_pins.template_version.version_number,
        **upgrade.clause_changes(_clause_texts(pins), _clause_texts(new_pins)),
        "newViolations": upgrade.new_violations(before.validation, after.validation),
    }
    return UpgradePlan(new_pins, carried, report, after)


class ContractLifecycle:
    """Upgrade a draft onto the current published versions, or derive a new draft from any contract."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upgrade_preview(
        self, principal: Principal, contract_id: uuid.UUID, target: uuid.UUID | None
    ) -> dict[str, Any]:
        contract, pins = await repository.contract_with_pins(self.session, principal, contract_id)
        _require_draft(contract)
        return (await plan_upgrade(self.session, contract, pins, target)).report

    async def upgrade(
        self,
        principal: Principal,
        contract_id: uuid.UUID,
        target: uuid.UUID | None,
        *,
        if_match: frozenset[int] | None = None,
    ) -> tuple[Evaluated, dict[str, Any]]:
        session = self.session
        contract, pins = await repository.contract_with_pins(session, principal, contract_id, lock=True)
        require_version(contract, if_match)
        _require_draft(contract)
        plan = await plan_upgrade(session, contract, pins, target)
        contract.template_version_id = plan.pins.template_version.id
        contract.clause_version_ids = plan.pins.clause_version_ids
        contract.answers, contract.selected_slots = plan.carried.answers, plan.carried.selected_slots
        contract.updated_at = datetime.now(UTC)
        store_validation(contract, plan.after)  # the plan evaluated exactly this snapshot on these pins
        audited = ("fromTemplateVersion", "toTemplateVersion", "droppedAnswers", "resetSlots")
        await audit.record(
            session,
            principal,
            "contract.version_upgrade",
            "contract",
            contract.id,
            {k: plan.report[k] for k in audited},
        )
        await session.flush()
        await session.refresh(contract)
        return await evaluated(session, contract, plan.pins, plan.after), plan.report

    async def derive(self, principal: Principal, contract_id: uuid.UUID) -> tuple[Evaluated, dict[str, Any]]:
        source, pins = await repository.contract_with_pins(self.session, principal, contract_id)
        plan = await plan_upgrade(self.session, source, pins, None)
        contract = ContractInstance(
            tenant_id=principal.tenant_id,
            creator_id=principal.user_id,
            title=f"{source.title} (abgeleitet)",
            client_reference=source.client_reference,
            tags=list(source.tags),
            jurisdiction=source.jurisdiction,
            template_version_id=plan.pins.template_version.id,
            clause_version_ids=plan.pins.clause_version_ids,
            answers=plan.carried.answers,
            selected_slots=plan.carried.selected_slots,
            dismissed_warnings=[],
            visibility="private",
            derived_from_id=source.id,
        )
        details = {"derivedFrom": str(source.id), "droppedAnswers": plan.report["droppedAnswers"]}
        derived = await add_contract(self.session, principal, contract, plan.pins, "contract.derive", details)
        return derived, plan.report


def _require_draft(contract: ContractInstance) -> None:
    if contract.status != "draft":
        raise errors.Conflict("contract.not_draft", "Nur Entwürfe können aktualisiert werden.")

"""Law-firm templates: a firm's pre-filled starting point on top of a pinned published template version.

Created from scratch (on a catalog template) or from a contract ("save as
template"); contracts started from one are pinned to its template version and
pre-filled with its answers and slot choices. Plan limits (starter 5, team 50,
pro and enterprise unlimited, ``tenants.plans``) answer 409 beyond the limit;
the count runs under a per-tenant lock, so parallel requests cannot overshoot.
Team members edit a team-visible template's content; only its creator and
admins delete it (``permissions``). Built from the module's public pieces
(``repository``, ``pins``, ``evaluation``, ``service.add_contract``) and the
engine's ``carry_over``; it inherits from no other service.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from servanda.audit import repository as audit
from servanda.contracts import permissions, repository
from servanda.contracts.evaluation import Evaluated, engine_inputs
from servanda.contracts.models import ContractInstance, LawFirmTemplate
from servanda.contracts.pins import Pins, resolve_pins, version_pins
from servanda.contracts.service import add_contract
from servanda.engine.upgrade import carry_over
from servanda.identity.principal import Principal
from servanda.platform import errors
from servanda.tenants import plans
from servanda.tenants.repository import TenantRepository


def _prefill(
    pins: Pins, answers: dict[str, Any], slots: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Pre-filled answers and slot choices, normalised; 422 naming every one the version rejects."""
    inputs = engine_inputs(pins)
    carried = carry_over(inputs.questions, inputs.questions, inputs.structure, answers, slots)
    if carried.dropped_answers or carried.reset_slots:
        invalid = [
            {"field": f"customAnswers.{k}", "message": "ungültige Antwort"}
            for k in sorted(carried.dropped_answers)
        ]
        invalid += [
            {"field": f"customSlotSelections.{k}", "message": "ungültige Auswahl"}
            for k in sorted(carried.reset_slots)
        ]
        raise errors.Invalid(
            "lawfirm_template.invalid_prefill", "Vorbelegte Antworten sind ungültig.", errors=invalid
        )
    return carried.answers, carried.selected_slots


class LawFirmTemplateService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _check_limit(self, principal: Principal) -> None:
        """Count under the tenant's limit lock (held until commit): parallel creations cannot overshoot."""
        plan = await TenantRepository(self.session).plan(principal.tenant_id)
        limit = plans.LIMITS[plan].lawfirm_templates
        if limit is not None:
            await plans.lock_counted_limit(self.session, principal.tenant_id, "lawfirm_templates")
            if await repository.count_lawfirm_templates(self.session) >= limit:
                raise errors.Conflict(
                    "lawfirm_template.plan_limit",
                    f"Ihr Tarif ({plan}) erlaubt höchstens {limit} Kanzleivorlagen.",
                )

    async def _add(self, principal: Principal, entity: LawFirmTemplate) -> LawFirmTemplate:
        self.session.add(entity)
        await self.session.flush()
        await self.session.refresh(entity)
        source = entity.source_contract_id
        await audit.record(
            self.session,
            principal,
            "lawfirm_template.create",
            "lawfirm_template",
            entity.id,
            {"fromContract": str(source) if source else None},
        )
        return entity

    async def create(
        self,
        principal: Principal,
        *,
        template_id: uuid.UUID,
        title: str,
        description: str = "",
        answers: dict[str, Any] | None = None,
        slots: dict[str, Any] | None = None,
        visibility: str = "private",
        team_id: uuid.UUID | None = None,
        tags: list[str] | None = None,
        status: str = "published",
    ) -> LawFirmTemplate:
        """A law-firm template on the catalog template's current published version."""
        await self._check_limit(principal)
        await repository.require_team(self.session, principal, visibility, team_id)
        pins = await resolve_pins(self.session, template_id)
        answers, slots = _prefill(pins, answers or {}, slots or {})
        entity = LawFirmTemplate(
            tenant_id=principal.tenant_id,
            title=title.strip(),
            description=description,
            source_template_version_id=pins.template_version.id,
            source_contract_id=None,
            custom_answers=answers,
            custom_slot_selections=slots,
            status=status,
            visibility=visibility,
            team_id=team_id if visibility == "team" else None,
            tags=tags or [],
            created_by=principal.user_id,
        )
        return await self._add(principal, entity)

    async def save_contract(
        self,
        principal: Principal,
        contract_id: uuid.UUID,
        *,
        title: str,
        description: str,
        visibility: str,
        team_id: uuid.UUID | None,
    ) -> LawFirmTemplate:
        """A law-firm template from a contract the principal sees: its version, answers and slot choices."""
        await self._check_limit(principal)
        await repository.require_team(self.session, principal, visibility, team_id)
        source = await repository.contract(self.session, principal, contract_id)
        entity = LawFirmTemplate(
            tenant_id=principal.tenant_id,
            title=title.strip(),
            description=description,
            source_template_version_id=source.template_version_id,
            source_contract_id=contract_id,
            custom_answers=dict(source.answers),
            custom_slot_selections=dict(source.selected_slots),
            status="published",
            visibility=visibility,
            team_id=team_id if visibility == "team" else None,
            tags=[],
            created_by=principal.user_id,
        )
        return await self._add(principal, entity)

    async def list_templates(
        self, principal: Principal, page: int, page_size: int
    ) -> tuple[list[LawFirmTemplate], int]:
        return await repository.list_lawfirm_templates(self.session, principal, page, page_size)

    async def get_template(self, principal: Principal, template_id: uuid.UUID) -> LawFirmTemplate:
        return await repository.lawfirm_template(self.session, principal, template_id)

    async def update_template(
        self, principal: Principal, template_id: uuid.UUID, changes: dict[str, Any]
    ) -> LawFirmTemplate:
        session = self.session
        entity = await repository.lawfirm_template(session, principal, template_id, lock=True)
        if "custom_answers" in changes or "custom_slot_selections" in changes:
            pins = await version_pins(session, entity.source_template_version_id, clauses=False)
            assert pins is not None
            answers, slots = _prefill(
                pins,
                changes.get("custom_answers", entity.custom_answers) or {},
                changes.get("custom_slot_selections", entity.custom_slot_selections) or {},
            )
            entity.custom_answers, entity.custom_slot_selections = answers, slots
        for field in ("title", "description", "status", "tags"):
            if changes.get(field) is not None:
                setattr(entity, field, changes[field])
        entity.updated_at = datetime.now(UTC)
        await audit.record(
            session,
            principal,
            "lawfirm_template.update",
            "lawfirm_template",
            entity.id,
            {"fields": sorted(changes)},
        )
        await session.flush()
        await session.refresh(entity)
        return entity

    async def delete_template(self, principal: Principal, template_id: uuid.UUID) -> None:
        entity = await repository.lawfirm_template(self.session, principal, template_id, lock=True)
        permissions.require_manage(entity.created_by, principal, kind="lawfirm_template", action="delete")
        await audit.record(
            self.session,
            principal,
            "lawfirm_template.delete",
            "lawfirm_template",
            entity.id,
            {"title": entity.title},
        )
        await self.session.delete(entity)

    async def start_contract(
        self,
        principal: Principal,
        lawfirm_template_id: uuid.UUID,
        *,
        title: str,
        client_reference: str | None,
        tags: list[str],
        jurisdiction: str | None,
        visibility: str,
        team_id: uuid.UUID | None,
    ) -> Evaluated:
        """A contract pinned to the law-firm template's version, pre-filled with its answers and choices."""
        entity = await repository.lawfirm_template(self.session, principal, lawfirm_template_id)
        if entity.status != "published":
            raise errors.Conflict(
                "lawfirm_template.not_published", "Die Kanzleivorlage ist noch ein Entwurf."
            )
        pins = await version_pins(self.session, entity.source_template_version_id, clauses=True)
        if pins is None:
            raise repository.template_not_found()
        await repository.require_team(self.session, principal, visibility, team_id)
        contract = ContractInstance(
            tenant_id=principal.tenant_id,
            creator_id=principal.user_id,
            title=title.strip(),
            client_reference=client_reference,
            tags=tags,
            jurisdiction=jurisdiction or pins.template.jurisdiction or "DE",
            template_version_id=pins.template_version.id,
            clause_version_ids=pins.clause_version_ids,
            answers=dict(entity.custom_answers),
            selected_slots=dict(entity.custom_slot_selections),
            dismissed_warnings=[],
            visibility=visibility,
            team_id=team_id if visibility == "team" else None,
            source_lawfirm_template_id=entity.id,
        )
        details = {"lawFirmTemplateId": str(entity.id), "templateVersionId": str(pins.template_version.id)}
        return await add_contract(self.session, principal, contract, pins, "contract.create", details)

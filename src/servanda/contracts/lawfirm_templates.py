"""Law-firm templates: a firm's pre-filled starting point on top of a pinned published template version.

Created from scratch (on a catalog template) or from a contract ("save as
template"); contracts started from one are pinned to its template version and
pre-filled with its answers and slot choices. Plan limits (starter 5, team 50,
pro and enterprise unlimited, ``tenants.plans``) answer 409 beyond the limit;
the count runs under a per-tenant lock, so parallel requests cannot overshoot.
Team members edit a team-visible template's content; only its creator and
admins delete it (``permissions``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from servanda.audit import repository as audit
from servanda.content import published
from servanda.contracts import permissions, repository
from servanda.contracts.models import ContractInstance, LawFirmTemplate
from servanda.contracts.pins import Pins, current_clauses, resolve_pins, slot_clause_ids
from servanda.contracts.service import (
    ContractService,
    Evaluated,
    _engine_inputs,
    _evaluate,
    _store_validation,
    carry_over,
)
from servanda.identity.principal import Principal
from servanda.identity.repository import TeamRepository
from servanda.platform import errors
from servanda.platform.paging import paginate
from servanda.tenants import plans
from servanda.tenants.repository import TenantRepository


def not_found() -> errors.NotFound:
    return errors.NotFound("lawfirm_template.not_found", "Die Kanzleivorlage wurde nicht gefunden.")


class LawFirmTemplateService(ContractService):
    async def _visible(
        self, session: AsyncSession, principal: Principal, template_id: uuid.UUID, lock: bool = False
    ) -> LawFirmTemplate:
        query = select(LawFirmTemplate).where(LawFirmTemplate.id == template_id)
        if principal.role != "admin":
            teams = TeamRepository.ids_of_member(principal.user_id)
            query = query.where(
                or_(
                    LawFirmTemplate.created_by == principal.user_id,
                    (LawFirmTemplate.visibility == "team") & LawFirmTemplate.team_id.in_(teams),
                )
            )
        found = await session.scalar(query.with_for_update() if lock else query)
        if found is None:
            raise not_found()
        return found

    async def _check_limit(self, session: AsyncSession, principal: Principal) -> None:
        """Count under the tenant's limit lock (held until commit): parallel creations cannot overshoot."""
        plan = await TenantRepository(session).plan(principal.tenant_id)
        limit = plans.LIMITS[plan].lawfirm_templates
        if limit is not None:
            await plans.lock_counted_limit(session, principal.tenant_id, "lawfirm_templates")
            count = await session.scalar(select(func.count()).select_from(LawFirmTemplate)) or 0
            if count >= limit:
                raise errors.Conflict(
                    "lawfirm_template.plan_limit",
                    f"Ihr Tarif ({plan}) erlaubt höchstens {limit} Kanzleivorlagen.",
                )

    @staticmethod
    def _prefill(
        pins: Pins, answers: dict[str, Any], slots: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        structure, questions, _ = _engine_inputs(pins)
        kept_answers, kept_slots, report = carry_over(
            questions, questions, answers, structure, structure, slots
        )
        if report["droppedAnswers"] or report["resetSlots"]:
            invalid = [
                {"field": f"customAnswers.{k}", "message": "ungültige Antwort"}
                for k in report["droppedAnswers"]
            ]
            invalid += [
                {"field": f"customSlotSelections.{k}", "message": "ungültige Auswahl"}
                for k in report["resetSlots"]
            ]
            raise errors.Invalid(
                "lawfirm_template.invalid_prefill", "Vorbelegte Antworten sind ungültig.", errors=invalid
            )
        return kept_answers, kept_slots

    async def create(
        self,
        principal: Principal,
        *,
        template_id: uuid.UUID | None = None,  # type: ignore[override]
        contract_id: uuid.UUID | None = None,
        title: str,
        description: str = "",
        answers: dict[str, Any] | None = None,
        slots: dict[str, Any] | None = None,
        visibility: str = "private",
        team_id: uuid.UUID | None = None,
        tags: list[str] | None = None,
        status: str = "published",
    ) -> LawFirmTemplate:
        session = self.session
        await self._check_limit(session, principal)
        await repository.require_team(session, principal, visibility, team_id)
        source_contract = None
        if contract_id is not None:
            source_contract = await repository.get_visible(session, principal, contract_id)
            if source_contract is None:
                raise errors.NotFound("contract.not_found", "Der Vertrag wurde nicht gefunden.")
            version_id = source_contract.template_version_id
            answers, slots = dict(source_contract.answers), dict(source_contract.selected_slots)
        else:
            assert template_id is not None
            pins = await resolve_pins(session, template_id)
            version_id = pins.template_version.id
            answers, slots = self._prefill(pins, answers or {}, slots or {})
        entity = LawFirmTemplate(
            tenant_id=principal.tenant_id,
            title=title.strip(),
            description=description,
            source_template_version_id=version_id,
            source_contract_id=contract_id,
            custom_answers=answers,
            custom_slot_selections=slots,
            status=status,
            visibility=visibility,
            team_id=team_id if visibility == "team" else None,
            tags=tags or [],
            created_by=principal.user_id,
        )
        session.add(entity)
        await session.flush()
        await session.refresh(entity)
        await audit.record(
            session,
            principal,
            "lawfirm_template.create",
            "lawfirm_template",
            entity.id,
            {"fromContract": str(contract_id) if contract_id else None},
        )
        return entity

    async def list_templates(
        self, principal: Principal, page: int, page_size: int
    ) -> tuple[list[LawFirmTemplate], int]:
        session = self.session
        query = select(LawFirmTemplate)
        if principal.role != "admin":
            teams = TeamRepository.ids_of_member(principal.user_id)
            query = query.where(
                or_(
                    LawFirmTemplate.created_by == principal.user_id,
                    (LawFirmTemplate.visibility == "team") & LawFirmTemplate.team_id.in_(teams),
                )
            )
        query = query.order_by(func.lower(LawFirmTemplate.title), LawFirmTemplate.id)
        return await paginate(session, query, page, page_size)

    async def get_template(self, principal: Principal, template_id: uuid.UUID) -> LawFirmTemplate:
        session = self.session
        return await self._visible(session, principal, template_id)

    async def update_template(
        self, principal: Principal, template_id: uuid.UUID, changes: dict[str, Any]
    ) -> LawFirmTemplate:
        session = self.session
        entity = await self._visible(session, principal, template_id, lock=True)
        if "custom_answers" in changes or "custom_slot_selections" in changes:
            version = await published.template_version(session, entity.source_template_version_id)
            assert version is not None
            template = await published.template(session, version.template_id)
            assert template is not None
            pins = Pins(template, version, {})
            answers, slots = self._prefill(
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
        session = self.session
        entity = await self._visible(session, principal, template_id, lock=True)
        permissions.require_manage(entity.created_by, principal, kind="lawfirm_template", action="delete")
        await audit.record(
            session,
            principal,
            "lawfirm_template.delete",
            "lawfirm_template",
            entity.id,
            {"title": entity.title},
        )
        await session.delete(entity)

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
        session = self.session
        entity = await self._visible(session, principal, lawfirm_template_id)
        if entity.status != "published":
            raise errors.Conflict(
                "lawfirm_template.not_published", "Die Kanzleivorlage ist noch ein Entwurf."
            )
        version = await published.template_version(session, entity.source_template_version_id)
        if version is None:
            raise not_found()
        template = await published.template(session, version.template_id)
        assert template is not None
        pins = Pins(template, version, await current_clauses(session, slot_clause_ids(version)))
        await repository.require_team(session, principal, visibility, team_id)
        contract = ContractInstance(
            tenant_id=principal.tenant_id,
            creator_id=principal.user_id,
            title=title.strip(),
            client_reference=client_reference,
            tags=tags,
            jurisdiction=jurisdiction or template.jurisdiction or "DE",
            template_version_id=version.id,
            clause_version_ids=pins.clause_version_ids,
            answers=dict(entity.custom_answers),
            selected_slots=dict(entity.custom_slot_selections),
            dismissed_warnings=[],
            visibility=visibility,
            team_id=team_id if visibility == "team" else None,
            source_lawfirm_template_id=entity.id,
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
            {"lawFirmTemplateId": str(entity.id), "templateVersionId": str(version.id)},
        )
        await session.flush()
        return await self._evaluated(session, contract, pins)

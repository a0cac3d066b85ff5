"""HTTP endpoints of the contracts module."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from servanda.contracts.lawfirm_templates import LawFirmTemplateService
from servanda.contracts.schemas import (
    ContractCreate,
    ContractPatch,
    ContractSummary,
    LawFirmTemplateCreate,
    LawFirmTemplateOut,
    LawFirmTemplatePatch,
    SaveAsTemplate,
)
from servanda.contracts.service import ContractLifecycle, Evaluated
from servanda.identity.dependencies import CurrentPrincipal, Permission, allow
from servanda.platform.api_models import ApiInput, Page
from servanda.platform.http import API_PREFIX, PageNumber, PageSize

router = APIRouter(prefix=f"{API_PREFIX}/contracts", tags=["contracts"])
USE = [allow(Permission.CONTRACTS_USE)]


def _service(request: Request) -> ContractLifecycle:
    return ContractLifecycle(request.app.state.db)


def contract_view(e: Evaluated) -> dict[str, Any]:
    """The full contract: snapshot, interview with visibility, slots with options, validation, version info."""
    c, evaluation = e.contract, e.evaluation
    titles = {cid: p.title for cid, p in e.pins.clauses.items()}
    states = {q.key: q for q in evaluation.interview.questions}
    deprecated = [str(p.version.id) for p in e.pins.clauses.values() if p.version.status == "deprecated"]
    if e.pins.template_version.status == "deprecated":
        deprecated.insert(0, str(e.pins.template_version.id))
    return {
        **ContractSummary.model_validate(c).model_dump(mode="json", by_alias=True),
        "answers": c.answers,
        # kept in the snapshot (they come back with their question) but not used: hidden or skipped
        "inactiveAnswers": [
            {"question": q.key, "text": q.question.text, "answer": q.answer}
            for q in evaluation.interview.inactive_answers()
        ],
        "selectedSlots": c.selected_slots,
        "dismissedWarnings": c.dismissed_warnings,
        "interview": [
            {
                **q.model_dump(mode="json", by_alias=True, exclude_none=True),
                "visible": states[q.key].visible,
                "required": states[q.key].required,
                "answer": states[q.key].answer,
                "inactive": states[q.key].inactive,
            }
            for q in e.questions
        ],
        "slots": [
            {**s.as_json(), "options": [{"clauseId": str(o), "title": titles.get(o, "")} for o in s.options]}
            for s in evaluation.assembly.slots
        ],
        "validation": {
            "validationState": evaluation.validation_state,
            "messages": evaluation.validation.messages_json(),
        },
        "progress": evaluation.progress,
        "completionProblems": [p.as_json() for p in evaluation.completion_problems()],
        "versionInfo": {
            "templateId": str(e.pins.template.id),
            "templateTitle": e.pins.template.title,
            "templateVersionId": str(e.pins.template_version.id),
            "templateVersionNumber": e.pins.template_version.version_number,
            "latestTemplateVersionId": str(e.latest_template_version[0])
            if e.latest_template_version
            else None,
            "newerVersionAvailable": bool(
                e.latest_template_version and e.latest_template_version[0] != e.pins.template_version.id
            ),
            "deprecatedPins": deprecated,
            # domain.md: a draft with a deprecated pin recommends the upgrade; completed ones keep their pins
            "warning": (
                "Dieser Entwurf verwendet zurückgezogene Fassungen. Bitte aktualisieren Sie auf die aktuelle Fassung."
                if deprecated and c.status == "draft"
                else None
            ),
            "clauseVersionIds": [str(v) for v in c.clause_version_ids],
        },
    }


@router.get("", dependencies=USE)
async def list_contracts(
    principal: CurrentPrincipal,
    request: Request,
    status: Literal["draft", "completed", "archived"] | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    template_id: Annotated[uuid.UUID | None, Query(alias="templateId")] = None,
    mine: bool = False,
    page: PageNumber = 1,
    page_size: PageSize = 25,
) -> Page[ContractSummary]:
    rows, total = await _service(request).list_contracts(principal, status=status, q=q, template_id=template_id,
                                                         mine=mine, page=page, page_size=page_size)  # fmt: skip
    return Page[ContractSummary](items=[ContractSummary.model_validate(c) for c in rows], total=total, page=page,
                                 page_size=page_size)  # fmt: skip


@router.post("", status_code=201, dependencies=USE)
async def create_contract(
    body: ContractCreate, principal: CurrentPrincipal, request: Request
) -> dict[str, Any]:
    if body.law_firm_template_id is not None:
        evaluated = await LawFirmTemplateService(request.app.state.db).start_contract(
            principal, body.law_firm_template_id, title=body.title, client_reference=body.client_reference,
            tags=body.tags, jurisdiction=body.jurisdiction, visibility=body.visibility, team_id=body.team_id,
        )  # fmt: skip
        return contract_view(evaluated)
    assert body.template_id is not None
    evaluated = await _service(request).create(
        principal, template_id=body.template_id, title=body.title, client_reference=body.client_reference,
        tags=body.tags, jurisdiction=body.jurisdiction, visibility=body.visibility, team_id=body.team_id,
    )  # fmt: skip
    return contract_view(evaluated)


@router.get("/{contract_id}", dependencies=USE)
async def get_contract(
    contract_id: uuid.UUID, principal: CurrentPrincipal, request: Request
) -> dict[str, Any]:
    return contract_view(await _service(request).get(principal, contract_id))


@router.patch("/{contract_id}", dependencies=USE)
async def update_contract(contract_id: uuid.UUID, body: ContractPatch, principal: CurrentPrincipal,
                          request: Request) -> dict[str, Any]:  # fmt: skip
    changes = body.model_dump(exclude_unset=True)
    return contract_view(await _service(request).update(principal, contract_id, changes))


@router.delete("/{contract_id}", status_code=204, dependencies=USE)
async def delete_contract(contract_id: uuid.UUID, principal: CurrentPrincipal, request: Request) -> Response:
    await _service(request).delete(principal, contract_id)
    return Response(status_code=204)


@router.post("/{contract_id}/validate", dependencies=USE)
async def validate_contract(
    contract_id: uuid.UUID, principal: CurrentPrincipal, request: Request
) -> dict[str, Any]:
    evaluation = (await _service(request).validate(principal, contract_id)).evaluation
    return {"validationState": evaluation.validation_state, "messages": evaluation.validation.messages_json()}


@router.get("/{contract_id}/preview", dependencies=USE)
async def preview_contract(
    contract_id: uuid.UUID, principal: CurrentPrincipal, request: Request
) -> dict[str, Any]:
    html, outline = await _service(request).preview(principal, contract_id)
    return {"html": html, "outline": outline}


@router.post("/{contract_id}/complete", dependencies=USE)
async def complete_contract(
    contract_id: uuid.UUID, principal: CurrentPrincipal, request: Request
) -> dict[str, Any]:
    return contract_view(await _service(request).complete(principal, contract_id))


@router.post("/{contract_id}/archive", dependencies=USE)
async def archive_contract(
    contract_id: uuid.UUID, principal: CurrentPrincipal, request: Request
) -> dict[str, Any]:
    return contract_view(await _service(request).archive(principal, contract_id))


@router.get("/{contract_id}/version-info", dependencies=USE)
async def contract_version_info(contract_id: uuid.UUID, principal: CurrentPrincipal,
                                request: Request) -> dict[str, Any]:  # fmt: skip
    view = contract_view(await _service(request).version_info(principal, contract_id))
    return dict(view["versionInfo"])


class UpgradeRequest(ApiInput):
    target_template_version_id: uuid.UUID | None = None


@router.get("/{contract_id}/upgrade-preview", dependencies=USE)
async def contract_upgrade_preview(
    contract_id: uuid.UUID,
    principal: CurrentPrincipal,
    request: Request,
    target: Annotated[uuid.UUID | None, Query(alias="targetTemplateVersionId")] = None,
) -> dict[str, Any]:
    return await _service(request).upgrade_preview(principal, contract_id, target)


@router.post("/{contract_id}/upgrade", dependencies=USE)
async def contract_upgrade(contract_id: uuid.UUID, body: UpgradeRequest, principal: CurrentPrincipal,
                           request: Request) -> dict[str, Any]:  # fmt: skip
    evaluated, report = await _service(request).upgrade(
        principal, contract_id, body.target_template_version_id
    )
    return {"contract": contract_view(evaluated), "migrationReport": report}


@router.post("/{contract_id}/derive", status_code=201, dependencies=USE)
async def contract_derive(
    contract_id: uuid.UUID, principal: CurrentPrincipal, request: Request
) -> dict[str, Any]:
    evaluated, report = await _service(request).derive(principal, contract_id)
    return {**contract_view(evaluated), "migrationReport": report}


@router.post(
    "/{contract_id}/save-as-template", status_code=201, dependencies=[allow(Permission.TEMPLATES_MANAGE)]
)
async def save_as_template(contract_id: uuid.UUID, body: SaveAsTemplate, principal: CurrentPrincipal,
                           request: Request) -> LawFirmTemplateOut:  # fmt: skip
    entity = await LawFirmTemplateService(request.app.state.db).create(
        principal, contract_id=contract_id, title=body.title, description=body.description,
        visibility=body.visibility, team_id=body.team_id,
    )  # fmt: skip
    return LawFirmTemplateOut.model_validate(entity)


# -- law-firm templates --------------------------------------------------------------------------

lawfirm_router = APIRouter(prefix=f"{API_PREFIX}/lawfirm-templates", tags=["lawfirm-templates"])
MANAGE = [allow(Permission.TEMPLATES_MANAGE)]


def _templates(request: Request) -> LawFirmTemplateService:
    return LawFirmTemplateService(request.app.state.db)


@lawfirm_router.get("", dependencies=MANAGE)
async def list_lawfirm_templates(principal: CurrentPrincipal, request: Request, page: PageNumber = 1,
                                 page_size: PageSize = 25) -> Page[LawFirmTemplateOut]:  # fmt: skip
    rows, total = await _templates(request).list_templates(principal, page, page_size)
    return Page[LawFirmTemplateOut](items=[LawFirmTemplateOut.model_validate(r) for r in rows], total=total,
                                    page=page, page_size=page_size)  # fmt: skip


@lawfirm_router.post("", status_code=201, dependencies=MANAGE)
async def create_lawfirm_template(body: LawFirmTemplateCreate, principal: CurrentPrincipal,
                                  request: Request) -> LawFirmTemplateOut:  # fmt: skip
    entity = await _templates(request).create(
        principal, template_id=body.template_id, title=body.title, description=body.description,
        answers=body.custom_answers, slots={k: str(v) if v else None for k, v in body.custom_slot_selections.items()},
        visibility=body.visibility, team_id=body.team_id, tags=body.tags, status=body.status,
    )  # fmt: skip
    return LawFirmTemplateOut.model_validate(entity)


@lawfirm_router.get("/{template_id}", dependencies=MANAGE)
async def get_lawfirm_template(template_id: uuid.UUID, principal: CurrentPrincipal,
                               request: Request) -> LawFirmTemplateOut:  # fmt: skip
    return LawFirmTemplateOut.model_validate(await _templates(request).get_template(principal, template_id))


@lawfirm_router.patch("/{template_id}", dependencies=MANAGE)
async def update_lawfirm_template(template_id: uuid.UUID, body: LawFirmTemplatePatch, principal: CurrentPrincipal,
                                  request: Request) -> LawFirmTemplateOut:  # fmt: skip
    changes = body.model_dump(exclude_unset=True)
    if changes.get("custom_slot_selections") is not None:
        changes["custom_slot_selections"] = {
            k: str(v) if v else None for k, v in changes["custom_slot_selections"].items()
        }
    return LawFirmTemplateOut.model_validate(
        await _templates(request).update_template(principal, template_id, changes)
    )


@lawfirm_router.delete("/{template_id}", status_code=204, dependencies=MANAGE)
async def delete_lawfirm_template(
    template_id: uuid.UUID, principal: CurrentPrincipal, request: Request
) -> Response:
    await _templates(request).delete_template(principal, template_id)
    return Response(status_code=204)

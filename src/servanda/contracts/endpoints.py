"""HTTP endpoints of the contracts module."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response

from servanda.contracts.evaluation import Evaluated, candidates
from servanda.contracts.lawfirm_templates import LawFirmTemplateService
from servanda.contracts.lifecycle import ContractLifecycle
from servanda.contracts.schemas import (
    ContractChange,
    ContractCreate,
    ContractPatch,
    ContractStatus,
    ContractSummary,
    ContractView,
    LawFirmTemplateCreate,
    LawFirmTemplateOut,
    LawFirmTemplatePatch,
    MigrationReport,
    OutlineEntryOut,
    Preview,
    ResolutionRequest,
    SaveAsTemplate,
    ValidationResult,
    VersionInfo,
)
from servanda.contracts.service import ContractService
from servanda.contracts.versioning import entity_tag, expected_versions
from servanda.identity.dependencies import CurrentPrincipal, Permission, allow
from servanda.platform.api_models import ApiInput, Page
from servanda.platform.http import API_PREFIX, AppStorage, PageNumber, PageSize, UnitOfWork, created
from servanda.platform.openapi import problems

router = APIRouter(prefix=f"{API_PREFIX}/contracts", tags=["contracts"])
USE = [allow(Permission.CONTRACTS_USE)]


async def _contracts(session: UnitOfWork, storage: AppStorage) -> ContractService:
    return ContractService(session, storage)


async def _lifecycle(session: UnitOfWork) -> ContractLifecycle:
    return ContractLifecycle(session)


async def _lawfirm_templates(session: UnitOfWork) -> LawFirmTemplateService:
    return LawFirmTemplateService(session)


# The request's services, on its unit of work (the session the principal was resolved in).
# Dependencies are async on purpose: FastAPI runs a plain ``def`` in the thread pool.
Contracts = Annotated[ContractService, Depends(_contracts)]
Lifecycle = Annotated[ContractLifecycle, Depends(_lifecycle)]
LawFirmTemplates = Annotated[LawFirmTemplateService, Depends(_lawfirm_templates)]


# Optimistic concurrency (contracts/versioning.py): answers that carry the contract view name its
# version in ``ETag``; the calls that change a contract accept ``If-Match`` and answer 412
# ``contract.modified_elsewhere`` (changing nothing) when it names an older version.
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The contract's `ETag` as last read: the change is made only if the contract is still "
        "in that version, else 412 `contract.modified_elsewhere`. Without it the change is made as before.",
    ),
]
ETAG_HEADER = {
    "ETag": {
        "description": "The contract's version as a strong entity tag; send it as `If-Match` with the next change.",
        "schema": {"type": "string"},
    }
}
MODIFIED_ELSEWHERE = problems(412, "contract.modified_elsewhere")


def with_etag(status: int = 200) -> dict[int | str, dict[str, Any]]:
    """The success answer's ``ETag`` header for the OpenAPI document (merged with its schema)."""
    return {status: {"description": "Success; `ETag` names the contract's version.", "headers": ETAG_HEADER}}


def tagged(response: Response, e: Evaluated) -> Evaluated:
    """Set the ``ETag`` of the contract ``e`` on ``response``."""
    response.headers["ETag"] = entity_tag(e.contract.version)
    return e


DEPRECATED_PINS_WARNING = (
    "Dieser Entwurf verwendet zurückgezogene Fassungen. Bitte aktualisieren Sie auf die aktuelle Fassung."
)


def contract_view(e: Evaluated) -> ContractView:
    """The full contract: snapshot, interview with visibility, slots with options, validation, version info.

    Built as plain data and validated once; engine results (violations, completion problems)
    are read from their attributes.
    """
    c, evaluation = e.contract, e.evaluation
    titles = {cid: p.title for cid, p in e.pins.clauses.items()}
    texts = candidates(e)  # each option's text with the current answers, from the loaded pins
    states = {q.key: q for q in evaluation.interview.questions}
    view: dict[str, Any] = {name: getattr(c, name) for name in ContractSummary.model_fields}
    view.update(
        answers=c.answers,
        # kept in the snapshot (they come back with their question) but not used: hidden or skipped
        inactive_answers=[
            {"question": q.key, "text": q.question.text, "answer": q.answer}
            for q in evaluation.interview.inactive_answers()
        ],
        selected_slots=c.selected_slots,
        dismissed_warnings=c.dismissed_warnings,
        interview=[
            {
                **dumped,
                "visible": states[q.key].visible,
                "required": states[q.key].required,
                "answer": states[q.key].answer,
                "inactive": states[q.key].inactive,
            }
            for q, dumped in zip(e.questions, e.question_json, strict=True)
        ],
        slots=[
            {
                "slot_id": s.slot_id,
                "section_id": s.section_id,
                "type": s.type,
                "clause_id": s.clause_id,
                "options": [
                    {
                        "clause_id": o,
                        "title": titles.get(o, ""),
                        "heading": texts[o][0] if o in texts else titles.get(o, ""),
                        "text": "\n\n".join(texts[o][1]) if o in texts else "",
                    }
                    for o in s.options
                ],
                "source": s.source,
                "editable": s.editable,
                "answers_clause_id": s.answer_clause_id,
                "overridden": s.overridden,
            }
            for s in evaluation.assembly.slots
        ],
        validation=_validation(e),
        progress=evaluation.progress,
        completion_problems=evaluation.completion_problems(),
        version_info=_version_info(e),
    )
    return ContractView.model_validate(view, from_attributes=True)


# How contract actions answer (complete, archive, derive, upgrade, resolutions, ...): the contract
# is always a ``ContractView``, the same body as GET /contracts/{id}. An action that only changes
# the contract answers the view itself (``contract_view``); an action that also reports what it
# did answers ``{contract, <report>}`` (``contract_change``: upgrade and derive with their
# migration report). The view is never flattened together with other members.
def contract_change(e: Evaluated, report: Any) -> ContractChange:
    """The answer of an action that moved a contract onto other versions: the view and the report."""
    return ContractChange(contract=contract_view(e), migration_report=MigrationReport.model_validate(report))


def contract_location(contract_id: uuid.UUID) -> str:
    """The URL of a contract (the ``Location`` of a 201)."""
    return f"{API_PREFIX}/contracts/{contract_id}"


def _version_info(e: Evaluated) -> dict[str, Any]:
    c, pins = e.contract, e.pins
    deprecated = [p.version.id for p in pins.clauses.values() if p.version.status == "deprecated"]
    if pins.template_version.status == "deprecated":
        deprecated.insert(0, pins.template_version.id)
    latest = e.latest_template_version[0] if e.latest_template_version else None
    return {
        "template_id": pins.template.id,
        "template_title": pins.template.title,
        "template_version_id": pins.template_version.id,
        "template_version_number": pins.template_version.version_number,
        "latest_template_version_id": latest,
        "newer_version_available": latest is not None and latest != pins.template_version.id,
        "deprecated_pins": deprecated,
        # domain.md: a draft with a deprecated pin recommends the upgrade; completed ones keep their pins
        "warning": DEPRECATED_PINS_WARNING if deprecated and c.status == "draft" else None,
        "clause_version_ids": c.clause_version_ids,
    }


def _validation(e: Evaluated) -> dict[str, Any]:
    evaluation = e.evaluation
    return {"validation_state": evaluation.validation_state, "messages": evaluation.validation.violations}


@router.get(
    "",
    dependencies=USE,
    summary="List contracts",
    description="The contracts the caller may see (own, team, or all for admins), filtered by `status`, `q` (title and client reference), `templateId`, `mine` and the day of the last change (`updatedFrom`, `updatedTo`: dates, both inclusive, German time), newest first.",
)
async def list_contracts(
    principal: CurrentPrincipal,
    contracts: Contracts,
    status: ContractStatus | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    template_id: Annotated[uuid.UUID | None, Query(alias="templateId")] = None,
    mine: bool = False,
    updated_from: Annotated[date | None, Query(alias="updatedFrom")] = None,
    updated_to: Annotated[date | None, Query(alias="updatedTo")] = None,
    page: PageNumber = 1,
    page_size: PageSize = 25,
) -> Page[ContractSummary]:
    rows, total = await contracts.list_contracts(
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
    items = [ContractSummary.model_validate(c) for c in rows]
    return Page[ContractSummary](items=items, total=total, page=page, page_size=page_size)


@router.post(
    "",
    status_code=201,
    dependencies=USE,
    summary="Create a contract",
    description="Start a draft from a published template (`templateId`) or a law-firm template (`lawFirmTemplateId`): the current published versions are pinned. Answers 201 with the contract view and a `Location` header.",
    responses=with_etag(201)
    | problems(404, "template.not_found", "lawfirm_template.not_found", "contract.invalid_team")
    | problems(
        409,
        "contract.template_not_published",
        "contract.clause_not_published",
        "lawfirm_template.not_published",
    ),
)
async def create_contract(
    body: ContractCreate,
    principal: CurrentPrincipal,
    contracts: Contracts,
    templates: LawFirmTemplates,
    response: Response,
) -> ContractView:
    details = body.model_dump(
        include={"title", "client_reference", "tags", "jurisdiction", "visibility", "team_id"}
    )
    if body.law_firm_template_id is not None:
        evaluated = await templates.start_contract(principal, body.law_firm_template_id, **details)
    else:
        assert body.template_id is not None
        evaluated = await contracts.create(principal, template_id=body.template_id, **details)
    created(response, contract_location(evaluated.contract.id))
    return contract_view(tagged(response, evaluated))


@router.get(
    "/{contract_id}",
    dependencies=USE,
    summary="Get a contract",
    description="The full contract view: interview with visibility and answers, slots with options and choices, validation, progress and version info. `ETag` names the contract's version (for `If-Match`).",
    responses=with_etag() | problems(404, "contract.not_found"),
)
async def get_contract(
    contract_id: uuid.UUID, principal: CurrentPrincipal, contracts: Contracts, response: Response
) -> ContractView:
    return contract_view(tagged(response, await contracts.get(principal, contract_id)))


@router.patch(
    "/{contract_id}",
    dependencies=USE,
    summary="Autosave a contract",
    description="Change answers, slot choices, dismissed warnings, title, client reference, tags, visibility or team; all or nothing. Returns the contract view with its new `ETag`; with `If-Match` only while the contract is in that version (else 412).",
    responses=with_etag()
    | problems(404, "contract.not_found")
    | problems(403, "contract.not_owner")
    | problems(409, "contract.not_draft")
    | MODIFIED_ELSEWHERE
    | problems(422, "contract.invalid_input", "contract.cannot_dismiss", "contract.invalid_team"),
)
async def update_contract(
    contract_id: uuid.UUID,
    body: ContractPatch,
    principal: CurrentPrincipal,
    contracts: Contracts,
    response: Response,
    if_match: IfMatch = None,
) -> ContractView:
    changes = body.model_dump(exclude_unset=True)
    updated = await contracts.update(principal, contract_id, changes, if_match=expected_versions(if_match))
    return contract_view(tagged(response, updated))


@router.delete(
    "/{contract_id}",
    status_code=204,
    dependencies=USE,
    summary="Delete a draft contract",
    description="Only drafts; only the creator and tenant admins. With `If-Match` only while the contract is in that version (else 412).",
    responses=problems(404, "contract.not_found")
    | problems(403, "contract.not_owner")
    | problems(409, "contract.not_draft")
    | MODIFIED_ELSEWHERE,
)
async def delete_contract(
    contract_id: uuid.UUID, principal: CurrentPrincipal, contracts: Contracts, if_match: IfMatch = None
) -> Response:
    await contracts.delete(principal, contract_id, if_match=expected_versions(if_match))
    return Response(status_code=204)


@router.post(
    "/{contract_id}/validate",
    dependencies=USE,
    summary="Validate a contract",
    description="The contract's validation state and messages (rule violations with resolution options).",
    responses=problems(404, "contract.not_found"),
)
async def validate_contract(
    contract_id: uuid.UUID, principal: CurrentPrincipal, contracts: Contracts
) -> ValidationResult:
    evaluated = await contracts.get(principal, contract_id)
    return ValidationResult.model_validate(_validation(evaluated), from_attributes=True)


@router.get(
    "/{contract_id}/preview",
    dependencies=USE,
    summary="Preview a contract",
    description="The document as sanitized HTML with its outline (the same document model as the export).",
    responses=problems(404, "contract.not_found"),
)
async def preview_contract(
    contract_id: uuid.UUID, principal: CurrentPrincipal, contracts: Contracts
) -> Preview:
    html, outline = await contracts.preview(principal, contract_id)
    return Preview(html=html, outline=[OutlineEntryOut.model_validate(entry) for entry in outline])


@router.post(
    "/{contract_id}/complete",
    dependencies=USE,
    summary="Complete a contract",
    description="Freeze a draft that has no hard conflicts and is complete; afterwards its answers and clauses cannot change. With `If-Match` only while the contract is in that version (else 412).",
    responses=with_etag()
    | problems(404, "contract.not_found")
    | problems(409, "contract.has_conflicts", "contract.incomplete", "contract.not_draft")
    | MODIFIED_ELSEWHERE,
)
async def complete_contract(
    contract_id: uuid.UUID,
    principal: CurrentPrincipal,
    contracts: Contracts,
    response: Response,
    if_match: IfMatch = None,
) -> ContractView:
    completed = await contracts.complete(principal, contract_id, if_match=expected_versions(if_match))
    return contract_view(tagged(response, completed))


@router.post(
    "/{contract_id}/resolutions",
    dependencies=USE,
    summary="Apply a resolution option",
    responses=with_etag()
    | problems(404, "contract.not_found")
    | problems(409, "contract.not_draft")
    | MODIFIED_ELSEWHERE
    | problems(422, "contract.unknown_resolution", "contract.invalid_input"),
)
async def apply_contract_resolution(
    contract_id: uuid.UUID,
    body: ResolutionRequest,
    principal: CurrentPrincipal,
    contracts: Contracts,
    response: Response,
    if_match: IfMatch = None,
) -> ContractView:
    """Apply one resolution option that the contract's validation offers (`fingerprint` of the
    violation, `optionId` of the option): the slot choice is saved like a PATCH and the contract
    is returned in the same shape, with its new `ETag`; with `If-Match` only while the contract
    is in that version (else 412)."""
    evaluated = await contracts.apply_resolution(
        principal, contract_id, body.fingerprint, body.option_id, if_match=expected_versions(if_match)
    )
    return contract_view(tagged(response, evaluated))


@router.post(
    "/{contract_id}/archive",
    dependencies=USE,
    summary="Archive a contract",
    description="Irreversible; locks the contract for everyone. Only the creator and tenant admins. With `If-Match` only while the contract is in that version (else 412).",
    responses=with_etag()
    | problems(404, "contract.not_found")
    | problems(403, "contract.not_owner")
    | problems(409, "contract.already_archived")
    | MODIFIED_ELSEWHERE,
)
async def archive_contract(
    contract_id: uuid.UUID,
    principal: CurrentPrincipal,
    contracts: Contracts,
    response: Response,
    if_match: IfMatch = None,
) -> ContractView:
    archived = await contracts.archive(principal, contract_id, if_match=expected_versions(if_match))
    return contract_view(tagged(response, archived))


@router.get(
    "/{contract_id}/version-info",
    dependencies=USE,
    summary="Get a contract's version info",
    description="The pinned template version and whether a newer published version exists.",
    responses=problems(404, "contract.not_found"),
)
async def contract_version_info(
    contract_id: uuid.UUID, principal: CurrentPrincipal, contracts: Contracts
) -> VersionInfo:
    return VersionInfo.model_validate(_version_info(await contracts.get(principal, contract_id)))


class UpgradeRequest(ApiInput):
    target_template_version_id: uuid.UUID | None = None


@router.get(
    "/{contract_id}/upgrade-preview",
    dependencies=USE,
    summary="Preview an upgrade",
    description="Dry run of an upgrade onto the current (or the given) template version: the migration report with a word diff of changed clauses.",
    responses=problems(404, "contract.not_found")
    | problems(409, "contract.not_draft")
    | problems(422, "contract.invalid_upgrade_target"),
)
async def contract_upgrade_preview(
    contract_id: uuid.UUID,
    principal: CurrentPrincipal,
    lifecycle: Lifecycle,
    target: Annotated[uuid.UUID | None, Query(alias="targetTemplateVersionId")] = None,
) -> MigrationReport:
    report = await lifecycle.upgrade_preview(principal, contract_id, target)
    return MigrationReport.model_validate(report)


@router.post(
    "/{contract_id}/upgrade",
    dependencies=USE,
    summary="Upgrade a contract",
    description="Move a draft onto the current (or the given) published versions; answers and slot choices carry over where still valid. Returns the contract and the migration report; `ETag` names the contract's new version. With `If-Match` only while the contract is in that version (else 412).",
    responses=with_etag()
    | problems(404, "contract.not_found")
    | problems(409, "contract.not_draft", "contract.template_not_published")
    | MODIFIED_ELSEWHERE
    | problems(422, "contract.invalid_upgrade_target"),
)
async def contract_upgrade(
    contract_id: uuid.UUID,
    body: UpgradeRequest,
    principal: CurrentPrincipal,
    lifecycle: Lifecycle,
    response: Response,
    if_match: IfMatch = None,
) -> ContractChange:
    target = body.target_template_version_id
    evaluated, report = await lifecycle.upgrade(
        principal, contract_id, target, if_match=expected_versions(if_match)
    )
    return contract_change(tagged(response, evaluated), report)


@router.post(
    "/{contract_id}/derive",
    status_code=201,
    dependencies=USE,
    summary="Derive a new contract",
    responses=with_etag(201)
    | problems(404, "contract.not_found")
    | problems(409, "contract.template_not_published", "contract.clause_not_published"),
)
async def contract_derive(
    contract_id: uuid.UUID, principal: CurrentPrincipal, lifecycle: Lifecycle, response: Response
) -> ContractChange:
    """A new draft from this contract on the current versions, with the migration report."""
    evaluated, report = await lifecycle.derive(principal, contract_id)
    created(response, contract_location(evaluated.contract.id))
    return contract_change(tagged(response, evaluated), report)


@router.post(
    "/{contract_id}/save-as-template",
    status_code=201,
    dependencies=[allow(Permission.TEMPLATES_MANAGE)],
    summary="Save a contract as law-firm template",
    description="A law-firm template with this contract's template version, answers and slot choices (plan-limited).",
    responses=problems(404, "contract.not_found")
    | problems(409, "lawfirm_template.plan_limit")
    | problems(422, "contract.invalid_team"),
)
async def save_as_template(
    contract_id: uuid.UUID,
    body: SaveAsTemplate,
    principal: CurrentPrincipal,
    templates: LawFirmTemplates,
    response: Response,
) -> LawFirmTemplateOut:
    entity = await templates.save_contract(
        principal,
        contract_id,
        title=body.title,
        description=body.description,
        visibility=body.visibility,
        team_id=body.team_id,
    )
    created(response, f"{API_PREFIX}/lawfirm-templates/{entity.id}")
    return LawFirmTemplateOut.model_validate(entity)


# -- law-firm templates --------------------------------------------------------------------------

lawfirm_router = APIRouter(prefix=f"{API_PREFIX}/lawfirm-templates", tags=["lawfirm-templates"])
MANAGE = [allow(Permission.TEMPLATES_MANAGE)]


def _slot_selections(selections: dict[str, uuid.UUID | None]) -> dict[str, str | None]:
    return {slot: str(clause) if clause else None for slot, clause in selections.items()}


@lawfirm_router.get(
    "",
    dependencies=MANAGE,
    summary="List law-firm templates",
    description="The law-firm templates the caller may see.",
)
async def list_lawfirm_templates(
    principal: CurrentPrincipal, templates: LawFirmTemplates, page: PageNumber = 1, page_size: PageSize = 25
) -> Page[LawFirmTemplateOut]:
    rows, total = await templates.list_templates(principal, page, page_size)
    items = [LawFirmTemplateOut.model_validate(r) for r in rows]
    return Page[LawFirmTemplateOut](items=items, total=total, page=page, page_size=page_size)


@lawfirm_router.post(
    "",
    status_code=201,
    dependencies=MANAGE,
    summary="Create a law-firm template",
    description="A template of the firm on a published template version with pre-filled answers and slot choices (plan-limited). Answers 201 with a `Location` header.",
    responses=problems(404, "template.not_found")
    | problems(409, "lawfirm_template.plan_limit", "contract.template_not_published")
    | problems(422, "lawfirm_template.invalid_prefill", "contract.invalid_team"),
)
async def create_lawfirm_template(
    body: LawFirmTemplateCreate, principal: CurrentPrincipal, templates: LawFirmTemplates, response: Response
) -> LawFirmTemplateOut:
    entity = await templates.create(
        principal,
        template_id=body.template_id,
        title=body.title,
        description=body.description,
        answers=body.custom_answers,
        slots=_slot_selections(body.custom_slot_selections),
        visibility=body.visibility,
        team_id=body.team_id,
        tags=body.tags,
        status=body.status,
    )
    created(response, f"{API_PREFIX}/lawfirm-templates/{entity.id}")
    return LawFirmTemplateOut.model_validate(entity)


@lawfirm_router.get(
    "/{template_id}",
    dependencies=MANAGE,
    summary="Get a law-firm template",
    description="One law-firm template visible to the caller.",
    responses=problems(404, "lawfirm_template.not_found"),
)
async def get_lawfirm_template(
    template_id: uuid.UUID, principal: CurrentPrincipal, templates: LawFirmTemplates
) -> LawFirmTemplateOut:
    return LawFirmTemplateOut.model_validate(await templates.get_template(principal, template_id))


@lawfirm_router.patch(
    "/{template_id}",
    dependencies=MANAGE,
    summary="Update a law-firm template",
    description="Title, description, tags, status and pre-filled answers and slot choices.",
    responses=problems(404, "lawfirm_template.not_found") | problems(422, "lawfirm_template.invalid_prefill"),
)
async def update_lawfirm_template(
    template_id: uuid.UUID,
    body: LawFirmTemplatePatch,
    principal: CurrentPrincipal,
    templates: LawFirmTemplates,
) -> LawFirmTemplateOut:
    changes = body.model_dump(exclude_unset=True)
    if changes.get("custom_slot_selections") is not None:
        changes["custom_slot_selections"] = _slot_selections(changes["custom_slot_selections"])
    entity = await templates.update_template(principal, template_id, changes)
    return LawFirmTemplateOut.model_validate(entity)


@lawfirm_router.delete(
    "/{template_id}",
    status_code=204,
    dependencies=MANAGE,
    summary="Delete a law-firm template",
    description="Only the creator and tenant admins.",
    responses=problems(404, "lawfirm_template.not_found") | problems(403, "lawfirm_template.not_owner"),
)
async def delete_lawfirm_template(
    template_id: uuid.UUID, principal: CurrentPrincipal, templates: LawFirmTemplates
) -> Response:
    await templates.delete_template(principal, template_id)
    return Response(status_code=204)

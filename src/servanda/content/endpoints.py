"""HTTP endpoints of the content module: authoring, workflow, gates, history, review queue.

Clauses and templates share one implementation; the routes are registered
once per kind so that each has its own, exact request schema in OpenAPI.
"""

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Response

from servanda.content.catalog import CatalogEntry, CatalogFilters, CatalogService
from servanda.content.models import ClauseVersion, ContentReview, TemplateVersion
from servanda.content.packs import import_pack
from servanda.content.schemas import (
    CatalogDetail,
    CatalogItem,
    CatalogVersion,
    ChangelogVersion,
    ClauseFields,
    CommentRequest,
    Contributor,
    CreatedEntity,
    EntityFields,
    EntityOut,
    GateOut,
    GateReport,
    ImportReportOut,
    Reviewer,
    ReviewOut,
    ReviewQueueItem,
    RuleGraph,
    SubmitRequest,
    TemplateFields,
    VersionOut,
    VersionSummary,
)
from servanda.content.service import (
    CLAUSES,
    KINDS,
    TEMPLATES,
    AnyKind,
    ContentService,
    contributors,
    rule_graph,
)
from servanda.identity.dependencies import CurrentPrincipal, Permission, allow
from servanda.identity.principal import Principal
from servanda.platform.api_models import Page
from servanda.platform.http import API_PREFIX, PageNumber, PageSize, UnitOfWork, created
from servanda.platform.openapi import problems
from servanda.platform.paging import page_of

router = APIRouter(prefix=f"{API_PREFIX}/content", tags=["content"])
AUTHOR = [allow(Permission.CONTENT_AUTHOR)]
Search = Annotated[str | None, Query(max_length=200)]


class ClauseCreate(EntityFields, ClauseFields):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "title": "Vertraulichkeit",
                    "heading": "Verschwiegenheit",
                    "content": "Der Arbeitnehmer verpflichtet sich, über alle Betriebsgeheimnisse Stillschweigen "
                    "zu bewahren.",
                    "tags": ["arbeitsrecht"],
                    "legalArea": "Arbeitsrecht",
                    "changeNote": "Erste Fassung",
                }
            ]
        }
    }


class TemplateCreate(EntityFields, TemplateFields):
    pass


class ClauseVersionCreate(ClauseFields):
    based_on_version_id: uuid.UUID | None = None


class TemplateVersionCreate(TemplateFields):
    based_on_version_id: uuid.UUID | None = None


async def _content_service(session: UnitOfWork) -> ContentService:
    return ContentService(session)


async def _catalog_service(session: UnitOfWork) -> CatalogService:
    return CatalogService(session)


# The services work in the request's unit of work (the transaction the principal lookup began).
Content = Annotated[ContentService, Depends(_content_service)]
Catalog = Annotated[CatalogService, Depends(_catalog_service)]


VERSION_COLUMNS = (
    "id",
    "version_number",
    "status",
    "change_note",
    "author_id",
    "reviewer_id",
    "published_at",
    "created_at",
    "updated_at",
)


def version_out(kind: AnyKind, version: ClauseVersion | TemplateVersion) -> VersionOut:
    data = {column: getattr(version, column) for column in (*VERSION_COLUMNS, *kind.version_fields)}
    data["entity_id"] = getattr(version, kind.parent)
    data["contributor_ids"] = contributors(version)
    return VersionOut.model_validate(data)


def entity_out(entity: Any, latest: Any | None) -> EntityOut:
    out = EntityOut.model_validate(entity)
    if latest is not None:
        out.latest_version = VersionSummary.model_validate(latest)
    return out


def review_out(review: ContentReview) -> ReviewOut:
    return ReviewOut.model_validate(review)


# -- tenant-wide (registered before /{kind} routes) ------------------------------------------


@router.get(
    "/review-queue",
    dependencies=AUTHOR,
    summary="List my review queue",
    description="Versions submitted to the caller for review, oldest first.",
)
async def review_queue(
    principal: CurrentPrincipal, service: Content, page: PageNumber = 1, page_size: PageSize = 25
) -> Page[ReviewQueueItem]:
    queue, total = page_of(await service.review_queue(principal), page, page_size)
    items = [ReviewQueueItem.model_validate(item) for item in queue]
    return Page[ReviewQueueItem](items=items, total=total, page=page, page_size=page_size)


@router.get(
    "/reviewers",
    dependencies=AUTHOR,
    summary="List possible reviewers",
    responses=problems(404, "content.version_not_found"),
)
async def content_reviewers(
    principal: CurrentPrincipal,
    service: Content,
    version_id: Annotated[uuid.UUID | None, Query(alias="versionId")] = None,
    page: PageNumber = 1,
    page_size: PageSize = 25,
) -> Page[Reviewer]:
    """Colleagues the caller may name reviewer at submit: active editors and admins of the tenant,
    never the caller; with `versionId` also without that version's contributors (four eyes)."""
    rows, total = await service.reviewers(principal, version_id, page, page_size)
    items = [Reviewer.model_validate(r, from_attributes=True) for r in rows]
    return Page[Reviewer](items=items, total=total, page=page, page_size=page_size)


@router.get(
    "/changelog",
    dependencies=AUTHOR,
    summary="List the tenant's content changelog",
    description="Every workflow step (submit, approve, publish, ...) of the tenant's clauses and templates, newest first.",
)
async def tenant_changelog(
    principal: CurrentPrincipal, service: Content, page: PageNumber = 1, page_size: PageSize = 25
) -> Page[ReviewOut]:
    rows, total = await service.feed(principal, page, page_size)
    items = [review_out(r) for r in rows]
    return Page[ReviewOut](items=items, total=total, page=page, page_size=page_size)


@router.post(
    "/import",
    dependencies=AUTHOR,
    summary="Import a content pack",
    responses=problems(422, "content.invalid_pack"),
)
async def import_content_pack(
    pack: Annotated[dict[str, Any], Body(description="A content pack (servanda-content-pack/1)")],
    principal: CurrentPrincipal,
    service: Content,
) -> ImportReportOut:
    """Import a content pack as drafts (atomic, idempotent); returns the import report."""
    report = await import_pack(service, principal, pack)
    return ImportReportOut.model_validate(report.as_dict())


@router.get(
    "/rule-graph",
    dependencies=AUTHOR,
    summary="Get a template's rule graph",
    description="Nodes (clauses) and edges (rules) of a template version, for visualising the rules.",
    responses=problems(404, "template.not_found", "template.version_not_found"),
)
async def content_rule_graph(
    principal: CurrentPrincipal,
    session: UnitOfWork,
    template_id: Annotated[uuid.UUID, Query(alias="templateId")],
    version_id: Annotated[uuid.UUID | None, Query(alias="versionId")] = None,
) -> RuleGraph:
    graph = await rule_graph(session, principal, template_id, version_id)
    return RuleGraph.model_validate(graph)


# -- per kind ----------------------------------------------------------------------------------
# The three routes with a request body are written out per kind (their body models differ);
# every other route is one function shared by both kinds.


def _location(kind: AnyKind, entity_id: uuid.UUID, version_id: uuid.UUID | None = None) -> str:
    """The URL of an entity or of one of its versions (the ``Location`` of a 201)."""
    url = f"{API_PREFIX}/content/{kind.name}s/{entity_id}"
    return url if version_id is None else f"{url}/versions/{version_id}"


async def _create(
    kind: AnyKind,
    body: ClauseCreate | TemplateCreate,
    principal: Principal,
    service: ContentService,
    response: Response,
) -> CreatedEntity:
    data = body.model_dump(exclude_unset=True)
    fields = {k: getattr(body, k) for k in kind.version_fields if k in data}
    entity, version = await service.create(principal, kind, data, fields)
    created(response, _location(kind, entity.id))
    out = entity_out(entity, version)
    return CreatedEntity(**dict(out), version=version_out(kind, version))


async def _create_version(
    kind: AnyKind,
    entity_id: uuid.UUID,
    body: ClauseVersionCreate | TemplateVersionCreate,
    principal: Principal,
    service: ContentService,
    response: Response,
) -> VersionOut:
    data = body.model_dump(exclude_unset=True)
    fields = {k: getattr(body, k) for k in kind.version_fields if k in data}
    version = await service.create_version(principal, kind, entity_id, body.based_on_version_id, fields)
    created(response, _location(kind, entity_id, version.id))
    return version_out(kind, version)


async def _update_version(
    kind: AnyKind,
    entity_id: uuid.UUID,
    version_id: uuid.UUID,
    body: ClauseFields | TemplateFields,
    principal: Principal,
    service: ContentService,
) -> VersionOut:
    fields = {k: getattr(body, k) for k in body.model_dump(exclude_unset=True)}
    version = await service.update_version(principal, kind, entity_id, version_id, fields)
    return version_out(kind, version)


async def clause_create(
    body: ClauseCreate, principal: CurrentPrincipal, service: Content, response: Response
) -> CreatedEntity:
    return await _create(CLAUSES, body, principal, service, response)


async def template_create(
    body: TemplateCreate, principal: CurrentPrincipal, service: Content, response: Response
) -> CreatedEntity:
    return await _create(TEMPLATES, body, principal, service, response)


async def clause_create_version(
    entity_id: uuid.UUID,
    body: ClauseVersionCreate,
    principal: CurrentPrincipal,
    service: Content,
    response: Response,
) -> VersionOut:
    return await _create_version(CLAUSES, entity_id, body, principal, service, response)


async def template_create_version(
    entity_id: uuid.UUID,
    body: TemplateVersionCreate,
    principal: CurrentPrincipal,
    service: Content,
    response: Response,
) -> VersionOut:
    return await _create_version(TEMPLATES, entity_id, body, principal, service, response)


async def clause_update_version(
    entity_id: uuid.UUID,
    version_id: uuid.UUID,
    body: ClauseFields,
    principal: CurrentPrincipal,
    service: Content,
) -> VersionOut:
    return await _update_version(CLAUSES, entity_id, version_id, body, principal, service)


async def template_update_version(
    entity_id: uuid.UUID,
    version_id: uuid.UUID,
    body: TemplateFields,
    principal: CurrentPrincipal,
    service: Content,
) -> VersionOut:
    return await _update_version(TEMPLATES, entity_id, version_id, body, principal, service)


Endpoint = Callable[..., Awaitable[Any]]


# Summary, description and the route's own error codes of each per-kind operation ({kind}: clause or template).
_NOT_FOUND = problems(404, "{kind}.not_found")
_VERSION_NOT_FOUND = problems(404, "{kind}.not_found", "{kind}.version_not_found")
_TRANSITION = problems(409, "content.invalid_transition")
KIND_OPERATIONS: dict[str, tuple[str, str, dict[int | str, dict[str, Any]]]] = {
    "list_entities": (
        "List {kind}s",
        "The tenant's {kind}s with their latest version, searchable by title (`q`).",
        {},
    ),
    "create": (
        "Create a {kind}",
        "Creates the {kind} and its version 1 as a draft; answers 201 with the {kind}, its first version embedded, and a `Location` header.",
        {},
    ),
    "get_entity": ("Get a {kind}", "The {kind} with its latest version.", _NOT_FOUND),
    "list_versions": ("List a {kind}'s versions", "Every version of the {kind}, newest first.", _NOT_FOUND),
    "create_version": (
        "Create a new {kind} version",
        "A new draft copying the based-on version (default: the latest) with the given fields applied.",
        _VERSION_NOT_FOUND,
    ),
    "changelog": (
        "Get a {kind}'s changelog",
        "Each version with its contributors and review history.",
        _NOT_FOUND,
    ),
    "get_version": ("Get a {kind} version", "One version with its full content.", _VERSION_NOT_FOUND),
    "update_version": (
        "Edit a {kind} draft",
        "Change fields of a draft; the editor becomes a contributor (and so can never review it).",
        _VERSION_NOT_FOUND
        | problems(409, "content.version_not_draft")
        | problems(422, "content.unknown_style_template"),
    ),
    "submit": (
        "Submit a {kind} version for review",
        "Names the reviewer (never a contributor); the publishing gates must pass.",
        _VERSION_NOT_FOUND
        | _TRANSITION
        | problems(403, "content.four_eyes")
        | problems(422, "content.invalid_reviewer", "content.gates_failed"),
    ),
    "approve": (
        "Approve a {kind} version",
        "Only the named reviewer or an admin who is not a contributor.",
        _VERSION_NOT_FOUND
        | _TRANSITION
        | problems(403, "content.not_reviewer", "content.own_version", "content.four_eyes"),
    ),
    "reject": (
        "Reject a {kind} version",
        "Back to draft with a comment.",
        _VERSION_NOT_FOUND
        | _TRANSITION
        | problems(403, "content.not_reviewer", "content.own_version", "content.four_eyes")
        | problems(422, "content.comment_required"),
    ),
    "request_changes": (
        "Request changes to a {kind} version",
        "Back to draft with a comment.",
        _VERSION_NOT_FOUND
        | _TRANSITION
        | problems(403, "content.not_reviewer", "content.own_version", "content.four_eyes")
        | problems(422, "content.comment_required"),
    ),
    "publish": (
        "Publish a {kind} version",
        "An approved version becomes the current one; the previous published version is deprecated. The gates run again.",
        _VERSION_NOT_FOUND
        | _TRANSITION
        | problems(403, "content.four_eyes")
        | problems(422, "content.gates_failed"),
    ),
    "deprecate": (
        "Deprecate a {kind} version",
        "Deprecating the current version takes the {kind} out of the catalog.",
        _VERSION_NOT_FOUND | _TRANSITION,
    ),
    "publishing_gates": (
        "Check a {kind} version's publishing gates",
        "The result of every gate with its messages.",
        _VERSION_NOT_FOUND,
    ),
    "reviews": (
        "List a {kind} version's reviews",
        "The version's workflow steps with comments, oldest first.",
        _VERSION_NOT_FOUND,
    ),
}


def _for_kind(responses: dict[int | str, dict[str, Any]], kind: AnyKind) -> dict[int | str, dict[str, Any]]:
    """The route's error responses with ``{kind}`` in their codes filled in."""
    return {
        status: {**entry, "x-problem-codes": [c.format(kind=kind.name) for c in entry["x-problem-codes"]]}
        for status, entry in responses.items()
    }


def _register(path: str, create: Endpoint, create_version: Endpoint, update_version: Endpoint) -> None:
    kind = KINDS[path]

    async def list_entities(
        principal: CurrentPrincipal,
        service: Content,
        page: PageNumber = 1,
        page_size: PageSize = 25,
        q: Search = None,
    ) -> Page[EntityOut]:
        rows, total = await service.list_entities(principal, kind, page, page_size, q)
        items = [entity_out(e, v) for e, v in rows]
        return Page[EntityOut](items=items, total=total, page=page, page_size=page_size)

    async def get_entity(entity_id: uuid.UUID, principal: CurrentPrincipal, service: Content) -> EntityOut:
        return entity_out(*await service.get_entity(principal, kind, entity_id))

    async def list_versions(
        entity_id: uuid.UUID,
        principal: CurrentPrincipal,
        service: Content,
        page: PageNumber = 1,
        page_size: PageSize = 25,
    ) -> Page[VersionOut]:
        versions, total = page_of(await service.list_versions(principal, kind, entity_id), page, page_size)
        items = [version_out(kind, v) for v in versions]
        return Page[VersionOut](items=items, total=total, page=page, page_size=page_size)

    async def get_version(
        entity_id: uuid.UUID, version_id: uuid.UUID, principal: CurrentPrincipal, service: Content
    ) -> VersionOut:
        version = await service.get_version(principal, kind, entity_id, version_id)
        return version_out(kind, version)

    async def submit(
        entity_id: uuid.UUID,
        version_id: uuid.UUID,
        body: SubmitRequest,
        principal: CurrentPrincipal,
        service: Content,
    ) -> VersionOut:
        version = await service.submit(principal, kind, entity_id, version_id, body.reviewer_id)
        return version_out(kind, version)

    async def approve(
        entity_id: uuid.UUID, version_id: uuid.UUID, principal: CurrentPrincipal, service: Content
    ) -> VersionOut:
        version = await service.approve(principal, kind, entity_id, version_id)
        return version_out(kind, version)

    async def reject(
        entity_id: uuid.UUID,
        version_id: uuid.UUID,
        body: CommentRequest,
        principal: CurrentPrincipal,
        service: Content,
    ) -> VersionOut:
        version = await service.send_back(principal, kind, entity_id, version_id, "reject", body.comment)
        return version_out(kind, version)

    async def request_changes(
        entity_id: uuid.UUID,
        version_id: uuid.UUID,
        body: CommentRequest,
        principal: CurrentPrincipal,
        service: Content,
    ) -> VersionOut:
        action = "request_changes"
        version = await service.send_back(principal, kind, entity_id, version_id, action, body.comment)
        return version_out(kind, version)

    async def publish(
        entity_id: uuid.UUID, version_id: uuid.UUID, principal: CurrentPrincipal, service: Content
    ) -> VersionOut:
        version = await service.publish(principal, kind, entity_id, version_id)
        return version_out(kind, version)

    async def deprecate(
        entity_id: uuid.UUID, version_id: uuid.UUID, principal: CurrentPrincipal, service: Content
    ) -> VersionOut:
        version = await service.deprecate(principal, kind, entity_id, version_id)
        return version_out(kind, version)

    async def publishing_gates(
        entity_id: uuid.UUID, version_id: uuid.UUID, principal: CurrentPrincipal, service: Content
    ) -> GateReport:
        """The version's publishing gates: a fixed set of checks (an object, not a list resource)."""
        results = await service.gate_results(principal, kind, entity_id, version_id)
        gates = [GateOut(gate=r.gate, passed=r.passed, messages=r.messages) for r in results]
        return GateReport(passed=all(g.passed for g in gates), gates=gates)

    async def reviews(
        entity_id: uuid.UUID,
        version_id: uuid.UUID,
        principal: CurrentPrincipal,
        service: Content,
        page: PageNumber = 1,
        page_size: PageSize = 25,
    ) -> Page[ReviewOut]:
        rows, total = page_of(await service.reviews(principal, kind, entity_id, version_id), page, page_size)
        return Page[ReviewOut](
            items=[review_out(r) for r in rows], total=total, page=page, page_size=page_size
        )

    async def changelog(
        entity_id: uuid.UUID,
        principal: CurrentPrincipal,
        service: Content,
        page: PageNumber = 1,
        page_size: PageSize = 25,
    ) -> Page[ChangelogVersion]:
        entries, total = page_of(await service.changelog(principal, kind, entity_id), page, page_size)
        items = [
            ChangelogVersion(
                version_id=v.id,
                version_number=v.version_number,
                status=v.status,
                author_id=v.author_id,
                contributors=[Contributor(id=i, display_name=name) for i, name in names],
                reviewer_id=v.reviewer_id,
                change_note=v.change_note,
                published_at=v.published_at,
                history=[review_out(h) for h in history],
            )
            for v, history, names in entries
        ]
        return Page[ChangelogVersion](items=items, total=total, page=page, page_size=page_size)

    base = f"/{path}"
    version = f"{base}/{{entity_id}}/versions/{{version_id}}"
    routes: list[tuple[str, str, str, Endpoint, int]] = [
        ("GET", base, "list_entities", list_entities, 200),
        ("POST", base, "create", create, 201),
        ("GET", f"{base}/{{entity_id}}", "get_entity", get_entity, 200),
        ("GET", f"{base}/{{entity_id}}/versions", "list_versions", list_versions, 200),
        ("POST", f"{base}/{{entity_id}}/versions", "create_version", create_version, 201),
        ("GET", f"{base}/{{entity_id}}/changelog", "changelog", changelog, 200),
        ("GET", version, "get_version", get_version, 200),
        ("PATCH", version, "update_version", update_version, 200),
        ("POST", f"{version}/submit", "submit", submit, 200),
        ("POST", f"{version}/approve", "approve", approve, 200),
        ("POST", f"{version}/reject", "reject", reject, 200),
        ("POST", f"{version}/request-changes", "request_changes", request_changes, 200),
        ("POST", f"{version}/publish", "publish", publish, 200),
        ("POST", f"{version}/deprecate", "deprecate", deprecate, 200),
        ("GET", f"{version}/publishing-gates", "publishing_gates", publishing_gates, 200),
        ("GET", f"{version}/reviews", "reviews", reviews, 200),
    ]
    for method, route, action, endpoint, status in routes:
        name = f"{kind.name}_{action}"  # the operation id: clause_create, template_publish, ...
        router.add_api_route(
            route,
            endpoint,
            methods=[method],
            status_code=status,
            dependencies=AUTHOR,
            name=name,
            operation_id=name,
            summary=KIND_OPERATIONS[action][0].format(kind=kind.name),
            description=KIND_OPERATIONS[action][1].format(kind=kind.name),
            responses=_for_kind(KIND_OPERATIONS[action][2], kind),
        )


_register("clauses", clause_create, clause_create_version, clause_update_version)
_register("templates", template_create, template_create_version, template_update_version)


# -- catalog -----------------------------------------------------------------------------------

catalog_router = APIRouter(prefix=f"{API_PREFIX}/catalog", tags=["catalog"])
USE = [allow(Permission.CONTRACTS_USE)]


def _catalog_fields(e: CatalogEntry, principal: Principal) -> dict[str, Any]:
    return {
        "id": e.id,
        "title": e.title,
        "description": e.description,
        "category": e.category,
        "legal_area": e.legal_area,
        "jurisdiction": e.jurisdiction,
        "tags": e.tags,
        "publisher_tenant_id": e.tenant_id,
        "publisher_name": e.publisher_name,
        "own": e.tenant_id == principal.tenant_id,
        "current_version": CatalogVersion(
            id=e.version_id, version_number=e.version_number, published_at=e.published_at
        ),
    }


@catalog_router.get(
    "/templates",
    dependencies=USE,
    summary="Search the template catalog",
    description="Published templates visible to the tenant (its own and its publishers'), with German full-text search over title, description and tags (`q` matches word prefixes) and filters.",
)
async def catalog_templates(
    principal: CurrentPrincipal,
    catalog: Catalog,
    q: Search = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
    legal_area: Annotated[str | None, Query(alias="legalArea", max_length=100)] = None,
    jurisdiction: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
    page: PageNumber = 1,
    page_size: PageSize = 25,
) -> Page[CatalogItem]:
    search = q.strip() if q and q.strip() else None
    filters = CatalogFilters(q=search, category=category, legal_area=legal_area, jurisdiction=jurisdiction)
    entries, total = await catalog.search(principal, filters, page, page_size)
    items = [CatalogItem(**_catalog_fields(e, principal)) for e in entries]
    return Page[CatalogItem](items=items, total=total, page=page, page_size=page_size)


@catalog_router.get(
    "/templates/{template_id}",
    dependencies=USE,
    summary="Get a catalog template",
    description="Description, sections, clause titles, question count, current version and changelog (released versions with their change notes, newest first) of a published template.",
    responses=problems(404, "template.not_found"),
)
async def catalog_template(
    template_id: uuid.UUID, principal: CurrentPrincipal, catalog: Catalog
) -> CatalogDetail:
    entry, sections, questions = await catalog.detail(principal, template_id)
    fields = _catalog_fields(entry, principal)
    changelog = await catalog.changelog(template_id)
    return CatalogDetail(**fields, sections=sections, question_count=questions, changelog=changelog)

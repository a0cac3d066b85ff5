# mypy: disable-error-code="valid-type,attr-defined,unused-ignore"
"""HTTP endpoints of the content module: authoring, workflow, gates, history, review queue.

Clauses and templates share one implementation; the routes are registered
once per kind so that each has its own, exact request schema in OpenAPI.
"""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request

from servanda.content.catalog import CatalogEntry, CatalogFilters, CatalogService
from servanda.content.packs import import_pack
from servanda.content.schemas import (
    CatalogDetail,
    CatalogItem,
    CatalogVersion,
    ChangelogVersion,
    ClauseFields,
    CommentRequest,
    Contributor,
    EntityFields,
    EntityOut,
    GateOut,
    ReviewOut,
    ReviewQueueItem,
    SubmitRequest,
    TemplateFields,
    VersionOut,
    VersionSummary,
)
from servanda.content.service import KINDS, ContentService, Kind, contributors, rule_graph
from servanda.identity.dependencies import CurrentPrincipal, Permission, allow
from servanda.platform.api_models import Page
from servanda.platform.http import API_PREFIX, PageNumber, PageSize

router = APIRouter(prefix=f"{API_PREFIX}/content", tags=["content"])
AUTHOR = [allow(Permission.CONTENT_AUTHOR)]


class ClauseCreate(EntityFields, ClauseFields):
    pass


class TemplateCreate(EntityFields, TemplateFields):
    pass


class ClauseVersionCreate(ClauseFields):
    based_on_version_id: uuid.UUID | None = None


class TemplateVersionCreate(TemplateFields):
    based_on_version_id: uuid.UUID | None = None


def _service(request: Request) -> ContentService:
    return ContentService(request.app.state.db)


def version_out(kind: Kind, version: Any) -> VersionOut:
    data = {c: getattr(version, c) for c in ("id", "version_number", "status", "change_note", "author_id",
                                             "reviewer_id", "published_at", "created_at", "updated_at")}  # fmt: skip
    data["entity_id"] = getattr(version, kind.parent)
    data["contributor_ids"] = contributors(version)
    data.update({f: getattr(version, f) for f in kind.version_fields})
    return VersionOut.model_validate(data)


def entity_out(entity: Any, latest: Any | None) -> EntityOut:
    out = EntityOut.model_validate(entity)
    if latest is not None:
        out.latest_version = VersionSummary.model_validate(latest)
    return out


def review_out(review: Any) -> ReviewOut:
    return ReviewOut.model_validate(review)


# -- tenant-wide (registered before /{kind} routes) ------------------------------------------


@router.get("/review-queue", dependencies=AUTHOR)
async def review_queue(principal: CurrentPrincipal, request: Request) -> list[ReviewQueueItem]:
    return [ReviewQueueItem.model_validate(i) for i in await _service(request).review_queue(principal)]


@router.get("/changelog", dependencies=AUTHOR)
async def tenant_changelog(principal: CurrentPrincipal, request: Request, page: PageNumber = 1,
                           page_size: PageSize = 25) -> Page[ReviewOut]:  # fmt: skip
    rows, total = await _service(request).feed(principal, page, page_size)
    return Page[ReviewOut](items=[review_out(r) for r in rows], total=total, page=page, page_size=page_size)


@router.post("/import", dependencies=AUTHOR)
async def import_content_pack(
    pack: Annotated[dict[str, Any], Body(description="A content pack (servanda-content-pack/1)")],
    principal: CurrentPrincipal,
    request: Request,
) -> dict[str, Any]:
    """Import a content pack as drafts (atomic, idempotent); returns the import report."""
    report = await import_pack(_service(request), principal, pack)
    return report.as_dict()


@router.get("/rule-graph", dependencies=AUTHOR)
async def content_rule_graph(
    principal: CurrentPrincipal,
    request: Request,
    template_id: Annotated[uuid.UUID, Query(alias="templateId")],
    version_id: Annotated[uuid.UUID | None, Query(alias="versionId")] = None,
) -> dict[str, Any]:
    return await rule_graph(request.app.state.db, principal, template_id, version_id)


# -- per kind ----------------------------------------------------------------------------------


def _register(
    path: str, create_model: type[EntityFields], fields_model: type[Any], version_model: type[Any]
) -> None:
    kind = KINDS[path]
    base = f"/{path}"

    async def list_entities(principal: CurrentPrincipal, request: Request, page: PageNumber = 1,
                            page_size: PageSize = 25,
                            q: Annotated[str | None, Query(max_length=200)] = None) -> Page[EntityOut]:  # fmt: skip
        rows, total = await _service(request).list_entities(principal, kind, page, page_size, q)
        return Page[EntityOut](
            items=[entity_out(e, v) for e, v in rows], total=total, page=page, page_size=page_size
        )

    async def create(body: create_model, principal: CurrentPrincipal, request: Request) -> VersionOut:
        data = body.model_dump(exclude_unset=True)
        fields = {k: getattr(body, k) for k in kind.version_fields if k in data}
        _entity, version = await _service(request).create(principal, kind, data, fields)
        return version_out(kind, version)

    async def get_entity(entity_id: uuid.UUID, principal: CurrentPrincipal, request: Request) -> EntityOut:
        return entity_out(*await _service(request).get_entity(principal, kind, entity_id))

    async def list_versions(
        entity_id: uuid.UUID, principal: CurrentPrincipal, request: Request
    ) -> list[VersionOut]:
        return [
            version_out(kind, v) for v in await _service(request).list_versions(principal, kind, entity_id)
        ]

    async def create_version(entity_id: uuid.UUID, body: version_model, principal: CurrentPrincipal,
                             request: Request) -> VersionOut:  # fmt: skip
        data = body.model_dump(exclude_unset=True)
        fields = {k: getattr(body, k) for k in kind.version_fields if k in data}
        version = await _service(request).create_version(
            principal, kind, entity_id, body.based_on_version_id, fields
        )
        return version_out(kind, version)

    async def get_version(entity_id: uuid.UUID, version_id: uuid.UUID, principal: CurrentPrincipal,
                          request: Request) -> VersionOut:  # fmt: skip
        return version_out(kind, await _service(request).get_version(principal, kind, entity_id, version_id))

    async def update_version(entity_id: uuid.UUID, version_id: uuid.UUID, body: fields_model,
                             principal: CurrentPrincipal, request: Request) -> VersionOut:  # fmt: skip
        data = body.model_dump(exclude_unset=True)
        fields = {k: getattr(body, k) for k in data}
        version = await _service(request).update_version(principal, kind, entity_id, version_id, fields)
        return version_out(kind, version)

    async def submit(entity_id: uuid.UUID, version_id: uuid.UUID, body: SubmitRequest, principal: CurrentPrincipal,
                     request: Request) -> VersionOut:  # fmt: skip
        version = await _service(request).submit(principal, kind, entity_id, version_id, body.reviewer_id)
        return version_out(kind, version)

    async def approve(entity_id: uuid.UUID, version_id: uuid.UUID, principal: CurrentPrincipal,
                      request: Request) -> VersionOut:  # fmt: skip
        return version_out(kind, await _service(request).approve(principal, kind, entity_id, version_id))

    async def reject(entity_id: uuid.UUID, version_id: uuid.UUID, body: CommentRequest, principal: CurrentPrincipal,
                     request: Request) -> VersionOut:  # fmt: skip
        version = await _service(request).send_back(
            principal, kind, entity_id, version_id, "reject", body.comment
        )
        return version_out(kind, version)

    async def request_changes(entity_id: uuid.UUID, version_id: uuid.UUID, body: CommentRequest,
                              principal: CurrentPrincipal, request: Request) -> VersionOut:  # fmt: skip
        version = await _service(request).send_back(principal, kind, entity_id, version_id, "request_changes",
                                                     body.comment)  # fmt: skip
        return version_out(kind, version)

    async def publish(entity_id: uuid.UUID, version_id: uuid.UUID, principal: CurrentPrincipal,
                      request: Request) -> VersionOut:  # fmt: skip
        return version_out(kind, await _service(request).publish(principal, kind, entity_id, version_id))

    async def deprecate(entity_id: uuid.UUID, version_id: uuid.UUID, principal: CurrentPrincipal,
                        request: Request) -> VersionOut:  # fmt: skip
        return version_out(kind, await _service(request).deprecate(principal, kind, entity_id, version_id))

    async def publishing_gates(entity_id: uuid.UUID, version_id: uuid.UUID, principal: CurrentPrincipal,
                               request: Request) -> list[GateOut]:  # fmt: skip
        results = await _service(request).gate_results(principal, kind, entity_id, version_id)
        return [GateOut(gate=r.gate, passed=r.passed, messages=r.messages) for r in results]

    async def reviews(entity_id: uuid.UUID, version_id: uuid.UUID, principal: CurrentPrincipal,
                      request: Request) -> list[ReviewOut]:  # fmt: skip
        return [
            review_out(r) for r in await _service(request).reviews(principal, kind, entity_id, version_id)
        ]

    async def changelog(
        entity_id: uuid.UUID, principal: CurrentPrincipal, request: Request
    ) -> list[ChangelogVersion]:
        entries = await _service(request).changelog(principal, kind, entity_id)
        return [
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

    name = kind.name
    version = f"{base}/{{entity_id}}/versions/{{version_id}}"
    routes: list[tuple[str, str, Any, int]] = [
        ("GET", base, list_entities, 200),
        ("POST", base, create, 201),
        ("GET", f"{base}/{{entity_id}}", get_entity, 200),
        ("GET", f"{base}/{{entity_id}}/versions", list_versions, 200),
        ("POST", f"{base}/{{entity_id}}/versions", create_version, 201),
        ("GET", f"{base}/{{entity_id}}/changelog", changelog, 200),
        ("GET", version, get_version, 200),
        ("PATCH", version, update_version, 200),
        ("POST", f"{version}/submit", submit, 200),
        ("POST", f"{version}/approve", approve, 200),
        ("POST", f"{version}/reject", reject, 200),
        ("POST", f"{version}/request-changes", request_changes, 200),
        ("POST", f"{version}/publish", publish, 200),
        ("POST", f"{version}/deprecate", deprecate, 200),
        ("GET", f"{version}/publishing-gates", publishing_gates, 200),
        ("GET", f"{version}/reviews", reviews, 200),
    ]
    for method, route_path, endpoint, status in routes:
        router.add_api_route(route_path, endpoint, methods=[method], status_code=status, dependencies=AUTHOR,
                             name=f"{name}_{endpoint.__name__}", operation_id=f"{name}_{endpoint.__name__}")  # fmt: skip


_register("clauses", ClauseCreate, ClauseFields, ClauseVersionCreate)
_register("templates", TemplateCreate, TemplateFields, TemplateVersionCreate)


# -- catalog -----------------------------------------------------------------------------------

catalog_router = APIRouter(prefix=f"{API_PREFIX}/catalog", tags=["catalog"])
USE = [allow(Permission.CONTRACTS_USE)]


def _catalog_item(
    entry: CatalogEntry, principal: Any, model: type[CatalogItem] = CatalogItem, **extra: Any
) -> Any:
    e = entry
    return model(
        id=e.id, title=e.title, description=e.description, category=e.category, legal_area=e.legal_area,
        jurisdiction=e.jurisdiction, tags=e.tags, publisher_tenant_id=e.tenant_id, publisher_name=e.publisher_name,
        own=e.tenant_id == principal.tenant_id,
        current_version=CatalogVersion(id=e.version_id, version_number=e.version_number, published_at=e.published_at),
        **extra,
    )  # fmt: skip


@catalog_router.get("/templates", dependencies=USE)
async def catalog_templates(
    principal: CurrentPrincipal,
    request: Request,
    q: Annotated[str | None, Query(max_length=200)] = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
    legal_area: Annotated[str | None, Query(alias="legalArea", max_length=100)] = None,
    jurisdiction: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
    page: PageNumber = 1,
    page_size: PageSize = 25,
) -> Page[CatalogItem]:
    filters = CatalogFilters(q=q.strip() if q and q.strip() else None, category=category, legal_area=legal_area,
                             jurisdiction=jurisdiction)  # fmt: skip
    entries, total = await CatalogService(request.app.state.db).search(principal, filters, page, page_size)
    return Page[CatalogItem](items=[_catalog_item(e, principal) for e in entries], total=total, page=page,
                             page_size=page_size)  # fmt: skip


@catalog_router.get("/templates/{template_id}", dependencies=USE)
async def catalog_template(
    template_id: uuid.UUID, principal: CurrentPrincipal, request: Request
) -> CatalogDetail:
    entry, sections, questions = await CatalogService(request.app.state.db).detail(principal, template_id)
    detail: CatalogDetail = _catalog_item(
        entry, principal, CatalogDetail, sections=sections, question_count=questions
    )
    return detail

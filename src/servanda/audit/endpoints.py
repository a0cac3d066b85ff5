"""Audit log endpoints (admin): list with filters, export."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from servanda.audit import service as audit
from servanda.identity.dependencies import CurrentPrincipal, Permission, allow
from servanda.platform.api_models import Page
from servanda.platform.http import API_PREFIX, AppDatabase, UnitOfWork

router = APIRouter(prefix=f"{API_PREFIX}/identity/audit-logs", tags=["audit"])

_MEDIA_TYPES: dict[audit.ExportFormat, str] = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
}


async def _filters(
    action: Annotated[str | None, Query(max_length=100, description="Exact action, e.g. user.login")] = None,
    actor_id: Annotated[uuid.UUID | None, Query(alias="actorId")] = None,
    object_type: Annotated[str | None, Query(alias="objectType", max_length=100)] = None,
    object_id: Annotated[str | None, Query(alias="objectId", max_length=100)] = None,
    created_from: Annotated[
        str | None,
        Query(alias="from", max_length=40, description="ISO 8601 date or date-time, inclusive"),
    ] = None,
    created_to: Annotated[
        str | None,
        Query(alias="to", max_length=40, description="ISO 8601 date (whole day) or date-time, inclusive"),
    ] = None,
) -> audit.AuditFilters:
    return audit.make_filters(
        action=action,
        actor_id=actor_id,
        object_type=object_type,
        object_id=object_id,
        created_from=created_from,
        created_to=created_to,
    )


Filters = Annotated[audit.AuditFilters, Depends(_filters)]


@router.get(
    "",
    dependencies=[allow(Permission.AUDIT_READ)],
    response_model=Page[audit.AuditEventOut],
    summary="List audit events",
)
async def list_audit_logs(
    session: UnitOfWork,
    principal: CurrentPrincipal,
    filters: Filters,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=audit.MAX_PAGE_SIZE)] = 25,
) -> Page[audit.AuditEventOut]:
    """The own tenant's audit events, newest first."""
    return await audit.list_events(session, principal, filters, page, page_size)


@router.get(
    "/export",
    dependencies=[allow(Permission.AUDIT_READ)],
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The matching events, oldest first.",
            "content": {"text/csv": {}, "application/x-ndjson": {}},
        }
    },
    summary="Export audit events",
)
async def export_audit_logs(
    db: AppDatabase,
    principal: CurrentPrincipal,
    filters: Filters,
    format: Annotated[audit.ExportFormat, Query()] = "csv",
) -> StreamingResponse:
    """Download the own tenant's audit events as CSV or JSON Lines.

    The events stream in their own transaction: the response starts (and the request's
    unit of work commits) before the first row is read.
    """
    filename = f"audit-{principal.tenant_slug}-{datetime.now(UTC).date().isoformat()}.{format}"
    return StreamingResponse(
        audit.export_events(db, principal, filters, format),
        media_type=_MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )

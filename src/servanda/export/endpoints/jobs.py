"""HTTP endpoints of export jobs and batches: ``/api/v1/export-jobs``.

Requests answer 202 with the queued job (``Location``: the job); the worker does the rest.
Downloads come through the API with a bearer token, or — for a browser — through the signed
link (``tenant``, ``expires``, ``signature``) that ``downloadUrl`` carries with the directory
storage; the S3 storage hands out presigned URLs instead.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from servanda.export import links
from servanda.export.models import ExportBatch, ExportJob
from servanda.export.queueing import CONTENT_TYPES
from servanda.export.schemas import (
    BatchRequest,
    ExportBatchOut,
    ExportCount,
    ExportJobOut,
    ExportRequest,
    ExportStats,
    ExportStatus,
    ManifestEntry,
)
from servanda.export.service import DownloadLink, ExportFile, ExportService, batch_url, job_url
from servanda.identity.dependencies import CurrentPrincipal, Meta, Permission, allow, signed_grant
from servanda.platform.api_models import Page
from servanda.platform.config import Settings
from servanda.platform.http import API_PREFIX, AppSettings, AppStorage, PageNumber, PageSize, UnitOfWork
from servanda.platform.keys import derived_key
from servanda.platform.openapi import STORAGE_UNAVAILABLE, problems

router = APIRouter(prefix=f"{API_PREFIX}/export-jobs", tags=["export"])
USE = [allow(Permission.CONTRACTS_USE)]
MONITOR = [allow(Permission.EXPORT_MONITOR)]


async def _export(session: UnitOfWork, storage: AppStorage, settings: AppSettings) -> ExportService:
    return ExportService(session, storage, derived_key(settings, links.LINK_PURPOSE))


Exports = Annotated[ExportService, Depends(_export)]


def _signed_link_check(kind: links.LinkKind, id_param: str) -> Any:
    """The route accepts a signed link (``?tenant&expires&signature``) instead of a bearer token."""

    async def check(request: Request) -> links.LinkGrant | None:
        query = request.query_params
        if "signature" not in query:
            return None  # a bearer token is needed as usual
        settings: Settings = request.app.state.settings
        grant = links.verify(
            derived_key(settings, links.LINK_PURPOSE),
            kind,
            request.path_params.get(id_param),
            query.get("tenant"),
            query.get("expires"),
            query.get("signature"),
            time.time(),
        )
        request.state.tenant_id = str(grant.tenant_id)  # the access log and metrics name it
        return grant

    return check


def job_out(job: ExportJob, link: DownloadLink | None = None) -> ExportJobOut:
    duration = (
        int((job.completed_at - job.started_at).total_seconds() * 1000)
        if job.completed_at and job.started_at
        else None
    )
    return ExportJobOut(
        id=job.id,
        contract_id=job.contract_id,
        format=job.format,
        style_template_id=job.style_template_id,
        status=job.status,
        attempts=job.attempts,
        requested_by=job.requested_by,
        queued_at=job.queued_at,
        started_at=job.started_at,
        completed_at=job.completed_at,
        next_attempt_at=job.next_attempt_at,
        archived_at=job.archived_at,
        duration_ms=duration,
        error_code=job.error_code,
        error_message=job.error_message,
        size=job.result_size,
        sha256=job.result_sha256,
        download_url=link.url if link else None,
        download_url_expires_at=link.expires_at if link else None,
    )


def _manifest(entries: list[Any]) -> list[ManifestEntry]:
    return [ManifestEntry.model_validate(e) for e in entries if isinstance(e, dict)]


def batch_out(batch: ExportBatch, link: DownloadLink | None = None) -> ExportBatchOut:
    return ExportBatchOut(
        id=batch.id,
        format=batch.format,
        style_template_id=batch.style_template_id,
        contract_ids=list(batch.contract_ids),
        status=batch.status,
        attempts=batch.attempts,
        requested_by=batch.requested_by,
        total=len(batch.contract_ids),
        done_count=batch.done_count,
        failed_count=batch.failed_count,
        manifest=_manifest(batch.manifest or []),
        queued_at=batch.queued_at,
        started_at=batch.started_at,
        completed_at=batch.completed_at,
        error_code=batch.error_code,
        error_message=batch.error_message,
        size=batch.result_size,
        sha256=batch.result_sha256,
        download_url=link.url if link else None,
        download_url_expires_at=link.expires_at if link else None,
    )


def _file_response(file: ExportFile) -> Response:
    return Response(
        content=file.data,
        media_type=file.content_type,
        headers={
            "Content-Disposition": file.content_disposition,
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


REQUEST_ERRORS = (
    problems(404, "contract.not_found", "export.style_template_not_found")
    | problems(403, "export.odt_disabled")
    | problems(409, "export.contract_archived", "contract.has_conflicts", "export.already_queued")
)

# Query parameters of a signed link (documented; the route's access check reads them).
LinkTenant = Annotated[uuid.UUID | None, Query(description="Signed link: the tenant")]
LinkExpires = Annotated[int | None, Query(description="Signed link: valid until (Unix seconds)")]
LinkSignature = Annotated[
    str | None, Query(max_length=128, description="Signed link: HMAC-SHA256 (hex); replaces the bearer token")
]
LINK_ERRORS = problems(403, "export.link_invalid", "export.link_expired")


# -- collection and monitoring routes (before /{job_id}) ---------------------------------------


@router.post(
    "",
    status_code=202,
    dependencies=USE,
    summary="Request an export",
    description="Queue an export of a contract the caller sees as DOCX, ODT (Beta, when the tenant enabled it) "
    "or PDF. Drafts are exported with „ENTWURF“ in the header. Answers 202 with the queued job and its "
    "`Location`; poll it until `status` is `done` (then `downloadUrl`) or `failed`.",
    responses=REQUEST_ERRORS,
)
async def request_export(
    body: ExportRequest, principal: CurrentPrincipal, exports: Exports, response: Response
) -> ExportJobOut:
    job = await exports.request(principal, body.contract_id, body.format, body.style_template_id)
    response.headers["Location"] = job_url(job.id)
    return job_out(job)


@router.get(
    "",
    dependencies=USE,
    summary="List export jobs",
    description="The export jobs of the contracts the caller sees (admins: the whole tenant), newest first, "
    "filtered by `contractId` and `status` (archived jobs only when asked for).",
)
async def list_exports(
    principal: CurrentPrincipal,
    exports: Exports,
    contract_id: Annotated[uuid.UUID | None, Query(alias="contractId")] = None,
    status: ExportStatus | None = None,
    page: PageNumber = 1,
    page_size: PageSize = 25,
) -> Page[ExportJobOut]:
    rows, total = await exports.list_jobs(
        principal, contract_id=contract_id, status=status, page=page, page_size=page_size
    )
    return Page[ExportJobOut](items=[job_out(j) for j in rows], total=total, page=page, page_size=page_size)


@router.get(
    "/failed",
    dependencies=MONITOR,
    summary="List failed export jobs (dead letters)",
    description="Jobs whose last retry failed, with error code and message, most recent first. "
    "`POST /export-jobs/{id}/retry` queues one again.",
)
async def list_failed_exports(
    exports: Exports, page: PageNumber = 1, page_size: PageSize = 25
) -> Page[ExportJobOut]:
    rows, total = await exports.failed_jobs(page, page_size)
    return Page[ExportJobOut](items=[job_out(j) for j in rows], total=total, page=page, page_size=page_size)


@router.get(
    "/stats",
    dependencies=MONITOR,
    summary="Export statistics",
    description="Counts per status and format; average and 95th percentile duration and the average queue wait "
    "of the jobs done in the last 24 hours; the age of the oldest waiting job.",
)
async def export_stats(exports: Exports) -> ExportStats:
    stats = await exports.stats()
    return ExportStats(
        counts=[ExportCount(status=c.status, format=c.format, count=c.count) for c in stats.counts],
        total=stats.total,
        done_last_day=stats.done_last_day,
        failed_last_day=stats.failed_last_day,
        avg_duration_ms=stats.avg_duration_ms,
        p95_duration_ms=stats.p95_duration_ms,
        avg_queue_wait_ms=stats.avg_queue_wait_ms,
        oldest_queued_age_s=stats.oldest_queued_age_s,
    )


# -- batches -----------------------------------------------------------------------------------


@router.post(
    "/batch",
    status_code=202,
    dependencies=USE,
    summary="Request a batch export",
    description="Up to 20 contracts (each once) in one format into one ZIP with a manifest (ids, titles, "
    "SHA-256). Every contract must be visible to the caller (else 404 naming the first missing id); a "
    "contract that cannot be exported (archived, conflicts) is listed as failed in the manifest instead "
    "of failing the batch. Answers 202 with the batch and its `Location`.",
    responses=problems(404, "contract.not_found", "export.style_template_not_found")
    | problems(403, "export.odt_disabled"),
)
async def request_batch(
    body: BatchRequest, principal: CurrentPrincipal, exports: Exports, response: Response
) -> ExportBatchOut:
    batch = await exports.request_batch(principal, body.contract_ids, body.format, body.style_template_id)
    response.headers["Location"] = batch_url(batch.id)
    return batch_out(batch)


@router.get(
    "/batch/{batch_id}",
    dependencies=USE,
    summary="Get a batch export",
    description="Progress (`total`, `doneCount`, `failedCount`, the manifest so far) and, when done, a "
    "`downloadUrl` valid 15 minutes.",
    responses=problems(404, "export.batch_not_found"),
)
async def get_batch(batch_id: uuid.UUID, principal: CurrentPrincipal, exports: Exports) -> ExportBatchOut:
    batch, link = await exports.batch_with_link(principal, batch_id)
    return batch_out(batch, link)


ZIP_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The ZIP (one file per contract and manifest.json)",
        "content": {CONTENT_TYPES["zip"]: {}},
    },
    **problems(404, "export.batch_not_found", "export.file_missing"),
    **problems(409, "export.not_done"),
    **LINK_ERRORS,
    **STORAGE_UNAVAILABLE,
}


@router.get(
    "/batch/{batch_id}/download",
    dependencies=[allow(Permission.CONTRACTS_USE, or_signed_link=_signed_link_check("batch", "batch_id"))],
    response_class=Response,
    responses=ZIP_RESPONSES,
    summary="Download a batch export",
    description="The ZIP as `Vertraege-<date>.zip`, audited. With a bearer token, or with the signed link "
    "of `downloadUrl` (`tenant`, `expires`, `signature`) instead.",
)
async def download_batch(
    batch_id: uuid.UUID,
    request: Request,
    exports: Exports,
    meta: Meta,
    tenant: LinkTenant = None,
    expires: LinkExpires = None,
    signature: LinkSignature = None,
) -> Response:
    grant = signed_grant(request)
    if isinstance(grant, links.LinkGrant):
        return _file_response(await exports.signed_batch_download(grant, meta))
    return _file_response(await exports.batch_download(request.state.principal, batch_id))


# -- one job -----------------------------------------------------------------------------------


@router.get(
    "/{job_id}",
    dependencies=USE,
    summary="Get an export job",
    description="Status, format, attempts, timings, error, size and SHA-256; when done, a `downloadUrl` valid "
    "15 minutes (a presigned URL with S3 storage, else a signed link to the download route).",
    responses=problems(404, "export.job_not_found"),
)
async def get_export(job_id: uuid.UUID, principal: CurrentPrincipal, exports: Exports) -> ExportJobOut:
    job, link = await exports.job_with_link(principal, job_id)
    return job_out(job, link)


FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file, named after the contract title (`Content-Disposition` with `filename*`)",
        "content": {CONTENT_TYPES[f]: {} for f in ("docx", "odt", "pdf")},
    },
    **problems(404, "export.job_not_found", "export.file_missing"),
    **problems(409, "export.not_done"),
    **LINK_ERRORS,
    **STORAGE_UNAVAILABLE,
}


@router.get(
    "/{job_id}/download",
    dependencies=[allow(Permission.CONTRACTS_USE, or_signed_link=_signed_link_check("job", "job_id"))],
    response_class=Response,
    responses=FILE_RESPONSES,
    summary="Download an export",
    description="The file with its content type and a file name from the contract title (RFC 6266, "
    "umlauts in `filename*`), audited. With a bearer token, or with the signed link of `downloadUrl` "
    "(`tenant`, `expires`, `signature`) instead, so a browser can open it.",
)
async def download_export(
    job_id: uuid.UUID,
    request: Request,
    exports: Exports,
    meta: Meta,
    tenant: LinkTenant = None,
    expires: LinkExpires = None,
    signature: LinkSignature = None,
) -> Response:
    grant = signed_grant(request)
    if isinstance(grant, links.LinkGrant):
        return _file_response(await exports.signed_download(grant, meta))
    return _file_response(await exports.download(request.state.principal, job_id))


@router.post(
    "/{job_id}/retry",
    dependencies=USE,
    summary="Retry a failed export",
    description="A failed job goes back to the queue with its attempts reset (only its requester or an "
    "export monitor). The contract's export preconditions are checked again.",
    responses=problems(404, "export.job_not_found", "contract.not_found")
    | problems(403, "export.not_requester", "export.odt_disabled")
    | problems(
        409,
        "export.not_retryable",
        "export.already_queued",
        "export.contract_archived",
        "contract.has_conflicts",
    ),
)
async def retry_export(job_id: uuid.UUID, principal: CurrentPrincipal, exports: Exports) -> ExportJobOut:
    return job_out(await exports.retry(principal, job_id))


@router.post(
    "/{job_id}/archive",
    dependencies=USE,
    summary="Archive an export",
    description="A done or failed job is archived and its file deleted (only its requester or an export "
    "monitor). Archived jobs are listed only when asked for with `status=archived`.",
    responses=problems(404, "export.job_not_found")
    | problems(403, "export.not_requester")
    | problems(409, "export.not_archivable"),
)
async def archive_export(job_id: uuid.UUID, principal: CurrentPrincipal, exports: Exports) -> ExportJobOut:
    return job_out(await exports.archive(principal, job_id))

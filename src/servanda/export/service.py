"""Export jobs and batches: requesting, reading, retrying, archiving, downloading (the API side).

The API writes ``export_jobs`` / ``export_batches`` rows and their queue jobs in the request's
transaction (``queueing.enqueue_job`` / ``enqueue_batch``); the worker (``export/worker.py``)
moves them through ``running`` to ``done`` or ``failed`` and stores the file. Who sees a job:
whoever sees its contract (``contracts.documents.visible_contract_ids``: own and team contracts,
admins all of their tenant; RLS keeps tenants apart); a batch, whoever sees all of its
contracts. Everything else is 404, as if the job did not exist.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from servanda.audit import repository as audit
from servanda.contracts import documents
from servanda.export import links, queueing
from servanda.export.models import ExportBatch, ExportJob
from servanda.export.repository import style_template_exists
from servanda.identity.principal import Permission, Principal, RequestMeta
from servanda.identity.repository import UserRepository
from servanda.platform import errors
from servanda.platform.db import SET_TENANT, after_commit
from servanda.platform.paging import paginate
from servanda.platform.storage import ObjectNotFound, S3Storage, Storage
from servanda.tenants.repository import TenantRepository

ACTIVE_INDEX: Final = "uq_export_jobs_active_per_contract_format"
API_PREFIX: Final = "/api/v1"
BERLIN: Final = ZoneInfo("Europe/Berlin")


def job_url(job_id: uuid.UUID) -> str:
    return f"{API_PREFIX}/export-jobs/{job_id}"


def batch_url(batch_id: uuid.UUID) -> str:
    return f"{API_PREFIX}/export-jobs/batch/{batch_id}"


# -- errors --------------------------------------------------------------------------------------


def job_not_found() -> errors.NotFound:
    return errors.NotFound("export.job_not_found", "Der Exportauftrag wurde nicht gefunden.")


def batch_not_found() -> errors.NotFound:
    return errors.NotFound("export.batch_not_found", "Der Sammelexport wurde nicht gefunden.")


def odt_disabled() -> errors.Forbidden:
    return errors.Forbidden(
        "export.odt_disabled",
        "Der ODT-Export (Beta) ist für Ihre Kanzlei nicht freigeschaltet. Eine Administratorin oder "
        "ein Administrator kann ihn in den Kanzlei-Einstellungen unter „Funktionen“ aktivieren.",
    )


def already_queued(job_id: uuid.UUID | None) -> errors.Conflict:
    return errors.Conflict(
        "export.already_queued",
        "Für diesen Vertrag läuft bereits ein Export in diesem Format. Bitte warten Sie, bis er fertig ist.",
        extra={"jobId": str(job_id) if job_id else None},  # None: the race's winner is not known yet
    )


def _is_active_index_violation(error: IntegrityError) -> bool:
    diag = getattr(error.orig, "diag", None)
    return getattr(diag, "constraint_name", None) == ACTIVE_INDEX or ACTIVE_INDEX in str(error.orig)


# -- values the endpoints shape ------------------------------------------------------------------


@dataclass(frozen=True)
class DownloadLink:
    url: str
    expires_at: datetime


@dataclass(frozen=True)
class ExportFile:
    data: bytes
    content_type: str
    content_disposition: str


@dataclass(frozen=True)
class StatusFormatCount:
    status: str
    format: str
    count: int


@dataclass(frozen=True)
class Stats:
    counts: list[StatusFormatCount]
    total: int
    done_last_day: int
    failed_last_day: int
    avg_duration_ms: float | None
    p95_duration_ms: float | None
    avg_queue_wait_ms: float | None
    oldest_queued_age_s: float | None


class ExportService:
    """Works in the caller's transaction (the request's unit of work).

    ``link_key`` signs the download links of the directory storage (``links``); the S3
    storage hands out presigned URLs instead.
    """

    def __init__(self, session: AsyncSession, storage: Storage, link_key: bytes) -> None:
        self.session = session
        self.storage = storage
        self.link_key = link_key

    # -- requesting -----------------------------------------------------------------------------

    async def _check_format(self, principal: Principal, fmt: str) -> None:
        if fmt == "odt" and not await TenantRepository(self.session).odt_export_enabled(principal.tenant_id):
            raise odt_disabled()

    async def _check_style(self, style_template_id: uuid.UUID | None) -> None:
        if style_template_id is not None and not await style_template_exists(self.session, style_template_id):
            raise errors.NotFound(
                "export.style_template_not_found", "Die Formatvorlage wurde nicht gefunden."
            )

    async def _check_contract(self, principal: Principal, contract_id: uuid.UUID) -> documents.ContractState:
        """The contract as the caller sees it (404), not archived (409), without hard conflicts (409).

        Drafts are allowed: the worker marks their documents "ENTWURF".
        """
        contract = await documents.visible_contract(self.session, principal, contract_id)
        if contract.status == "archived":
            raise errors.Conflict(
                "export.contract_archived",
                "Archivierte Verträge können nicht exportiert werden.",
                extra={"contractId": str(contract_id)},
            )
        if contract.validation_state == "has_conflicts":
            raise errors.Conflict(
                "contract.has_conflicts",
                "Der Vertrag enthält unvereinbare Klauseln. Bitte lösen Sie die Konflikte vor dem Export.",
                extra={"contractId": str(contract_id)},
            )
        return contract

    async def _active_job(self, contract_id: uuid.UUID, fmt: str) -> uuid.UUID | None:
        found: uuid.UUID | None = await self.session.scalar(
            select(ExportJob.id).where(
                ExportJob.contract_id == contract_id,
                ExportJob.format == fmt,
                ExportJob.status.in_(("queued", "running")),
            )
        )
        return found

    async def _flush_job(self, job: ExportJob) -> None:
        """Write the row; the partial unique index refuses a second active job (a race the
        pre-check lost) with the same 409. The request's transaction then rolls back whole."""
        try:
            await self.session.flush()
        except IntegrityError as error:
            if _is_active_index_violation(error):
                raise already_queued(None) from None
            raise

    async def request(
        self, principal: Principal, contract_id: uuid.UUID, fmt: str, style_template_id: uuid.UUID | None
    ) -> ExportJob:
        """Preconditions in the order of api.md, then the row and its queue job in this transaction."""
        contract = await self._check_contract(principal, contract_id)
        if (active := await self._active_job(contract_id, fmt)) is not None:
            raise already_queued(active)
        await self._check_style(style_template_id)
        await self._check_format(principal, fmt)
        job = ExportJob(
            tenant_id=principal.tenant_id,
            contract_id=contract_id,
            requested_by=principal.user_id,
            format=fmt,
            style_template_id=style_template_id,
            status="queued",
            attempts=0,
        )
        self.session.add(job)
        await self._flush_job(job)
        job.queue_job_id = await queueing.enqueue_job(self.session, principal.tenant_id, job.id)
        await audit.record(
            self.session,
            principal,
            "export.request",
            "export_job",
            job.id,
            {
                "contractId": str(contract_id),
                "format": fmt,
                "styleTemplateId": str(style_template_id) if style_template_id else None,
                "draft": contract.draft,
            },
        )
        await self.session.flush()
        await self.session.refresh(job)
        return job

    # -- reading --------------------------------------------------------------------------------

    def _visible(self, principal: Principal, query: Select[Any]) -> Select[Any]:
        if principal.role == "admin":
            return query  # the whole tenant (RLS)
        return query.where(ExportJob.contract_id.in_(documents.visible_contract_ids(principal)))

    async def job(self, principal: Principal, job_id: uuid.UUID, *, lock: bool = False) -> ExportJob:
        query = self._visible(principal, select(ExportJob).where(ExportJob.id == job_id))
        found: ExportJob | None = await self.session.scalar(
            query.with_for_update(of=ExportJob) if lock else query
        )
        if found is None:
            raise job_not_found()
        return found

    async def job_with_link(
        self, principal: Principal, job_id: uuid.UUID
    ) -> tuple[ExportJob, DownloadLink | None]:
        """The job and, when it is done, a download link valid 15 minutes.

        A presigned S3 URL hands the file out past the API, so issuing one is the download the
        audit trail can see: it is recorded as ``export.download`` (``via: presigned_url``).
        """
        job = await self.job(principal, job_id)
        if job.status != "done" or not job.result_storage_key:
            return job, None
        link = await self._link(
            principal,
            "job",
            job.id,
            job.format,
            job.result_storage_key,
            queueing.CONTENT_TYPES[job.format],
            await self._job_disposition(job.contract_id, job.format),
        )
        return job, link

    async def list_jobs(
        self,
        principal: Principal,
        *,
        contract_id: uuid.UUID | None,
        status: str | None,
        page: int,
        page_size: int,
    ) -> tuple[list[ExportJob], int]:
        """Visible jobs, newest first; archived ones only when asked for by status."""
        query = self._visible(principal, select(ExportJob))
        if contract_id is not None:
            query = query.where(ExportJob.contract_id == contract_id)
        query = (
            query.where(ExportJob.status == status) if status else query.where(ExportJob.status != "archived")
        )
        query = query.order_by(ExportJob.queued_at.desc(), ExportJob.id)
        return await paginate(self.session, query, page, page_size)

    async def failed_jobs(self, page: int, page_size: int) -> tuple[list[ExportJob], int]:
        """The dead letters of the tenant: jobs whose last retry failed, most recent first."""
        query = (
            select(ExportJob)
            .where(ExportJob.status == "failed")
            .order_by(ExportJob.completed_at.desc().nulls_last(), ExportJob.id)
        )
        return await paginate(self.session, query, page, page_size)

    async def stats(self) -> Stats:
        session = self.session
        rows = (
            await session.execute(
                select(ExportJob.status, ExportJob.format, func.count())
                .group_by(ExportJob.status, ExportJob.format)
                .order_by(ExportJob.status, ExportJob.format)
            )
        ).all()
        counts = [StatusFormatCount(r[0], r[1], int(r[2])) for r in rows]
        since = func.now() - timedelta(hours=24)
        duration_ms = func.extract("epoch", ExportJob.completed_at - ExportJob.started_at) * 1000
        wait_ms = func.extract("epoch", ExportJob.started_at - ExportJob.queued_at) * 1000
        recent_done = and_(
            ExportJob.status.in_(("done", "archived")),
            ExportJob.completed_at >= since,
            ExportJob.started_at.is_not(None),
            ExportJob.error_code.is_(None),
        )
        done = (
            await session.execute(
                select(
                    func.count(),
                    func.avg(duration_ms),
                    func.percentile_cont(0.95).within_group(duration_ms),
                    func.avg(wait_ms),
                ).where(recent_done)
            )
        ).one()
        failed_recent = await session.scalar(
            select(func.count()).where(ExportJob.status == "failed", ExportJob.completed_at >= since)
        )
        oldest = await session.scalar(
            select(func.extract("epoch", func.now() - func.min(ExportJob.queued_at))).where(
                ExportJob.status == "queued"
            )
        )

        def number(value: Any) -> float | None:
            return None if value is None else round(float(value), 1)

        return Stats(
            counts=counts,
            total=sum(c.count for c in counts),
            done_last_day=int(done[0]),
            failed_last_day=int(failed_recent or 0),
            avg_duration_ms=number(done[1]),
            p95_duration_ms=number(done[2]),
            avg_queue_wait_ms=number(done[3]),
            oldest_queued_age_s=number(oldest),
        )

    # -- changing -------------------------------------------------------------------------------

    @staticmethod
    def _check_requester(principal: Principal, requested_by: uuid.UUID | None) -> None:
        if principal.may(Permission.EXPORT_MONITOR) or requested_by == principal.user_id:
            return
        raise errors.Forbidden(
            "export.not_requester",
            "Nur wer den Export angefordert hat oder die Exporte der Kanzlei überwacht, darf das.",
        )

    async def retry(self, principal: Principal, job_id: uuid.UUID) -> ExportJob:
        """A failed job (a dead letter) goes back to the queue: attempts reset, a fresh queue job
        in this transaction. The contract's preconditions are checked again (a draft may have
        gained a conflict meanwhile), as is the ODT flag."""
        job = await self.job(principal, job_id, lock=True)
        self._check_requester(principal, job.requested_by)
        if job.status != "failed":
            raise errors.Conflict(
                "export.not_retryable",
                "Nur fehlgeschlagene Exporte können erneut gestartet werden.",
                extra={"currentStatus": job.status},
            )
        await self._check_contract(principal, job.contract_id)
        await self._check_format(principal, job.format)
        previous = {"errorCode": job.error_code, "attempts": job.attempts}
        job.status = "queued"
        job.attempts = 0
        job.queued_at = datetime.now(UTC)
        job.started_at = job.completed_at = job.next_attempt_at = None
        job.error_code = job.error_message = None
        job.result_storage_key = job.result_sha256 = None
        job.result_size = None
        await self._flush_job(job)
        job.queue_job_id = await queueing.enqueue_job(self.session, principal.tenant_id, job.id)
        await audit.record(
            self.session, principal, "export.retry", "export_job", job.id, {"previous": previous}
        )
        await self.session.flush()
        await self.session.refresh(job)
        return job

    async def archive(self, principal: Principal, job_id: uuid.UUID) -> ExportJob:
        """A done or failed job is archived; its file is deleted after the commit (an export of a
        completed contract can be repeated byte for byte, so nothing is lost)."""
        job = await self.job(principal, job_id, lock=True)
        self._check_requester(principal, job.requested_by)
        if job.status not in ("done", "failed"):
            raise errors.Conflict(
                "export.not_archivable",
                "Nur fertige oder fehlgeschlagene Exporte können archiviert werden.",
                extra={"currentStatus": job.status},
            )
        previous, key = job.status, job.result_storage_key
        job.status = "archived"
        job.archived_at = datetime.now(UTC)
        await audit.record(
            self.session,
            principal,
            "export.archive",
            "export_job",
            job.id,
            {"previousStatus": previous, "fileDeleted": key is not None},
        )
        if key is not None:
            tenant_id, storage = principal.tenant_id, self.storage

            async def delete_file() -> None:
                await storage.delete(tenant_id, key)

            after_commit(self.session, delete_file)
        await self.session.flush()
        await self.session.refresh(job)
        return job

    # -- downloading ----------------------------------------------------------------------------

    async def _file(self, tenant_id: uuid.UUID, key: str | None, fmt: str, disposition: str) -> ExportFile:
        try:
            data = await self.storage.get(tenant_id, key or "")
        except (ObjectNotFound, ValueError):
            raise errors.NotFound(
                "export.file_missing",
                "Die Exportdatei ist nicht mehr vorhanden. Bitte exportieren Sie den Vertrag erneut.",
            ) from None
        return ExportFile(data, queueing.CONTENT_TYPES[fmt], disposition)

    @staticmethod
    def _check_done(status: str) -> None:
        if status != "done":
            raise errors.Conflict(
                "export.not_done",
                "Der Export ist noch nicht fertig."
                if status in ("queued", "running")
                else "Für diesen Export gibt es keine Datei.",
                extra={"currentStatus": status},
            )

    async def _job_disposition(self, contract_id: uuid.UUID, fmt: str) -> str:
        title = await documents.contract_title(self.session, contract_id)
        return links.content_disposition(links.file_stem(title), fmt)

    async def download(self, principal: Principal, job_id: uuid.UUID) -> ExportFile:
        job = await self.job(principal, job_id)
        self._check_done(job.status)
        file = await self._file(
            principal.tenant_id,
            job.result_storage_key,
            job.format,
            await self._job_disposition(job.contract_id, job.format),
        )
        await audit.record(
            self.session,
            principal,
            "export.download",
            "export_job",
            job.id,
            self._download_details(job, "bearer"),
        )
        return file

    async def _enter_link_tenant(self, grant: links.LinkGrant, requested_by: uuid.UUID | None) -> None:
        """A signed link stands for its requester: the tenant must be active and the requester an
        active user still (a deactivated user's links stop working at once)."""
        if await TenantRepository(self.session).status_of(grant.tenant_id) != "active":
            raise links.link_invalid()
        user = await UserRepository(self.session).ref(requested_by) if requested_by else None
        if user is None or user.status != "active":
            raise links.link_invalid()

    async def signed_download(self, grant: links.LinkGrant, origin: RequestMeta) -> ExportFile:
        """The file of a verified signed link (no bearer token: the link names tenant and job)."""
        assert grant.kind == "job"
        await self.session.execute(SET_TENANT, {"tenant": str(grant.tenant_id)})
        job = await self.session.get(ExportJob, grant.object_id)
        if job is None:
            raise job_not_found()
        await self._enter_link_tenant(grant, job.requested_by)
        self._check_done(job.status)
        file = await self._file(
            grant.tenant_id,
            job.result_storage_key,
            job.format,
            await self._job_disposition(job.contract_id, job.format),
        )
        await audit.record_system(
            self.session,
            grant.tenant_id,
            "export.download",
            "export_job",
            job.id,
            self._download_details(job, "signed_link"),
            actor_id=job.requested_by,
            origin=origin,
        )
        return file

    @staticmethod
    def _download_details(row: ExportJob | ExportBatch, via: str) -> dict[str, Any]:
        return {"via": via, "format": row.format, "size": row.result_size, "sha256": row.result_sha256}

    async def _link(
        self,
        principal: Principal,
        kind: links.LinkKind,
        object_id: uuid.UUID,
        fmt: str,
        key: str,
        content_type: str,
        disposition: str,
    ) -> DownloadLink:
        """A presigned S3 URL (S3 storage) or a signed API URL (directory storage), 15 minutes.

        A presigned URL hands the file out past the API, so issuing one is the download the
        audit trail can see (``export.download``, ``via: presigned_url``).
        """
        tenant_id = principal.tenant_id
        expires = int(time.time()) + links.LINK_TTL_S
        expires_at = datetime.fromtimestamp(expires, UTC)
        if isinstance(self.storage, S3Storage):
            url = self.storage.presigned_url(tenant_id, key, links.LINK_TTL_S, disposition, content_type)
            details = {"via": "presigned_url", "format": fmt, "expiresAt": expires_at.isoformat()}
            await audit.record(
                self.session, principal, "export.download", f"export_{kind}", object_id, details
            )
            return DownloadLink(url, expires_at)
        base = job_url(object_id) if kind == "job" else batch_url(object_id)
        query = links.signed_query(self.link_key, kind, tenant_id, object_id, expires)
        return DownloadLink(f"{base}/download?{query}", expires_at)

    # -- batches --------------------------------------------------------------------------------

    async def request_batch(
        self,
        principal: Principal,
        contract_ids: list[uuid.UUID],
        fmt: str,
        style_template_id: uuid.UUID | None,
    ) -> ExportBatch:
        """Every contract must be visible (else 404 naming the first missing id); then the ODT
        flag and the style. Per-contract problems (archived, conflicts) do not fail the batch:
        the worker lists them in the manifest."""
        visible = await documents.visible_ids(self.session, principal, contract_ids)
        missing = next((c for c in contract_ids if c not in visible), None)
        if missing is not None:
            raise errors.NotFound(
                "contract.not_found",
                f"Der Vertrag {missing} wurde nicht gefunden.",
                extra={"contractId": str(missing)},
            )
        await self._check_style(style_template_id)
        await self._check_format(principal, fmt)
        batch = ExportBatch(
            tenant_id=principal.tenant_id,
            requested_by=principal.user_id,
            format=fmt,
            style_template_id=style_template_id,
            contract_ids=list(contract_ids),
            status="queued",
            attempts=0,
            done_count=0,
            failed_count=0,
            manifest=[],
        )
        self.session.add(batch)
        await self.session.flush()
        batch.queue_job_id = await queueing.enqueue_batch(self.session, principal.tenant_id, batch.id)
        await audit.record(
            self.session,
            principal,
            "export.request",
            "export_batch",
            batch.id,
            {
                "contractIds": [str(c) for c in contract_ids],
                "format": fmt,
                "styleTemplateId": str(style_template_id) if style_template_id else None,
            },
        )
        await self.session.flush()
        await self.session.refresh(batch)
        return batch

    async def batch(self, principal: Principal, batch_id: uuid.UUID) -> ExportBatch:
        """A batch is visible to whoever sees every one of its contracts (admins: all)."""
        batch = await self.session.get(ExportBatch, batch_id)
        if batch is None:
            raise batch_not_found()
        if principal.role != "admin":
            wanted = set(batch.contract_ids)
            if await documents.visible_ids(self.session, principal, wanted) != wanted:
                raise batch_not_found()
        return batch

    async def batch_with_link(
        self, principal: Principal, batch_id: uuid.UUID
    ) -> tuple[ExportBatch, DownloadLink | None]:
        batch = await self.batch(principal, batch_id)
        if batch.status != "done" or not batch.result_storage_key:
            return batch, None
        link = await self._link(
            principal,
            "batch",
            batch.id,
            batch.format,
            batch.result_storage_key,
            queueing.CONTENT_TYPES["zip"],
            self._batch_disposition(batch),
        )
        return batch, link

    def _batch_disposition(self, batch: ExportBatch) -> str:
        return links.content_disposition(batch_stem(batch.completed_at or batch.queued_at), "zip")

    async def batch_download(self, principal: Principal, batch_id: uuid.UUID) -> ExportFile:
        batch = await self.batch(principal, batch_id)
        self._check_done(batch.status)
        file = await self._file(
            principal.tenant_id, batch.result_storage_key, "zip", self._batch_disposition(batch)
        )
        await audit.record(
            self.session,
            principal,
            "export.download",
            "export_batch",
            batch.id,
            self._download_details(batch, "bearer"),
        )
        return file

    async def signed_batch_download(self, grant: links.LinkGrant, origin: RequestMeta) -> ExportFile:
        assert grant.kind == "batch"
        await self.session.execute(SET_TENANT, {"tenant": str(grant.tenant_id)})
        batch = await self.session.get(ExportBatch, grant.object_id)
        if batch is None:
            raise batch_not_found()
        await self._enter_link_tenant(grant, batch.requested_by)
        self._check_done(batch.status)
        file = await self._file(
            grant.tenant_id, batch.result_storage_key, "zip", self._batch_disposition(batch)
        )
        await audit.record_system(
            self.session,
            grant.tenant_id,
            "export.download",
            "export_batch",
            batch.id,
            self._download_details(batch, "signed_link"),
            actor_id=batch.requested_by,
            origin=origin,
        )
        return file


def batch_stem(when: datetime) -> str:
    """``Vertraege-<YYYY-MM-DD>`` (the batch's date in German time)."""
    return f"Vertraege-{when.astimezone(BERLIN).date().isoformat()}"

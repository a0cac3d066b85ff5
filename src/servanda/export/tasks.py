"""The export worker's tasks: render one export job, or a batch into one ZIP.

Each task runs under the tenant of its job (``Database.session(tenant_id)`` sets it per
transaction, so row-level security confines the worker exactly like a request), reads only
the contract's pins and snapshot (``contracts.documents``), renders the DOCX from the same
document model as the live preview, converts it through the warm LibreOffice for ODT and PDF,
stores the file, and writes nothing but the job's status and result.

Transactions are short: one to claim the job (``running``, attempt counted), none while
rendering, one to record the outcome. A process that dies in between leaves the row
``running`` and its queue job ``doing``; the worker that notices the silent heartbeat puts
it back to ``queued`` and the queue job back to ``todo`` (worker.py).
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import io
import time
import uuid
import zipfile
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from sqlalchemy import text, update

from servanda.audit.repository import record_system
from servanda.contracts.documents import ContractDocument, contract_document
from servanda.export import links
from servanda.export.converter import ConversionError, Converter
from servanda.export.docx import render_docx
from servanda.export.models import ExportBatch, ExportJob
from servanda.export.queueing import CONTENT_TYPES, batch_key, result_key
from servanda.export.repository import ResolvedStyle, resolve_style
from servanda.platform import metrics
from servanda.platform.db import Database
from servanda.platform.logs import get_logger
from servanda.platform.storage import Storage, StorageError

log = get_logger("servanda.export")

# The ZIP of a batch is reproducible too: fixed member dates, members in request order.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class ExportFailure(Exception):
    """An attempt failed; ``retriable`` ones are tried again (backoff), the others fail the job."""

    def __init__(self, code: str, message: str, *, retriable: bool) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
        self.retriable = retriable


@dataclass
class WorkerDeps:
    """What the tasks need; built once per worker process."""

    db: Database
    storage: Storage
    converter: Converter
    job_timeout_s: float
    max_retries: int
    retry_base_s: float

    def retry_delay_s(self, attempt: int) -> float:
        """Wait before retry ``attempt`` (1-based): base, 2 x base, 4 x base, ..."""
        return float(self.retry_base_s * 2 ** max(attempt - 1, 0))


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


# -- producing one file -------------------------------------------------------------------


async def _load(
    deps: WorkerDeps, tenant_id: uuid.UUID, contract_id: uuid.UUID, style_id: uuid.UUID | None
) -> tuple[ContractDocument, ResolvedStyle]:
    async with deps.db.session(tenant_id) as session:
        document = await contract_document(session, contract_id)
        if document is None:
            raise ExportFailure(
                "export.contract_missing", "Der Vertrag existiert nicht mehr.", retriable=False
            )
        if document.status == "archived":
            raise ExportFailure(
                "export.contract_archived", "Archivierte Verträge werden nicht exportiert.", retriable=False
            )
        style = await resolve_style(session, deps.storage, tenant_id, style_id)
    return document, style


async def produce(
    deps: WorkerDeps, tenant_id: uuid.UUID, contract_id: uuid.UUID, fmt: str, style_id: uuid.UUID | None
) -> tuple[ContractDocument, bytes]:
    """The file of ``contract_id`` in ``fmt``: DOCX rendered here, ODT and PDF converted from it."""
    document, style = await _load(deps, tenant_id, contract_id, style_id)
    docx = await asyncio.to_thread(
        render_docx, document.document, style.spec, logo=style.logo, base_docx=style.base_docx
    )
    if fmt == "docx":
        return document, docx
    target: Literal["odt", "pdf"] = "odt" if fmt == "odt" else "pdf"
    try:
        return document, await deps.converter.convert(docx, target)
    except ConversionError as error:
        raise ExportFailure(error.code, _conversion_message(error), retriable=error.retriable) from error


def _conversion_message(error: ConversionError) -> str:
    if error.code == "converter.unavailable":
        return "LibreOffice ist auf dem Export-Server nicht verfügbar."
    return "Die Umwandlung mit LibreOffice ist fehlgeschlagen."


async def produce_in_time(
    deps: WorkerDeps, tenant_id: uuid.UUID, contract_id: uuid.UUID, fmt: str, style_id: uuid.UUID | None
) -> tuple[ContractDocument, bytes]:
    """:func:`produce` within the job timeout; every failure comes out as :class:`ExportFailure`."""
    try:
        return await asyncio.wait_for(
            produce(deps, tenant_id, contract_id, fmt, style_id), deps.job_timeout_s
        )
    except TimeoutError:
        raise ExportFailure(
            "export.timeout", "Der Export hat das Zeitlimit überschritten.", retriable=True
        ) from None
    except ExportFailure:
        raise
    except Exception as error:  # a bug or a lost database: never leave a row "running"
        log.exception("export attempt crashed", action="export.crash", contract_id=str(contract_id))
        raise ExportFailure(
            "export.internal_error", "Beim Export ist ein interner Fehler aufgetreten.", retriable=True
        ) from error


# -- one export job -------------------------------------------------------------------------


async def _claim(deps: WorkerDeps, tenant_id: uuid.UUID, job_id: uuid.UUID) -> ExportJob | None:
    """Mark the job running (one more attempt); None when there is nothing to do any more."""
    async with deps.db.session(tenant_id) as session:
        job = await session.get(ExportJob, job_id, with_for_update=True)
        if job is None or job.status not in ("queued", "running"):
            return None  # archived, retried by hand into a new queue job, or already done
        job.status = "running"
        job.attempts += 1
        job.started_at = _now()
        job.next_attempt_at = None
        return job


async def _finish(deps: WorkerDeps, tenant_id: uuid.UUID, job_id: uuid.UUID, values: dict[str, Any]) -> None:
    async with deps.db.session(tenant_id) as session:
        await session.execute(update(ExportJob).where(ExportJob.id == job_id).values(**values))
        action = {"done": "export.complete", "failed": "export.fail"}.get(str(values.get("status")))
        if action is not None:
            details = {k: values[k] for k in ("error_code", "result_sha256") if values.get(k)}
            await record_system(session, tenant_id, action, "export_job", job_id, details)


async def render_job(deps: WorkerDeps, job_id: uuid.UUID, tenant_id: uuid.UUID, queue_attempts: int) -> None:
    """Render export job ``job_id``; raises :class:`ExportFailure` when the queue should retry."""
    job = await _claim(deps, tenant_id, job_id)
    if job is None:
        return
    started = time.monotonic()
    fmt = job.format
    try:
        _, data = await produce_in_time(deps, tenant_id, job.contract_id, fmt, job.style_template_id)
        key = result_key(tenant_id, job_id, fmt)
        try:
            await deps.storage.put(tenant_id, key, data, CONTENT_TYPES[fmt])
        except (StorageError, OSError) as error:
            raise ExportFailure(
                "export.storage_failed", "Die Datei konnte nicht gespeichert werden.", retriable=True
            ) from error
        digest = hashlib.sha256(data).hexdigest()
        await _finish(
            deps,
            tenant_id,
            job_id,
            {
                "status": "done",
                "result_storage_key": key,
                "result_size": len(data),
                "result_sha256": digest,
                "completed_at": _now(),
                "error_code": None,
                "error_message": None,
            },
        )
        metrics.EXPORT_JOB_DURATION.labels(fmt, "done", str(tenant_id)).observe(time.monotonic() - started)
        metrics.EXPORT_STORED_BYTES.labels(fmt, str(tenant_id)).inc(len(data))
        log.info("export done", action="export.complete", job_id=str(job_id), format=fmt, size=len(data))
    except ExportFailure as failure:
        metrics.EXPORT_FAILURES.labels(fmt, failure.code).inc()
        final = not failure.retriable or queue_attempts >= deps.max_retries
        values: dict[str, Any] = {"error_code": failure.code, "error_message": failure.message}
        if final:
            values |= {"status": "failed", "completed_at": _now()}
            metrics.EXPORT_JOB_DURATION.labels(fmt, "failed", str(tenant_id)).observe(
                time.monotonic() - started
            )
        else:
            wait = deps.retry_delay_s(queue_attempts + 1)
            values |= {"status": "queued", "next_attempt_at": _now() + datetime.timedelta(seconds=wait)}
        await _finish(deps, tenant_id, job_id, values)
        log.warning(
            "export attempt failed",
            action="export.fail" if final else "export.retry_scheduled",
            job_id=str(job_id),
            error_code=failure.code,
            attempt=queue_attempts + 1,
        )
        raise
    except asyncio.CancelledError:
        # Shutdown past its grace period: hand the job back to the queue (the queue retries it).
        await asyncio.shield(_finish(deps, tenant_id, job_id, {"status": "queued"}))
        raise


# -- a batch into one ZIP -------------------------------------------------------------------


def _zip(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


async def _claim_batch(deps: WorkerDeps, tenant_id: uuid.UUID, batch_id: uuid.UUID) -> ExportBatch | None:
    async with deps.db.session(tenant_id) as session:
        batch = await session.get(ExportBatch, batch_id, with_for_update=True)
        if batch is None or batch.status not in ("queued", "running"):
            return None
        batch.status = "running"
        batch.attempts += 1
        batch.started_at = _now()
        batch.done_count = 0
        batch.failed_count = 0
        batch.manifest = []
        return batch


async def _update_batch(
    deps: WorkerDeps, tenant_id: uuid.UUID, batch_id: uuid.UUID, values: dict[str, Any]
) -> None:
    async with deps.db.session(tenant_id) as session:
        await session.execute(update(ExportBatch).where(ExportBatch.id == batch_id).values(**values))
        if values.get("status") in ("done", "failed"):
            action = "export.complete" if values["status"] == "done" else "export.fail"
            await record_system(
                session,
                tenant_id,
                action,
                "export_batch",
                batch_id,
                {"failed": values.get("failed_count", 0)},
            )


async def _batch_member(
    deps: WorkerDeps, tenant_id: uuid.UUID, contract_id: uuid.UUID, fmt: str, style_id: uuid.UUID | None
) -> tuple[ContractDocument, bytes]:
    """One contract of a batch; a retriable failure (a crashed converter is restarted) gets one more try."""
    try:
        return await produce_in_time(deps, tenant_id, contract_id, fmt, style_id)
    except ExportFailure as failure:
        if not failure.retriable:
            raise
    return await produce_in_time(deps, tenant_id, contract_id, fmt, style_id)


async def render_batch(
    deps: WorkerDeps, batch_id: uuid.UUID, tenant_id: uuid.UUID, queue_attempts: int
) -> None:
    """Render every contract of a batch; failures of single contracts go into the manifest."""
    batch = await _claim_batch(deps, tenant_id, batch_id)
    if batch is None:
        return
    started = time.monotonic()
    fmt = batch.format
    members: list[tuple[str, bytes]] = []
    manifest: list[dict[str, Any]] = []
    done = failed = 0
    used: set[str] = set()
    for position, contract_id in enumerate(batch.contract_ids, start=1):
        entry: dict[str, Any] = {"contractId": str(contract_id)}
        try:
            document, data = await _batch_member(deps, tenant_id, contract_id, fmt, batch.style_template_id)
            name = f"{position:02d} {links.file_stem(document.title)}.{fmt}"
            while name in used:  # titles may repeat; positions make names unique anyway
                name = f"{position:02d}-{len(used)} {links.file_stem(document.title)}.{fmt}"
            used.add(name)
            members.append((name, data))
            entry |= {
                "title": document.title,
                "file": name,
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
                "status": "done",
            }
            done += 1
        except ExportFailure as failure:  # one contract's failure is listed, the batch goes on
            metrics.EXPORT_FAILURES.labels(fmt, failure.code).inc()
            entry |= {"status": "failed", "errorCode": failure.code, "error": failure.message}
            failed += 1
        manifest.append(entry)
        await _update_batch(
            deps, tenant_id, batch_id, {"done_count": done, "failed_count": failed, "manifest": manifest}
        )
    document_manifest = {"batchId": str(batch_id), "format": fmt, "contracts": manifest}
    members.append(("manifest.json", orjson.dumps(document_manifest, option=orjson.OPT_INDENT_2)))
    data = _zip(members)
    key = batch_key(tenant_id, batch_id)
    try:
        await deps.storage.put(tenant_id, key, data, CONTENT_TYPES["zip"])
    except (StorageError, OSError) as error:
        final = queue_attempts >= deps.max_retries
        await _update_batch(
            deps,
            tenant_id,
            batch_id,
            {
                "status": "failed" if final else "queued",
                "error_code": "export.storage_failed",
                "error_message": "Die Datei konnte nicht gespeichert werden.",
            },
        )
        raise ExportFailure(
            "export.storage_failed", "Die Datei konnte nicht gespeichert werden.", retriable=True
        ) from error
    await _update_batch(
        deps,
        tenant_id,
        batch_id,
        {
            "status": "done",
            "result_storage_key": key,
            "result_size": len(data),
            "result_sha256": hashlib.sha256(data).hexdigest(),
            "completed_at": _now(),
            "failed_count": failed,
        },
    )
    metrics.EXPORT_JOB_DURATION.labels(fmt, "done", str(tenant_id)).observe(time.monotonic() - started)
    metrics.EXPORT_STORED_BYTES.labels("zip", str(tenant_id)).inc(len(data))


async def release_job(db: Database, task_name: str, args: dict[str, Any]) -> None:
    """Put the row of a stalled queue job back to ``queued`` (its worker died mid-job)."""
    try:
        tenant_id = uuid.UUID(str(args["tenant_id"]))
        if task_name.endswith("render_job"):
            table, key = ExportJob, uuid.UUID(str(args["job_id"]))
        else:
            table, key = ExportBatch, uuid.UUID(str(args["batch_id"]))  # type: ignore[assignment]
    except (KeyError, ValueError):
        return
    async with db.session(tenant_id) as session:
        await session.execute(
            update(table).where(table.id == key, table.status == "running").values(status="queued")
        )


async def queue_depth(db: Database) -> int:
    """Export jobs waiting in the queue (``todo``), for the queue-depth gauge."""
    async with db.engine.connect() as conn:
        value = await conn.scalar(text("SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'"))
    return int(value or 0)

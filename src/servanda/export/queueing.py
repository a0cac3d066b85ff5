"""What the API and the worker agree on: task names, their arguments, storage keys.

The API writes an ``export_jobs`` (or ``export_batches``) row and defers its queue job in
the same transaction (:func:`enqueue_job`, :func:`enqueue_batch`); the worker's tasks of the
same names read the row by id under the job's tenant.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from servanda.platform import queue
from servanda.platform.storage import tenant_key

RENDER_JOB = "export.render_job"  # args: job_id, tenant_id
RENDER_BATCH = "export.render_batch"  # args: batch_id, tenant_id

CONTENT_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "odt": "application/vnd.oasis.opendocument.text",
    "pdf": "application/pdf",
    "zip": "application/zip",
}


def result_key(tenant_id: uuid.UUID, job_id: uuid.UUID, fmt: str) -> str:
    """``{tenant_id}/exports/{job_id}.{ext}`` (domain.md)."""
    return tenant_key(tenant_id, "exports", f"{job_id}.{fmt}")


def batch_key(tenant_id: uuid.UUID, batch_id: uuid.UUID) -> str:
    return tenant_key(tenant_id, "exports", f"batch-{batch_id}.zip")


async def enqueue_job(session: AsyncSession, tenant_id: uuid.UUID, job_id: uuid.UUID) -> int:
    """Defer the render task of export job ``job_id`` in the session's transaction."""
    return await queue.defer(session, RENDER_JOB, {"job_id": str(job_id), "tenant_id": str(tenant_id)})


async def enqueue_batch(session: AsyncSession, tenant_id: uuid.UUID, batch_id: uuid.UUID) -> int:
    return await queue.defer(session, RENDER_BATCH, {"batch_id": str(batch_id), "tenant_id": str(tenant_id)})

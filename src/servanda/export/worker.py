"""The export worker process (``servanda worker``): the queue consumer with its probes.

- procrastinate's worker on the ``export`` queue with ``EXPORT_CONCURRENCY`` jobs at once,
  LISTEN/NOTIFY for new jobs and a database heartbeat every ``EXPORT_HEARTBEAT_S``;
- retries: a retriable failure is tried again after 30/60/120 s (``EXPORT_RETRY_BASE_S``
  doubled per attempt) up to ``EXPORT_MAX_RETRIES`` times, then the job is ``failed``
  with its error code (the dead-letter list of the API);
- recovery: every heartbeat the worker looks for queue jobs of workers whose heartbeat is
  older than ``EXPORT_STALLED_AFTER_S`` (a process killed with SIGKILL, a lost node) and
  puts them and their rows back into the queue;
- SIGTERM / SIGINT: stop fetching, give in-flight jobs ``EXPORT_SHUTDOWN_GRACE_S`` to
  finish, then cancel them; a cancelled job goes back to the queue for the next worker;
- probes on their own port (``EXPORT_WORKER_PORT``): ``/health/live`` (503 when the
  worker's loop has not beaten for 60 s), ``/health/ready`` (database and converter) and
  ``/metrics`` (the queue depth is read at scrape time).

The worker connects as the application role: row-level security applies to every job.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

import orjson
import procrastinate
from procrastinate import JobContext, RetryDecision
from procrastinate.exceptions import JobAborted
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from servanda.export.converter import Converter
from servanda.export.queueing import RENDER_BATCH, RENDER_JOB
from servanda.export.tasks import (
    ExportFailure,
    WorkerDeps,
    queue_depth,
    release_job,
    render_batch,
    render_job,
)
from servanda.platform import metrics
from servanda.platform.config import Settings
from servanda.platform.db import Database
from servanda.platform.logs import get_logger
from servanda.platform.queue import EXPORT_QUEUE, queue_app
from servanda.platform.storage import storage_from_settings

log = get_logger("servanda.worker")
LIVENESS_STALE_S = 60.0
PROBE_TIMEOUT_S = 2.0


class ExportRetry(procrastinate.BaseRetryStrategy):
    """Retry retriable failures (and jobs cancelled by a shutdown) with exponential backoff."""

    def __init__(self, max_retries: int, base_s: float) -> None:
        self.max_retries = max_retries
        self.base_s = base_s

    def get_retry_decision(
        self, *, exception: BaseException, job: procrastinate.jobs.Job
    ) -> RetryDecision | None:
        if isinstance(exception, JobAborted | asyncio.CancelledError):
            return RetryDecision(retry_in={"seconds": 0})  # shutdown: hand it to the next worker
        if isinstance(exception, ExportFailure) and exception.retriable and job.attempts < self.max_retries:
            return RetryDecision(retry_in={"seconds": self.base_s * 2**job.attempts})
        return None


class ExportWorker:
    def __init__(self, settings: Settings, database_url: str) -> None:
        self.settings = settings
        concurrency = settings.export_concurrency
        self.db = Database(database_url, pool_size=concurrency + 3, application_name="servanda-worker")
        profile = settings.servanda_data_dir.resolve() / "libreoffice" / f"profile-{uuid.uuid4().hex[:8]}"
        self.converter = Converter(
            profile_dir=profile,
            timeout_s=settings.export_converter_timeout_s,
            max_conversions=settings.export_converter_max_conversions,
        )
        self.deps = WorkerDeps(
            db=self.db,
            storage=storage_from_settings(settings),
            converter=self.converter,
            job_timeout_s=settings.export_job_timeout_ms / 1000,
            max_retries=settings.export_max_retries,
            retry_base_s=settings.export_retry_base_s,
        )
        self.queue = queue_app(database_url, pool_max=concurrency + 3)
        self._register_tasks()
        self.beat = time.monotonic()

    def _register_tasks(self) -> None:
        retry = ExportRetry(self.settings.export_max_retries, self.settings.export_retry_base_s)
        deps = self.deps

        @self.queue.task(name=RENDER_JOB, queue=EXPORT_QUEUE, retry=retry, pass_context=True)
        async def _render_job(context: JobContext, job_id: str, tenant_id: str) -> None:
            attempts = context.job.attempts if context.job else 0
            await render_job(deps, uuid.UUID(job_id), uuid.UUID(tenant_id), attempts)

        @self.queue.task(name=RENDER_BATCH, queue=EXPORT_QUEUE, retry=retry, pass_context=True)
        async def _render_batch(context: JobContext, batch_id: str, tenant_id: str) -> None:
            attempts = context.job.attempts if context.job else 0
            await render_batch(deps, uuid.UUID(batch_id), uuid.UUID(tenant_id), attempts)

    # -- probes ------------------------------------------------------------------------------

    async def live(self) -> tuple[bytes, str, bytes]:
        age = time.monotonic() - self.beat
        if age > LIVENESS_STALE_S:
            return (
                b"503 Service Unavailable",
                "application/json",
                orjson.dumps({"status": "stale", "ageS": age}),
            )
        return b"200 OK", "application/json", orjson.dumps({"status": "ok"})

    async def ready(self) -> tuple[bytes, str, bytes]:
        try:
            await asyncio.wait_for(self.db.ping(), PROBE_TIMEOUT_S)
            db = "ok"
        except Exception:
            db = "error"
        converter = "ok" if self.converter.ready() else "starting"
        body = {"status": "ready" if db == "ok" else "not_ready", "db": db, "converter": converter}
        status = b"200 OK" if db == "ok" else b"503 Service Unavailable"
        return status, "application/json", orjson.dumps(body)

    async def scrape(self) -> tuple[bytes, str, bytes]:
        with contextlib.suppress(Exception):  # a scrape answers while the database is away
            metrics.EXPORT_QUEUE_DEPTH.set(await asyncio.wait_for(queue_depth(self.db), PROBE_TIMEOUT_S))
        metrics.DB_POOL_ACTIVE.set(self.db.pool_in_use())
        metrics.DB_POOL_MAX.set(self.db.pool_size)
        return b"200 OK", CONTENT_TYPE_LATEST, generate_latest()

    def probe_routes(self) -> dict[bytes, Any]:
        return {b"/health/live": self.live, b"/health/ready": self.ready, b"/metrics": self.scrape}

    # -- recovery of stalled jobs --------------------------------------------------------------

    async def recover_stalled(self) -> int:
        """Requeue jobs whose worker stopped beating; returns how many."""
        manager = self.queue.job_manager
        stalled = list(
            await manager.get_stalled_jobs(
                queue=EXPORT_QUEUE, seconds_since_heartbeat=self.settings.export_stalled_after_s
            )
        )
        for job in stalled:
            try:
                await release_job(self.db, job.task_name, dict(job.task_kwargs))
                await manager.retry_job(job)
                log.warning(
                    "stalled export job requeued", action="export.requeue_stalled", queue_job_id=job.id
                )
            except Exception as exc:  # another worker got there first
                log.info(
                    "stalled job not requeued", action="export.requeue_skipped", error=type(exc).__name__
                )
        return len(stalled)

    async def _heartbeat(self) -> None:
        interval = self.settings.export_heartbeat_s
        while True:
            self.beat = time.monotonic()
            try:
                await self.recover_stalled()
            except Exception as exc:
                log.warning("stalled-job check failed", action="export.recovery", error=type(exc).__name__)
            await asyncio.sleep(interval)

    # -- run -----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until SIGTERM/SIGINT; in-flight jobs finish or go back to the queue."""
        settings = self.settings
        await self.db.fill_pool()  # a fixed connection count from the start (docs/operations.md)
        async with self.queue.open_async():
            starter = asyncio.create_task(self._start_converter())
            beat = asyncio.create_task(self._heartbeat())
            try:
                log.info(
                    "export worker started", action="worker.start", concurrency=settings.export_concurrency
                )
                await self.queue.run_worker_async(
                    queues=[EXPORT_QUEUE],
                    name="servanda-export",
                    concurrency=settings.export_concurrency,
                    shutdown_graceful_timeout=settings.export_shutdown_grace_s,
                    update_heartbeat_interval=settings.export_heartbeat_s,
                    stalled_worker_timeout=settings.export_stalled_after_s,
                    delete_jobs="successful",
                    fetch_job_polling_interval=settings.export_poll_interval_s,
                    install_signal_handlers=True,
                )
            finally:
                for task in (beat, starter):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
                await self.converter.close()
                await self.db.dispose()
                log.info("export worker stopped", action="worker.stop")

    async def _start_converter(self) -> None:
        """Warm LibreOffice up front so the first ODT/PDF does not pay the cold start."""
        try:
            await self.converter.start()
        except Exception as exc:  # jobs report it (converter.unavailable); DOCX still works
            log.warning("converter did not start", action="converter.start", error=type(exc).__name__)

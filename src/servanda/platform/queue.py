"""Job queue adapter: procrastinate in the application database (migration 0012).

Deferring happens in the *caller's* transaction: :func:`defer` inserts the queue row with
procrastinate's own SQL function through the request's SQLAlchemy session, so the business
row (an ``export_jobs`` row) and its queue job commit or roll back together - no job without
a row, no row without a job. The worker side uses procrastinate's own connector and worker
(:func:`queue_app`).
"""

from __future__ import annotations

import datetime
from typing import Any

import orjson
import procrastinate
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from servanda.platform.embedded_pg import libpq_url

EXPORT_QUEUE = "export"

_DEFER = text(
    "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW("
    "CAST(:queue AS varchar), CAST(:task AS varchar), 0, CAST(:lock AS text), NULL, "
    "CAST(:args AS jsonb), CAST(:at AS timestamptz))::procrastinate_job_to_defer_v1]))"
)
_RETRY = text(
    "UPDATE procrastinate_jobs SET status = 'todo', attempts = attempts + 1, "
    "scheduled_at = CAST(:at AS timestamptz), worker_id = NULL "
    "WHERE id = :id AND status IN ('failed', 'succeeded', 'cancelled', 'aborted')"
)


async def defer(
    session: AsyncSession,
    task_name: str,
    args: dict[str, Any],
    *,
    queue: str = EXPORT_QUEUE,
    lock: str | None = None,
    scheduled_at: datetime.datetime | None = None,
) -> int:
    """Queue ``task_name(**args)`` in the session's transaction; returns the queue job id."""
    job_id = await session.scalar(
        _DEFER,
        {
            "queue": queue,
            "task": task_name,
            "lock": lock,
            "args": orjson.dumps(args).decode(),
            "at": scheduled_at,
        },
    )
    assert job_id is not None
    return int(job_id)


def queue_app(
    database_url: str, *, pool_max: int = 10, import_paths: list[str] | None = None
) -> procrastinate.App:
    """The procrastinate app on the application role's database (libpq or SQLAlchemy URL).

    Its pool is fixed at ``pool_max`` connections, opened when the app opens (``open_async``
    waits for them), like the API's pool (docs/operations.md, "Connection budget"); the
    worker's LISTEN takes one more connection of its own.
    """
    connector = procrastinate.PsycopgConnector(
        conninfo=libpq_url(database_url),
        kwargs={"application_name": "servanda-worker"},
        min_size=pool_max,
        max_size=pool_max,
    )
    return procrastinate.App(connector=connector, import_paths=import_paths or [])

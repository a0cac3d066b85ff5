"""Probes (blueprint §8.1) and the Prometheus scrape endpoint."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from servanda.platform import metrics
from servanda.platform.db import Database
from servanda.platform.logs import get_logger
from servanda.platform.migrate import current_revision, head_revision

router = APIRouter(include_in_schema=False)
log = get_logger("servanda.health")
PROBE_TIMEOUT_S = 2.0
ACTIVE_TENANTS_TTL_S = 15.0


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


@router.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health/ready")
async def ready(request: Request) -> JSONResponse:
    try:
        await asyncio.wait_for(_db(request).ping(), PROBE_TIMEOUT_S)
    except Exception as exc:
        log.warning("readiness check failed", action="health.ready", error=type(exc).__name__)
        return JSONResponse({"status": "not_ready", "db": "error"}, status_code=503)
    return JSONResponse({"status": "ready", "db": "ok"})


@router.get("/health/startup")
async def startup(request: Request) -> JSONResponse:
    state = request.app.state
    if not state.schema_at_head:
        try:
            async with _db(request).engine.connect() as conn:
                current = await asyncio.wait_for(conn.run_sync(current_revision), PROBE_TIMEOUT_S)
            state.schema_at_head = current is not None and current == head_revision()
        except Exception as exc:
            log.warning("startup check failed", action="health.startup", error=type(exc).__name__)
    if state.schema_at_head:
        return JSONResponse({"status": "started"})
    return JSONResponse({"status": "migrating"}, status_code=503)


@router.get("/metrics")
async def scrape(request: Request) -> Response:
    db = _db(request)
    metrics.DB_POOL_ACTIVE.set(db.pool_in_use())
    metrics.DB_POOL_MAX.set(db.pool_size)
    state = request.app.state
    if time.monotonic() - state.active_tenants_at > ACTIVE_TENANTS_TTL_S:
        try:
            async with db.engine.connect() as conn:
                count = (await conn.execute(text("SELECT servanda_active_tenant_count()"))).scalar_one()
            metrics.ACTIVE_TENANTS.set(count)
            state.active_tenants_at = time.monotonic()
        except Exception as exc:  # a scrape must still answer while the database is away
            log.warning("active tenant count failed", action="metrics.scrape", error=type(exc).__name__)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

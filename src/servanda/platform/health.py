"""Probes (blueprint §8.1) and the Prometheus scrape endpoint.

``/metrics`` carries tenant ids and load figures, so the main port serves it only
to the client networks of ``METRICS_ALLOW`` (default loopback) and never to a
request that came through a proxy; in a cluster, Prometheus scrapes the separate
``METRICS_PORT`` (see platform/metrics_server.py). Everyone else gets 404, as if
there were no such path.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.exceptions import HTTPException

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


# Headers a proxy adds: a request carrying one came through the ingress, whatever its peer.
_FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


def metrics_allowed(request: Request) -> bool:
    if any(name in request.headers for name in _FORWARDING_HEADERS):
        return False
    host = request.client.host if request.client else None
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    networks = request.app.state.settings.metrics_networks
    return any(address in network for network in networks)


@router.get("/metrics")
async def scrape(request: Request) -> Response:
    if not metrics_allowed(request):
        raise HTTPException(404)  # the same answer as for a path that does not exist
    return Response(await render_metrics(request.app.state), media_type=CONTENT_TYPE_LATEST)


async def render_metrics(state: Any) -> bytes:
    """The scrape: refresh the pool gauges and (at most every 15 s) the active tenant count."""
    db: Database = state.db
    metrics.DB_POOL_ACTIVE.set(db.pool_in_use())
    metrics.DB_POOL_MAX.set(db.pool_size)
    if time.monotonic() - state.active_tenants_at > ACTIVE_TENANTS_TTL_S:
        try:
            async with db.engine.connect() as conn:
                count = (await conn.execute(text("SELECT servanda_active_tenant_count()"))).scalar_one()
            metrics.ACTIVE_TENANTS.set(count)
            state.active_tenants_at = time.monotonic()
        except Exception as exc:  # a scrape must still answer while the database is away
            log.warning("active tenant count failed", action="metrics.scrape", error=type(exc).__name__)
    return generate_latest()

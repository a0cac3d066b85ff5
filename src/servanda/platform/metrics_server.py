"""``/metrics`` on its own port (``METRICS_PORT``) for in-cluster Prometheus.

The main port is the one the ingress publishes; the metrics port is not in the
ingress and is reached only inside the cluster (network policy), so it answers
every client. A minimal HTTP/1.1 server on the API's own event loop: it shares
the process's registry and database pool with the main port (pool gauges,
active tenant count). With several workers each binds the port with
SO_REUSEPORT and a scrape reaches one of them, like a scrape of the main port.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from servanda.platform.health import render_metrics
from servanda.platform.logs import get_logger

log = get_logger("servanda.metrics")
READ_TIMEOUT_S = 5.0
MAX_HEADER_LINES = 100


async def _read_head(reader: asyncio.StreamReader) -> bytes:
    request_line = await reader.readline()
    for _ in range(MAX_HEADER_LINES):
        if (await reader.readline()) in (b"\r\n", b"\n", b""):
            break
    return request_line


def _response(status: bytes, content_type: str, body: bytes, head_only: bool) -> bytes:
    head = (
        b"HTTP/1.1 " + status + b"\r\n"
        b"Content-Type: " + content_type.encode() + b"\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n"
        b"Cache-Control: no-store\r\n"
        b"Connection: close\r\n\r\n"
    )
    return head if head_only else head + body


# A probe: (status line, content type, body).
ProbeAnswer = tuple[bytes, str, bytes]
ProbeRoutes = dict[bytes, Callable[[], Awaitable[ProbeAnswer]]]


async def start_probe_server(
    routes: ProbeRoutes, host: str, port: int, *, name: str = "metrics"
) -> asyncio.Server:
    """Serve GET/HEAD of each path in ``routes`` on ``host:port``; everything else is 404."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(_read_head(reader), READ_TIMEOUT_S)
            parts = request_line.split()
            method = parts[0] if parts else b""
            target = parts[1].split(b"?", 1)[0] if len(parts) > 1 else b""
            route = routes.get(target)
            if method in (b"GET", b"HEAD") and route is not None:
                status, content_type, body = await route()
                answer = _response(status, content_type, body, method == b"HEAD")
            else:
                answer = _response(b"404 Not Found", "text/plain; charset=utf-8", b"not found\n", False)
            writer.write(answer)
            await writer.drain()
        except (TimeoutError, ConnectionError, ValueError):
            pass  # a slow, vanished or garbled client: nothing to answer
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, port, reuse_port=True, limit=16 * 1024)
    log.info("probes served on their own port", action=f"{name}.start", port=port)
    return server


async def start_metrics_server(state: Any, host: str, port: int) -> asyncio.Server:
    """Serve GET /metrics on ``host:port``; everything else is 404."""

    async def scrape() -> ProbeAnswer:
        return b"200 OK", CONTENT_TYPE_LATEST, await render_metrics(state)

    return await start_probe_server({b"/metrics": scrape}, host, port)

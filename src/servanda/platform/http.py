"""ASGI middleware: request id, access log and metrics, security headers, body limits.

Written as plain ASGI (not BaseHTTPMiddleware) so it adds next to nothing to
each request and sees every response, including unhandled errors, which it
turns into a 500 problem document without internals.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servanda.platform import metrics
from servanda.platform.logs import get_logger
from servanda.platform.problems import Problem, internal_error, problem_body

log = get_logger("servanda.http")

API_PREFIX = "/api/v1"
JSON_BODY_LIMIT = 1 * 1024 * 1024
UPLOAD_BODY_LIMIT = 50 * 1024 * 1024
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
DOCS_CSP = (
    b"content-security-policy",
    b"default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    b"style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https:; "
    b"frame-ancestors 'none'",
)


class _BodyTooLarge(Exception):
    pass


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _body_limit(scope: Scope) -> int:
    content_type = (_header(scope, b"content-type") or "").lower()
    return UPLOAD_BODY_LIMIT if content_type.startswith("multipart/") else JSON_BODY_LIMIT


def _too_large(limit: int) -> Problem:
    return Problem(413, "request.too_large", f"Der Anfrageinhalt überschreitet {limit // (1024 * 1024)} MiB.")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(requestId=request_id)
        path: str = scope["path"]
        csp = DOCS_CSP if path.startswith("/api/docs") else API_CSP
        status_holder = {"status": 500, "started": False}
        limit = _body_limit(scope)
        too_large = False

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.append((b"x-request-id", request_id.encode()))
                # A route may set a stricter or more specific header itself (an SVG's CSP, say).
                headers.extend(h for h in (*SECURITY_HEADERS, csp) if h[0] not in present)
                message["headers"] = headers
            await send(message)

        async def guarded_send(message: Message) -> None:
            # The framework turns a failed body read into its own 400; answer 413 instead.
            if too_large:
                if message["type"] == "http.response.start":
                    await self._send_problem(_too_large(limit), path, send_wrapper)
                return
            await send_wrapper(message)

        received = 0

        async def receive_wrapper() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise _BodyTooLarge
            return message

        declared = _header(scope, b"content-length")
        try:
            if declared is not None and declared.isdigit() and int(declared) > limit:
                too_large = True
                raise _BodyTooLarge
            await self.app(scope, receive_wrapper, guarded_send)
        except _BodyTooLarge:
            if not status_holder["started"]:
                await self._send_problem(_too_large(limit), path, send_wrapper)
        except Exception as exc:
            log.error("unhandled error", action="http.error", exc_info=exc)
            if not status_holder["started"]:
                await self._send_problem(internal_error(), path, send_wrapper)
        finally:
            self._record(scope, started, int(status_holder["status"]))

    @staticmethod
    async def _send_problem(problem: Problem, path: str, send: Send) -> None:
        import orjson

        body = orjson.dumps(problem_body(problem, path))
        await send(
            {
                "type": "http.response.start",
                "status": problem.status,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _record(scope: Scope, started: float, status: int) -> None:
        duration = time.perf_counter() - started
        route: Any = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        state = scope.get("state", {})
        tenant_id = str(state.get("tenant_id") or "")
        histogram = metrics.HTTP_REQUEST_DURATION
        histogram.labels(scope["method"], template, str(status), tenant_id).observe(duration)
        if template.startswith(("/health", "/metrics")) and status < 400:
            return  # probes and scrapes would drown the log
        log.info(
            f"{scope['method']} {template} {status}",
            action="http.request",
            duration_ms=round(duration * 1000, 2),
            tenantId=tenant_id or None,
            userId=state.get("user_id"),
            status=status,
        )

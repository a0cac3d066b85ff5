"""ASGI middleware: request id, access log and metrics, security headers, body limits, NUL bytes.

Written as plain ASGI (not BaseHTTPMiddleware) so it adds next to nothing to
each request and sees every response, including unhandled errors, which it
turns into a 500 problem document without internals.

NUL characters (U+0000) are refused at the edge with 422 and the field path, in
the query string, the path and JSON bodies: PostgreSQL cannot store them in text,
so they would otherwise end as 500 deep inside a request.
"""

from __future__ import annotations

import copy
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import parse_qsl

import orjson
import structlog
from fastapi import Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.routing import Match, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servanda.platform import metrics
from servanda.platform.api_models import API_PREFIX as API_PREFIX  # re-exported for the endpoints
from servanda.platform.config import Settings
from servanda.platform.db import Database
from servanda.platform.logs import get_logger
from servanda.platform.problems import Problem, internal_error, problem_body
from servanda.platform.storage import Storage, storage_from_settings

log = get_logger("servanda.http")

# List parameters shared by every list endpoint: ``?page=1&pageSize=25`` (at most 100).
PageNumber = Annotated[int, Query(ge=1, le=100_000)]
PageSize = Annotated[int, Query(alias="pageSize", ge=1, le=100)]


def created(response: Response, path: str) -> None:
    """Name the resource a 201 answer created: ``Location`` is its URL (``path`` starts with /api/v1)."""
    response.headers["Location"] = path


# The application's shared objects, built once in the lifespan (``app.py``), as typed
# dependencies: endpoints declare ``db: AppDatabase``, ``settings: AppSettings``,
# ``storage: AppStorage`` instead of reaching into ``request.app.state``.
async def _database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _storage(request: Request) -> Storage:
    """The object storage (created from the settings on first use)."""
    storage: Storage | None = getattr(request.app.state, "storage", None)
    if storage is None:
        storage = storage_from_settings(request.app.state.settings)
        request.app.state.storage = storage
    return storage


AppDatabase = Annotated[Database, Depends(_database)]
AppSettings = Annotated[Settings, Depends(_settings)]
AppStorage = Annotated[Storage, Depends(_storage)]


async def _unit_of_work(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's one transaction: begun on first use, committed before the response is sent.

    The principal lookup runs first inside it and sets the tenant for the whole
    transaction (``servanda_principal()``); every service the endpoint calls gets
    this session. An exception rolls everything back; after the commit, the
    session's ``after_commit`` actions run (``platform.db``). Declared with
    ``scope="function"`` so the commit happens before the response leaves: a
    client never sees 200 for a write that did not commit.
    """
    db: Database = request.app.state.db
    async with db.session(None) as session:  # no tenant: the principal lookup (or a public route's) sets it
        yield session


UnitOfWork = Annotated[AsyncSession, Depends(_unit_of_work, scope="function")]

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
NO_STORE = (b"cache-control", b"no-store")
API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
# The docs page and its assets come from the package (platform/openapi.py): nothing from another
# origin, no inline script. Swagger UI sets style attributes and draws its icons as data: images.
DOCS_CSP = (
    b"content-security-policy",
    b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    b"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
)


# The request histogram's children by label values: ``labels()`` checks, converts and locks on every
# call. As many entries as the metric has series (prometheus_client keeps those for good, too).
_DURATION_CHILDREN: dict[tuple[str, str, str, str], Any] = {}


class _Rejected(Exception):
    """Raised from the body reader to answer ``problem`` instead of the route."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.code)
        self.problem = problem


_NUL_ESCAPE = b"\\u0000"  # how JSON writes U+0000 (a raw NUL byte is invalid JSON anyway)
NUL_MESSAGE = "Das Zeichen NUL (\\u0000) ist nicht erlaubt."


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


def _nul_problem(fields: list[str]) -> Problem:
    errors = [{"field": field, "message": NUL_MESSAGE} for field in fields]
    return Problem(422, "request.validation_failed", "Die Eingabe ist ungültig.", errors=errors)


def _printable(name: str) -> str:
    return name.replace("\x00", "\\u0000")


def _nul_in_url(scope: Scope) -> list[str]:
    """Field paths (``query.<name>``, ``path``) holding a NUL character."""
    fields = []
    if "\x00" in scope["path"]:
        fields.append("path")
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                fields.append(f"query.{_printable(name)}")
    return fields


def _nul_paths(value: Any, path: list[str], found: list[str]) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            found.append(".".join(path) or "body")
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                found.append(".".join([*path, _printable(key)]))
            _nul_paths(item, [*path, key.replace("\x00", "\\u0000")], found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _nul_paths(item, [*path, str(index)], found)


def nul_fields_in_json(body: bytes) -> list[str]:
    """Field paths (as in validation errors: ``answers.k1``, ``items.0.name``) of NUL characters."""
    if _NUL_ESCAPE not in body:
        return []
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return []  # the framework answers invalid JSON itself
    found: list[str] = []
    _nul_paths(document, [], found)
    return found


def _scans_json(scope: Scope) -> bool:
    if scope["method"] in ("GET", "HEAD", "OPTIONS"):
        return False
    # FastAPI reads a body without content type as JSON too.
    content_type = (_header(scope, b"content-type") or "").split(";", 1)[0].strip().lower()
    return content_type in ("", "application/json") or content_type.endswith("+json")


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
        # API answers (tokens, contracts, personal data) are never stored by browsers or
        # proxies, unless a route chose its own caching (a logo, say).
        extra_headers = (
            (*SECURITY_HEADERS, csp, NO_STORE) if path.startswith(API_PREFIX) else (*SECURITY_HEADERS, csp)
        )
        status_holder = {"status": 500, "started": False}
        limit = _body_limit(scope)
        rejection: Problem | None = None

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.append((b"x-request-id", request_id.encode()))
                # A route may set a stricter or more specific header itself (an SVG's CSP, say).
                headers.extend(h for h in extra_headers if h[0] not in present)
                message["headers"] = headers
            await send(message)

        async def guarded_send(message: Message) -> None:
            # The framework turns a failed body read into its own 400; answer the rejection instead.
            if rejection is not None:
                if message["type"] == "http.response.start":
                    await self._send_problem(rejection, path, send_wrapper)
                return
            await send_wrapper(message)

        def reject(problem: Problem) -> _Rejected:
            nonlocal rejection
            rejection = problem
            return _Rejected(problem)

        received = 0
        scan_json = _scans_json(scope)
        chunks: list[bytes] = []
        nul_seen = False

        async def receive_wrapper() -> Message:
            nonlocal received, nul_seen
            message = await receive()
            if message["type"] == "http.request":
                body: bytes = message.get("body", b"")
                received += len(body)
                if received > limit:
                    raise reject(_too_large(limit))
                if scan_json:
                    tail = chunks[-1][-5:] if chunks else b""  # an escape split across two chunks
                    nul_seen = nul_seen or _NUL_ESCAPE in body or _NUL_ESCAPE in tail + body[:5]
                    chunks.append(body)
                    if nul_seen and not message.get("more_body", False):
                        fields = nul_fields_in_json(b"".join(chunks))
                        if fields:
                            raise reject(_nul_problem(fields))
            return message

        declared = _header(scope, b"content-length")
        try:
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise reject(_too_large(limit))
            if fields := _nul_in_url(scope):
                raise reject(_nul_problem(fields))
            await self.app(scope, receive_wrapper, guarded_send)
        except _Rejected as rejected:
            if not status_holder["started"]:
                await self._send_problem(rejected.problem, path, send_wrapper)
                status_holder["status"] = rejected.problem.status
        except Exception as exc:
            # Type and stack only: the log processor drops messages, which may carry SQL
            # parameters or user input (see platform/logs.py).
            log.error("unhandled error", action="http.error", error=type(exc).__name__, exc_info=exc)
            if not status_holder["started"]:
                await self._send_problem(internal_error(), path, send_wrapper)
        finally:
            self._record(scope, started, int(status_holder["status"]))

    @staticmethod
    async def _send_problem(problem: Problem, path: str, send: Send) -> None:
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
        labels = (scope["method"], template, str(status), tenant_id)
        child = _DURATION_CHILDREN.get(labels)
        if child is None:
            child = _DURATION_CHILDREN[labels] = metrics.HTTP_REQUEST_DURATION.labels(*labels)
        child.observe(duration)
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


# -- route lookup ----------------------------------------------------------------------------------
# Which of the app's top-level routes a request's path selects, remembered per path shape instead
# of a linear scan. FastAPI's router tries its top-level routes in order, and each included router
# tries each of its routes' regular expressions (with scope bookkeeping per candidate): about 10 µs
# for a path of the first router, 0.5 ms for the catalog's, which comes late in the table (measured
# in-process; a tenth of the catalog page's CPU). ``RouteCache`` remembers, per method and path
# *shape* (each UUID segment replaced by one fixed UUID), which top-level route matched fully, and
# hands the request to a copy of the router whose table holds only that route. The router then does
# exactly what it would have done: that route matches (the same route selects every path of one
# shape, because no route has a literal UUID segment and a parameter matches any UUID), the earlier
# routes would have answered no or a partial match, and a full match wins over those. Everything else
# (no full match, websockets, lifespan) takes the router's own path unchanged. Bounded (cleared
# when full) and dropped when the top-level table changes length.

_UUID_SEGMENT = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_ANY_UUID = "00000000-0000-0000-0000-000000000000"
MAX_ROUTE_SHAPES = 1024


def path_shape(path: str) -> str:
    return _UUID_SEGMENT.sub(_ANY_UUID, path) if "-" in path else path


class RouteCache:
    """The ``router``'s entry point with the remembered route per path shape (see the comment above)."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self._size = -1
        self._chosen: dict[tuple[str, str, str], Router] = {}
        self._single: dict[int, Router] = {}

    def _single_route_router(self, index: int) -> Router:
        single = self._single.get(index)
        if single is None:
            single = copy.copy(self.router)
            single.routes = [self.router.routes[index]]
            self._single[index] = single
        return single

    def _lookup(self, scope: Scope) -> Router | None:
        routes = self.router.routes
        if len(routes) != self._size:
            self._chosen.clear()
            self._single.clear()
            self._size = len(routes)
        key = (scope["method"], scope.get("root_path", ""), path_shape(scope["path"]))
        chosen = self._chosen.get(key)
        if chosen is not None:
            return chosen
        for index, route in enumerate(routes):
            match, _ = route.matches(scope)
            if match is Match.FULL:
                if len(self._chosen) >= MAX_ROUTE_SHAPES:
                    self._chosen.clear()
                chosen = self._chosen[key] = self._single_route_router(index)
                return chosen
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            chosen = self._lookup(scope)
            if chosen is not None:
                scope.setdefault("router", self.router)  # as the router itself would set it
                await chosen.app(scope, receive, send)
                return
        await self.router.app(scope, receive, send)


def install_route_cache(router: Router) -> bool:
    """Put a :class:`RouteCache` in front of ``router`` (False: the router wraps its own entry point in
    middleware, which the cache would skip, so it stays as it is)."""
    if router.middleware_stack != router.app:
        return False
    router.middleware_stack = RouteCache(router)
    return True

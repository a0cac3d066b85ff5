"""RFC 9457 problem responses with stable machine codes and no internals."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from servanda.platform import errors, validation_messages
from servanda.platform.errors import check_extra
from servanda.platform.logs import get_logger
from servanda.platform.storage import StorageUnavailable

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = get_logger("servanda.problems")

_TITLES = {
    400: "Ungültige Anfrage",
    401: "Nicht angemeldet",
    403: "Keine Berechtigung",
    404: "Nicht gefunden",
    405: "Methode nicht erlaubt",
    409: "Konflikt",
    412: "Vorbedingung nicht erfüllt",
    413: "Anfrage zu groß",
    415: "Nicht unterstützter Inhaltstyp",
    422: "Ungültige Eingabe",
    429: "Zu viele Anfragen",
    500: "Interner Fehler",
    503: "Dienst nicht verfügbar",
}
_DEFAULT_CODES = {
    400: "request.bad",
    401: "auth.unauthenticated",
    403: "auth.forbidden",
    404: "resource.not_found",
    405: "request.method_not_allowed",
    409: "resource.conflict",
    413: "request.too_large",
    415: "request.unsupported_media_type",
    422: "request.validation_failed",
    429: "request.rate_limited",
    500: "internal.error",
    503: "service.unavailable",
}


class Problem(Exception):
    """Raise anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str | None = None,
        *,
        title: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or code)
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title or _TITLES.get(status, "Fehler")
        self.errors = errors
        self.headers = headers or {}
        self.extra = check_extra(extra)


def title_of(status: int) -> str:
    """The problem ``title`` of a status (the OpenAPI document's examples use it too)."""
    return _TITLES.get(status, "Fehler")


def problem_body(problem: Problem, instance: str | None = None) -> dict[str, Any]:
    """The RFC 9457 document; extension members never replace a standard one (``status`` stays the code)."""
    body: dict[str, Any] = {
        "type": f"urn:servanda:problem:{problem.code}",
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail or problem.title,
        "code": problem.code,
    }
    if instance:
        body["instance"] = instance
    if problem.errors is not None:
        body["errors"] = problem.errors
    body.update((k, v) for k, v in problem.extra.items() if k not in errors.RESERVED_MEMBERS)
    return body


def problem_response(problem: Problem, instance: str | None = None) -> Response:
    return Response(
        orjson.dumps(problem_body(problem, instance)),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=problem.headers,
    )


def _unavailable(code: str, detail: str, retry_after_s: int) -> Problem:
    return Problem(503, code, detail, headers={"Retry-After": str(retry_after_s)})


def database_unavailable() -> Problem:
    detail = "Die Datenbank ist vorübergehend nicht erreichbar. Bitte versuchen Sie es gleich erneut."
    return _unavailable("service.database_unavailable", detail, 5)


def database_busy() -> Problem:
    """Every pooled connection stayed busy for DATABASE_POOL_TIMEOUT_S: shed the request, don't queue it."""
    detail = "Der Dienst ist gerade ausgelastet. Bitte versuchen Sie es gleich erneut."
    return _unavailable("service.database_busy", detail, 2)


def storage_unavailable() -> Problem:
    detail = "Der Dateispeicher ist vorübergehend nicht beschreibbar. Bitte versuchen Sie es später erneut."
    return _unavailable("storage.unavailable", detail, 30)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts[:1] == ["body"]:  # only the location, not a member named "body" (style fonts.body)
        parts = parts[1:]
    return ".".join(parts) or "body"


# The one mapping from domain errors (raised by services) to HTTP statuses.
DOMAIN_STATUS: dict[type[errors.DomainError], int] = {
    errors.BadRequest: 400,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PreconditionFailed: 412,
    errors.PayloadTooLarge: 413,
    errors.UnsupportedMediaType: 415,
    errors.Invalid: 422,
    errors.GateFailed: 422,
    errors.TooManyRequests: 429,
    errors.Unavailable: 503,
}


def problem_of(error: errors.DomainError) -> Problem:
    """The problem document of a domain error: status by its class, code and detail as raised."""
    status = next((DOMAIN_STATUS[c] for c in type(error).__mro__ if c in DOMAIN_STATUS), 500)
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else None
    return Problem(status, error.code, error.detail, errors=error.errors, headers=headers, extra=error.extra)


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return problem_response(exc, request.url.path)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        detail = exc.detail if isinstance(exc.detail, str) and status < 500 else None
        problem = Problem(
            status, _DEFAULT_CODES.get(status, f"http.{status}"), detail, headers=dict(exc.headers or {})
        )
        return problem_response(problem, request.url.path)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        lang = validation_messages.language(request.headers.get("accept-language"))
        errors = [
            {"field": _field(e.get("loc", ())), "message": validation_messages.message(e, lang)}
            for e in exc.errors()
        ]
        if lang == "en":
            problem = Problem(
                422,
                "request.validation_failed",
                "The input is invalid.",
                title="Invalid input",
                errors=errors,
            )
        else:
            problem = Problem(422, "request.validation_failed", "Die Eingabe ist ungültig.", errors=errors)
        response = problem_response(problem, request.url.path)
        response.headers["Content-Language"] = lang
        response.headers["Vary"] = "Accept-Language"
        return response

    async def on_database(request: Request, exc: Exception) -> Response:
        if isinstance(exc, DBAPIError) and not exc.connection_invalidated and not _is_connection_error(exc):
            raise exc  # not a connectivity problem: the request middleware answers 500
        log.warning("database unavailable", action="db.unavailable", error=type(exc).__name__)
        return problem_response(database_unavailable(), request.url.path)

    def shed(
        problem: Problem, message: str, action: str
    ) -> Callable[[Request, Exception], Awaitable[Response]]:
        async def handler(request: Request, exc: Exception) -> Response:
            log.warning(message, action=action, error=type(exc.__cause__ or exc).__name__)
            return problem_response(problem, request.url.path)

        return handler

    async def on_domain(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, errors.DomainError)
        return problem_response(problem_of(exc), request.url.path)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(errors.DomainError, on_domain)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(DBAPIError, on_database)
    app.add_exception_handler(
        PoolTimeoutError, shed(database_busy(), "no free database connection", "db.pool_exhausted")
    )
    app.add_exception_handler(
        StorageUnavailable, shed(storage_unavailable(), "storage unavailable", "storage.unavailable")
    )
    app.add_exception_handler(psycopg.OperationalError, on_database)


def internal_error() -> Problem:
    return Problem(500, "internal.error", "Ein unerwarteter Fehler ist aufgetreten.")


def _is_connection_error(exc: DBAPIError) -> bool:
    return isinstance(exc.orig, psycopg.OperationalError)

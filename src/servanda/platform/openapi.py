"""The OpenAPI document as the contract, and the API docs served from the package (issue 10).

``complete_openapi`` wraps FastAPI's generated document: it adds the bearer ``securitySchemes``
entry, each operation's ``security``, the ``Problem`` component and, by rule, every error
response an operation can give (401/403/429 on authenticated routes, 404 with path parameters,
422 with any parameter or body, 413/415 with bodies and uploads, 503 everywhere), merged with the codes a route
declares itself through ``problems(...)`` on its decorator. The rules need to know each route's
access; the caller (app.py) passes a function that reads it, so this module knows no business
module.

``install_docs`` serves Swagger UI from the files of the ``fastapi-offline`` wheel (no CDN: an
air-gapped on-prem install shows the same page) with an initialiser script of its own, so the
docs CSP allows scripts from 'self' only, not inline ones.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from servanda.platform.problems import PROBLEM_MEDIA_TYPE, title_of

BEARER = "bearer"
PROBLEM_REF = "#/components/schemas/Problem"

PROBLEM_SCHEMAS: dict[str, Any] = {
    "Problem": {
        "title": "Problem",
        "description": "An RFC 9457 problem document. Programs switch on `code`; `detail` is for people "
        "(German, English with `Accept-Language: en`). Some codes add members of their own "
        "(`reasons`, `gates`, `maxRetentionDays`, ...).",
        "type": "object",
        "properties": {
            "type": {"type": "string", "description": "`urn:servanda:problem:<code>`"},
            "title": {"type": "string", "description": "Short summary of the status"},
            "status": {"type": "integer", "description": "The HTTP status code"},
            "detail": {"type": "string", "description": "What went wrong, for people"},
            "code": {"type": "string", "description": "Stable machine code, e.g. `contract.has_conflicts`"},
            "instance": {"type": "string", "description": "The request path"},
            "errors": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/ProblemFieldError"},
                "description": "One entry per invalid field (422)",
            },
        },
        "required": ["type", "title", "status", "detail", "code"],
        "additionalProperties": True,
    },
    "ProblemFieldError": {
        "title": "ProblemFieldError",
        "type": "object",
        "properties": {
            "field": {
                "type": "string",
                "description": "Dotted field path: `title`, `answers.k1`, `query.page`",
            },
            "message": {"type": "string"},
        },
        "required": ["field", "message"],
        "additionalProperties": False,
    },
}

# What each status means in general, and the codes any route with the rule's trigger can give.
_GENERAL: dict[int, tuple[str, tuple[str, ...]]] = {
    400: ("Bad request.", ()),
    401: (
        "Not signed in: the bearer token is missing, invalid or expired, or its session or user is gone.",
        (
            "auth.unauthenticated",
            "auth.invalid_token",
            "auth.token_expired",
            "auth.session_revoked",
            "auth.user_disabled",
            "auth.unknown_user",
        ),
    ),
    403: ("Forbidden.", ("tenant.suspended", "auth.mfa_setup_required")),
    404: ("Not found, or not visible to the caller (objects of other tenants are 404, never 403).", ()),
    409: ("Conflict with the current state of the resource.", ()),
    412: ("Precondition failed: `If-Match` names a version the resource no longer has; nothing changed.", ()),
    413: ("The request body is too large (JSON 1 MiB, uploads 50 MiB).", ("request.too_large",)),
    415: ("Unsupported media type.", ()),
    422: (
        "Invalid input: `errors` names each invalid field.",
        ("request.validation_failed",),
    ),
    429: ("Too many requests; retry after `Retry-After` seconds.", ("request.rate_limited",)),
    503: (
        "Unavailable for a moment (a fault, not the request): nothing changed; retry after `Retry-After` seconds.",
        ("service.database_unavailable", "service.database_busy"),
    ),
}


def problems(status: int, *codes: str, description: str | None = None) -> dict[int | str, dict[str, Any]]:
    """A route's own error response for ``responses=`` on its decorator: the status and its codes.

    ``complete_openapi`` adds the problem+json schema and merges the codes with the general ones.
    Combine several with ``|``: ``problems(409, "a.b") | problems(403, "c.d")``.
    """
    entry: dict[str, Any] = {"description": description or _GENERAL.get(status, ("Error.", ()))[0]}
    entry["x-problem-codes"] = list(codes)
    return {status: entry}


# On a route that reads or writes the object storage in the request (uploads, stored-file downloads);
# removing a file happens after the commit, best effort, and never answers 503.
STORAGE_UNAVAILABLE = problems(503, "storage.unavailable")


@dataclass(frozen=True)
class Access:
    """What the document needs to know of a route's declared permission."""

    authenticated: bool  # needs a bearer token (401, 429, security)
    permission: str | None  # a permission beyond "signed in" (403 auth.forbidden), e.g. "contracts.use"


def _routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # an included router (its routes carry the full prefix)
            yield from _routes(route.original_router.routes)
        elif hasattr(route, "routes"):
            yield from _routes(route.routes)


def _has_parameters(route: APIRoute) -> bool:
    dependant = route.dependant

    def any_params(d: Any) -> bool:
        if d.path_params or d.query_params or d.header_params or d.cookie_params or d.body_params:
            return True
        return any(any_params(sub) for sub in d.dependencies)

    return any_params(dependant) or route.body_field is not None


def _is_upload(operation: dict[str, Any]) -> bool:
    content = operation.get("requestBody", {}).get("content", {})
    return any(media.startswith("multipart/") for media in content)


def _rules(route: APIRoute, access: Access, operation: dict[str, Any]) -> dict[int, list[str]]:
    """The error statuses (with general codes) an operation can answer, by rule."""
    found: dict[int, list[str]] = {}
    if access.authenticated:
        found[401] = list(_GENERAL[401][1])
        found[403] = list(_GENERAL[403][1])
        if access.permission is not None:
            found[403].insert(0, "auth.forbidden")
        found[429] = list(_GENERAL[429][1])
    # Every route runs SQL (the principal lookup, or a public route's own session); a bearer token
    # is checked against the identity provider's keys with OIDC.
    found[503] = list(_GENERAL[503][1]) + (["auth.idp_unavailable"] if access.authenticated else [])
    if route.dependant.path_params or "{" in route.path_format:
        found[404] = ["resource.not_found"]
    if _has_parameters(route):
        found[422] = list(_GENERAL[422][1])
    if "requestBody" in operation:
        found[413] = list(_GENERAL[413][1])
        if _is_upload(operation):
            found[415] = ["request.unsupported_media_type"]
    return found


def _example(status: int, code: str) -> dict[str, Any]:
    title = title_of(status)
    return {
        "value": {
            "type": f"urn:servanda:problem:{code}",
            "title": title,
            "status": status,
            "detail": title,
            "code": code,
        }
    }


def _problem_response(status: int, declared: dict[str, Any], general: list[str]) -> dict[str, Any]:
    codes = list(dict.fromkeys([*declared.get("x-problem-codes", []), *general]))
    description = declared.get("description")
    if not description or description == "Validation Error":
        description = _GENERAL.get(status, ("Error.", ()))[0]
    if codes:
        description = f"{description} Codes: " + ", ".join(f"`{c}`" for c in codes) + "."
    media: dict[str, Any] = {"schema": {"$ref": PROBLEM_REF}}
    if codes:
        media["examples"] = {code: _example(status, code) for code in codes}
    response: dict[str, Any] = {"description": description, "content": {PROBLEM_MEDIA_TYPE: media}}
    if status in (429, 503):
        response["headers"] = {
            "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
        }
    return response


def _complete(document: dict[str, Any], app: FastAPI, access_of: Callable[[APIRoute], Access]) -> None:
    components = document.setdefault("components", {})
    components.setdefault("schemas", {}).update(PROBLEM_SCHEMAS)
    components["securitySchemes"] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "The access token of `POST /api/v1/auth/login` (or of the OIDC provider).",
        }
    }
    for route in _routes(list(app.routes)):
        if not route.include_in_schema or route.path_format not in document["paths"]:
            continue
        access = access_of(route)
        item = document["paths"][route.path_format]
        for method in route.methods or ():
            operation = item.get(method.lower())
            if operation is None:
                continue
            if access.authenticated:
                operation["security"] = [{BEARER: []}]
            responses: dict[str, Any] = operation.setdefault("responses", {})
            general = _rules(route, access, operation)
            statuses = {int(s) for s in responses if s.isdigit() and int(s) >= 400} | set(general)
            for status in sorted(statuses):
                responses[str(status)] = _problem_response(
                    status, responses.get(str(status), {}), general.get(status, [])
                )
    # FastAPI's own validation-error shapes are replaced by Problem everywhere.
    text = str(document["paths"])
    for unused in ("HTTPValidationError", "ValidationError"):
        if f"#/components/schemas/{unused}'" not in text:
            components["schemas"].pop(unused, None)


def complete_openapi(app: FastAPI, access_of: Callable[[APIRoute], Access]) -> None:
    """Make ``app.openapi()`` return the completed document (built once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
                servers=app.servers,
            )
            _complete(document, app, access_of)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


# -- the docs page -----------------------------------------------------------------------------

_ASSETS = importlib.resources.files("fastapi_offline") / "static"
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="stylesheet" href="{docs}/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="{docs}/assets/favicon.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="{docs}/assets/swagger-ui-bundle.js"></script>
<script src="{docs}/init.js"></script>
</body>
</html>
"""
# No inline script: the page's CSP allows scripts from 'self' only.
_INIT = """"use strict";
window.ui = SwaggerUIBundle({
  url: document.getElementById("swagger-ui").dataset.openapiUrl,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
"""


def install_docs(app: FastAPI, docs_url: str, openapi_url: str) -> None:
    """Serve Swagger UI at ``docs_url`` from the package's own files (works without internet)."""
    app.mount(f"{docs_url}/assets", StaticFiles(directory=str(_ASSETS)), name="docs-assets")

    async def page(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        html = _PAGE.format(
            title=f"{app.title} – API", docs=f"{root}{docs_url}", openapi=f"{root}{openapi_url}"
        )
        return HTMLResponse(html)

    async def init(request: Request) -> Response:
        return Response(_INIT, media_type="text/javascript")

    app.add_route(docs_url, page, include_in_schema=False)
    app.add_route(f"{docs_url}/init.js", init, include_in_schema=False)

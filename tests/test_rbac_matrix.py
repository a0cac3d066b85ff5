"""RBAC on every route, generated from the application's route table.

Every /api/v1 route must declare its permission with ``allow(...)``; a route
without one fails this suite. Each route is then called as anonymous, user,
editor, admin, and as the admin of another tenant (with tenant A's object
ids), and the answers are checked against the role → permission matrix.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from servanda.identity.dependencies import permission_of
from servanda.identity.principal import ROLE_PERMISSIONS, Permission
from tests.auth_helpers import login_as

PARAM = re.compile(r"{([a-zA-Z_]+)(?::[a-z]+)?}")


def api_routes(app: FastAPI) -> list[APIRoute]:
    """All APIRoutes, including those inside included (nested) routers."""
    found: list[APIRoute] = []

    def walk(routes: list[Any]) -> None:
        for route in routes:
            if isinstance(route, APIRoute):
                found.append(route)
            elif hasattr(route, "original_router"):
                walk(route.original_router.routes)
            elif hasattr(route, "routes"):
                walk(route.routes)

    walk(list(app.routes))
    return [r for r in found if r.path.startswith("/api/v1/")]


def declared(route: APIRoute) -> Permission | None:
    permissions = {p for d in route.dependant.dependencies if (p := permission_of(d)) is not None}
    assert len(permissions) <= 1, f"{route.path} declares several permissions"
    return next(iter(permissions), None)


def cases(app: FastAPI) -> Iterator[tuple[str, str, Permission]]:
    for route in api_routes(app):
        permission = declared(route)
        for method in sorted(route.methods or []):
            yield method, route.path, permission  # type: ignore[misc]


def test_every_route_declares_a_permission(api: TestClient) -> None:
    undeclared = [f"{m} {p}" for m, p, perm in cases(api.app) if perm is None]  # type: ignore[arg-type]
    assert undeclared == [], "routes without allow(...)"
    assert len(list(cases(api.app))) >= 25  # type: ignore[arg-type]


@pytest.fixture
def world(api: TestClient, su: psycopg.Connection, make_tenant: Any) -> dict[str, Any]:
    a = make_tenant("kanzlei-a")
    b = make_tenant("kanzlei-b")
    headers = {role: login_as(api, su, a, role) for role in ("user", "editor", "admin")}
    headers["foreign_admin"] = login_as(api, su, b, "admin")
    headers["anonymous"] = {}
    team = su.execute(
        "INSERT INTO teams (tenant_id, name) VALUES (%s, 'Team A') RETURNING id", (a,)
    ).fetchone()
    victim = su.execute(
        "INSERT INTO users (tenant_id, email, display_name, role, status) "
        "VALUES (%s, 'opfer@a.de', 'Opfer', 'user', 'active') RETURNING id",
        (a,),
    ).fetchone()
    assert team is not None and victim is not None
    return {"tenant_a": a, "headers": headers, "ids": {"team_id": team[0], "user_id": victim[0]}}


def fill(path: str, ids: dict[str, Any]) -> str:
    return PARAM.sub(lambda m: str(ids.get(m.group(1), uuid.uuid4())), path)


def tenant_fingerprint(su: psycopg.Connection, tenant: uuid.UUID) -> str:
    """Everything of tenant A that a foreign caller might change."""
    parts = []
    for table in ("users", "teams", "team_members", "auth_sessions", "audit_events"):
        rows = su.execute(f"SELECT * FROM {table} WHERE tenant_id = %s ORDER BY 1, 2", (tenant,)).fetchall()
        parts.append(repr(rows))
    parts.append(repr(su.execute("SELECT * FROM tenants WHERE id = %s", (tenant,)).fetchall()))
    return hashlib.sha256("".join(parts).encode()).hexdigest()


def test_route_matrix(api: TestClient, world: dict[str, Any], su: psycopg.Connection) -> None:
    failures: list[str] = []
    # Deletions and logout (which ends the caller's own session) go last.
    destructive_last = sorted(
        cases(api.app),  # type: ignore[arg-type]
        key=lambda c: (c[1].endswith("/logout"), c[0] == "DELETE", c[1]),
    )
    for caller in ("anonymous", "user", "editor", "foreign_admin", "admin"):
        before = tenant_fingerprint(su, world["tenant_a"])
        for method, path, permission in destructive_last:
            if caller == "admin" and method == "DELETE":
                continue  # deleting tenant A's objects would only test the happy path
            url = fill(path, world["ids"])
            response = api.request(method, url, headers=world["headers"][caller], json={})
            status = response.status_code
            problem = f"{caller:>13} {method:<6} {path} -> {status}"
            if status >= 500:
                failures.append(problem + " (server error)")
            elif permission is Permission.PUBLIC:
                continue
            elif caller == "anonymous":
                if status != 401:
                    failures.append(problem + " (expected 401)")
            elif permission is Permission.PLATFORM_ADMIN:
                if status != 403:
                    failures.append(problem + " (expected 403, no platform admin)")
            elif permission not in ROLE_PERMISSIONS["admin" if caller == "foreign_admin" else caller]:
                if status != 403:
                    failures.append(problem + " (expected 403)")
            elif status in (401, 403):
                failures.append(problem + " (role should be allowed)")
            elif caller == "foreign_admin" and "{" in path and 200 <= status < 300:
                failures.append(problem + " (foreign object must be 404)")
        if caller == "foreign_admin":
            assert tenant_fingerprint(su, world["tenant_a"]) == before, (
                "another tenant's admin changed tenant A"
            )
    assert failures == []


# The domain spec's RBAC table, by route family. A route that matches no family,
# or declares something else than its family, fails: declarations are reviewed here.
SPEC: list[tuple[str, Permission]] = [
    (
        r"^/api/v1/auth/(config|jwks|login|refresh|accept-invite|password-reset(/confirm)?)$",
        Permission.PUBLIC,
    ),
    (r"^/api/v1/auth/(logout|password|mfa/.+)$", Permission.AUTHENTICATED),
    (r"^/api/v1/identity/me$", Permission.AUTHENTICATED),
    (r"^/api/v1/identity/(users|teams)(/.*)?$", Permission.TENANT_ADMIN),
    (r"^/api/v1/tenant/features$", Permission.AUTHENTICATED),
    (r"^/api/v1/tenant/(?!features$).+$", Permission.TENANT_ADMIN),
    (r"^/api/v1/branding/.+$", Permission.CONTRACTS_USE),
    (r"^/api/v1/identity/audit-logs(/.*)?$", Permission.AUDIT_READ),
    (r"^/api/v1/platform/.+$", Permission.PLATFORM_ADMIN),
    (r"^/api/v1/content/.+$", Permission.CONTENT_AUTHOR),
    (r"^/api/v1/catalog/.+$", Permission.CONTRACTS_USE),
    (r"^/api/v1/contracts(?!/[^/]+/save-as-template$)(/.*)?$", Permission.CONTRACTS_USE),
    (r"^/api/v1/contracts/[^/]+/save-as-template$", Permission.TEMPLATES_MANAGE),
    (r"^/api/v1/lawfirm-templates(/.*)?$", Permission.TEMPLATES_MANAGE),
    (r"^/api/v1/export-jobs(?!/(failed|stats)$)(/.*)?$", Permission.CONTRACTS_USE),
    (r"^/api/v1/export-jobs/(failed|stats)$", Permission.EXPORT_MONITOR),
]


# Families whose reads and writes differ: (method pattern, path pattern, permission).
METHOD_SPEC: list[tuple[str, str, Permission]] = [
    # every user chooses a style when exporting; editors and admins manage them
    (r"^GET$", r"^/api/v1/export/style-templates(/[^/]+)?$", Permission.CONTRACTS_USE),
    (r"^(POST|PATCH|PUT|DELETE)$", r"^/api/v1/export/style-templates(/.*)?$", Permission.TEMPLATES_MANAGE),
]


def test_declared_permissions_follow_the_spec(api: TestClient) -> None:
    mismatches = []
    for method, path, permission in cases(api.app):  # type: ignore[arg-type]
        expected = [p for pattern, p in SPEC if re.match(pattern, path)]
        expected += [p for m, pattern, p in METHOD_SPEC if re.match(m, method) and re.match(pattern, path)]
        if expected != [permission]:
            mismatches.append(f"{method} {path}: declared {permission}, spec {expected}")
    assert mismatches == []

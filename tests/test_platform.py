"""Platform-admin routes: operators manage tenants across tenants, audited in the affected tenant."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from tests.auth_helpers import bearer, ensure_user, login_as


def operator(api: TestClient, su: psycopg.Connection, tenant: uuid.UUID) -> dict[str, str]:
    user = ensure_user(su, tenant, "admin", "betrieb@verlag.de")
    su.execute("UPDATE users SET platform_admin = true WHERE id = %s", (user,))
    return bearer(api, su, tenant, user)


def test_platform_admin_manages_tenants(api: TestClient, su: psycopg.Connection, make_tenant: Any) -> None:
    home = make_tenant("verlag-betrieb", type="vendor")
    headers = operator(api, su, home)
    created = api.post(
        "/api/v1/platform/tenants",
        json={"slug": "kanzlei-neu", "name": "Kanzlei Neu", "type": "lawfirm", "jurisdiction": "AT"},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    tenant = created.json()
    assert (tenant["slug"], tenant["defaultJurisdiction"], tenant["plan"]) == ("kanzlei-neu", "AT", "starter")
    duplicate = api.post(
        "/api/v1/platform/tenants",
        json={"slug": "kanzlei-neu", "name": "X", "type": "lawfirm"},
        headers=headers,
    )
    assert (duplicate.status_code, duplicate.json()["code"]) == (409, "tenant.slug_taken")
    location = created.headers["Location"]
    assert location == f"/api/v1/platform/tenants/{tenant['id']}"
    assert api.get(location, headers=headers).json() == tenant
    listed = api.get("/api/v1/platform/tenants", headers=headers).json()
    assert (listed["total"], listed["page"], listed["pageSize"]) == (2, 1, 25)
    slugs = [t["slug"] for t in listed["items"]]
    assert slugs == ["kanzlei-neu", "verlag-betrieb"]
    patched = api.patch(
        f"/api/v1/platform/tenants/{tenant['id']}",
        json={"status": "suspended", "plan": "pro"},
        headers=headers,
    )
    assert (patched.json()["status"], patched.json()["plan"]) == ("suspended", "pro")
    missing = api.patch(
        f"/api/v1/platform/tenants/{uuid.uuid4()}", json={"status": "active"}, headers=headers
    )
    assert missing.status_code == 404
    stats = api.get("/api/v1/platform/stats", headers=headers).json()
    assert stats["tenants"] == 2
    assert stats["tenantsByStatus"] == {"active": 1, "suspended": 1}
    assert stats["users"] == 1
    events = su.execute(
        "SELECT action, details->>'platformAdmin' FROM audit_events WHERE tenant_id = %s ORDER BY seq",
        (tenant["id"],),
    ).fetchall()
    assert [e[0] for e in events] == ["tenant.create", "tenant.suspend", "tenant.plan_change"]
    assert {e[1] for e in events} == {str(su.execute("SELECT id FROM users").fetchone()[0])}  # type: ignore[index]


def test_tenant_admins_are_not_platform_admins(
    api: TestClient, su: psycopg.Connection, make_tenant: Any
) -> None:
    tenant = make_tenant("kanzlei-a")
    headers = login_as(api, su, tenant, "admin")
    for method, path in (
        ("GET", "/api/v1/platform/tenants"),
        ("GET", "/api/v1/platform/stats"),
        ("PATCH", f"/api/v1/platform/tenants/{tenant}"),
    ):
        response = api.request(method, path, headers=headers, json={"status": "suspended"})
        assert (response.status_code, response.json()["code"]) == (403, "auth.forbidden")
    assert su.execute("SELECT status FROM tenants").fetchone() == ("active",)

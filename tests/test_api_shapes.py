"""Consistent shapes (issue 10, point 4): no bare-array lists, a Location on every 201.

The list check walks the OpenAPI document: a 2xx answer that is a JSON array fails, and every
``Page`` answer accepts ``page`` and ``pageSize``. The Location check: every operation answering
201 is either walked with real objects by tests/test_api_fuzz.py (whose ``Walk`` follows the
``Location`` of each 201 and expects 200) or created below; a new 201 route that neither covers
fails ``test_every_created_answer_is_followed``.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from tests.auth_helpers import bearer, ensure_user, login_as
from tests.test_api_fuzz import WALKED
from tests.test_openapi import app, document, operations  # noqa: F401 - the module-scoped fixtures

# 201 operations outside the fuzz walk's prefixes, created in test_created_resources_are_located.
LOCATED_HERE = {
    ("POST", "/api/v1/identity/users"),
    ("POST", "/api/v1/identity/teams"),
    ("POST", "/api/v1/platform/tenants"),
    ("POST", "/api/v1/export/style-templates"),
}


def _schema(response: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = response.get("content", {}).get("application/json", {}).get("schema", {})
    return schema


def test_no_list_answer_is_a_bare_array(document: dict[str, Any]) -> None:  # noqa: F811
    components = document["components"]["schemas"]
    bare, unpaged = [], []
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if not status.startswith("2"):
                continue
            schema = _schema(response)
            if schema.get("type") == "array":
                bare.append(f"{method} {path} {status}")
            ref = schema.get("$ref", "").rsplit("/", 1)[-1]
            if ref.startswith("Page_"):
                assert set(components[ref]["properties"]) == {"items", "total", "page", "pageSize"}
                parameters = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
                if not {"page", "pageSize"} <= parameters:
                    unpaged.append(f"{method} {path}")
    assert bare == []
    assert unpaged == []


def test_every_created_answer_is_followed(document: dict[str, Any]) -> None:  # noqa: F811
    created = {
        (method, path) for method, path, operation in operations(document) if "201" in operation["responses"]
    }
    walked = {(method, path) for method, path in created if path.startswith(WALKED)}
    assert created - walked - LOCATED_HERE == set()
    assert created >= LOCATED_HERE


def _follow(api: TestClient, response: Any, headers: dict[str, str], url: str) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    location = response.headers["Location"]
    assert location == url
    followed = api.get(location, headers=headers)
    assert followed.status_code == 200, followed.text
    return followed.json()  # type: ignore[no-any-return]


def test_created_resources_are_located(api: TestClient, su: psycopg.Connection, make_tenant: Any) -> None:
    home = make_tenant("verlag-ort", type="vendor")
    admin = login_as(api, su, home, "admin", "admin@verlag-ort.de")
    invite = {"email": "neu@verlag-ort.de", "displayName": "Neu", "role": "editor"}
    invited = api.post("/api/v1/identity/users", json=invite, headers=admin)
    user = invited.json()["user"]
    assert _follow(api, invited, admin, f"/api/v1/identity/users/{user['id']}") == user

    team = api.post("/api/v1/identity/teams", json={"name": "Arbeitsrecht"}, headers=admin)
    assert _follow(api, team, admin, f"/api/v1/identity/teams/{team.json()['id']}") == team.json()

    style = api.post("/api/v1/export/style-templates", json={"name": "Hausstil"}, headers=admin)
    url = f"/api/v1/export/style-templates/{style.json()['id']}"
    assert _follow(api, style, admin, url) == style.json()

    operator = ensure_user(su, home, "admin", "betrieb@verlag-ort.de")
    su.execute("UPDATE users SET platform_admin = true WHERE id = %s", (operator,))
    headers = bearer(api, su, home, operator)
    body = {"slug": "kanzlei-ort", "name": "Kanzlei Ort", "type": "lawfirm"}
    tenant = api.post("/api/v1/platform/tenants", json=body, headers=headers)
    url = f"/api/v1/platform/tenants/{tenant.json()['id']}"
    assert _follow(api, tenant, headers, url) == tenant.json()
    missing = api.get(f"/api/v1/platform/tenants/{uuid.uuid4()}", headers=headers)
    assert (missing.status_code, missing.json()["code"]) == (404, "tenant.not_found")

"""Objects of another tenant, by every route that takes an id: always 404, never a change.

The RBAC matrix (test_rbac_matrix.py) checks role permissions with made-up ids;
here every route family gets a *real* object of tenant A (a law firm with its
own published content pack, a contract, a law-firm template, a team and a
user), and tenant B's user, editor and admin call every route with a path
parameter. A caller whose role has the route's permission must get 404 (the
object's existence is not revealed), one without it 403; tenant A's rows are
unchanged afterwards.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from servanda.content.packs import shipped_packs
from servanda.identity.principal import ROLE_PERMISSIONS, Permission
from tests.auth_helpers import ensure_user, login_as
from tests.conftest import DbUnderTest
from tests.docx_samples import clean_docx
from tests.test_branding import make_png
from tests.test_contracts import publish_pack
from tests.test_export_api import finish, finish_batch
from tests.test_rbac_matrix import PARAM, cases

TENANT_TABLES = (
    "users",
    "teams",
    "team_members",
    "auth_sessions",
    "refresh_tokens",
    "user_invites",
    "audit_events",
    "clauses",
    "clause_versions",
    "templates",
    "template_versions",
    "content_reviews",
    "contracts",
    "lawfirm_templates",
    "export_jobs",
    "style_templates",
)


def pack(name: str) -> dict[str, Any]:
    path = next(p for p in shipped_packs() if p.name == name)
    return dict(json.loads(path.read_text(encoding="utf-8")))


def one(su: psycopg.Connection, sql: str, *params: Any) -> str:
    row = su.execute(sql, params).fetchone()
    assert row is not None, sql
    return str(row[0])


@pytest.fixture
def tenant_a(
    api: TestClient, su: psycopg.Connection, make_tenant: Any, clean_db: DbUnderTest
) -> dict[str, Any]:
    """A law firm with its own published content, a contract, a law-firm template, a team and a user."""
    a = make_tenant("kanzlei-a")
    admin = login_as(api, su, a, "admin", "admin@kanzlei-a.de")
    publish_pack(clean_db.app, "kanzlei-a", pack("nda.json"))
    template_id = one(su, "SELECT id FROM templates WHERE tenant_id = %s ORDER BY created_at LIMIT 1", a)
    created = api.post("/api/v1/contracts", json={"templateId": template_id, "title": "NDA A"}, headers=admin)
    assert created.status_code == 201, created.text
    contract_id = created.json()["id"]
    saved = api.post(
        f"/api/v1/contracts/{contract_id}/save-as-template", json={"title": "Kanzleivorlage A"}, headers=admin
    )
    assert saved.status_code == 201, saved.text
    # a finished export job and batch (files in storage), so every export route reaches a real object
    job = api.post("/api/v1/export-jobs", json={"contractId": contract_id, "format": "docx"}, headers=admin)
    assert job.status_code == 202, job.text
    batch = api.post(
        "/api/v1/export-jobs/batch", json={"contractIds": [contract_id], "format": "pdf"}, headers=admin
    )
    assert batch.status_code == 202, batch.text
    finish(api, su, a, job.json()["id"])
    finish_batch(api, su, a, batch.json()["id"])
    # a style template with its own logo and base DOCX, so every style route reaches a real object
    style = api.post("/api/v1/export/style-templates", json={"name": "Hausstil A"}, headers=admin)
    assert style.status_code == 201, style.text
    style_url = f"/api/v1/export/style-templates/{style.json()['id']}"
    for part, file in (
        ("logo", ("l.png", make_png(), "image/png")),
        ("base-docx", ("b.docx", clean_docx(), "x")),
    ):
        assert api.put(f"{style_url}/{part}", files={"file": file}, headers=admin).status_code == 200
    team_id = one(su, "INSERT INTO teams (tenant_id, name) VALUES (%s, 'Team A') RETURNING id", a)
    user_id = ensure_user(su, a, "user", "anwalt@kanzlei-a.de")
    ids = {
        "clauses": {
            "entity_id": one(su, "SELECT id FROM clauses WHERE tenant_id = %s LIMIT 1", a),
        },
        "templates": {"entity_id": template_id},
        "contract_id": contract_id,
        "template_id": template_id,  # catalog: tenant A's own published template
        "lawfirm_template_id": saved.json()["id"],
        "team_id": team_id,
        "user_id": str(user_id),
        "tenant_id": str(a),
        "style_template_id": style.json()["id"],
        "job_id": job.json()["id"],
        "batch_id": batch.json()["id"],
    }
    ids["clauses"]["version_id"] = one(
        su, "SELECT id FROM clause_versions WHERE clause_id = %s LIMIT 1", ids["clauses"]["entity_id"]
    )
    ids["templates"]["version_id"] = one(
        su, "SELECT id FROM template_versions WHERE template_id = %s LIMIT 1", template_id
    )
    return {"tenant": a, "ids": ids}


def fill(path: str, ids: dict[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if path.startswith("/api/v1/content/"):
            kind = path.split("/")[4]
            return str(ids[kind][name])
        if path.startswith("/api/v1/lawfirm-templates/"):
            return str(ids["lawfirm_template_id"])
        return str(ids[name])

    return PARAM.sub(value, path)


# Valid bodies where an empty one would be refused before the object is looked up.
BODIES: dict[str, dict[str, Any]] = {
    "/submit": {"reviewerId": "00000000-0000-4000-8000-000000000001"},
    "/reject": {"comment": "Bitte überarbeiten."},
    "/request-changes": {"comment": "Bitte überarbeiten."},
    "/save-as-template": {"title": "Fremde Vorlage"},
    "/teams/{team_id}": {"name": "Übernommen"},
    "/members": {"userIds": []},
    "/resolutions": {"fingerprint": "0" * 64, "optionId": "remove_clause:slot:clause"},
}


def body(path: str) -> dict[str, Any]:
    return next((b for suffix, b in BODIES.items() if path.endswith(suffix)), {})


def fingerprint(su: psycopg.Connection, tenant: Any) -> str:
    parts = [
        repr(su.execute(f"SELECT * FROM {table} WHERE tenant_id = %s ORDER BY 1", (tenant,)).fetchall())
        for table in TENANT_TABLES
    ]
    parts.append(repr(su.execute("SELECT * FROM tenants WHERE id = %s", (tenant,)).fetchall()))
    return hashlib.sha256("".join(parts).encode()).hexdigest()


def test_foreign_objects_are_404_and_untouched(
    api: TestClient, su: psycopg.Connection, make_tenant: Any, tenant_a: dict[str, Any]
) -> None:
    b = make_tenant("kanzlei-b")
    callers = {role: login_as(api, su, b, role) for role in ("user", "editor", "admin")}
    routes = [c for c in cases(api.app) if "{" in c[1]]  # type: ignore[arg-type]
    assert len(routes) >= 40
    before = fingerprint(su, tenant_a["tenant"])
    failures: list[str] = []
    for role, headers in callers.items():
        for method, path, permission in routes:
            response = api.request(method, fill(path, tenant_a["ids"]), headers=headers, json=body(path))
            if permission is Permission.PLATFORM_ADMIN or permission not in ROLE_PERMISSIONS[role]:
                expected = 403
            else:
                expected = 404
            if response.status_code != expected:
                failures.append(
                    f"{role:>6} {method:<6} {path} -> {response.status_code}, expected {expected}"
                )
    assert failures == [], "\n".join(failures)
    assert fingerprint(su, tenant_a["tenant"]) == before, "tenant B changed tenant A"


def test_the_same_ids_reach_the_objects_for_tenant_a(
    api: TestClient, su: psycopg.Connection, tenant_a: dict[str, Any]
) -> None:
    """The ids are real: tenant A's admin reads each object (so the 404s above are not trivial)."""
    admin = login_as(api, su, tenant_a["tenant"], "admin", "admin@kanzlei-a.de")
    reads = [
        (method, path)
        for method, path, _ in cases(api.app)  # type: ignore[arg-type]
        if method == "GET" and "{" in path and not path.startswith("/api/v1/platform/")
    ]
    assert len(reads) >= 12
    failures = [
        f"GET {path} -> {status}"
        for _, path in reads
        if (status := api.get(fill(path, tenant_a["ids"]), headers=admin).status_code) != 200
    ]
    assert failures == [], "\n".join(failures)

"""A template version's ``defaultStyleTemplateId`` names a style the tenant can see (issue 8, item 9)."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

from tests.content_helpers import Publisher, codes


def style(su: psycopg.Connection, tenant: uuid.UUID | None) -> str:
    row = su.execute(
        "INSERT INTO style_templates (tenant_id, name, type) VALUES (%s, 'Hausstil', %s) RETURNING id",
        (tenant, "vendor" if tenant else "system"),
    ).fetchone()
    assert row is not None
    return str(row[0])


def refused(response: Any) -> bool:
    return codes(response) == (422, "content.unknown_style_template") and response.json()["errors"] == [
        {"field": "defaultStyleTemplateId", "message": "unbekannte Formatvorlage"}
    ]


def test_default_style_must_exist_and_be_visible(
    pub: Publisher, su: psycopg.Connection, make_tenant: Any
) -> None:
    system = su.execute("SELECT id::text FROM style_templates WHERE tenant_id IS NULL").fetchone()[0]  # type: ignore[index]
    own = style(su, pub.tenant)
    foreign = style(su, make_tenant("verlag-fremd", type="vendor"))
    unknown = str(uuid.uuid4())
    for bad in (unknown, foreign):
        assert refused(
            pub.call("POST", "/templates", json={"title": "Vertrag", "defaultStyleTemplateId": bad})
        )
    assert su.execute("SELECT count(*) FROM templates").fetchone() == (0,)  # nothing was created
    created = pub.call("POST", "/templates", json={"title": "Vertrag", "defaultStyleTemplateId": system})
    assert created.status_code == 201, created.text
    version = created.json()["version"]
    base = f"/templates/{version['entityId']}/versions"
    for bad in (unknown, foreign):
        assert refused(pub.call("PATCH", f"{base}/{version['id']}", json={"defaultStyleTemplateId": bad}))
        assert refused(pub.call("POST", base, json={"defaultStyleTemplateId": bad}))
    patched = pub.call("PATCH", f"{base}/{version['id']}", json={"defaultStyleTemplateId": own})
    assert (patched.status_code, patched.json()["defaultStyleTemplateId"]) == (200, own)
    cleared = pub.call("PATCH", f"{base}/{version['id']}", json={"defaultStyleTemplateId": None})
    assert (cleared.status_code, cleared.json()["defaultStyleTemplateId"]) == (200, None)
    stored = su.execute(
        "SELECT count(*) FROM template_versions WHERE default_style_template_id = %s", (foreign,)
    )
    assert stored.fetchone() == (0,)

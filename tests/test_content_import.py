"""Content-pack import: API (drafts), CLI (--publish), atomicity and idempotency."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from servanda.content.packs import shipped_packs
from tests.auth_helpers import login_as
from tests.conftest import DbUnderTest
from tests.content_helpers import Publisher

PACKS = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in shipped_packs()}


def test_the_three_packs_ship() -> None:
    assert sorted(PACKS) == ["arbeitsvertrag.json", "dienstleistungsvertrag.json", "nda.json"]


def test_api_import_creates_drafts_and_is_idempotent(pub: Publisher, su: psycopg.Connection) -> None:
    pack = PACKS["nda.json"]
    first = pub.call("POST", "/import", json=pack)
    assert first.status_code == 200, first.text
    report = first.json()
    assert len(report["created"]) == len(pack["clauses"]) + len(pack["templates"])
    assert report["published"] == []
    statuses = {
        r[0]
        for r in su.execute("SELECT status FROM clause_versions UNION SELECT status FROM template_versions")
    }
    assert statuses == {"draft"}
    again = pub.call("POST", "/import", json=pack).json()
    assert (again["created"], again["newVersion"]) == ([], [])
    assert len(again["unchanged"]) == len(report["created"])
    changed = copy.deepcopy(pack)
    changed["clauses"][0]["content"] += "\n\nErgänzung zur Klarstellung."
    third = pub.call("POST", "/import", json=changed).json()
    assert [(n["key"], n["versionNumber"]) for n in third["newVersion"]] == [(pack["clauses"][0]["key"], 2)]
    actions = [r[0] for r in su.execute("SELECT action FROM audit_events WHERE action = 'content.import'")]
    assert len(actions) == 3


def test_invalid_pack_imports_nothing_and_names_every_error(pub: Publisher, su: psycopg.Connection) -> None:
    pack = copy.deepcopy(PACKS["arbeitsvertrag.json"])
    pack["clauses"][2]["rules"][0]["type"] = "teleport"
    pack["templates"][0]["structure"][0]["slots"][0]["clause"] = "c99"
    response = pub.call("POST", "/import", json=pack)
    assert response.status_code == 422
    assert response.json()["code"] == "content.invalid_pack"
    fields = [e["field"] for e in response.json()["errors"]]
    assert any(f.startswith("$.clauses[2].rules[0]") for f in fields), fields
    assert su.execute("SELECT count(*) FROM clauses").fetchone() == (0,)
    unknown_ref = copy.deepcopy(PACKS["arbeitsvertrag.json"])
    unknown_ref["templates"][0]["structure"][0]["slots"][0]["clause"] = "c99"
    errors = pub.call("POST", "/import", json=unknown_ref).json()["errors"]
    assert errors == [
        {"field": "$.templates[0].structure[0].slots[0].clause", "message": "Unbekannte Klausel 'c99'."}
    ]
    assert su.execute("SELECT count(*) FROM clauses").fetchone() == (0,)


def test_users_cannot_import(pub: Publisher, api: TestClient, su: psycopg.Connection) -> None:
    user = login_as(api, su, pub.tenant, "user")
    assert pub.call("POST", "/import", user, json=PACKS["nda.json"]).status_code == 403


@pytest.fixture
def cli_env(clean_db: DbUnderTest) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": clean_db.app, "DATABASE_ADMIN_URL": clean_db.owner}


def test_cli_import_publishes_and_the_catalog_shows_it(
    cli_env: dict[str, str], api: TestClient, su: psycopg.Connection, make_tenant: Any
) -> None:
    vendor = make_tenant("verlag-demo", type="vendor")
    login_as(api, su, vendor, "admin", "admin@verlag-demo.de")
    packs = [str(p) for p in shipped_packs()]
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "servanda",
            "content",
            "import",
            *packs,
            "--tenant",
            "verlag-demo",
            "--publish",
        ],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    entries = len(PACKS["arbeitsvertrag.json"]["clauses"]) + 1  # and its template
    assert (
        f"arbeitsvertrag.json: {entries} created, 0 new versions, 0 unchanged, {entries} published"
        in run.stdout
    )
    lawyer = login_as(api, su, make_tenant("kanzlei-a"), "user")
    catalog = api.get("/api/v1/catalog/templates", params={"q": "Arbeitsverträge"}, headers=lawyer).json()
    assert [i["title"] for i in catalog["items"]] == [PACKS["arbeitsvertrag.json"]["templates"][0]["title"]]
    detail = api.get(f"/api/v1/catalog/templates/{catalog['items'][0]['id']}", headers=lawyer).json()
    assert sum(len(s["slots"]) for s in detail["sections"]) == sum(
        len(s["slots"]) for s in PACKS["arbeitsvertrag.json"]["templates"][0]["structure"]
    )
    published = su.execute("SELECT count(*) FROM clause_versions WHERE status = 'published'").fetchone()
    assert published == (sum(len(p["clauses"]) for p in PACKS.values()),)
    event = su.execute("SELECT details FROM audit_events WHERE action = 'content.import' LIMIT 1").fetchone()
    assert event is not None
    assert event[0]["publish"] is True
    bad = Path(packs[0]).parent / "does-not-exist.json"
    missing = subprocess.run(
        [sys.executable, "-m", "servanda", "content", "import", str(bad), "--tenant", "verlag-demo"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 1
    assert "content.unreadable_pack" in missing.stderr


def test_cli_prints_the_schema(cli_env: dict[str, str]) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "servanda", "content", "schema"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    schema = json.loads(run.stdout)
    assert schema["$schema"].startswith("https://json-schema.org/draft/2020-12")


def test_pack_errors_read_in_german() -> None:
    """The JSON Schema's own English texts ("is a required property", "is not one of") never reach
    the user: each violation is rendered by its keyword."""
    from servanda.content import packs

    pack = copy.deepcopy(PACKS["arbeitsvertrag.json"])
    del pack["clauses"][0]["title"]
    pack["clauses"][1]["rules"] = "keine Liste"
    pack["clauses"][2]["unbekannt"] = 1
    pack["templates"][0]["title"] = ""
    errors = packs.validate(pack)
    assert errors
    english = (
        "is a required property",
        "is not of type",
        "is not one of",
        "should be",
        "does not match",
        "is not valid",
    )
    assert [e for e in errors if any(s in e["message"] for s in english)] == []
    by_field = {e["field"]: e["message"] for e in errors}
    assert by_field["$.clauses[0]"] == 'Pflichtfeld fehlt: "title".'
    assert by_field["$.clauses[1].rules"] == "Muss eine Liste sein."
    assert by_field["$.clauses[2]"] == 'Nicht vorgesehene Felder: "unbekannt".'

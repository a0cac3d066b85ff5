"""NUL characters (U+0000) are refused at the edge: 422 with the field path, nothing stored.

PostgreSQL cannot store U+0000 in text; before the edge check each of these
requests reached the database and answered 500 ``internal.error`` (issue 8,
defect 5).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from servanda.platform.http import RequestContextMiddleware, nul_fields_in_json
from tests.auth_helpers import login_as
from tests.content_helpers import Publisher
from tests.test_catalog import template

NUL = "\u0000"


@pytest.fixture
def world(api: TestClient, su: psycopg.Connection, pub: Publisher, make_tenant: Any) -> dict[str, Any]:
    published = template(pub, "Mustervertrag")
    firm = make_tenant("kanzlei-nul")
    lawyer = login_as(api, su, firm, "user", "anwalt@kanzlei-nul.de")
    admin = login_as(api, su, firm, "admin", "admin@kanzlei-nul.de")
    contract = api.post(
        "/api/v1/contracts", json={"templateId": published["entityId"], "title": "Vertrag"}, headers=lawyer
    )
    assert contract.status_code == 201, contract.text
    team = api.post("/api/v1/identity/teams", json={"name": "Team A"}, headers=admin)
    assert team.status_code == 201, team.text
    clause = pub.clause()
    return {
        "lawyer": lawyer,
        "admin": admin,
        "author": pub.author,
        "template": published["entityId"],
        "contract": contract.json()["id"],
        "team": team.json()["id"],
        "clause": clause,
    }


Case = Callable[[dict[str, Any]], tuple[str, str, str | None, dict[str, Any]]]

# name -> (method, url, who, request kwargs), expected field path
CASES: dict[str, tuple[Case, str]] = {
    "login tenant": (
        lambda w: (
            "POST",
            "/api/v1/auth/login",
            None,
            {"json": {"tenant": f"kanzlei{NUL}nul", "email": "anwalt@kanzlei-nul.de", "password": "x"}},
        ),
        "tenant",
    ),
    "login email": (
        lambda w: (
            "POST",
            "/api/v1/auth/login",
            None,
            {"json": {"tenant": "kanzlei-nul", "email": f"anwalt{NUL}@kanzlei-nul.de", "password": "x"}},
        ),
        "email",
    ),
    "contracts q": (
        lambda w: ("GET", "/api/v1/contracts", "lawyer", {"params": {"q": f"Ver{NUL}trag"}}),
        "query.q",
    ),
    "catalog q": (
        lambda w: ("GET", "/api/v1/catalog/templates", "lawyer", {"params": {"q": f"Muster{NUL}"}}),
        "query.q",
    ),
    "users q": (
        lambda w: ("GET", "/api/v1/identity/users", "admin", {"params": {"q": f"{NUL}anwalt"}}),
        "query.q",
    ),
    "contract title (create)": (
        lambda w: (
            "POST",
            "/api/v1/contracts",
            "lawyer",
            {"json": {"templateId": w["template"], "title": f"Arbeits{NUL}vertrag"}},
        ),
        "title",
    ),
    "contract title (patch)": (
        lambda w: ("PATCH", f"/api/v1/contracts/{w['contract']}", "lawyer", {"json": {"title": f"X{NUL}"}}),
        "title",
    ),
    "contract answer": (
        lambda w: (
            "PATCH",
            f"/api/v1/contracts/{w['contract']}",
            "lawyer",
            {"json": {"answers": {"name": f"Muster{NUL}GmbH", "ort": "Berlin"}}},
        ),
        "answers.name",
    ),
    "team name (create)": (
        lambda w: ("POST", "/api/v1/identity/teams", "admin", {"json": {"name": f"Team{NUL}B"}}),
        "name",
    ),
    "team name (patch)": (
        lambda w: ("PATCH", f"/api/v1/identity/teams/{w['team']}", "admin", {"json": {"name": f"{NUL}"}}),
        "name",
    ),
    "clause content (create)": (
        lambda w: (
            "POST",
            "/api/v1/content/clauses",
            "author",
            {"json": {"title": "Haftung", "content": f"Die Haftung{NUL} ist beschränkt."}},
        ),
        "content",
    ),
    "clause content (draft patch)": (
        lambda w: (
            "PATCH",
            f"/api/v1/content/clauses/{w['clause']['entityId']}/versions/{w['clause']['id']}",
            "author",
            {"json": {"content": f"Neu{NUL}"}},
        ),
        "content",
    ),
    "settings address": (
        lambda w: (
            "PATCH",
            "/api/v1/tenant/settings",
            "admin",
            {"json": {"profile": {"address": {"street": f"Haupt{NUL}str. 1", "city": "Berlin"}}}},
        ),
        "profile.address.street",
    ),
}


def snapshot(su: psycopg.Connection) -> dict[str, str]:
    """A digest of every table's rows: proves a refused request changed nothing."""
    tables = [
        r[0] for r in su.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    ]
    return {
        table: su.execute(
            f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM \"{table}\" t"
        ).fetchone()[0]  # type: ignore[index]
        for table in tables
    }


@pytest.mark.parametrize("case", list(CASES))
def test_nul_is_refused_with_the_field_path(
    case: str, api: TestClient, world: dict[str, Any], su: psycopg.Connection
) -> None:
    build, field = CASES[case]
    method, url, who, kwargs = build(world)
    before = snapshot(su)
    response = api.request(method, url, headers=world[who] if who else None, **kwargs)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "request.validation_failed"
    assert [e["field"] for e in body["errors"]] == [field]
    assert "NUL" in body["errors"][0]["message"]
    assert snapshot(su) == before


def test_nul_in_a_query_parameter_name_and_the_path(api: TestClient, world: dict[str, Any]) -> None:
    named = api.get("/api/v1/contracts?a%00b=1", headers=world["lawyer"])
    assert (named.status_code, [e["field"] for e in named.json()["errors"]]) == (422, ["query.a\\u0000b"])
    in_path = api.get("/api/v1/identity/teams/%00", headers=world["admin"])
    assert (in_path.status_code, [e["field"] for e in in_path.json()["errors"]]) == (422, ["path"])


def test_text_that_merely_looks_like_an_escape_passes(api: TestClient, world: dict[str, Any]) -> None:
    # The JSON text \\u0000 is an escaped backslash followed by "u0000": a harmless string.
    response = api.post(
        "/api/v1/identity/teams",
        content=b'{"name": "Team \\\\u0000"}',
        headers={**world["admin"], "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "Team \\u0000"
    assert api.get("/api/v1/contracts?q=%2500", headers=world["lawyer"]).status_code == 200


def test_field_paths_of_nested_documents() -> None:
    assert nul_fields_in_json(b'{"a": {"b": [1, "x\\u0000"]}, "c": "ok"}') == ["a.b.1"]
    assert nul_fields_in_json(b'{"k\\u0000": 1}') == ["k\\u0000"]
    assert nul_fields_in_json(b'"\\u0000"') == ["body"]
    assert nul_fields_in_json(b'{"a": "\\\\u0000"}') == []
    assert nul_fields_in_json(b'{"a": "\\u0000"') == []  # invalid JSON: the framework's own 422


def test_an_escape_split_across_body_chunks_is_found() -> None:
    reached: list[bytes] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        reached.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def run(chunks: list[bytes]) -> int:
        pending = [
            {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
            for i, c in enumerate(chunks)
        ]
        sent: list[Message] = []

        async def receive() -> Message:
            return pending.pop(0)

        async def send(message: Message) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": "POST",
            "path": "/api/v1/x",
            "query_string": b"",
            "headers": [(b"content-type", b"application/json")],
        }
        await RequestContextMiddleware(app)(scope, receive, send)
        return int(sent[0]["status"])

    assert asyncio.run(run([b'{"name": "a\\u00', b'00b"}'])) == 422
    assert asyncio.run(run([b'{"name": "a\\', b'u0000b"}'])) == 422
    assert asyncio.run(run([b'{"name": "a', b'b"}'])) == 200
    assert reached == [b'{"name": "ab"}']

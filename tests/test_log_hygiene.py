"""No statement parameters, contract content or credentials in any log line (issue 8, defect 6).

Runs the API with logging at DEBUG, provokes every error path we can reach -
database errors whose message quotes a parameter or the offending row, an
unhandled error whose message quotes input, 401/403/404/409/413/422 and failed
logins - each carrying planted secret strings, and then searches the whole log
output for them.
"""

from __future__ import annotations

import io
import logging
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import text

from servanda.app import create_app
from servanda.identity.passwords import hash_password
from servanda.platform.config import load_settings
from servanda.platform.db import Database
from servanda.platform.logs import configure_logging
from tests.auth_helpers import login_as
from tests.conftest import DbUnderTest
from tests.content_helpers import Publisher
from tests.test_catalog import template

SECRETS = {
    "param": "Geheimparameter-4711",
    "row": "Geheime Teamzeile 4712",
    "message": "Geheime Nachricht 4713",
    "answer": "Geheime Vertragsantwort 4714",
    "title": "Geheimer Vertragstitel 4715",
    "clause": "Geheimer Klauseltext 4716",
    "email": "geheim.4717@kanzlei-log.de",
    "password": "Geheimes-Passwort-4718",
    "token": "geheim4719.token.x",
    "nul": "Geheim mit NUL 4720",
    "path": "geheimer-pfad-4721",
}


def add_failing_routes(app: FastAPI) -> None:
    """Routes that fail inside the database or the code, with a planted secret in the failure."""

    @app.get("/api/v1/probe/cast")
    async def cast(request: Request) -> None:
        db: Database = request.app.state.db
        async with db.session(None) as session:  # invalid input syntax for type integer: "<param>"
            await session.execute(text("SELECT CAST(:p AS integer)"), {"p": SECRETS["param"]})

    @app.get("/api/v1/probe/unique/{tenant_id}")
    async def unique(request: Request, tenant_id: uuid.UUID) -> None:
        db: Database = request.app.state.db
        async with db.session(tenant_id) as session:  # DETAIL: Key (tenant_id, name)=(…, <row>) exists
            insert = text("INSERT INTO teams (tenant_id, name) VALUES (:t, :n)")
            await session.execute(insert, {"t": tenant_id, "n": SECRETS["row"]})
            await session.execute(insert, {"t": tenant_id, "n": SECRETS["row"]})

    @app.get("/api/v1/probe/raise")
    async def fail() -> None:
        raise ValueError(f"kaputt bei {SECRETS['message']}")


@pytest.fixture
def logged(clean_db: DbUnderTest) -> Iterator[tuple[TestClient, io.StringIO]]:
    """The API with the production log configuration at DEBUG, writing into a buffer."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging("api", "DEBUG")
    buffer = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    # The test client's own request lines (httpx) are not the server's log.
    client_log = logging.getLogger("httpx")
    client_log.disabled = True
    settings = load_settings(servanda_env="test", servanda_data_dir=Path(tempfile.mkdtemp()))
    app = create_app(settings, clean_db.app)
    add_failing_routes(app)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client, buffer
    finally:
        client_log.disabled = False
        root.handlers[:], _ = saved
        root.setLevel(saved[1])


def test_no_secret_reaches_the_log(
    logged: tuple[TestClient, io.StringIO],
    su: psycopg.Connection,
    make_tenant: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api, log_buffer = logged
    pub = Publisher(api, su, make_tenant("verlag-log", type="vendor"))
    published = template(pub, "Mustervertrag")
    firm = make_tenant("kanzlei-log")
    su.execute(
        "INSERT INTO users (tenant_id, email, display_name, role, status, password_hash) "
        "VALUES (%s, 'anwalt@kanzlei-log.de', 'Anwalt', 'user', 'active', %s)",
        (firm, hash_password("richtiges-Passwort-1")),
    )
    lawyer = login_as(api, su, firm, "user", "anwalt@kanzlei-log.de")
    admin = login_as(api, su, firm, "admin", "admin@kanzlei-log.de")
    K = "/api/v1/contracts"
    contract = api.post(
        K, json={"templateId": published["entityId"], "title": SECRETS["title"]}, headers=lawyer
    )
    assert contract.status_code == 201, contract.text
    cid = contract.json()["id"]
    draft = pub.clause(title="Haftung", content=SECRETS["clause"])

    statuses = {
        # 500: database errors quoting a parameter / the failing row, an error quoting input
        "cast": api.get("/api/v1/probe/cast").status_code,
        "unique": api.get(f"/api/v1/probe/unique/{firm}").status_code,
        "raise": api.get("/api/v1/probe/raise").status_code,
        # failed logins: unknown tenant, unknown e-mail, wrong password
        "login tenant": api.post(
            "/api/v1/auth/login",
            json={"tenant": "gibt-es-nicht", "email": SECRETS["email"], "password": SECRETS["password"]},
        ).status_code,
        "login email": api.post(
            "/api/v1/auth/login",
            json={"tenant": "kanzlei-log", "email": SECRETS["email"], "password": SECRETS["password"]},
        ).status_code,
        "login password": api.post(
            "/api/v1/auth/login",
            json={"tenant": "kanzlei-log", "email": "anwalt@kanzlei-log.de", "password": SECRETS["password"]},
        ).status_code,
        # 401 / 403 / 404 / 409 / 413 / 422
        "401": api.get(
            "/api/v1/identity/me", headers={"Authorization": f"Bearer {SECRETS['token']}"}
        ).status_code,
        "403": api.post("/api/v1/identity/teams", json={"name": SECRETS["row"]}, headers=lawyer).status_code,
        "404 object": api.get(
            f"{K}/{uuid.uuid4()}", params={"q": SECRETS["param"]}, headers=lawyer
        ).status_code,
        "404 path": api.get(f"/api/v1/{SECRETS['path']}", headers=lawyer).status_code,
        "409 created": api.post(
            "/api/v1/identity/teams", json={"name": SECRETS["row"]}, headers=admin
        ).status_code,
        "409": api.post("/api/v1/identity/teams", json={"name": SECRETS["row"]}, headers=admin).status_code,
        "413": api.post(
            "/api/v1/identity/teams",
            content=b'{"name": "' + SECRETS["row"].encode() * 80_000 + b'"}',
            headers={**admin, "Content-Type": "application/json"},
        ).status_code,
        "422 answers": api.patch(
            f"{K}/{cid}", json={"answers": {"name": 5, SECRETS["answer"]: SECRETS["answer"]}}, headers=lawyer
        ).status_code,
        "422 schema": api.post(
            "/api/v1/identity/teams", json={"name": SECRETS["row"] * 20}, headers=admin
        ).status_code,
        "422 nul": api.patch(
            f"{K}/{cid}", json={"title": SECRETS["nul"] + "\u0000"}, headers=lawyer
        ).status_code,
        "422 clause": pub.call(
            "PATCH",
            f"/clauses/{draft['entityId']}/versions/{draft['id']}",
            json={"content": SECRETS["clause"], "unknown": SECRETS["clause"]},
        ).status_code,
        "saved answer": api.patch(
            f"{K}/{cid}", json={"answers": {"name": SECRETS["answer"]}}, headers=lawyer
        ).status_code,
    }
    assert statuses == {
        "cast": 500,
        "unique": 500,
        "raise": 500,
        "login tenant": 401,
        "login email": 401,
        "login password": 401,
        "401": 401,
        "403": 403,
        "404 object": 404,
        "404 path": 404,
        "409 created": 201,
        "409": 409,
        "413": 413,
        "422 answers": 422,
        "422 schema": 422,
        "422 nul": 422,
        "422 clause": 422,
        "saved answer": 200,
    }

    captured = capsys.readouterr()
    output = log_buffer.getvalue() + captured.out + captured.err
    leaked = {name: secret for name, secret in SECRETS.items() if secret in output}
    assert leaked == {}, [line for line in output.splitlines() if any(s in line for s in leaked.values())][:5]
    # The log was captured and still says what failed and where, without the values.
    errors = [line for line in output.splitlines() if '"action":"http.error"' in line]
    assert len(errors) == 3, output[-3000:]
    assert "sqlstate=22P02" in errors[0] and "sqlstate=23505" in errors[1] and "constraint=" in errors[1]
    assert "builtins.ValueError" in errors[2] and "test_log_hygiene.py" in errors[2]

"""One unit of work per request: one transaction, the principal lookup inside it, commit before the response.

The dependency ``platform.http.UnitOfWork`` opens the transaction; the route's
``allow(...)`` resolves the principal as its first statement (which sets the
tenant for the whole transaction) and every service gets the same session.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, text

from servanda.identity.dependencies import CurrentPrincipal, allow
from servanda.identity.principal import Permission
from servanda.platform import errors
from servanda.platform.db import Database
from servanda.platform.http import UnitOfWork
from servanda.platform.problems import install_problem_handlers
from tests.auth_helpers import ensure_user, login_as
from tests.conftest import DbUnderTest


class Recorder:
    """What reaches the database and when the response starts, in order."""

    def __init__(self, engine: Any) -> None:
        self.events: list[str] = []
        sync = engine.sync_engine
        event.listen(sync, "before_cursor_execute", self._statement)
        for name in ("begin", "commit", "rollback"):
            event.listen(sync, name, self._marker(name.upper()))

    def _statement(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            self.events.append("AUTOCOMMIT " + statement.split()[0])
        else:
            self.events.append(statement.split("(")[0].strip()[:40])

    def _marker(self, name: str) -> Any:
        def record(conn: Any) -> None:
            if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
                self.events.append(name)

        return record


def test_me_runs_in_one_transaction_with_the_principal_lookup_first(
    api: TestClient, su: psycopg.Connection, make_tenant: Any
) -> None:
    tenant = make_tenant("kanzlei-uow")
    headers = login_as(api, su, tenant, "user")
    recorder = Recorder(api.app.state.db.engine)  # type: ignore[attr-defined]
    assert api.get("/api/v1/identity/me", headers=headers).status_code == 200
    assert recorder.events[0] == "BEGIN"
    assert recorder.events[1].startswith("SELECT * FROM servanda_principal")
    assert recorder.events[-1] == "COMMIT"
    assert recorder.events.count("BEGIN") == 1
    assert not [e for e in recorder.events if e.startswith("AUTOCOMMIT")]


# A tiny app on the real database: the unit of work of the API, writing a row the test can see.
@pytest.fixture
def uow_app(clean_db: DbUnderTest, api: TestClient, tmp_path: Path) -> Iterator[tuple[TestClient, list[str]]]:
    order: list[str] = []
    app = FastAPI()
    install_problem_handlers(app)
    app.state.db = Database(clean_db.app, pool_size=2)
    app.state.verifier = api.app.state.verifier  # type: ignore[attr-defined]
    app.state.local_tokens = api.app.state.local_tokens  # type: ignore[attr-defined]

    @app.post("/teams/{name}", dependencies=[allow(Permission.TENANT_ADMIN)])
    async def create_team(
        name: str, principal: CurrentPrincipal, session: UnitOfWork, fail: bool = False
    ) -> dict[str, str]:
        await session.execute(
            text("INSERT INTO teams (tenant_id, name) VALUES (:t, :n)"), {"t": principal.tenant_id, "n": name}
        )
        if fail:
            raise errors.Conflict("team.refused", "Abgelehnt.")
        order.append("handler returns")
        return {"name": name}

    class StartRecorder:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            async def recording_send(message: Any) -> None:
                if message["type"] == "http.response.start":
                    order.append("response starts")
                await send(message)

            await self.inner(scope, receive, recording_send)

    app.add_middleware(StartRecorder)
    event.listen(app.state.db.engine.sync_engine, "commit", lambda conn: order.append("COMMIT"))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, order
    import asyncio

    asyncio.run(app.state.db.dispose())


def test_the_commit_happens_before_the_response_is_sent(
    uow_app: tuple[TestClient, list[str]], su: psycopg.Connection, make_tenant: Any
) -> None:
    client, order = uow_app
    tenant = make_tenant("kanzlei-commit")
    headers = login_as(client, su, tenant, "admin")
    assert client.post("/teams/Arbeitsrecht", headers=headers).status_code == 200
    assert order == ["handler returns", "COMMIT", "response starts"]
    assert su.execute("SELECT count(*) FROM teams WHERE tenant_id = %s", (tenant,)).fetchone() == (1,)


def test_a_refusal_rolls_back_everything_the_request_wrote(
    uow_app: tuple[TestClient, list[str]], su: psycopg.Connection, make_tenant: Any
) -> None:
    client, order = uow_app
    tenant = make_tenant("kanzlei-rollback")
    headers = login_as(client, su, tenant, "admin")
    response = client.post("/teams/Arbeitsrecht", params={"fail": True}, headers=headers)
    assert response.status_code == 409
    assert response.json()["code"] == "team.refused"
    assert "COMMIT" not in order
    assert su.execute("SELECT count(*) FROM teams WHERE tenant_id = %s", (tenant,)).fetchone() == (0,)


def test_the_tenant_of_the_principal_scopes_the_whole_transaction(
    uow_app: tuple[TestClient, list[str]], su: psycopg.Connection, make_tenant: Any
) -> None:
    """The endpoint sets no tenant itself: the principal lookup did, so RLS accepts the insert."""
    client, _ = uow_app
    tenant, other = make_tenant("kanzlei-eins"), make_tenant("kanzlei-zwei")
    assert client.post("/teams/Eins", headers=login_as(client, su, tenant, "admin")).status_code == 200
    assert client.post("/teams/Zwei", headers=login_as(client, su, other, "admin")).status_code == 200
    rows = su.execute("SELECT tenant_id, name FROM teams ORDER BY name").fetchall()
    assert rows == [(tenant, "Eins"), (other, "Zwei")]
    assert all(isinstance(r[0], uuid.UUID) for r in rows)


# -- the deliberate exceptions: what a refusal must leave committed ---------------------------

PASSWORD = "ein-langes-passwort"


def _password_user(su: psycopg.Connection, tenant: uuid.UUID, email: str) -> uuid.UUID:
    from servanda.identity.passwords import hash_password

    user = ensure_user(su, tenant, "admin", email)
    su.execute("UPDATE users SET password_hash = %s WHERE id = %s", (hash_password(PASSWORD), user))
    return user


def test_a_failed_login_commits_its_count_and_event_in_one_transaction(
    api: TestClient, su: psycopg.Connection, make_tenant: Any
) -> None:
    """The attempt is its own transaction (the refusal commits it); the request's unit of work stays unused."""
    tenant = make_tenant("kanzlei-fehlversuch")
    _password_user(su, tenant, "a@fehlversuch.de")
    recorder = Recorder(api.app.state.db.engine)  # type: ignore[attr-defined]
    body = {"tenant": "kanzlei-fehlversuch", "email": "a@fehlversuch.de", "password": "falsch-falsch-falsch"}
    refused = api.post("/api/v1/auth/login", json=body)
    assert (refused.status_code, refused.json()["code"]) == (401, "auth.invalid_credentials")
    assert (recorder.events.count("BEGIN"), recorder.events.count("COMMIT")) == (1, 1)
    assert "ROLLBACK" not in recorder.events
    failed = su.execute(
        "SELECT details->>'reason' FROM audit_events WHERE tenant_id = %s AND action = 'user.login_failed'",
        (tenant,),
    ).fetchall()
    assert failed == [("auth.wrong_password",)]
    assert su.execute("SELECT failures FROM login_backoff").fetchall() == [(1,)]


def test_a_spent_refresh_token_ends_the_session_although_the_request_fails(
    api: TestClient, su: psycopg.Connection, make_tenant: Any
) -> None:
    tenant = make_tenant("kanzlei-diebstahl")
    _password_user(su, tenant, "a@diebstahl.de")
    body = {"tenant": "kanzlei-diebstahl", "email": "a@diebstahl.de", "password": PASSWORD}
    first = api.post("/api/v1/auth/login", json=body).json()
    assert api.post("/api/v1/auth/refresh", json={"refreshToken": first["refreshToken"]}).status_code == 200
    recorder = Recorder(api.app.state.db.engine)  # type: ignore[attr-defined]
    reuse = api.post("/api/v1/auth/refresh", json={"refreshToken": first["refreshToken"]})
    assert (reuse.status_code, reuse.json()["code"]) == (401, "auth.invalid_refresh_token")
    # the request's unit of work rolled back; the session was ended in a transaction of its own
    assert recorder.events.count("ROLLBACK") == 1
    assert recorder.events.count("COMMIT") == 1
    row = su.execute(
        "SELECT details->>'reason' FROM audit_events WHERE tenant_id = %s AND action = 'user.logout'",
        (tenant,),
    ).fetchall()
    assert row == [("refresh_token_reuse",)]
    assert su.execute(
        "SELECT count(*) FROM auth_sessions WHERE tenant_id = %s AND revoked_at IS NULL", (tenant,)
    ).fetchone() == (0,)

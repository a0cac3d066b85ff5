"""With the rate limits on (as in production), the principal lookup travels in the rate limit's
round trip as the request transaction's first statement: it still sets the tenant for every later
statement of the request, and revoked sessions still end at once."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from servanda.app import create_app
from servanda.platform.config import load_settings
from tests.auth_helpers import bearer, ensure_user, login_as
from tests.conftest import DbUnderTest


@pytest.fixture
def api(clean_db: DbUnderTest) -> Iterator[TestClient]:
    settings = load_settings(
        servanda_env="test",
        servanda_data_dir=Path(tempfile.mkdtemp()),
        rate_limit_user_per_s=1000,
        rate_limit_user_burst=1000,
        rate_limit_tenant_per_s=1000,
        rate_limit_tenant_burst=1000,
    )
    with TestClient(create_app(settings, clean_db.app)) as client:
        yield client


def _statements(client: TestClient) -> list[str]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(client.app.state.db.engine.sync_engine, "before_cursor_execute", record)  # type: ignore[attr-defined]
    return seen


def test_the_lookup_rides_with_the_rate_limit(
    api: TestClient, su: psycopg.Connection, make_tenant: Any
) -> None:
    tenant = make_tenant("kanzlei-a")
    headers = login_as(api, su, tenant, "user", "anwalt@a.de")
    statements = _statements(api)
    me = api.get("/api/v1/identity/me", headers=headers)
    assert me.status_code == 200, me.text
    assert me.json()["email"] == "anwalt@a.de"
    assert "RateLimit-Remaining" in me.headers
    # nothing went through the ORM's statement path: the lookup ran in the rate limit's query
    assert not [s for s in statements if "servanda_principal" in s]


def test_later_statements_run_in_the_callers_tenant(
    api: TestClient, su: psycopg.Connection, make_tenant: Any
) -> None:
    a, b = make_tenant("kanzlei-a"), make_tenant("kanzlei-b")
    ensure_user(su, b, "user", "fremd@b.de")
    ensure_user(su, a, "user", "kollege@a.de")
    admin = login_as(api, su, a, "admin", "admin@a.de")
    users = api.get("/api/v1/identity/users", headers=admin)
    assert users.status_code == 200, users.text
    emails = {u["email"] for u in users.json()["items"]}
    assert emails == {"admin@a.de", "kollege@a.de"}


def test_a_revoked_session_ends_at_once(api: TestClient, su: psycopg.Connection, make_tenant: Any) -> None:
    tenant = make_tenant("kanzlei-a")
    headers = login_as(api, su, tenant, "user", "anwalt@a.de")
    assert api.get("/api/v1/identity/me", headers=headers).status_code == 200
    su.execute("UPDATE auth_sessions SET revoked_at = now()")
    refused = api.get("/api/v1/identity/me", headers=headers)
    assert refused.status_code == 401
    assert refused.json()["code"] == "auth.session_revoked"


def test_each_session_is_looked_up_as_itself(
    api: TestClient, su: psycopg.Connection, make_tenant: Any
) -> None:
    """The take-and-lookup query is rendered once per user and session (platform/ratelimit.py):
    two sessions of one user share the user's bucket but not the lookup; revoking one ends it alone."""
    tenant = make_tenant("kanzlei-a")
    user = ensure_user(su, tenant, "user", "anwalt@a.de")
    first = bearer(api, su, tenant, user)
    (first_session,) = su.execute("SELECT id FROM auth_sessions WHERE user_id = %s", (user,)).fetchall()
    second = bearer(api, su, tenant, user)
    other = login_as(api, su, tenant, "user", "kollege@a.de")
    for _ in range(2):  # the second round uses the remembered query texts
        assert api.get("/api/v1/identity/me", headers=first).json()["email"] == "anwalt@a.de"
        assert api.get("/api/v1/identity/me", headers=second).json()["email"] == "anwalt@a.de"
        assert api.get("/api/v1/identity/me", headers=other).json()["email"] == "kollege@a.de"
    su.execute("UPDATE auth_sessions SET revoked_at = now() WHERE id = %s", (first_session[0],))
    assert api.get("/api/v1/identity/me", headers=first).status_code == 401
    assert api.get("/api/v1/identity/me", headers=second).status_code == 200

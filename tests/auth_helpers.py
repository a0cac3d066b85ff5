"""Signed-in test callers without going through the login endpoint.

Creates the user (if needed) and a login session as superuser, then signs an
access token with the running app's own built-in provider key.
"""

from __future__ import annotations

import uuid

import psycopg
from fastapi.testclient import TestClient

from servanda.platform.tokens import LocalTokens


def ensure_user(
    su: psycopg.Connection, tenant_id: uuid.UUID, role: str, email: str | None = None, status: str = "active"
) -> uuid.UUID:
    email = email or f"{role}-{uuid.uuid4().hex[:8]}@example.de"
    row = su.execute(
        "INSERT INTO users (tenant_id, email, display_name, role, status) VALUES (%s, %s, %s, %s, %s) "
        "ON CONFLICT (tenant_id, lower(email)) DO UPDATE SET role = EXCLUDED.role RETURNING id",
        (tenant_id, email, email.split("@")[0], role, status),
    ).fetchone()
    assert row is not None
    return uuid.UUID(str(row[0]))


def bearer(
    client: TestClient, su: psycopg.Connection, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> dict[str, str]:
    """Authorization header for ``user_id`` with a fresh login session."""
    session = su.execute(
        "INSERT INTO auth_sessions (tenant_id, user_id, expires_at) VALUES (%s, %s, now() + interval '1 day') "
        "RETURNING id",
        (tenant_id, user_id),
    ).fetchone()
    user = su.execute("SELECT email, role, platform_admin FROM users WHERE id = %s", (user_id,)).fetchone()
    assert session is not None and user is not None
    tokens: LocalTokens = client.app.state.local_tokens  # type: ignore[attr-defined]
    token = tokens.issue(
        user_id=user_id,
        tenant_id=tenant_id,
        email=user[0],
        role=user[1],
        session_id=session[0],
        platform_admin=user[2],
    )
    return {"Authorization": f"Bearer {token}"}


def login_as(
    client: TestClient, su: psycopg.Connection, tenant_id: uuid.UUID, role: str, email: str | None = None
) -> dict[str, str]:
    return bearer(client, su, tenant_id, ensure_user(su, tenant_id, role, email))

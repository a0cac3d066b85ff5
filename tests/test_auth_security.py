"""Attacks on bearer tokens of the built-in provider: each one must end in 401."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import RSAKey

from servanda.platform.tokens import AUDIENCE, LOCAL_ISSUER
from tests.auth_helpers import ensure_user


@pytest.fixture
def caller(api: TestClient, su: psycopg.Connection, make_tenant: Any) -> dict[str, Any]:
    tenant = make_tenant("kanzlei-a")
    other = make_tenant("kanzlei-b")
    user = ensure_user(su, tenant, "admin", "admin@a.de")
    session = su.execute(
        "INSERT INTO auth_sessions (tenant_id, user_id, expires_at) VALUES (%s, %s, now() + interval '1 day') "
        "RETURNING id",
        (tenant, user),
    ).fetchone()
    assert session is not None
    key: RSAKey = api.app.state.local_tokens.key  # type: ignore[attr-defined]
    now = int(time.time())
    claims = {
        "iss": LOCAL_ISSUER,
        "aud": AUDIENCE,
        "sub": str(user),
        "tenant_id": str(tenant),
        "email": "admin@a.de",
        "role": "admin",
        "sid": str(session[0]),
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    }
    return {"key": key, "claims": claims, "tenant": tenant, "other": other, "user": user}


def sign(key: RSAKey, claims: dict[str, Any], alg: str = "RS256") -> str:
    return jwt.encode({"alg": alg, "kid": key.kid}, claims, key)


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def me(api: TestClient, token: str) -> tuple[int, str]:
    response = api.get("/api/v1/identity/me", headers={"Authorization": f"Bearer {token}"})
    body = response.json()
    return response.status_code, body.get("code", "")


def test_a_correct_token_is_accepted(api: TestClient, caller: dict[str, Any]) -> None:
    assert me(api, sign(caller["key"], caller["claims"]))[0] == 200


def test_alg_none_is_refused(api: TestClient, caller: dict[str, Any]) -> None:
    token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(caller['claims'])}."
    assert me(api, token) == (401, "auth.invalid_token")


def test_hs256_signed_with_the_public_key_is_refused(api: TestClient, caller: dict[str, Any]) -> None:
    # joserfc refuses to build this key at all, so the forgery is assembled by hand.
    public_pem = caller["key"].as_pem(private=False)
    signing_input = f"{b64({'alg': 'HS256', 'typ': 'JWT', 'kid': caller['key'].kid})}.{b64(caller['claims'])}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    assert me(api, forged) == (401, "auth.invalid_token")


def test_a_foreign_key_is_refused(api: TestClient, caller: dict[str, Any]) -> None:
    stranger = RSAKey.generate_key(2048, private=True)
    stranger.ensure_kid()
    assert me(api, sign(stranger, caller["claims"])) == (401, "auth.invalid_token")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"iss": "https://evil.example"}, "auth.invalid_token"),
        ({"aud": "other-api"}, "auth.invalid_token"),
        ({"exp": int(time.time()) - 120}, "auth.token_expired"),
        ({"nbf": int(time.time()) + 600}, "auth.invalid_token"),
        ({"sid": str(uuid.uuid4())}, "auth.session_revoked"),
        ({"sub": str(uuid.uuid4())}, "auth.unknown_user"),
        ({"tenant_id": "not-a-uuid"}, "auth.invalid_token"),
    ],
)
def test_wrong_claims_are_refused(
    api: TestClient, caller: dict[str, Any], change: dict[str, Any], code: str
) -> None:
    assert me(api, sign(caller["key"], {**caller["claims"], **change})) == (401, code)


@pytest.mark.parametrize("claim", ["sub", "tenant_id", "sid", "exp", "iss", "aud", "iat"])
def test_missing_claims_are_refused(api: TestClient, caller: dict[str, Any], claim: str) -> None:
    claims = {k: v for k, v in caller["claims"].items() if k != claim}
    assert me(api, sign(caller["key"], claims))[0] == 401


def test_small_clock_skew_is_tolerated(api: TestClient, caller: dict[str, Any]) -> None:
    skewed = {**caller["claims"], "exp": int(time.time()) - 10, "nbf": int(time.time()) + 10}
    assert me(api, sign(caller["key"], skewed))[0] == 200


def test_tampered_tenant_id_breaks_the_signature(api: TestClient, caller: dict[str, Any]) -> None:
    header, _, signature = sign(caller["key"], caller["claims"]).split(".")
    tampered = f"{header}.{b64({**caller['claims'], 'tenant_id': str(caller['other'])})}.{signature}"
    assert me(api, tampered) == (401, "auth.invalid_token")


def test_a_signed_token_naming_another_tenant_finds_no_user(api: TestClient, caller: dict[str, Any]) -> None:
    """Even a validly signed token cannot act in another tenant: the user is looked up under that tenant's RLS."""
    assert me(api, sign(caller["key"], {**caller["claims"], "tenant_id": str(caller["other"])})) == (
        401,
        "auth.unknown_user",
    )


def test_token_of_a_disabled_user_is_refused(
    api: TestClient, caller: dict[str, Any], su: psycopg.Connection
) -> None:
    su.execute("UPDATE users SET status = 'disabled' WHERE id = %s", (caller["user"],))
    assert me(api, sign(caller["key"], caller["claims"])) == (401, "auth.user_disabled")


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer ", "Basic abc", "Bearer a.b.c", "bearer x" * 500])
def test_malformed_authorization_headers(api: TestClient, header: str) -> None:
    response = api.get("/api/v1/identity/me", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")

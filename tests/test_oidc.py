"""OIDC / Keycloak mode: tokens from a real OIDC provider process, self-signed edge cases, the realm export.

Three kinds of IdP are used:

- **oidc-provider-mock** (a real OpenID provider, started as a separate
  process): discovery, JWKS and the authorization code flow. It issues opaque
  access tokens, so its *ID token* is the bearer token here; its ``aud`` is the
  client id, and requesting the code as client ``servanda-api`` makes that the
  API's audience. Its issuer is its bare base URL, hence ``OIDC_ISSUER``.
- **KeyServer**, a few lines of ``http.server`` laid out like Keycloak
  (``/realms/servanda/...``), for what the mock cannot do: rotate keys, go down,
  sign expired or foreign-issuer tokens (all signed with joserfc).
- **Keycloak itself cannot be installed in this environment** (no Docker
  engine runs here, and Keycloak's server distribution is in none of the
  package registries that can be reached), so the realm export
  ``deploy/keycloak/servanda-realm.json`` is checked structurally only.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from servanda.app import create_app
from servanda.identity.dependencies import CurrentPrincipal, Permission, allow
from servanda.platform import errors
from servanda.platform.config import ConfigError, load_settings
from servanda.platform.oidc import OidcVerifier
from servanda.platform.problems import problem_of
from servanda.platform.tokens import Claims, TokenError, role_from
from tests.auth_helpers import ensure_user
from tests.conftest import DbUnderTest, repo_root

AUDIENCE = "servanda-api"
ME = "/api/v1/test-oidc-me"
ADMIN_ONLY = "/api/v1/test-oidc-admin"
REDIRECT_URI = "http://localhost:3000/callback"
REALM_EXPORT = repo_root() / "deploy" / "keycloak" / "servanda-realm.json"


# -- helpers -------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _payload(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = json.loads(_unb64(token.split(".")[1]))
    return claims


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["detail"]
    return body


def _user(su: psycopg.Connection, user_id: uuid.UUID) -> tuple[Any, ...]:
    row = su.execute("SELECT status, external_subject, role FROM users WHERE id = %s", (user_id,)).fetchone()
    assert row is not None
    return tuple(row)


def _audit(su: psycopg.Connection, tenant_id: uuid.UUID) -> list[tuple[Any, ...]]:
    rows = su.execute(
        "SELECT action, actor_id, object_id, details FROM audit_events WHERE tenant_id = %s ORDER BY seq",
        (tenant_id,),
    ).fetchall()
    return [tuple(r) for r in rows]


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# -- the real OIDC provider (separate process) -----------------------------------------------------


@dataclass(frozen=True)
class MockIdp:
    base: str

    def set_user(self, sub: str, **claims: Any) -> None:
        response = httpx.put(f"{self.base}/users/{sub}", json=claims)
        assert response.status_code == 204, response.text

    def id_token(self, sub: str, *, client_id: str = AUDIENCE, scope: str = "openid email") -> str:
        """Drive the authorization code flow as ``sub`` and return the signed ID token."""
        authorize = httpx.post(
            f"{self.base}/oauth2/authorize",
            params={
                "client_id": client_id,
                "redirect_uri": REDIRECT_URI,
                "response_type": "code",
                "scope": scope,
                "state": uuid.uuid4().hex,
            },
            data={"sub": sub},
        )
        assert authorize.status_code == 302, authorize.text
        code = parse_qs(urlparse(authorize.headers["location"]).query)["code"][0]
        token = httpx.post(
            f"{self.base}/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "client_id": client_id,
                "client_secret": "unused",  # the mock accepts any secret
            },
        )
        assert token.status_code == 200, token.text
        id_token: str = token.json()["id_token"]
        return id_token

    def jwks(self) -> dict[str, Any]:
        keys: dict[str, Any] = httpx.get(f"{self.base}/jwks").json()
        return keys

    def settings(self) -> dict[str, Any]:
        return {
            "keycloak_url": self.base,
            "keycloak_realm": "mock",
            "oidc_issuer": self.base,  # the mock's issuer has no /realms/<realm> path
            "oidc_audience": AUDIENCE,
        }


@pytest.fixture(scope="module")
def mock_idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockIdp]:
    port = _free_port()
    log_path = tmp_path_factory.mktemp("oidc-mock") / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    idp = MockIdp(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"oidc-provider-mock exited: {log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{idp.base}/.well-known/openid-configuration").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"oidc-provider-mock did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        yield idp
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- a Keycloak-shaped key server for self-signed tokens ------------------------------------------


def sign_token(key: RSAKey, issuer: str, tenant: uuid.UUID | str, /, **claims: Any) -> str:
    """A Keycloak-like access token; a claim given as None is left out."""
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": issuer,
        "aud": [AUDIENCE, "account"],
        "sub": "kc-user-1",
        "typ": "Bearer",
        "azp": "servanda-web",
        "tenant_id": str(tenant),
        "email": "anna@kanzlei.de",
        "email_verified": True,
        "realm_access": {"roles": ["default-roles-servanda", "offline_access", "user"]},
        "iat": now,
        "exp": now + 300,
    }
    body.update(claims)
    body = {name: value for name, value in body.items() if value is not None}
    return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "JWT"}, body, key)


_KEY_POOL: list[RSAKey] = []


def rsa_key(index: int) -> RSAKey:
    """Deterministically numbered test keys (generated once per session: 2048-bit keygen is slow)."""
    while len(_KEY_POOL) <= index:
        _KEY_POOL.append(RSAKey.generate_key(2048, parameters={"kid": f"test-key-{len(_KEY_POOL)}"}))
    return _KEY_POOL[index]


class KeyServer:
    """Discovery and JWKS at Keycloak's paths; the test decides the keys and whether it answers."""

    def __init__(self, realm: str = "servanda") -> None:
        self.keys: list[RSAKey] = []
        self.hits: Counter[str] = Counter()
        self.status = 200
        self.advertised_issuer: str | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits[self.path] += 1
                body = server.document(self.path)
                if server.status != 200 or body is None:
                    self.send_response(server.status if server.status != 200 else 404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.realm = realm
        self.issuer = f"{self.base}/realms/{realm}"
        self.discovery_path = f"/realms/{realm}/.well-known/openid-configuration"
        self.jwks_path = f"/realms/{realm}/protocol/openid-connect/certs"
        # Keycloak also publishes an encryption key; it must never verify a signature.
        self.encryption_key = RSAKey.generate_key(2048, parameters={"kid": "enc-key", "use": "enc"})
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def document(self, path: str) -> dict[str, Any] | None:
        if path == self.discovery_path:
            return {
                "issuer": self.advertised_issuer or self.issuer,
                "jwks_uri": self.base + self.jwks_path,
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        if path == self.jwks_path:
            keys = [{**key.as_dict(private=False), "use": "sig", "alg": "RS256"} for key in self.keys]
            keys.append({**self.encryption_key.as_dict(private=False), "alg": "RSA-OAEP"})
            return {"keys": keys}
        return None

    @property
    def jwks_hits(self) -> int:
        return self.hits[self.jwks_path]

    def settings(self) -> dict[str, Any]:
        return {"keycloak_url": self.base, "keycloak_realm": self.realm}

    def verifier(self, clock: FakeClock) -> OidcVerifier:
        return OidcVerifier(issuer=self.issuer, audience=AUDIENCE, clock=clock)

    def sign(self, key: RSAKey, tenant: uuid.UUID | str, /, **claims: Any) -> str:
        return sign_token(key, self.issuer, tenant, **claims)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def key_server() -> Iterator[KeyServer]:
    server = KeyServer()
    server.keys = [rsa_key(0)]
    try:
        yield server
    finally:
        server.close()


# -- the API in OIDC mode ------------------------------------------------------------------------


def _add_probe_routes(app: FastAPI) -> None:
    """Routes that need a signed-in caller (the product's /identity/me is another module's)."""

    @app.get(ME, dependencies=[allow(Permission.AUTHENTICATED)])
    async def me(principal: CurrentPrincipal) -> dict[str, Any]:
        return {
            "userId": str(principal.user_id),
            "tenantId": str(principal.tenant_id),
            "email": principal.email,
            "role": principal.role,
            "status": principal.status,
            "provider": principal.provider,
        }

    @app.get(ADMIN_ONLY, dependencies=[allow(Permission.TENANT_ADMIN)])
    async def admin_only() -> dict[str, bool]:
        return {"ok": True}


@pytest.fixture
def oidc_api(clean_db: DbUnderTest, tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """Build (and start) the API with the given settings overrides."""
    with ExitStack() as stack:

        def _make(**overrides: Any) -> TestClient:
            settings = load_settings(servanda_env="test", servanda_data_dir=tmp_path / "data", **overrides)
            assert settings.identity_provider == "oidc"
            app = create_app(settings, clean_db.app)
            _add_probe_routes(app)
            return stack.enter_context(TestClient(app, raise_server_exceptions=False))

        yield _make


@pytest.fixture
def tenant(make_tenant: Callable[..., uuid.UUID]) -> uuid.UUID:
    return make_tenant("kanzlei-nord")


def _subject() -> str:
    return f"kc-{uuid.uuid4().hex[:12]}"


# -- first login, roles, unknown users (real provider) --------------------------------------------


def test_first_login_links_and_activates_the_invited_user(
    mock_idp: MockIdp, oidc_api: Callable[..., TestClient], su: psycopg.Connection, tenant: uuid.UUID
) -> None:
    user_id = ensure_user(su, tenant, "user", "anna.berger@kanzlei-nord.de", status="invited")
    sub = _subject()
    mock_idp.set_user(
        sub,
        email="Anna.Berger@Kanzlei-Nord.de",  # e-mail matching ignores case
        tenant_id=str(tenant),
        realm_access={"roles": ["offline_access", "user"]},
    )
    client = oidc_api(**mock_idp.settings())
    token = mock_idp.id_token(sub)

    response = client.get(ME, headers=_bearer(token))

    assert response.status_code == 200, response.text
    assert response.json() == {
        "userId": str(user_id),
        "tenantId": str(tenant),
        "email": "anna.berger@kanzlei-nord.de",
        "role": "user",
        "status": "active",
        "provider": "oidc",
    }
    assert _user(su, user_id) == ("active", sub, "user")
    events = _audit(su, tenant)
    assert events == [("user.activate", user_id, str(user_id), {"via": "oidc", "subject": sub})]

    # Later requests find the user by its subject: no second activation.
    assert client.get(ME, headers=_bearer(mock_idp.id_token(sub))).status_code == 200
    assert _audit(su, tenant) == events
    assert client.get(ADMIN_ONLY, headers=_bearer(token)).status_code == 403


@pytest.mark.parametrize(
    ("claims", "role"),
    [
        (
            {"realm_access": {"roles": ["default-roles-servanda", "offline_access", "editor", "user"]}},
            "editor",
        ),
        ({"realm_access": {"roles": ["admin"]}}, "admin"),
        ({"role": "admin"}, "admin"),
        ({"role": "editor", "realm_access": {"roles": ["admin"]}}, "editor"),  # the role claim wins
    ],
)
def test_role_comes_from_realm_access_roles_or_the_role_claim(
    mock_idp: MockIdp,
    oidc_api: Callable[..., TestClient],
    su: psycopg.Connection,
    tenant: uuid.UUID,
    claims: dict[str, Any],
    role: str,
) -> None:
    user_id = ensure_user(su, tenant, "user", "bernd@kanzlei-nord.de", status="invited")
    sub = _subject()
    mock_idp.set_user(sub, email="bernd@kanzlei-nord.de", tenant_id=str(tenant), **claims)
    client = oidc_api(**mock_idp.settings())
    token = mock_idp.id_token(sub)

    me = client.get(ME, headers=_bearer(token))

    assert me.status_code == 200, me.text
    assert me.json()["role"] == role
    assert _user(su, user_id)[2] == role
    assert client.get(ADMIN_ONLY, headers=_bearer(token)).status_code == (200 if role == "admin" else 403)


def test_a_changed_role_claim_is_mirrored_and_audited(
    mock_idp: MockIdp, oidc_api: Callable[..., TestClient], su: psycopg.Connection, tenant: uuid.UUID
) -> None:
    user_id = ensure_user(su, tenant, "user", "carla@kanzlei-nord.de", status="invited")
    sub = _subject()
    client = oidc_api(**mock_idp.settings())
    mock_idp.set_user(
        sub, email="carla@kanzlei-nord.de", tenant_id=str(tenant), realm_access={"roles": ["user"]}
    )
    first = mock_idp.id_token(sub)
    assert client.get(ME, headers=_bearer(first)).json()["role"] == "user"
    assert client.get(ADMIN_ONLY, headers=_bearer(first)).status_code == 403

    # An administrator grants the realm role "admin" in Keycloak; the next token carries it.
    mock_idp.set_user(
        sub, email="carla@kanzlei-nord.de", tenant_id=str(tenant), realm_access={"roles": ["admin"]}
    )
    promoted = mock_idp.id_token(sub)

    assert client.get(ME, headers=_bearer(promoted)).json()["role"] == "admin"
    assert client.get(ADMIN_ONLY, headers=_bearer(promoted)).status_code == 200
    assert _user(su, user_id) == ("active", sub, "admin")
    changes = [event for event in _audit(su, tenant) if event[0] == "user.role_change"]
    assert changes == [
        ("user.role_change", None, str(user_id), {"from": "user", "to": "admin", "via": "oidc"})
    ]

    # A token without any known role leaves the mirrored role alone.
    mock_idp.set_user(sub, email="carla@kanzlei-nord.de", tenant_id=str(tenant))
    assert client.get(ME, headers=_bearer(mock_idp.id_token(sub))).json()["role"] == "admin"
    assert len([e for e in _audit(su, tenant) if e[0] == "user.role_change"]) == 1


@pytest.mark.parametrize(
    "case",
    ["nobody_invited", "invited_in_another_tenant", "email_unverified", "active_user_not_taken_over"],
)
def test_a_subject_without_an_invitation_is_unknown(
    mock_idp: MockIdp,
    oidc_api: Callable[..., TestClient],
    su: psycopg.Connection,
    make_tenant: Callable[..., uuid.UUID],
    tenant: uuid.UUID,
    case: str,
) -> None:
    email = "dora@kanzlei-nord.de"
    claims: dict[str, Any] = {"email": email, "tenant_id": str(tenant), "realm_access": {"roles": ["admin"]}}
    existing: uuid.UUID | None = None
    expected_status = "invited"
    if case == "invited_in_another_tenant":
        existing = ensure_user(su, make_tenant("kanzlei-sued"), "user", email, status="invited")
    elif case == "email_unverified":
        existing = ensure_user(su, tenant, "user", email, status="invited")
        claims["email_verified"] = False
    elif case == "active_user_not_taken_over":
        existing = ensure_user(su, tenant, "user", email, status="active")
        expected_status = "active"
    sub = _subject()
    mock_idp.set_user(sub, **claims)
    client = oidc_api(**mock_idp.settings())

    response = client.get(ME, headers=_bearer(mock_idp.id_token(sub)))

    assert_problem(response, 401, "auth.unknown_user")
    assert response.headers["www-authenticate"].startswith("Bearer")
    if existing is not None:
        assert _user(su, existing) == (expected_status, None, "user")
    assert su.execute("SELECT count(*) FROM audit_events").fetchone() == (0,)


# -- tokens that must not be trusted -----------------------------------------------------------------


@pytest.fixture
def signed_in(mock_idp: MockIdp, su: psycopg.Connection, tenant: uuid.UUID) -> tuple[str, str, uuid.UUID]:
    """A subject of the mock whose e-mail matches an invited user: (sub, valid token, user id)."""
    user_id = ensure_user(su, tenant, "user", "emil@kanzlei-nord.de", status="invited")
    sub = _subject()
    mock_idp.set_user(
        sub, email="emil@kanzlei-nord.de", tenant_id=str(tenant), realm_access={"roles": ["user"]}
    )
    return sub, mock_idp.id_token(sub), user_id


def test_a_token_for_another_audience_is_refused(
    mock_idp: MockIdp,
    oidc_api: Callable[..., TestClient],
    su: psycopg.Connection,
    signed_in: tuple[str, str, uuid.UUID],
) -> None:
    sub, _, user_id = signed_in
    other = mock_idp.id_token(sub, client_id="some-other-app")
    assert _payload(other)["aud"] == ["some-other-app"]
    client = oidc_api(**mock_idp.settings())

    assert_problem(client.get(ME, headers=_bearer(other)), 401, "auth.invalid_token")
    assert _user(su, user_id) == ("invited", None, "user")


def test_a_tampered_tenant_id_breaks_the_signature(
    mock_idp: MockIdp,
    oidc_api: Callable[..., TestClient],
    su: psycopg.Connection,
    make_tenant: Callable[..., uuid.UUID],
    signed_in: tuple[str, str, uuid.UUID],
) -> None:
    _, token, user_id = signed_in
    victim = make_tenant("kanzlei-west")
    victim_user = ensure_user(su, victim, "admin", "emil@kanzlei-nord.de", status="invited")
    header, _, signature = token.split(".")
    claims = {**_payload(token), "tenant_id": str(victim)}
    forged = f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"
    client = oidc_api(**mock_idp.settings())

    assert_problem(client.get(ME, headers=_bearer(forged)), 401, "auth.invalid_token")
    assert _user(su, victim_user) == ("invited", None, "admin")
    assert _user(su, user_id) == ("invited", None, "user")
    # The untouched token still works, so it was the tampering that was refused.
    assert client.get(ME, headers=_bearer(token)).status_code == 200


def test_an_unsigned_alg_none_token_is_refused(
    mock_idp: MockIdp, oidc_api: Callable[..., TestClient], signed_in: tuple[str, str, uuid.UUID]
) -> None:
    _, token, _ = signed_in
    payload = token.split(".")[1]
    client = oidc_api(**mock_idp.settings())
    for alg in ("none", "None", "NONE"):
        unsigned = f"{_b64(json.dumps({'alg': alg, 'typ': 'JWT'}).encode())}.{payload}."
        assert_problem(client.get(ME, headers=_bearer(unsigned)), 401, "auth.invalid_token")


def test_hs256_signed_with_the_idps_public_key_is_refused(
    mock_idp: MockIdp, oidc_api: Callable[..., TestClient], signed_in: tuple[str, str, uuid.UUID]
) -> None:
    _, token, _ = signed_in
    public_pem = RSAKey.import_key(mock_idp.jwks()["keys"][0]).as_pem(private=False)
    # joserfc refuses to import a public key as an HMAC secret, an attacker's library does not.
    confused = OctKey(public_pem, public_pem)
    forged = jwt.encode({"alg": "HS256", "typ": "JWT"}, _payload(token), confused, algorithms=["HS256"])
    assert jwt.decode(forged, confused, algorithms=["HS256"]).claims["sub"] == _payload(token)["sub"]
    client = oidc_api(**mock_idp.settings())

    assert_problem(client.get(ME, headers=_bearer(forged)), 401, "auth.invalid_token")


def test_garbage_is_refused(mock_idp: MockIdp, oidc_api: Callable[..., TestClient]) -> None:
    client = oidc_api(**mock_idp.settings())
    for token in ("not-a-jwt", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30.", "ä.ö.ü"):
        header = {"Authorization": f"Bearer {token}".encode()}  # bytes: UTF-8 on the wire
        assert_problem(client.get(ME, headers=header), 401, "auth.invalid_token")
    assert_problem(client.get(ME), 401, "auth.unauthenticated")


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"iss": "http://sso.evil.example/realms/servanda"}, "auth.invalid_token"),
        ({"aud": "account"}, "auth.invalid_token"),
        ({"exp": int(time.time()) - 120}, "auth.token_expired"),
        ({"exp": None}, "auth.invalid_token"),
        ({"tenant_id": None}, "auth.invalid_token"),
        ({"tenant_id": "kanzlei-nord"}, "auth.invalid_token"),
        ({"sub": None}, "auth.invalid_token"),
        ({"typ": "ID"}, "auth.invalid_token"),  # Keycloak ID token
        ({"typ": "Refresh"}, "auth.invalid_token"),
    ],
    ids=[
        "issuer",
        "audience",
        "expired",
        "no-exp",
        "no-tenant",
        "bad-tenant",
        "no-sub",
        "id-token",
        "refresh",
    ],
)
def test_self_signed_tokens_with_bad_claims_are_refused(
    key_server: KeyServer,
    oidc_api: Callable[..., TestClient],
    su: psycopg.Connection,
    tenant: uuid.UUID,
    claims: dict[str, Any],
    code: str,
) -> None:
    ensure_user(su, tenant, "user", "anna@kanzlei.de", status="invited")
    client = oidc_api(**key_server.settings())  # issuer derived from KEYCLOAK_URL + KEYCLOAK_REALM

    bad = key_server.sign(rsa_key(0), tenant, **claims)

    assert_problem(client.get(ME, headers=_bearer(bad)), 401, code)
    good = key_server.sign(rsa_key(0), tenant)
    assert client.get(ME, headers=_bearer(good)).status_code == 200


def test_a_key_outside_the_jwks_is_refused_even_with_a_known_kid(
    key_server: KeyServer, oidc_api: Callable[..., TestClient], su: psycopg.Connection, tenant: uuid.UUID
) -> None:
    ensure_user(su, tenant, "user", "anna@kanzlei.de", status="invited")
    client = oidc_api(**key_server.settings())
    attacker = RSAKey.import_key(rsa_key(3).as_dict(private=True) | {"kid": rsa_key(0).kid})
    assert_problem(
        client.get(ME, headers=_bearer(key_server.sign(attacker, tenant))), 401, "auth.invalid_token"
    )
    # A signature by the published encryption key (its "use" dropped so joserfc signs with it).
    enc = {k: v for k, v in key_server.encryption_key.as_dict(private=True).items() if k != "use"}
    encryption = RSAKey.import_key(enc)
    assert_problem(
        client.get(ME, headers=_bearer(key_server.sign(encryption, tenant))), 401, "auth.invalid_token"
    )


# -- keys: rotation, caching, IdP outages ----------------------------------------------------------


def test_key_rotation_a_new_kid_triggers_one_refetch(
    key_server: KeyServer, oidc_api: Callable[..., TestClient], su: psycopg.Connection, tenant: uuid.UUID
) -> None:
    ensure_user(su, tenant, "user", "anna@kanzlei.de", status="invited")
    clock = FakeClock()
    client = oidc_api(**key_server.settings())
    client.app.state.verifier = key_server.verifier(clock)  # type: ignore[attr-defined]

    assert client.get(ME, headers=_bearer(key_server.sign(rsa_key(0), tenant))).status_code == 200
    assert key_server.jwks_hits == 1

    # Keycloak publishes a new active key and signs with it from now on.
    key_server.keys = [rsa_key(1), rsa_key(0)]
    clock.advance(31)
    rotated = key_server.sign(rsa_key(1), tenant)

    assert client.get(ME, headers=_bearer(rotated)).status_code == 200
    assert key_server.jwks_hits == 2
    assert client.get(ME, headers=_bearer(rotated)).status_code == 200
    assert client.get(ME, headers=_bearer(key_server.sign(rsa_key(0), tenant))).status_code == 200
    assert key_server.jwks_hits == 2  # both keys served from the cache


def test_unknown_kids_refetch_at_most_every_30_seconds(key_server: KeyServer) -> None:
    clock = FakeClock()
    verifier = key_server.verifier(clock)
    tenant = uuid.uuid4()
    stranger = rsa_key(2)

    async def verify(key: RSAKey, kid: str | None = None) -> Claims | str:
        signing = RSAKey.import_key(key.as_dict(private=True) | {"kid": kid or key.kid})
        try:
            return await verifier.verify(key_server.sign(signing, tenant))
        except TokenError as error:
            return error.code

    claims = asyncio.run(verify(rsa_key(0)))
    assert isinstance(claims, Claims) and claims.tenant_id == tenant and claims.role == "user"
    assert key_server.jwks_hits == 1

    for _ in range(20):  # made-up key ids within the window: no request to the IdP
        assert asyncio.run(verify(stranger, f"made-up-{uuid.uuid4().hex}")) == "auth.invalid_token"
    assert key_server.jwks_hits == 1

    clock.advance(30)
    assert asyncio.run(verify(stranger, "made-up-late")) == "auth.invalid_token"
    assert asyncio.run(verify(stranger, "made-up-later")) == "auth.invalid_token"
    assert key_server.jwks_hits == 2

    # Not even a fetch for tokens that are not RS256 or not JWTs at all.
    clock.advance(60)
    hs = jwt.encode(
        {"alg": "HS256", "kid": "x"}, {"sub": "a"}, OctKey.import_key("s" * 32), algorithms=["HS256"]
    )
    for token in (hs, "garbage", "a.b.c"):
        with pytest.raises(TokenError):
            asyncio.run(verifier.verify(token))
    assert key_server.jwks_hits == 2


def test_jwks_is_cached_for_ten_minutes_and_stale_keys_survive_an_outage(key_server: KeyServer) -> None:
    clock = FakeClock()
    verifier = key_server.verifier(clock)
    tenant = uuid.uuid4()
    old, new = key_server.sign(rsa_key(0), tenant), key_server.sign(rsa_key(1), tenant)

    asyncio.run(verifier.verify(old))
    clock.advance(599)
    asyncio.run(verifier.verify(old))
    assert key_server.jwks_hits == 1

    # Key 0 is retired; after the TTL the cache follows the IdP.
    key_server.keys = [rsa_key(1)]
    clock.advance(2)
    asyncio.run(verifier.verify(new))
    assert key_server.jwks_hits == 2
    with pytest.raises(TokenError):
        asyncio.run(verifier.verify(old))

    # The IdP goes down: the cached keys keep working, retries are spaced out.
    key_server.status = 503
    clock.advance(601)
    asyncio.run(verifier.verify(new))
    asyncio.run(verifier.verify(new))
    assert key_server.jwks_hits == 3


def test_idp_unreachable_with_nothing_cached_answers_503(
    oidc_api: Callable[..., TestClient], su: psycopg.Connection, tenant: uuid.UUID
) -> None:
    ensure_user(su, tenant, "user", "anna@kanzlei.de", status="invited")
    nowhere = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    client = oidc_api(keycloak_url=nowhere, keycloak_realm="servanda")
    token = sign_token(rsa_key(0), f"{nowhere}/realms/servanda", tenant)

    response = client.get(ME, headers=_bearer(token))

    body = assert_problem(response, 503, "auth.idp_unavailable")
    assert response.headers["retry-after"]
    assert "127.0.0.1" not in json.dumps(body)  # no internals in the answer


@pytest.mark.parametrize("failure", ["down", "wrong_issuer_in_discovery", "empty_jwks"])
def test_an_unusable_idp_answers_503_and_recovers(key_server: KeyServer, failure: str) -> None:
    clock = FakeClock()
    verifier = key_server.verifier(clock)
    token = key_server.sign(rsa_key(0), uuid.uuid4())
    if failure == "down":
        key_server.status = 500
    elif failure == "wrong_issuer_in_discovery":
        key_server.advertised_issuer = "http://sso.evil.example/realms/servanda"
    else:
        key_server.keys = []

    with pytest.raises(errors.Unavailable) as problem:
        asyncio.run(verifier.verify(token))
    assert (problem_of(problem.value).status, problem.value.code) == (503, "auth.idp_unavailable")
    attempts = sum(key_server.hits.values())

    # Within the back-off, answer at once without asking the IdP again.
    with pytest.raises(errors.Unavailable):
        asyncio.run(verifier.verify(token))
    assert sum(key_server.hits.values()) == attempts

    key_server.status, key_server.advertised_issuer, key_server.keys = 200, None, [rsa_key(0)]
    clock.advance(5)
    assert asyncio.run(verifier.verify(token)).subject == "kc-user-1"


def test_concurrent_requests_on_a_cold_cache_fetch_once(key_server: KeyServer) -> None:
    verifier = key_server.verifier(FakeClock())
    tokens = [key_server.sign(rsa_key(0), uuid.uuid4(), sub=f"user-{i}") for i in range(20)]

    async def all_at_once() -> list[Claims]:
        return await asyncio.gather(*(verifier.verify(token) for token in tokens))

    assert [claims.subject for claims in asyncio.run(all_at_once())] == [f"user-{i}" for i in range(20)]
    assert key_server.hits[key_server.discovery_path] == 1
    assert key_server.jwks_hits == 1


# -- deploy/keycloak/servanda-realm.json -----------------------------------------------------------
# Keycloak cannot run here (see the module docstring), so this checks the export's structure and
# that it matches what the API expects; importing it into Keycloak 24+ is a deployment step.


def _mapper(client: dict[str, Any], kind: str, **config: str) -> dict[str, Any]:
    matches = [
        m
        for m in client["protocolMappers"]
        if m["protocolMapper"] == kind and all(m["config"].get(k) == v for k, v in config.items())
    ]
    assert len(matches) == 1, f"expected one {kind} mapper with {config}"
    mapper: dict[str, Any] = matches[0]
    return mapper


def test_realm_export_declares_roles_client_and_claim_mappers() -> None:
    realm = json.loads(REALM_EXPORT.read_text())
    settings = load_settings(
        servanda_env="test", keycloak_url="https://sso.servanda.de", keycloak_realm=realm["realm"]
    )
    assert realm["realm"] == "servanda" and realm["enabled"] is True
    assert settings.oidc_issuer == "https://sso.servanda.de/realms/servanda"
    assert realm["registrationAllowed"] is False
    assert {role["name"] for role in realm["roles"]["realm"]} >= {"admin", "editor", "user"}

    [client] = [c for c in realm["clients"] if c["clientId"] == settings.oidc_client_id]
    assert client["clientId"] == "servanda-web"
    assert client["publicClient"] is True
    assert client["standardFlowEnabled"] is True
    assert client["implicitFlowEnabled"] is False
    assert client["directAccessGrantsEnabled"] is False
    assert client["attributes"]["pkce.code.challenge.method"] == "S256"
    assert set(client["redirectUris"]) == {"http://localhost:3000/*", "https://app.servanda.de/*"}
    assert set(client["webOrigins"]) == {"http://localhost:3000", "https://app.servanda.de"}

    in_access_token = {"access.token.claim": "true"}
    tenant = _mapper(
        client, "oidc-usermodel-attribute-mapper", **in_access_token, **{"claim.name": "tenant_id"}
    )
    assert tenant["config"]["user.attribute"] == "tenant_id"
    assert tenant["config"]["id.token.claim"] == "true"
    assert tenant["config"]["jsonType.label"] == "String"
    roles = _mapper(client, "oidc-usermodel-realm-role-mapper", **in_access_token)
    assert roles["config"]["claim.name"] == "realm_access.roles"
    assert roles["config"]["multivalued"] == "true"
    _mapper(client, "oidc-usermodel-property-mapper", **in_access_token, **{"claim.name": "email"})
    _mapper(client, "oidc-usermodel-property-mapper", **in_access_token, **{"claim.name": "email_verified"})
    audience = _mapper(client, "oidc-audience-mapper", **in_access_token)
    assert audience["config"]["included.custom.audience"] == settings.oidc_audience == AUDIENCE

    # Without a declared user-profile attribute Keycloak (24+) drops tenant_id; only admins may set it.
    [provider] = realm["components"]["org.keycloak.userprofile.UserProfileProvider"]
    assert provider["providerId"] == "declarative-user-profile"
    profile = json.loads(provider["config"]["kc.user.profile.config"][0])
    attributes = {attribute["name"]: attribute for attribute in profile["attributes"]}
    assert attributes["tenant_id"]["permissions"] == {"view": ["admin"], "edit": ["admin"]}
    assert "user" not in attributes["email"]["permissions"]["edit"]

    # What those mappers put into an access token is what the API reads.
    token_claims = {"realm_access": {"roles": ["default-roles-servanda", "offline_access", "editor"]}}
    assert role_from(token_claims, settings.oidc_role_claim) == "editor"


def test_oidc_issuer_setting_overrides_the_keycloak_derived_issuer(monkeypatch: pytest.MonkeyPatch) -> None:
    keycloak = {"keycloak_url": "https://sso.servanda.de/", "keycloak_realm": "servanda"}
    assert load_settings(**keycloak).oidc_issuer == "https://sso.servanda.de/realms/servanda"
    monkeypatch.setenv("OIDC_ISSUER", "https://login.servanda.de/realms/servanda")
    settings = load_settings(**keycloak)
    assert settings.identity_provider == "oidc"
    assert settings.oidc_issuer == "https://login.servanda.de/realms/servanda"
    monkeypatch.setenv("OIDC_ISSUER", "login.servanda.de")
    with pytest.raises(ConfigError, match="OIDC_ISSUER: must be an http"):
        load_settings(**keycloak)

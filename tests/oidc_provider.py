"""A small OpenID provider for tests: a STAND-IN FOR KEYCLOAK, which cannot be installed here.

Keycloak's server distribution is in none of the package registries this environment can reach
(PyPI, npm, Debian) and no container engine runs, so the web app's OIDC path (authorization code +
PKCE, silent refresh, logout) is tested in a real browser against this provider instead. It is built
on Authlib's authorization server (the maintained OAuth 2 / OpenID Connect implementation; grants,
PKCE and RP-initiated logout are Authlib's code) and laid out and configured like the realm export
``deploy/keycloak/servanda-realm.json``:

- **Keycloak's URLs**: issuer ``<base>/realms/<realm>``, discovery at
  ``/.well-known/openid-configuration``, ``protocol/openid-connect/{auth,token,certs,logout}``. So
  the API is configured as for Keycloak (``KEYCLOAK_URL=<base>``, ``KEYCLOAK_REALM=servanda``).
- **One public client** (``servanda-web``): no secret (a request with one is refused),
  ``response_type=code`` only, ``redirect_uri`` required and matched exactly against the
  registered ones (Keycloak also allows ``/*`` patterns; the stand-in is stricter), ``state``
  passed through, **PKCE with S256 required** (``pkce.code.challenge.method: S256``): no challenge
  or ``plain`` is refused at /auth, a missing or wrong ``code_verifier`` at /token with
  ``invalid_grant``. A code is redeemed once, within 60 s; a second use ends its session.
- **Tokens as Keycloak's mappers shape them**: RS256 JWTs with ``kid``. The access token has
  ``iss``, ``aud`` (``servanda-api``, the audience mapper), ``azp``, ``sub``, ``typ: Bearer``,
  ``sid``, ``scope``, ``email``, ``email_verified``, ``tenant_id`` and ``realm_access.roles``; the ID
  token ``aud`` = the client, ``typ: ID``, ``nonce`` when one was sent, ``at_hash``, ``sid``.
  Refresh tokens are opaque here (Keycloak's are JWTs signed with a realm secret the client never
  reads) and **rotate**: each refresh answers a new one and spends the old; a spent, expired or
  foreign one, or one of an ended session, is ``invalid_grant``.
- **Sign-in**: an HTML form (labelled fields, German, keyboard operable) for the configured users;
  an SSO cookie lets a second /auth pass without the form (``prompt=login`` forces it).
- **Logout**: RP-initiated logout at ``.../logout`` (``id_token_hint``, ``client_id``,
  ``post_logout_redirect_uri`` exactly registered, ``state``) ends the SSO session and every
  refresh token of it; without a hint it asks for confirmation first.
- **CORS** like Keycloak: discovery and JWKS for any origin, the token endpoint (incl. preflight)
  only for the client's web origins.
- **Test controls** (no Keycloak counterpart but the admin console): ``GET /_test/events`` (what
  the provider saw: sign-ins, token grants and their outcome, logouts) and
  ``POST /_test/sessions/end`` ``{"email": ...}`` (Keycloak's "Sign out" of a user's sessions).

Run: ``python -m tests.oidc_provider --port 8081 --web-origin http://127.0.0.1:3000 --user
'{"email": "anna@kanzlei.de", "password": "...", "tenant_id": "<uuid>", "roles": ["user"]}'``
(``--help`` for the rest), or in a test with ``serve(ProviderConfig(...))``.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import logging
import os
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Authlib refuses http:// unless told otherwise; the stand-in listens on the loopback only.
os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7636.challenge import CODE_VERIFIER_PATTERN, compare_s256_code_challenge
from authlib.oidc.core import OpenIDCode, UserInfo
from authlib.oidc.rpinitiated import EndSessionEndpoint
from flask import Flask, Response, request
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from werkzeug.serving import BaseWSGIServer, make_server

REALM = "servanda"
CLIENT_ID = "servanda-web"
AUDIENCE = "servanda-api"
CODE_LIFETIME_S = 60  # Keycloak's accessCodeLifespan
SSO_COOKIE = "KEYCLOAK_IDENTITY"


@dataclass(frozen=True)
class Account:
    email: str
    password: str
    tenant_id: str
    roles: tuple[str, ...] = ("user",)
    sub: str = field(default_factory=lambda: str(uuid.uuid4()))
    email_verified: bool = True
    name: str = ""

    @classmethod
    def from_json(cls, raw: str | dict[str, Any]) -> Account:
        data = json.loads(raw) if isinstance(raw, str) else dict(raw)
        data["roles"] = tuple(data.get("roles", ("user",)))
        return cls(**data)


@dataclass
class ProviderConfig:
    base_url: str  # scheme://host:port the browser and the API reach the provider at
    accounts: list[Account]
    web_origins: list[str]
    redirect_uris: list[str] = field(default_factory=list)  # default: <origin>/anmelden/oidc
    post_logout_redirect_uris: list[str] = field(default_factory=list)  # default: <origin>/anmelden
    realm: str = REALM
    client_id: str = CLIENT_ID
    audience: str = AUDIENCE
    access_token_lifetime_s: int = 300  # the realm's accessTokenLifespan
    sso_idle_s: int = 1800  # ssoSessionIdleTimeout: how long a refresh token lives

    @property
    def issuer(self) -> str:
        return f"{self.base_url.rstrip('/')}/realms/{self.realm}"

    def __post_init__(self) -> None:
        if not self.redirect_uris:
            self.redirect_uris = [f"{origin}/anmelden/oidc" for origin in self.web_origins]
        if not self.post_logout_redirect_uris:
            self.post_logout_redirect_uris = [f"{origin}/anmelden" for origin in self.web_origins]


# -- the provider's records ------------------------------------------------------------------------


@dataclass
class PublicClient:
    """Authlib's ClientMixin for the one public client."""

    config: ProviderConfig

    @property
    def client_metadata(self) -> dict[str, Any]:
        return {"post_logout_redirect_uris": self.config.post_logout_redirect_uris}

    def get_client_id(self) -> str:
        return self.config.client_id

    def get_default_redirect_uri(self) -> None:
        return None  # redirect_uri is required

    def get_allowed_scope(self, scope: str | None) -> str:
        asked = set((scope or "").split())
        # Keycloak adds the client's default scopes (email, profile) to what was asked for.
        granted = (asked & {"openid", "email", "profile", "offline_access"}) | {"email", "profile"}
        return " ".join(sorted(granted))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.config.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return False  # public client: there is no secret

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "none"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


@dataclass
class SsoSession:
    """A signed-in user at the provider (the grant's "user" for Authlib)."""

    account: Account
    sid: str = field(default_factory=lambda: str(uuid.uuid4()))
    auth_time: int = field(default_factory=lambda: int(time.time()))
    ended: bool = False

    def get_user_id(self) -> str:
        return self.account.sub


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    session: SsoSession
    expires_at: float
    used: bool = False

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.session.auth_time

    def get_acr(self) -> str:
        return "1"

    def get_amr(self) -> None:
        return None


@dataclass
class RefreshRecord:
    token: str
    client_id: str
    scope: str
    session: SsoSession
    expires_at: float
    spent: bool = False

    def check_client(self, client: PublicClient) -> bool:
        return client.get_client_id() == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at

    def is_revoked(self) -> bool:
        return self.spent or self.session.ended


class Store:
    """Everything the provider remembers, in memory, behind one lock (the server is threaded)."""

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.accounts = {account.email.lower(): account for account in config.accounts}
        self.sessions: dict[str, SsoSession] = {}
        self.codes: dict[str, AuthCode] = {}
        self.refresh: dict[str, RefreshRecord] = {}
        self.events: list[dict[str, Any]] = []
        self.key = RSAKey.generate_key(
            2048, parameters={"kid": uuid.uuid4().hex, "use": "sig", "alg": "RS256"}, private=True
        )

    def event(self, kind: str, **details: Any) -> None:
        with self.lock:
            self.events.append({"event": kind, "at": time.time(), **details})

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode({"alg": "RS256", "kid": self.key.kid, "typ": "JWT"}, claims, self.key)

    def end_session(self, session: SsoSession, reason: str) -> None:
        with self.lock:
            session.ended = True
        self.event("session_ended", sid=session.sid, email=session.account.email, reason=reason)

    def live_session(self, sid: str | None) -> SsoSession | None:
        with self.lock:
            session = self.sessions.get(sid or "")
            return session if session is not None and not session.ended else None


# -- Authlib grants and extensions -----------------------------------------------------------------


def _grants(store: Store) -> tuple[type[grants.AuthorizationCodeGrant], type[grants.RefreshTokenGrant]]:
    class CodeGrant(grants.AuthorizationCodeGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ["none"]

        def save_authorization_code(self, code: str, req: Any) -> None:
            data = req.payload.data
            with store.lock:
                store.codes[code] = AuthCode(
                    code=code,
                    client_id=req.client.get_client_id(),
                    redirect_uri=req.payload.redirect_uri,
                    scope=req.scope,
                    nonce=data.get("nonce"),
                    code_challenge=data.get("code_challenge"),
                    code_challenge_method=data.get("code_challenge_method"),
                    session=req.user,
                    expires_at=time.time() + CODE_LIFETIME_S,
                )

        def query_authorization_code(self, code: str, client: PublicClient) -> AuthCode | None:
            with store.lock:
                found = store.codes.get(code)
            if found is None or found.client_id != client.get_client_id() or time.time() > found.expires_at:
                return None
            if found.used:  # RFC 6749 4.1.2: deny, and revoke what the code gave (as Keycloak does)
                store.end_session(found.session, "code reused")
                return None
            return found

        def delete_authorization_code(self, authorization_code: AuthCode) -> None:
            authorization_code.used = True

        def authenticate_user(self, authorization_code: AuthCode) -> SsoSession | None:
            return None if authorization_code.session.ended else authorization_code.session

    class RefreshGrant(grants.RefreshTokenGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ["none"]
        INCLUDE_NEW_REFRESH_TOKEN = True  # rotation

        def authenticate_refresh_token(self, refresh_token: str) -> RefreshRecord | None:
            with store.lock:
                record = store.refresh.get(refresh_token)
            if record is None or record.is_expired() or record.is_revoked():
                return None
            return record

        def authenticate_user(self, refresh_token: RefreshRecord) -> SsoSession:
            return refresh_token.session

        def revoke_old_credential(self, refresh_token: RefreshRecord) -> None:
            with store.lock:
                refresh_token.spent = True

    return CodeGrant, RefreshGrant


class S256Required(CodeChallenge):
    """PKCE as the realm's ``pkce.code.challenge.method: S256``: required, S256 only, invalid_grant at /token."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("Missing parameter: code_challenge")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("Invalid parameter: code_challenge_method (S256 required)")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        verifier = grant.request.form.get("code_verifier")
        code: AuthCode = grant.request.authorization_code
        if not verifier:
            raise InvalidGrantError("PKCE code verifier not specified")
        if not CODE_VERIFIER_PATTERN.match(verifier) or not compare_s256_code_challenge(
            verifier, code.code_challenge
        ):
            raise InvalidGrantError("PKCE verification failed: code verifier does not match the challenge")


def _id_tokens(store: Store) -> OpenIDCode:
    config = store.config

    class IdToken(OpenIDCode):
        def exists_nonce(self, nonce: str, req: Any) -> bool:
            with store.lock:
                return any(code.nonce == nonce for code in store.codes.values())

        def resolve_client_private_key(self, client: PublicClient) -> RSAKey:
            return store.key

        def get_client_algorithm(self, client: PublicClient) -> str:
            return "RS256"

        def get_encode_header(self, client: PublicClient) -> dict[str, str]:
            return {"alg": "RS256", "kid": str(store.key.kid), "typ": "JWT"}

        def get_client_claims(self, client: PublicClient) -> dict[str, Any]:
            now = int(time.time())
            return {
                "iss": config.issuer,
                "aud": client.get_client_id(),
                "azp": client.get_client_id(),
                "typ": "ID",
                "iat": now,
                "exp": now + config.access_token_lifetime_s,
                "jti": str(uuid.uuid4()),
            }

        def generate_user_info(self, user: SsoSession, scope: str) -> UserInfo:
            account = user.account
            return UserInfo(
                sub=account.sub,
                sid=user.sid,
                email=account.email,
                email_verified=account.email_verified,
                tenant_id=account.tenant_id,
                preferred_username=account.email,
                name=account.name or account.email,
            )

    return IdToken(require_nonce=False)


def _access_token(store: Store) -> Callable[..., str]:
    config = store.config

    def generate(client: PublicClient, grant_type: str, user: SsoSession, scope: str) -> str:
        now = int(time.time())
        account = user.account
        return store.sign(
            {
                "exp": now + config.access_token_lifetime_s,
                "iat": now,
                "auth_time": user.auth_time,
                "jti": str(uuid.uuid4()),
                "iss": config.issuer,
                "aud": config.audience,
                "sub": account.sub,
                "typ": "Bearer",
                "azp": client.get_client_id(),
                "sid": user.sid,
                "scope": scope,
                "email_verified": account.email_verified,
                "email": account.email,
                "preferred_username": account.email,
                "name": account.name or account.email,
                "tenant_id": account.tenant_id,
                "realm_access": {
                    "roles": [f"default-roles-{config.realm}", "offline_access", *account.roles]
                },
            }
        )

    return generate


def _end_session_endpoint(store: Store) -> type[EndSessionEndpoint]:
    class EndSession(EndSessionEndpoint):
        def get_server_jwks(self) -> KeySet:
            return KeySet([store.key])

        def get_algorithms(self) -> list[str]:
            return ["RS256"]

        def end_session(self, end_session_request: Any) -> None:
            claims = end_session_request.id_token_claims or {}
            sid = claims.get("sid") or request.cookies.get(SSO_COOKIE)
            session = store.live_session(sid)
            if session is not None:
                store.end_session(session, "logout")
            store.event("end_session", sid=sid, redirect=end_session_request.redirect_uri)

    return EndSession


# -- HTTP ------------------------------------------------------------------------------------------

_PAGE = """<!doctype html>
<html lang="de"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; background: #f3f4f6; color: #111827; margin: 0; }}
main {{ max-width: 24rem; margin: 4rem auto; background: #fff; padding: 2rem; border-radius: 8px; }}
label {{ display: block; margin-top: 1rem; font-weight: 600; }}
input {{ width: 100%; box-sizing: border-box; padding: .5rem; border: 1px solid #6b7280; border-radius: 4px;
  font: inherit; }}
button {{ margin-top: 1.5rem; padding: .6rem 1.2rem; background: #1d4ed8; color: #fff; border: 0;
  border-radius: 4px; font: inherit; cursor: pointer; }}
:focus-visible {{ outline: 3px solid #1d4ed8; outline-offset: 2px; }}
[role=alert] {{ color: #991b1b; font-weight: 600; }}
</style></head>
<body><main><h1>{title}</h1>{body}</main></body></html>"""


def _page(title: str, body: str, status: int = 200) -> Response:
    return Response(_PAGE.format(title=html.escape(title), body=body), status=status, mimetype="text/html")


def _login_form(action: str, email: str = "", error: str | None = None) -> Response:
    alert = f'<p role="alert" id="login-error">{html.escape(error)}</p>' if error else ""
    described = ' aria-describedby="login-error"' if error else ""
    body = f"""{alert}<p>Test-Anmeldedienst (Ersatz für Keycloak)</p>
<form method="post" action="{html.escape(action)}">
<label for="username">E-Mail-Adresse</label>
<input id="username" name="username" type="email" autocomplete="username" required autofocus
  value="{html.escape(email)}"{described}>
<label for="password">Passwort</label>
<input id="password" name="password" type="password" autocomplete="current-password" required{described}>
<button type="submit">Anmelden</button>
</form>"""
    return _page("Anmeldung bei Servanda Office", body)


def create_app(config: ProviderConfig) -> tuple[Flask, Store]:
    store = Store(config)
    client = PublicClient(config)
    app = Flask(__name__)
    server = AuthorizationServer(
        app, query_client=lambda client_id: client if client_id == config.client_id else None
    )

    def save_token(token: dict[str, Any], req: Any) -> None:
        refresh = token.get("refresh_token")
        if refresh:
            with store.lock:
                store.refresh[refresh] = RefreshRecord(
                    refresh, config.client_id, token["scope"], req.user, time.time() + config.sso_idle_s
                )
            token["refresh_expires_in"] = config.sso_idle_s
        token["session_state"] = req.user.sid
        token["not-before-policy"] = 0

    server.save_token = save_token  # type: ignore[method-assign]
    server.register_token_generator(
        "default",
        BearerTokenGenerator(
            access_token_generator=_access_token(store),
            refresh_token_generator=lambda **_: "rt." + secrets.token_urlsafe(32),
            expires_generator=lambda *_, **__: config.access_token_lifetime_s,
        ),
    )
    code_grant, refresh_grant = _grants(store)
    server.register_grant(code_grant, [S256Required(required=True), _id_tokens(store)])
    server.register_grant(refresh_grant)
    server.register_endpoint(_end_session_endpoint(store))

    prefix = f"/realms/{config.realm}"
    oidc = f"{prefix}/protocol/openid-connect"

    def cors(response: Response, *, any_origin: bool) -> Response:
        origin = request.headers.get("Origin")
        if any_origin:
            response.headers["Access-Control-Allow-Origin"] = "*"
        elif origin in config.web_origins:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Credentials"] = "true"
            response.headers["Vary"] = "Origin"
        return response

    @app.get(f"{prefix}/.well-known/openid-configuration")
    def discovery() -> Response:
        document = {
            "issuer": config.issuer,
            "authorization_endpoint": f"{config.base_url}{oidc}/auth",
            "token_endpoint": f"{config.base_url}{oidc}/token",
            "jwks_uri": f"{config.base_url}{oidc}/certs",
            "end_session_endpoint": f"{config.base_url}{oidc}/logout",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "email", "profile", "offline_access"],
            "claims_supported": ["sub", "iss", "aud", "email", "email_verified", "tenant_id", "name"],
        }
        return cors(Response(json.dumps(document), mimetype="application/json"), any_origin=True)

    @app.get(f"{oidc}/certs")
    def certs() -> Response:
        body = json.dumps({"keys": [store.key.as_dict(private=False)]})
        return cors(Response(body, mimetype="application/json"), any_origin=True)

    @app.route(f"{oidc}/auth", methods=["GET", "POST"])
    def authorize() -> Response:
        action = request.full_path
        try:
            if not request.values.get("redirect_uri"):
                raise InvalidRequestError("Missing parameter: redirect_uri")
            grant = server.get_consent_grant(end_user=None)
        except OAuth2Error as error:
            store.event("authorize", ok=False, error=error.error, description=error.description)
            if getattr(error, "redirect_uri", None):  # client and redirect_uri are known: tell the client
                return server.handle_error_response(None, error)  # type: ignore[no-any-return]
            text = html.escape(f"{error.error}: {error.description}")
            return _page("Ungültige Anfrage", f'<p role="alert">{text}</p>', 400)
        session = store.live_session(request.cookies.get(SSO_COOKIE))
        if request.method == "GET":
            if session is None or request.args.get("prompt") == "login":
                return _login_form(action, request.args.get("login_hint", ""))
            store.event("authorize", ok=True, email=session.account.email, sso=True)
        else:
            email = request.form.get("username", "").strip()
            account = store.accounts.get(email.lower())
            if account is None or not secrets.compare_digest(
                hashlib.sha256(account.password.encode()).digest(),
                hashlib.sha256(request.form.get("password", "").encode()).digest(),
            ):
                store.event("login", ok=False, email=email)
                return _login_form(action, email, "Ungültiger Benutzername oder Passwort.")
            session = SsoSession(account)
            with store.lock:
                store.sessions[session.sid] = session
            store.event("login", ok=True, email=email, sid=session.sid)
        response: Response = server.create_authorization_response(grant_user=session, grant=grant)
        response.set_cookie(SSO_COOKIE, session.sid, path=prefix, httponly=True, samesite="Lax")
        return response

    @app.route(f"{oidc}/token", methods=["POST", "OPTIONS"])
    def token() -> Response:
        if request.method == "OPTIONS":
            preflight = Response(status=204)
            if request.headers.get("Origin") in config.web_origins:
                preflight.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
                preflight.headers["Access-Control-Allow-Headers"] = "Content-Type, Authorization"
                preflight.headers["Access-Control-Max-Age"] = "3600"
            return cors(preflight, any_origin=False)
        response: Response = server.create_token_response()
        body = response.get_json(silent=True) or {}
        store.event(
            "token",
            grant_type=request.form.get("grant_type"),
            status=response.status_code,
            error=body.get("error"),
            origin=request.headers.get("Origin"),
        )
        return cors(response, any_origin=False)

    @app.route(f"{oidc}/logout", methods=["GET", "POST"])
    def logout() -> Response:
        try:
            end = server.validate_endpoint_request("end_session")
        except OAuth2Error as error:
            store.event("end_session", ok=False, error=error.description)
            return _page(
                "Abmeldung nicht möglich", f'<p role="alert">{html.escape(str(error.description))}</p>', 400
            )
        if end.needs_confirmation and request.method == "GET":
            body = (
                f'<form method="post" action="{html.escape(request.full_path)}">'
                '<p>Möchten Sie sich abmelden?</p><button type="submit">Abmelden</button></form>'
            )
            return _page("Abmelden", body)
        response = server.create_endpoint_response("end_session", end) or _page(
            "Abgemeldet", "<p>Sie sind abgemeldet.</p>"
        )
        response.delete_cookie(SSO_COOKIE, path=prefix)
        return response  # type: ignore[no-any-return]

    @app.get("/_test/events")
    def events() -> Response:
        with store.lock:
            return Response(json.dumps(store.events), mimetype="application/json")

    @app.post("/_test/sessions/end")
    def end_sessions() -> Response:
        email = str((request.get_json(silent=True) or {}).get("email", "")).lower()
        with store.lock:
            live = [s for s in store.sessions.values() if not s.ended and s.account.email.lower() == email]
        for session in live:
            store.end_session(session, "admin sign-out")
        return Response(json.dumps({"ended": len(live)}), mimetype="application/json")

    return app, store


@dataclass
class RunningProvider:
    config: ProviderConfig
    store: Store
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def issuer(self) -> str:
        return self.config.issuer

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(10)


def serve(config: ProviderConfig, host: str = "127.0.0.1", port: int = 0) -> RunningProvider:
    """Start the provider in a background thread; ``port=0`` picks a free port (base_url is updated)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log in the test output
    server = make_server(host, port, None, threaded=True)  # type: ignore[arg-type]
    if port == 0:
        config.base_url = f"http://{host}:{server.server_port}"
    app, store = create_app(config)
    server.app = app
    thread = threading.Thread(target=server.serve_forever, name="oidc-provider", daemon=True)
    thread.start()
    return RunningProvider(config, store, server, thread)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--web-origin", action="append", required=True, help="the SPA's origin (repeatable)")
    parser.add_argument("--user", action="append", default=[], help="an account as JSON (repeatable)")
    parser.add_argument("--access-token-lifetime", type=int, default=300, help="seconds (Keycloak: 300)")
    parser.add_argument("--sso-idle", type=int, default=1800, help="refresh token lifetime, seconds")
    parser.add_argument("--realm", default=REALM)
    args = parser.parse_args(argv)
    config = ProviderConfig(
        base_url=f"http://{args.host}:{args.port}",
        accounts=[Account.from_json(raw) for raw in args.user],
        web_origins=args.web_origin,
        realm=args.realm,
        access_token_lifetime_s=args.access_token_lifetime,
        sso_idle_s=args.sso_idle,
    )
    app, _ = create_app(config)
    print(f"OIDC test provider (Keycloak stand-in): issuer {config.issuer}", flush=True)
    make_server(args.host, args.port, app, threaded=True).serve_forever()


if __name__ == "__main__":
    main()

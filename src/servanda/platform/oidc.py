"""OIDC (Keycloak) bearer tokens: discovery, a cached key set and verification.

The verifier learns the IdP's signing keys the standard way: it reads
``{issuer}/.well-known/openid-configuration`` (whose ``issuer`` must equal the
configured one, exactly), then the JWKS at its ``jwks_uri``. Both are fetched
with an async HTTP client, never on the request path when the cache is warm.

- **Cache.** The key set is kept for ``jwks_ttl_s`` (10 min). After that it is
  refetched; if the IdP cannot be reached, the stale keys keep working and the
  next attempt waits ``refetch_interval_s``.
- **Rotation.** A token whose ``kid`` is not in the cached set triggers one
  refetch, at most once per ``refetch_interval_s`` (30 s), so tokens with
  made-up key ids cannot hammer the IdP. Tokens that are not RS256 are rejected
  before any key lookup.
- **IdP down.** With no keys cached and the IdP unreachable (or its discovery
  document inconsistent), requests answer 503 ``auth.idp_unavailable``; failed
  attempts are repeated at most every ``failure_backoff_s`` (5 s).
- **Claims.** Besides the signature, issuer, audience and expiry checks of
  ``decode_and_validate``, a Keycloak ``typ`` other than ``Bearer`` (ID and
  refresh tokens) is refused, and an e-mail the IdP marks as unverified
  (``email_verified: false``) is dropped, so it cannot link a first login to an
  invited user.
"""

from __future__ import annotations

import asyncio
import json
import math
import ssl
import time
from collections.abc import Callable
from typing import Any

import httpx
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import Key, KeySet, RSAKey

from servanda.platform import errors
from servanda.platform.logs import get_logger
from servanda.platform.tokens import (
    ALGORITHM,
    Claims,
    TokenError,
    decode_and_validate,
    role_from,
    tenant_from,
)

log = get_logger("servanda.oidc")

DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_TTL_S = 600.0
REFETCH_INTERVAL_S = 30.0
FAILURE_BACKOFF_S = 5.0
HTTP_TIMEOUT_S = 5.0
MAX_DOCUMENT_BYTES = 512 * 1024
ACCEPTED_TOKEN_TYPES = (None, "Bearer")  # Keycloak's "typ" claim of access tokens (absent elsewhere)


class IdpError(Exception):
    """The IdP's discovery document or key set could not be fetched or is unusable."""


def idp_unavailable() -> errors.Unavailable:
    return errors.Unavailable(
        "auth.idp_unavailable",
        "Der Anmeldedienst ist vorübergehend nicht erreichbar. Bitte versuchen Sie es gleich erneut.",
        retry_after=30,
    )


def _invalid() -> TokenError:
    return TokenError("auth.invalid_token", "Das Token ist ungültig.")


def _header(token: str) -> dict[str, Any]:
    """The JWS protected header, without verifying anything yet."""
    try:
        header = jws.extract_compact(token.encode()).headers()
    except (JoseError, ValueError, TypeError, KeyError):
        raise _invalid() from None
    return dict(header)


def signing_keys(document: Any) -> KeySet:
    """The RS256 signing keys of a JWKS document (encryption and other keys are ignored)."""
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise IdpError("the JWKS has no 'keys' list")
    keys: list[Key] = []
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("kty") != "RSA":
            continue
        if entry.get("use") not in (None, "sig") or entry.get("alg") not in (None, ALGORITHM):
            continue
        try:
            keys.append(RSAKey.import_key(entry))
        except (JoseError, ValueError, TypeError, KeyError):
            log.warning("ignoring an unusable JWKS key", action="auth.jwks_refresh", kid=entry.get("kid"))
    if not keys:
        raise IdpError("the JWKS contains no RS256 signing key")
    return KeySet(keys)


class OidcVerifier:
    """Verifies the IdP's access tokens (``TokenVerifier``)."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        role_claim: str = "role",
        jwks_ttl_s: float = JWKS_TTL_S,
        refetch_interval_s: float = REFETCH_INTERVAL_S,
        failure_backoff_s: float = FAILURE_BACKOFF_S,
        http_timeout_s: float = HTTP_TIMEOUT_S,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.role_claim = role_claim
        self.discovery_url = issuer.rstrip("/") + DISCOVERY_PATH
        self._jwks_ttl_s = jwks_ttl_s
        self._refetch_interval_s = refetch_interval_s
        self._failure_backoff_s = failure_backoff_s
        self._timeout = httpx.Timeout(http_timeout_s)
        self._transport = transport
        self._ssl: ssl.SSLContext | None = None
        self._clock = clock
        self._jwks_uri: str | None = None
        self._keys: KeySet | None = None
        self._kids: frozenset[str] = frozenset()
        self._fetched_at = -math.inf  # last successful fetch
        self._attempted_at = -math.inf  # last fetch attempt, successful or not
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    async def verify(self, token: str) -> Claims:
        header = _header(token)
        if header.get("alg") != ALGORITHM:
            raise _invalid()  # alg "none", HS256 with the public key, ...: no key lookup at all
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise _invalid()
        keys = await self._keys_for(kid)
        claims = decode_and_validate(
            token, keys, issuer=self.issuer, audience=self.audience, required=("sub", "tenant_id")
        )
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise _invalid()
        if claims.get("typ") not in ACCEPTED_TOKEN_TYPES:
            raise _invalid()
        email = claims.get("email")
        if not isinstance(email, str) or claims.get("email_verified") is False:
            email = None
        return Claims(
            provider="oidc",
            subject=subject,
            tenant_id=tenant_from(claims),
            email=email,
            role=role_from(claims, self.role_claim),
            session_id=None,
        )

    # -- keys ---------------------------------------------------------------------------------

    def _guard(self) -> asyncio.Lock:
        """One lock per event loop (a lock is bound to the loop it is first used on)."""
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock = asyncio.Lock()
            self._lock_loop = loop
        return self._lock

    def _usable(self, kid: str | None, now: float) -> bool:
        return (
            self._keys is not None
            and now - self._fetched_at < self._jwks_ttl_s
            and (kid is None or kid in self._kids)
        )

    async def _keys_for(self, kid: str | None) -> KeySet:
        if self._usable(kid, self._clock()):
            assert self._keys is not None
            return self._keys
        async with self._guard():
            now = self._clock()
            if self._usable(kid, now):  # another request has just refetched
                assert self._keys is not None
                return self._keys
            wait = self._refetch_interval_s if self._keys is not None else self._failure_backoff_s
            if now - self._attempted_at >= wait:
                self._attempted_at = now
                try:
                    keys = await self._fetch()
                except IdpError as error:
                    log.warning(
                        "identity provider not reachable",
                        action="auth.idp_unavailable",
                        reason=str(error),
                        cached_keys=self._keys is not None,
                    )
                else:
                    self._keys = keys
                    self._kids = frozenset(str(key.kid) for key in keys)
                    self._fetched_at = self._clock()
                    log.info("signing keys fetched", action="auth.jwks_refresh", keys=len(self._kids))
            if self._keys is None:
                raise idp_unavailable()
            return self._keys  # an unknown kid now fails signature verification

    async def _fetch(self) -> KeySet:
        if self._ssl is None:
            # Reads the CA bundle (certifi, or SSL_CERT_FILE / SSL_CERT_DIR): off the event loop, once.
            try:
                self._ssl = await asyncio.to_thread(httpx.create_ssl_context)
            except OSError as error:  # ssl.SSLError included: a broken SSL_CERT_FILE / SSL_CERT_DIR
                raise IdpError(f"cannot load the CA certificates: {error}") from None
        async with httpx.AsyncClient(
            verify=self._ssl, timeout=self._timeout, transport=self._transport, follow_redirects=False
        ) as client:
            if self._jwks_uri is None:
                self._jwks_uri = self._jwks_uri_from(await self._get_json(client, self.discovery_url))
            try:
                return signing_keys(await self._get_json(client, self._jwks_uri))
            except IdpError:
                self._jwks_uri = None  # rediscover next time, the IdP may have moved its keys
                raise

    def _jwks_uri_from(self, discovery: Any) -> str:
        if not isinstance(discovery, dict):
            raise IdpError("the discovery document is not a JSON object")
        if discovery.get("issuer") != self.issuer:
            raise IdpError(
                f"the discovery document names issuer {discovery.get('issuer')!r}, expected {self.issuer!r}"
            )
        jwks_uri = discovery.get("jwks_uri")
        schemes = ("https://",) if self.issuer.startswith("https://") else ("https://", "http://")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(schemes):
            raise IdpError("the discovery document has no usable jwks_uri")
        return jwks_uri

    async def _get_json(self, client: httpx.AsyncClient, url: str) -> Any:
        try:
            async with client.stream("GET", url, headers={"Accept": "application/json"}) as response:
                if response.status_code != 200:
                    raise IdpError(f"GET {url} answered {response.status_code}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body.extend(chunk)
                    if len(body) > MAX_DOCUMENT_BYTES:
                        raise IdpError(f"GET {url}: document too large")
        except httpx.HTTPError as error:
            raise IdpError(f"GET {url} failed: {type(error).__name__}") from None
        try:
            return json.loads(body)
        except ValueError:
            raise IdpError(f"GET {url}: not JSON") from None

"""Bearer tokens: the claims the application relies on, and the built-in provider's JWTs.

Both providers (built-in and OIDC/Keycloak) produce the same ``Claims``: the
subject, the tenant, the e-mail and the role, plus the login session for
built-in tokens. Verification accepts exactly one algorithm (RS256) and
checks issuer, audience, expiry and not-before with a small clock skew.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey
from joserfc.jwt import JWTClaimsRegistry

LOCAL_ISSUER = "urn:servanda:local"
AUDIENCE = "servanda-api"
ALGORITHM = "RS256"
CLOCK_SKEW_S = 30
ROLES = ("admin", "editor", "user")
VERIFIED_TTL_S = 60  # how long a verified local token is trusted without checking it again
VERIFIED_MAX = 10_000


class TokenError(Exception):
    """The token cannot be trusted; ``code`` is the stable problem code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Claims:
    provider: Literal["local", "oidc"]
    subject: str
    tenant_id: uuid.UUID
    email: str | None
    role: str | None
    session_id: uuid.UUID | None = None
    expires_at: float | None = None  # the token's ``exp`` (seconds since the epoch)


class TokenVerifier(Protocol):
    async def verify(self, token: str) -> Claims: ...


def role_from(claims: dict[str, Any], role_claim: str = "role") -> str | None:
    """The role claim, or the first known role in Keycloak's ``realm_access.roles``."""
    role = claims.get(role_claim)
    if isinstance(role, str) and role in ROLES:
        return role
    realm_roles = (claims.get("realm_access") or {}).get("roles") or []
    for candidate in ROLES:  # most privileged first
        if candidate in realm_roles:
            return candidate
    return None


def tenant_from(claims: dict[str, Any]) -> uuid.UUID:
    raw = claims.get("tenant_id")
    try:
        return uuid.UUID(str(raw))
    except (TypeError, ValueError):
        raise TokenError("auth.invalid_token", "Das Token enthält keinen gültigen Mandanten.") from None


def decode_and_validate(
    token: str, key: RSAKey | KeySet, *, issuer: str, audience: str, required: tuple[str, ...]
) -> dict[str, Any]:
    try:
        decoded = jwt.decode(token, key, algorithms=[ALGORITHM])
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise TokenError("auth.invalid_token", "Das Token ist ungültig.") from error
    options: dict[str, Any] = {name: {"essential": True} for name in required}
    options.update(iss={"essential": True, "value": issuer}, aud={"essential": True, "value": audience})
    options["exp"] = {"essential": True}
    registry = JWTClaimsRegistry(leeway=CLOCK_SKEW_S, **options)
    try:
        registry.validate(decoded.claims)
    except JoseError as error:
        code = "auth.token_expired" if "expired" in str(error).lower() else "auth.invalid_token"
        raise TokenError(
            code, "Das Token ist abgelaufen." if code == "auth.token_expired" else "Das Token ist ungültig."
        ) from error
    return dict(decoded.claims)


class LocalTokens:
    """Issues and verifies the built-in provider's access tokens."""

    def __init__(self, key: RSAKey, ttl_s: int = 900) -> None:
        self.key = key
        self.ttl_s = ttl_s
        # token -> (claims, trusted until): a token's signature and claims are checked once and the
        # result is reused until its expiry, at most VERIFIED_TTL_S (the same string always verifies
        # the same way under this process's one key). Revocation is not affected: the principal
        # lookup checks user, tenant and session in the database on every request.
        self._verified: dict[str, tuple[Claims, float]] = {}

    def issue(
        self,
        *,
        user_id: uuid.UUID,
        tenant_id: uuid.UUID,
        email: str,
        role: str,
        session_id: uuid.UUID,
        platform_admin: bool = False,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": LOCAL_ISSUER,
            "aud": AUDIENCE,
            "sub": str(user_id),
            "tenant_id": str(tenant_id),
            "email": email,
            "role": role,
            "realm_access": {"roles": [role]},
            "sid": str(session_id),
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl_s,
            "jti": uuid.uuid4().hex,
            "typ": "Bearer",
        }
        if platform_admin:
            claims["platform_admin"] = True
        return jwt.encode({"alg": ALGORITHM, "kid": self.key.kid, "typ": "JWT"}, claims, self.key)

    def jwks(self) -> dict[str, Any]:
        public = self.key.as_dict(private=False)
        return {"keys": [{**public, "use": "sig", "alg": ALGORITHM}]}

    async def verify(self, token: str) -> Claims:
        now = time.time()
        known = self._verified.get(token)
        if known is not None and now < known[1]:
            return known[0]
        verified = self._verify(token)
        self._remember(token, verified, now)
        return verified

    def _remember(self, token: str, verified: Claims, now: float) -> None:
        if len(self._verified) >= VERIFIED_MAX:
            self._verified = {t: v for t, v in self._verified.items() if now < v[1]}
            while len(self._verified) >= VERIFIED_MAX:
                self._verified.pop(next(iter(self._verified)))
        assert verified.expires_at is not None
        self._verified[token] = (verified, min(verified.expires_at + CLOCK_SKEW_S, now + VERIFIED_TTL_S))

    def _verify(self, token: str) -> Claims:
        claims = decode_and_validate(
            token,
            self.key,
            issuer=LOCAL_ISSUER,
            audience=AUDIENCE,
            required=("sub", "tenant_id", "sid", "iat"),
        )
        try:
            session_id = uuid.UUID(str(claims["sid"]))
            uuid.UUID(str(claims["sub"]))
        except ValueError:
            raise TokenError("auth.invalid_token", "Das Token ist ungültig.") from None
        return Claims(
            provider="local",
            subject=str(claims["sub"]),
            tenant_id=tenant_from(claims),
            email=claims.get("email"),
            role=role_from(claims),
            session_id=session_id,
            expires_at=float(claims["exp"]),
        )

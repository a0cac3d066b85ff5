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
        )

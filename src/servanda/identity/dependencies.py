"""The web layer of access control: bearer token → principal, and each route's declared permission.

Each route declares its permission with ``dependencies=[allow(Permission.X)]``;
the RBAC matrix test walks the route table and fails on any route without one.
Endpoint files import from here; services use :mod:`servanda.identity.principal`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import structlog
from fastapi import Depends, Request, Response

from servanda.identity.auth_service import LocalAuthService
from servanda.identity.mails import IdentityMails
from servanda.identity.principal import (
    Permission,
    Principal,
    RequestMeta,
    lookup_statement,
    resolve_principal,
)
from servanda.platform import errors
from servanda.platform.http import UnitOfWork
from servanda.platform.problems import Problem
from servanda.platform.ratelimit import RateLimited, RequestRateLimiter
from servanda.platform.tokens import LocalTokens, TokenError, TokenVerifier

__all__ = [
    "CurrentPrincipal",
    "IdentityMail",
    "LocalAuth",
    "LocalTokenIssuer",
    "Meta",
    "OptionalLocalAuth",
    "Permission",
    "allow",
    "client_ip",
    "permission_of",
    "request_meta",
    "signed_grant",
]


def unauthenticated(code: str = "auth.unauthenticated", detail: str = "Bitte melden Sie sich an.") -> Problem:
    # HTTP-specific (the WWW-Authenticate challenge), so a Problem rather than a domain error.
    return Problem(401, code, detail, headers={"WWW-Authenticate": 'Bearer realm="servanda"'})


def client_ip(request: Request) -> str | None:
    """The peer address; behind a proxy listed in FORWARDED_ALLOW_IPS, uvicorn puts the forwarded client here."""
    host = request.client.host if request.client else None
    try:
        return str(ipaddress.ip_address(host)) if host else None
    except ValueError:
        return None


def request_meta(request: Request) -> RequestMeta:
    return RequestMeta(
        client_ip(request), request.headers.get("user-agent"), getattr(request.state, "request_id", None)
    )


async def authenticate(request: Request, session: UnitOfWork) -> Principal:
    """Resolve and check the caller inside the request's unit of work (its first statement)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthenticated()
    verifier: TokenVerifier = request.app.state.verifier
    try:
        claims = await verifier.verify(token.strip())
    except TokenError as error:
        raise unauthenticated(error.code, error.detail) from None
    # Rate limits per user and tenant, keyed by the verified token, before the principal lookup.
    # One autocommit statement on the request's connection, shared by all API processes (platform/ratelimit.py).
    # The principal lookup, the transaction's first statement, travels in the same round trip.
    limiter: RequestRateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    loaded = None
    if limiter is not None and limiter.enabled:
        try:
            quota, loaded = await limiter.check_then(
                claims.tenant_id, claims.subject, session, lookup_statement(claims)
            )
        except RateLimited as refused:
            raise Problem(429, refused.code, refused.detail, headers=refused.quota.headers()) from None
        if quota is not None:
            request.state.rate_quota = quota
    try:
        principal = await resolve_principal(session, claims, request_meta(request), loaded)
    except errors.Unauthenticated as error:
        raise unauthenticated(error.code, error.detail or error.code) from None
    request.state.principal = principal
    request.state.tenant_id = str(principal.tenant_id)
    request.state.user_id = str(principal.user_id)
    structlog.contextvars.bind_contextvars(tenantId=str(principal.tenant_id), userId=str(principal.user_id))
    return principal


# Another way to authorise one route than a bearer token: a signed link (export downloads a browser
# opens). It returns None when the request carries no signed link (then the bearer token is
# required as usual), the verified grant when it does, and raises a domain error for a wrong or
# expired one.
SignedLinkCheck = Callable[[Request], Awaitable[object | None]]


class _Allow:
    """A route's declared permission; FastAPI calls it, the RBAC test reads ``permission``."""

    def __init__(
        self,
        permission: Permission,
        *,
        during_mfa_setup: bool = False,
        or_signed_link: SignedLinkCheck | None = None,
    ) -> None:
        self.permission = permission
        self.during_mfa_setup = during_mfa_setup
        self.or_signed_link = or_signed_link

    async def __call__(self, request: Request, response: Response, session: UnitOfWork) -> Principal | None:
        if self.permission is Permission.PUBLIC:
            return None
        if self.or_signed_link is not None:
            grant = await self.or_signed_link(request)
            if grant is not None:  # the link names its object and tenant; the route reads the grant
                request.state.signed_grant = grant
                return None
        principal = await authenticate(request, session)
        quota = getattr(request.state, "rate_quota", None)
        if quota is not None:  # RateLimit-* on the answer (a route returning its own Response drops them)
            response.headers.update(quota.headers())
        if principal.mfa_setup_required and not self.during_mfa_setup:
            raise errors.Forbidden(
                "auth.mfa_setup_required",
                "Ihr Mandant verlangt die Zwei-Faktor-Anmeldung. Bitte richten Sie sie ein.",
            )
        if not principal.may(self.permission):
            raise errors.Forbidden("auth.forbidden", "Für diese Aktion fehlt Ihnen die Berechtigung.")
        return principal


def allow(
    permission: Permission, *, during_mfa_setup: bool = False, or_signed_link: SignedLinkCheck | None = None
) -> Any:
    """Route dependency declaring (and enforcing) the permission the route needs.

    ``or_signed_link``: the route also accepts a signed link instead of a bearer token (the
    check verifies it; the route then reads the grant with :func:`signed_grant`).
    """
    return Depends(_Allow(permission, during_mfa_setup=during_mfa_setup, or_signed_link=or_signed_link))


def signed_grant(request: Request) -> object | None:
    """The grant of a verified signed link (see ``allow(..., or_signed_link=...)``), else None."""
    return getattr(request.state, "signed_grant", None)


def permission_of(dependency: Any) -> Permission | None:
    call = getattr(dependency, "call", dependency)
    return call.permission if isinstance(call, _Allow) else None


async def current_principal(request: Request, session: UnitOfWork) -> Principal:
    """The principal the route's ``allow`` has already checked (resolved once per request)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    return principal if principal is not None else await authenticate(request, session)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def _meta(request: Request) -> RequestMeta:
    return request_meta(request)


Meta = Annotated[RequestMeta, Depends(_meta)]


# The built-in identity provider's objects (app.py builds them once per process; None in OIDC mode).
def _local_login_disabled() -> errors.NotFound:
    return errors.NotFound(
        "auth.local_login_disabled", "Die Anmeldung erfolgt über den Single-Sign-On-Anbieter."
    )


async def _optional_local_auth(request: Request) -> LocalAuthService | None:
    service: LocalAuthService | None = request.app.state.local_auth
    return service


async def _local_auth(
    service: Annotated[LocalAuthService | None, Depends(_optional_local_auth)],
) -> LocalAuthService:
    if service is None:
        raise _local_login_disabled()
    return service


async def _local_tokens(request: Request) -> LocalTokens:
    tokens: LocalTokens | None = request.app.state.local_tokens
    if tokens is None:
        raise _local_login_disabled()
    return tokens


async def _identity_mails(request: Request) -> IdentityMails:
    mails: IdentityMails = request.app.state.identity_mails
    return mails


# Invitation and password-reset mails (sent after the request's commit, in the background).
IdentityMail = Annotated[IdentityMails, Depends(_identity_mails)]
OptionalLocalAuth = Annotated[LocalAuthService | None, Depends(_optional_local_auth)]
LocalAuth = Annotated[LocalAuthService, Depends(_local_auth)]
LocalTokenIssuer = Annotated[LocalTokens, Depends(_local_tokens)]

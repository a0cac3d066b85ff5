"""Who is calling, and may they: authentication, tenant context and RBAC for every route.

Each route declares its permission with ``dependencies=[allow(Permission.X)]``;
the RBAC matrix test walks the route table and fails on any route without one.
The principal is resolved from the bearer token and then checked against the
database on every request (user active, tenant not suspended, login session
not revoked, current role), so a change takes effect at once.
"""

from __future__ import annotations

import enum
import ipaddress
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

import structlog
from fastapi import Depends, Request
from sqlalchemy import text

from servanda.identity.repository import AuditRepository
from servanda.platform.db import Database
from servanda.platform.problems import Problem
from servanda.platform.ratelimit import RequestRateLimiter
from servanda.platform.tokens import Claims, TokenError, TokenVerifier


class Permission(enum.StrEnum):
    PUBLIC = "public"  # no token needed
    AUTHENTICATED = "authenticated"  # any active user: own profile, MFA, logout
    TENANT_ADMIN = "tenant.admin"  # tenant settings, branding, users, teams
    AUDIT_READ = "audit.read"
    EXPORT_MONITOR = "export.monitor"  # dead-letter queue
    CONTENT_AUTHOR = "content.author"  # author, review, publish clauses and templates
    TEMPLATES_MANAGE = "templates.manage"  # law-firm templates, style templates
    CONTRACTS_USE = "contracts.use"  # catalog, own contracts, export
    PLATFORM_ADMIN = "platform.admin"  # operator endpoints across tenants


_EVERYONE = {Permission.AUTHENTICATED, Permission.CONTRACTS_USE}
_EDITOR = _EVERYONE | {Permission.CONTENT_AUTHOR, Permission.TEMPLATES_MANAGE}
ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "user": frozenset(_EVERYONE),
    "editor": frozenset(_EDITOR),
    "admin": frozenset(_EDITOR | {Permission.TENANT_ADMIN, Permission.AUDIT_READ, Permission.EXPORT_MONITOR}),
}


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    tenant_slug: str
    tenant_type: str
    email: str
    display_name: str
    role: str
    status: str
    mfa_enabled: bool
    platform_admin: bool
    provider: str
    session_id: uuid.UUID | None
    mfa_setup_required: bool
    request_id: str | None
    ip_address: str | None

    def may(self, permission: Permission) -> bool:
        if permission is Permission.PLATFORM_ADMIN:
            return self.platform_admin
        return permission in ROLE_PERMISSIONS.get(self.role, frozenset())


def unauthenticated(code: str = "auth.unauthenticated", detail: str = "Bitte melden Sie sich an.") -> Problem:
    return Problem(401, code, detail, headers={"WWW-Authenticate": 'Bearer realm="servanda"'})


def client_ip(request: Request) -> str | None:
    """The peer address; behind a proxy listed in FORWARDED_ALLOW_IPS, uvicorn puts the forwarded client here."""
    host = request.client.host if request.client else None
    try:
        return str(ipaddress.ip_address(host)) if host else None
    except ValueError:
        return None


# One round trip: the functions set the transaction's tenant, then read under RLS (migration 0004).
_BY_ID = text("SELECT * FROM servanda_principal(:tenant, :uid, :sid)")
_BY_SUBJECT = text("SELECT * FROM servanda_principal_by_subject(:tenant, :subject)")


async def _link_first_oidc_login(db: Database, claims: Claims, request: Request) -> None:
    """Bind the token's subject to the invited user of its tenant with the same e-mail."""
    if not claims.email:
        return
    async with db.session(claims.tenant_id) as session:
        row = (
            await session.execute(
                text(
                    "UPDATE users SET external_subject = :subject, status = 'active', updated_at = now() "
                    "WHERE lower(email) = lower(:email) AND status = 'invited' AND external_subject IS NULL "
                    "RETURNING id"
                ),
                {"subject": claims.subject, "email": claims.email},
            )
        ).first()
        if row is not None:
            await AuditRepository(session).append(
                tenant_id=claims.tenant_id,
                action="user.activate",
                actor_id=row.id,
                object_type="user",
                object_id=str(row.id),
                details={"via": "oidc", "subject": claims.subject},
                request_id=getattr(request.state, "request_id", None),
                ip_address=client_ip(request),
            )


async def _sync_oidc_role(db: Database, principal_row: Any, claims: Claims, request: Request) -> str:
    """Keycloak is the source of roles in OIDC mode: mirror a changed role into the user record."""
    if claims.role is None or claims.role == principal_row.role:
        return str(principal_row.role)
    async with db.session(claims.tenant_id) as session:
        await session.execute(
            text("UPDATE users SET role = :role, updated_at = now() WHERE id = :uid"),
            {"role": claims.role, "uid": principal_row.id},
        )
        await AuditRepository(session).append(
            tenant_id=claims.tenant_id,
            action="user.role_change",
            actor_id=None,
            object_type="user",
            object_id=str(principal_row.id),
            details={"from": principal_row.role, "to": claims.role, "via": "oidc"},
            request_id=getattr(request.state, "request_id", None),
            ip_address=client_ip(request),
        )
    return claims.role


async def _load(db: Database, claims: Claims) -> Any:
    # Runs on every authenticated request: one statement on a Core connection in autocommit
    # (no BEGIN/COMMIT round trips); the tenant it sets lasts exactly for that statement.
    async with db.autocommit_engine.connect() as conn:
        if claims.provider == "local":
            params = {"tenant": claims.tenant_id, "uid": claims.subject, "sid": claims.session_id}
            return (await conn.execute(_BY_ID, params)).first()
        return (
            await conn.execute(_BY_SUBJECT, {"tenant": claims.tenant_id, "subject": claims.subject})
        ).first()


async def authenticate(request: Request) -> Principal:
    """Resolve and check the caller; cached per request by FastAPI."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthenticated()
    verifier: TokenVerifier = request.app.state.verifier
    try:
        claims = await verifier.verify(token.strip())
    except TokenError as error:
        raise unauthenticated(error.code, error.detail) from None
    # Rate limits per user and tenant, keyed by the verified token: a throttled request
    # costs no database round trip.
    limiter: RequestRateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        limiter.check(claims.tenant_id, claims.subject)
    db: Database = request.app.state.db
    row = await _load(db, claims)
    if row is None and claims.provider == "oidc":
        await _link_first_oidc_login(db, claims, request)
        row = await _load(db, claims)
    if row is None:
        raise unauthenticated("auth.unknown_user", "Dieses Konto ist nicht bekannt.")
    if row.tenant_status == "suspended":
        raise Problem(403, "tenant.suspended", "Der Mandant ist gesperrt.")
    if row.tenant_status != "active":
        raise unauthenticated("auth.tenant_inactive", "Der Mandant ist nicht aktiv.")
    if row.status != "active":
        raise unauthenticated("auth.user_disabled", "Dieses Konto ist deaktiviert.")
    if claims.provider == "local" and (
        row.session_user_id is None
        or str(row.session_user_id) != claims.subject
        or row.revoked_at is not None
        or row.session_expired
    ):
        raise unauthenticated(
            "auth.session_revoked", "Die Sitzung wurde beendet. Bitte melden Sie sich erneut an."
        )
    role = await _sync_oidc_role(db, row, claims, request) if claims.provider == "oidc" else str(row.role)
    principal = Principal(
        user_id=row.id,
        tenant_id=claims.tenant_id,
        tenant_slug=row.slug,
        tenant_type=row.type,
        email=row.email,
        display_name=row.display_name,
        role=role,
        status=row.status,
        mfa_enabled=row.mfa_enabled,
        platform_admin=row.platform_admin,
        provider=claims.provider,
        session_id=claims.session_id,
        mfa_setup_required=bool(row.mfa_required and not row.mfa_enabled and claims.provider == "local"),
        request_id=getattr(request.state, "request_id", None),
        ip_address=client_ip(request),
    )
    request.state.principal = principal
    request.state.tenant_id = str(principal.tenant_id)
    request.state.user_id = str(principal.user_id)
    structlog.contextvars.bind_contextvars(tenantId=str(principal.tenant_id), userId=str(principal.user_id))
    return principal


class _Allow:
    """A route's declared permission; FastAPI calls it, the RBAC test reads ``permission``."""

    def __init__(self, permission: Permission, *, during_mfa_setup: bool = False) -> None:
        self.permission = permission
        self.during_mfa_setup = during_mfa_setup

    async def __call__(self, request: Request) -> Principal | None:
        if self.permission is Permission.PUBLIC:
            return None
        principal = await authenticate(request)
        if principal.mfa_setup_required and not self.during_mfa_setup:
            raise Problem(
                403,
                "auth.mfa_setup_required",
                "Ihr Mandant verlangt die Zwei-Faktor-Anmeldung. Bitte richten Sie sie ein.",
            )
        if not principal.may(self.permission):
            raise Problem(403, "auth.forbidden", "Für diese Aktion fehlt Ihnen die Berechtigung.")
        return principal


def allow(permission: Permission, *, during_mfa_setup: bool = False) -> Any:
    """Route dependency declaring (and enforcing) the permission the route needs."""
    return Depends(_Allow(permission, during_mfa_setup=during_mfa_setup))


def permission_of(dependency: Any) -> Permission | None:
    call = getattr(dependency, "call", dependency)
    return call.permission if isinstance(call, _Allow) else None


async def current_principal(request: Request) -> Principal:
    """The principal the route's ``allow`` has already checked (resolved once per request)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    return principal if principal is not None else await authenticate(request)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]

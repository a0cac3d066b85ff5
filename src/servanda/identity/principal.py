"""Who is calling and what they may do: the principal, the permissions, and the principal lookup.

No web framework here: services, the CLI and (later) the export worker depend
on this module. The FastAPI glue (bearer token, per-route ``allow``, the rate
limit) is :mod:`servanda.identity.dependencies`.

The principal is resolved from verified token claims and checked against the
database on every request (user active, tenant not suspended, login session
not revoked, current role), so a change takes effect at once.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from servanda.audit.repository import record_system
from servanda.platform import errors
from servanda.platform.db import SET_TENANT
from servanda.platform.ratelimit import FirstRow, FirstStatement
from servanda.platform.tokens import Claims


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


@dataclass(frozen=True)
class RequestMeta:
    """Where a request comes from: recorded with logins, sessions and audit events."""

    ip_address: str | None
    user_agent: str | None
    request_id: str | None


def lookup_statement(claims: Claims) -> FirstStatement:
    """The principal lookup of ``claims`` in psycopg's parameter style: one round trip, in which
    the functions set the transaction's tenant, then read under RLS (migration 0004). With rate
    limits on, it travels in the take's round trip (``platform.ratelimit``), else :func:`_load`
    sends it."""
    if claims.provider == "local":
        return FirstStatement(
            "SELECT * FROM servanda_principal(%(tenant)s, %(uid)s, %(sid)s)",
            {"tenant": claims.tenant_id, "uid": claims.subject, "sid": claims.session_id},
        )
    return FirstStatement(
        "SELECT * FROM servanda_principal_by_subject(%(tenant)s, %(subject)s)",
        {"tenant": claims.tenant_id, "subject": claims.subject},
    )


async def _link_first_oidc_login(session: AsyncSession, claims: Claims, meta: RequestMeta) -> None:
    """Bind the token's subject to the invited user of its tenant with the same e-mail."""
    if not claims.email:
        return
    await session.execute(SET_TENANT, {"tenant": str(claims.tenant_id)})
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
        await record_system(
            session,
            claims.tenant_id,
            "user.activate",
            "user",
            row.id,
            {"via": "oidc", "subject": claims.subject},
            actor_id=row.id,
            origin=meta,
        )


async def _sync_oidc_role(
    session: AsyncSession, principal_row: Any, claims: Claims, meta: RequestMeta
) -> str:
    """Keycloak is the source of roles in OIDC mode: mirror a changed role into the user record."""
    if claims.role is None or claims.role == principal_row.role:
        return str(principal_row.role)
    await session.execute(
        text("UPDATE users SET role = :role, updated_at = now() WHERE id = :uid"),
        {"role": claims.role, "uid": principal_row.id},
    )
    await record_system(
        session,
        claims.tenant_id,
        "user.role_change",
        "user",
        principal_row.id,
        {"from": principal_row.role, "to": claims.role, "via": "oidc"},
        origin=meta,
    )
    return claims.role


async def _load(session: AsyncSession, claims: Claims) -> Any:
    # The first statement of every authenticated request's unit of work: it sets the
    # transaction's tenant (so every later statement of the request runs under RLS for it)
    # and reads user, tenant and session state in one round trip.
    # On the session's Core connection: a driver statement needs none of the ORM's execution path.
    conn = await session.connection()
    statement = lookup_statement(claims)
    return (await conn.exec_driver_sql(statement.sql, statement.params)).first()


async def resolve_principal(
    session: AsyncSession, claims: Claims, meta: RequestMeta, loaded: FirstRow | None = None
) -> Principal:
    """The principal of verified ``claims``, checked against the database.

    ``loaded``: the row of :func:`lookup_statement` when it already ran as the transaction's first
    statement (with the rate limit); otherwise the lookup runs here.
    Raises ``errors.Unauthenticated`` (unknown account, inactive tenant, disabled
    user, ended session) or ``errors.Forbidden`` (suspended tenant).
    """
    row = loaded.row if loaded is not None else await _load(session, claims)
    if row is None and claims.provider == "oidc":
        await _link_first_oidc_login(session, claims, meta)
        row = await _load(session, claims)
    if row is None:
        raise errors.Unauthenticated("auth.unknown_user", "Dieses Konto ist nicht bekannt.")
    if row.tenant_status == "suspended":
        raise errors.Forbidden("tenant.suspended", "Der Mandant ist gesperrt.")
    if row.tenant_status != "active":
        raise errors.Unauthenticated("auth.tenant_inactive", "Der Mandant ist nicht aktiv.")
    if row.status != "active":
        raise errors.Unauthenticated("auth.user_disabled", "Dieses Konto ist deaktiviert.")
    if claims.provider == "local" and (
        row.session_user_id is None
        or str(row.session_user_id) != claims.subject
        or row.revoked_at is not None
        or row.session_expired
    ):
        raise errors.Unauthenticated(
            "auth.session_revoked", "Die Sitzung wurde beendet. Bitte melden Sie sich erneut an."
        )
    role = await _sync_oidc_role(session, row, claims, meta) if claims.provider == "oidc" else str(row.role)
    return Principal(
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
        request_id=meta.request_id,
        ip_address=meta.ip_address,
    )

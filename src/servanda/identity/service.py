"""Operator paths into a tenant's users: bootstrap a user, act as a user (CLI, tests, benchmarks).

The operator opens the transaction (``async with db.session(None)``) and passes
the session; these functions resolve the tenant by its slug and enter its scope
in that transaction, so whatever the caller does next in it runs as that
tenant. Every state change writes its audit event in the same transaction.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from servanda.audit import repository as audit
from servanda.identity import passwords
from servanda.identity.models import USER_ROLES, User
from servanda.identity.principal import Principal
from servanda.identity.repository import UserRepository
from servanda.platform import errors
from servanda.platform.db import SET_TENANT
from servanda.tenants.repository import TenantRef, TenantRepository

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _invalid(field: str, message: str) -> errors.Invalid:
    return errors.Invalid("request.validation_failed", message, errors=[{"field": field, "message": message}])


@dataclass(frozen=True)
class UserView:
    id: uuid.UUID
    tenant_id: uuid.UUID
    email: str
    display_name: str
    role: str
    status: str


async def _enter_tenant(session: AsyncSession, tenant_slug: str) -> TenantRef:
    """The tenant named ``tenant_slug``, whose scope the transaction enters from here on."""
    tenant = await TenantRepository(session).resolve_slug(tenant_slug)
    if tenant is None:
        raise errors.NotFound("tenant.not_found", f"Mandant '{tenant_slug}' existiert nicht.")
    await session.execute(SET_TENANT, {"tenant": str(tenant.id)})
    return tenant


async def bootstrap_user(
    session: AsyncSession,
    *,
    tenant_slug: str,
    email: str,
    role: str,
    password: str | None,
    display_name: str | None = None,
    platform_admin: bool = False,
) -> UserView:
    """Create a user directly (operator bootstrap and tests; the API invites instead).

    With a password the user is an active local account. Without one (``password=None``, the
    single sign-on deployments) the user is ``invited`` with no password: the first OIDC sign-in
    with the same e-mail links the provider's subject and activates the account.
    """
    email = email.strip()
    if not EMAIL.match(email):
        raise _invalid("email", "Die E-Mail-Adresse ist ungültig.")
    if role not in USER_ROLES:
        raise _invalid("role", f"Die Rolle muss eine von {', '.join(USER_ROLES)} sein.")
    violations = [] if password is None else passwords.policy_violations(password)
    if violations:
        raise errors.Invalid(
            "user.password_policy",
            violations[0],
            errors=[{"field": "password", "message": v} for v in violations],
        )
    tenant = await _enter_tenant(session, tenant_slug)
    taken = errors.Conflict("user.email_taken", f"Die E-Mail-Adresse {email} ist bereits vergeben.")
    users = UserRepository(session)
    if await users.by_email(email) is not None:
        raise taken
    try:
        user = await users.add(
            User(
                tenant_id=tenant.id,
                email=email,
                display_name=display_name or email.split("@", 1)[0],
                role=role,
                status="invited" if password is None else "active",
                password_hash=None if password is None else passwords.hash_password(password),
                platform_admin=platform_admin,
            )
        )
    except IntegrityError:
        raise taken from None
    await audit.record_system(
        session,
        tenant.id,
        "user.create",
        "user",
        user.id,
        {"email": email, "role": role, "platformAdmin": platform_admin, "via": "platform"},
    )
    return UserView(user.id, user.tenant_id, user.email, user.display_name, user.role, user.status)


async def acting_user(session: AsyncSession, tenant_slug: str, email: str | None = None) -> Principal:
    """The principal an operator command acts as: the named user, else the tenant's first active admin."""
    tenant = await _enter_tenant(session, tenant_slug)
    query = select(User).where(User.status == "active")
    if email:
        query = query.where(func.lower(User.email) == email.lower())
    else:
        query = query.where(User.role == "admin").order_by(User.created_at)
    user = await session.scalar(query.limit(1))
    if user is None:
        raise errors.NotFound("user.not_found", "Kein aktiver Nutzer, in dessen Namen gehandelt werden kann.")
    return Principal(
        user_id=user.id,
        tenant_id=tenant.id,
        tenant_slug=tenant_slug,
        tenant_type=tenant.type,
        email=user.email,
        display_name=user.display_name,
        role=user.role,
        status=user.status,
        mfa_enabled=user.mfa_enabled,
        platform_admin=user.platform_admin,
        provider="cli",
        session_id=None,
        mfa_setup_required=False,
        request_id=None,
        ip_address=None,
    )

"""Platform operations: tenants (operator, owner role) and user bootstrap (tenant scope).

Every state change writes its audit event in the same transaction.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from servanda.identity import passwords
from servanda.identity.models import TENANT_TYPES, USER_ROLES, Tenant, User
from servanda.identity.repository import AuditRepository, TenantRepository, UserRepository
from servanda.platform.db import SET_TENANT, Database
from servanda.platform.problems import Problem

SLUG = re.compile(r"^[a-z0-9-]{3,63}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
JURISDICTION = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True)
class TenantView:
    id: uuid.UUID
    slug: str
    name: str
    type: str
    status: str
    default_jurisdiction: str

    @classmethod
    def of(cls, tenant: Tenant) -> TenantView:
        return cls(
            tenant.id, tenant.slug, tenant.name, tenant.type, tenant.status, tenant.default_jurisdiction
        )


def _invalid(field: str, message: str) -> Problem:
    return Problem(422, "request.validation_failed", message, errors=[{"field": field, "message": message}])


class PlatformService:
    """Operator actions on tenants. Runs on the owner role, the platform path of the tenants policy."""

    def __init__(self, platform_db: Database) -> None:
        self.db = platform_db

    async def create_tenant(self, *, slug: str, name: str, type: str, jurisdiction: str = "DE") -> TenantView:
        if not SLUG.match(slug):
            raise _invalid("slug", "Der Kurzname muss 3-63 Zeichen aus a-z, 0-9 und '-' haben.")
        if type not in TENANT_TYPES:
            raise _invalid("type", f"Der Mandantentyp muss einer von {', '.join(TENANT_TYPES)} sein.")
        if not JURISDICTION.match(jurisdiction):
            raise _invalid("jurisdiction", "Die Rechtsordnung ist ein ISO-Ländercode wie DE oder AT.")
        if not name.strip():
            raise _invalid("name", "Der Name darf nicht leer sein.")
        try:
            async with self.db.session(None) as session:
                tenant = await TenantRepository(session).add(
                    Tenant(slug=slug, name=name.strip(), type=type, default_jurisdiction=jurisdiction)
                )
                await session.execute(SET_TENANT, {"tenant": str(tenant.id)})
                await AuditRepository(session).append(
                    tenant_id=tenant.id,
                    action="tenant.create",
                    object_type="tenant",
                    object_id=str(tenant.id),
                    details={"slug": slug, "type": type, "via": "platform"},
                )
                return TenantView.of(tenant)
        except IntegrityError:
            raise Problem(409, "tenant.slug_taken", f"Der Kurzname '{slug}' ist bereits vergeben.") from None

    async def list_tenants(self) -> list[TenantView]:
        async with self.db.session(None) as session:
            return [TenantView.of(t) for t in await TenantRepository(session).all()]

    async def set_status(self, slug: str, status: str) -> TenantView:
        actions = {"suspended": "tenant.suspend", "active": "tenant.activate"}
        async with self.db.session(None) as session:
            repository = TenantRepository(session)
            tenant = await repository.by_slug(slug)
            if tenant is None:
                raise Problem(404, "tenant.not_found", f"Mandant '{slug}' existiert nicht.")
            if tenant.status == "deleted":
                raise Problem(409, "tenant.deleted", f"Mandant '{slug}' ist gelöscht.")
            if tenant.status != status:
                await repository.set_status(tenant.id, status)
                await session.execute(SET_TENANT, {"tenant": str(tenant.id)})
                await AuditRepository(session).append(
                    tenant_id=tenant.id,
                    action=actions[status],
                    object_type="tenant",
                    object_id=str(tenant.id),
                    details={"from": tenant.status, "to": status, "via": "platform"},
                )
                await session.refresh(tenant)
            return TenantView.of(tenant)

    async def active_tenant_count(self) -> int:
        async with self.db.session(None) as session:
            return int((await session.execute(text("SELECT servanda_active_tenant_count()"))).scalar_one())


@dataclass(frozen=True)
class UserView:
    id: uuid.UUID
    tenant_id: uuid.UUID
    email: str
    display_name: str
    role: str
    status: str


async def bootstrap_user(
    db: Database, *, tenant_slug: str, email: str, role: str, password: str, display_name: str | None = None
) -> UserView:
    """Create an active local user directly (operator bootstrap and tests; the API invites instead)."""
    email = email.strip()
    if not EMAIL.match(email):
        raise _invalid("email", "Die E-Mail-Adresse ist ungültig.")
    if role not in USER_ROLES:
        raise _invalid("role", f"Die Rolle muss eine von {', '.join(USER_ROLES)} sein.")
    violations = passwords.policy_violations(password)
    if violations:
        raise Problem(
            422,
            "user.password_policy",
            violations[0],
            errors=[{"field": "password", "message": v} for v in violations],
        )
    async with db.session(None) as session:
        tenant = await TenantRepository(session).resolve_slug(tenant_slug)
    if tenant is None:
        raise Problem(404, "tenant.not_found", f"Mandant '{tenant_slug}' existiert nicht.")
    try:
        async with db.session(tenant.id) as session:
            users = UserRepository(session)
            if await users.by_email(email) is not None:
                raise Problem(409, "user.email_taken", f"Die E-Mail-Adresse {email} ist bereits vergeben.")
            user = await users.add(
                User(
                    tenant_id=tenant.id,
                    email=email,
                    display_name=display_name or email.split("@", 1)[0],
                    role=role,
                    status="active",
                    password_hash=passwords.hash_password(password),
                )
            )
            await AuditRepository(session).append(
                tenant_id=tenant.id,
                action="user.create",
                object_type="user",
                object_id=str(user.id),
                details={"email": email, "role": role, "via": "platform"},
            )
            return UserView(user.id, user.tenant_id, user.email, user.display_name, user.role, user.status)
    except IntegrityError:
        raise Problem(409, "user.email_taken", f"Die E-Mail-Adresse {email} ist bereits vergeben.") from None

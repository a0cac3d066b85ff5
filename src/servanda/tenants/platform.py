"""Platform administration of tenants: create, list, suspend/activate, change plan, statistics.

For platform admins (``/api/v1/platform``) and the operator CLI. Runs on the
owner role: tenant rows are reached only through the security-definer platform
functions; each change is audited in the affected tenant's own log.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from servanda.audit import repository as audit
from servanda.identity.principal import Principal
from servanda.platform import errors
from servanda.platform.db import SET_TENANT
from servanda.tenants import plans
from servanda.tenants.models import TENANT_TYPES, Tenant
from servanda.tenants.repository import TenantRepository

SLUG = re.compile(r"^[a-z0-9-]{3,63}$")
JURISDICTION = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True)
class TenantView:
    id: uuid.UUID
    slug: str
    name: str
    type: str
    status: str
    default_jurisdiction: str
    plan: str

    @classmethod
    def of(cls, tenant: Tenant) -> TenantView:
        plan = str((tenant.settings or {}).get("plan", plans.DEFAULT_PLAN))
        return cls(
            tenant.id, tenant.slug, tenant.name, tenant.type, tenant.status, tenant.default_jurisdiction, plan
        )


def _by_platform(details: dict[str, object], actor: Principal | None) -> dict[str, object]:
    """Platform admins act from their own tenant: the event names them in details, not as actor."""
    return {**details, "via": "platform", **({"platformAdmin": str(actor.user_id)} if actor else {})}


def _invalid(field: str, message: str) -> errors.Invalid:
    return errors.Invalid("request.validation_failed", message, errors=[{"field": field, "message": message}])


class PlatformService:
    """Operator actions on tenants, for platform admins (API) and the operator CLI.

    Tenant rows are reached only through the security-definer platform
    functions; each change is audited in the affected tenant's own log.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session  # the caller's transaction: the request's, or the operator's

    @staticmethod
    async def _enter(session: AsyncSession, tenant: Tenant) -> None:
        """Act in ``tenant``'s scope from here on: its audit trail and its own row (settings)."""
        await session.execute(SET_TENANT, {"tenant": str(tenant.id)})

    async def create_tenant(
        self, *, slug: str, name: str, type: str, jurisdiction: str = "DE", actor: Principal | None = None
    ) -> TenantView:
        if not SLUG.match(slug):
            raise _invalid("slug", "Der Kurzname muss 3-63 Zeichen aus a-z, 0-9 und '-' haben.")
        if type not in TENANT_TYPES:
            raise _invalid("type", f"Der Mandantentyp muss einer von {', '.join(TENANT_TYPES)} sein.")
        if not JURISDICTION.match(jurisdiction):
            raise _invalid("jurisdiction", "Die Rechtsordnung ist ein ISO-Ländercode wie DE oder AT.")
        if not name.strip():
            raise _invalid("name", "Der Name darf nicht leer sein.")
        session = self.session
        try:
            tenant = await TenantRepository(session).platform_create(slug, name.strip(), type, jurisdiction)
            await self._enter(session, tenant)
            details = _by_platform({"slug": slug, "type": type}, actor)
            await audit.record_system(
                session, tenant.id, "tenant.create", "tenant", tenant.id, details, origin=actor
            )
            return TenantView.of(tenant)
        except IntegrityError:
            raise errors.Conflict(
                "tenant.slug_taken", f"Der Kurzname '{slug}' ist bereits vergeben."
            ) from None

    async def list_tenants(self) -> list[TenantView]:
        return [TenantView.of(t) for t in await TenantRepository(self.session).platform_all()]

    async def get_tenant(self, tenant_id: uuid.UUID) -> TenantView:
        found = next(
            (t for t in await TenantRepository(self.session).platform_all() if t.id == tenant_id), None
        )
        if found is None:
            raise errors.NotFound("tenant.not_found", "Der Mandant existiert nicht.")
        return TenantView.of(found)

    async def update_tenant(
        self,
        tenant_id: uuid.UUID,
        *,
        status: str | None = None,
        plan: str | None = None,
        actor: Principal | None = None,
    ) -> TenantView:
        if status is not None and status not in ("active", "suspended"):
            raise _invalid("status", "Der Status muss active oder suspended sein.")
        if plan is not None and plan not in plans.PLANS:
            raise _invalid("plan", f"Der Tarif muss einer von {', '.join(plans.PLANS)} sein.")
        session = self.session
        repository = TenantRepository(session)
        current = next((t for t in await repository.platform_all() if t.id == tenant_id), None)
        if current is None:
            raise errors.NotFound("tenant.not_found", "Der Mandant existiert nicht.")
        if current.status == "deleted":
            raise errors.Conflict("tenant.deleted", f"Mandant '{current.slug}' ist gelöscht.")
        before_status, before_plan = (
            current.status,
            (current.settings or {}).get("plan", plans.DEFAULT_PLAN),
        )
        updated = await repository.platform_update(tenant_id, status, plan)
        assert updated is not None
        await self._enter(session, updated)
        if status is not None and status != before_status:
            action = "tenant.suspend" if status == "suspended" else "tenant.activate"
            details = _by_platform({"from": before_status, "to": status}, actor)
            await audit.record_system(
                session, updated.id, action, "tenant", updated.id, details, origin=actor
            )
        if plan is not None and plan != before_plan:
            details = _by_platform({"from": before_plan, "to": plan}, actor)
            await audit.record_system(
                session, updated.id, "tenant.plan_change", "tenant", updated.id, details, origin=actor
            )
            await self._bound_retention(session, updated, plan, actor)
        return TenantView.of(updated)

    async def _bound_retention(
        self, session: AsyncSession, tenant: Tenant, plan: str, actor: Principal | None
    ) -> None:
        """A downgrade lowers a configured audit retention the new plan does not allow (the tenant scope
        is already entered, so the tenant's own-row policy admits the update)."""
        stored = (tenant.settings or {}).get("retentionDays")
        most = plans.max_retention_days(plan)
        if isinstance(stored, int) and stored > most:
            tenant.settings = {**(tenant.settings or {}), "retentionDays": most}
            await session.flush()
            details = _by_platform(
                {
                    "changed": ["retentionDays"],
                    "retentionDays": {"from": stored, "to": most},
                    "reason": "plan_change",
                },
                actor,
            )
            await audit.record_system(
                session, tenant.id, "tenant.settings_change", "tenant", tenant.id, details, origin=actor
            )

    async def set_status(self, slug: str, status: str) -> TenantView:
        tenant = await TenantRepository(self.session).resolve_slug(slug)
        if tenant is None:
            raise errors.NotFound("tenant.not_found", f"Mandant '{slug}' existiert nicht.")
        return await self.update_tenant(tenant.id, status=status)

    async def stats(self) -> dict[str, object]:
        return await TenantRepository(self.session).platform_stats()

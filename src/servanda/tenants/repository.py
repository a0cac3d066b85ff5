"""Queries of tenant rows: the public read side of the tenants module.

Other modules read a tenant only through ``TenantRepository``: the own tenant's
status, plan, default jurisdiction and MFA requirement (under RLS), a slug
lookup before any tenant is known, and the ``platform_*`` methods, which reach
every tenant through security-definer functions (migration 0003) and serve
only platform-admin and operator callers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from servanda.tenants import plans
from servanda.tenants.models import Tenant


@dataclass(frozen=True)
class TenantRef:
    id: uuid.UUID
    type: str
    status: str


@dataclass(frozen=True)
class TenantBranding:
    """What an exported document takes from the tenant: its name and branding settings
    (``settings.branding``: colours, fonts, margins, the logo's storage record)."""

    name: str
    colors: dict[str, Any]
    fonts: dict[str, Any]
    margins_mm: dict[str, Any]
    logo_key: str | None
    logo_content_type: str | None


class TenantRepository:
    """Tenant rows. The ``platform_*`` methods reach every tenant through security-definer
    functions (migration 0003) and serve only platform-admin callers."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _platform(self, sql: str, params: dict[str, Any] | None = None) -> list[Tenant]:
        statement = select(Tenant).from_statement(text(sql)).execution_options(populate_existing=True)
        result = await self.session.scalars(statement, params or {})
        return list(result.all())

    async def platform_all(self) -> list[Tenant]:
        return await self._platform("SELECT * FROM servanda_platform_tenants()")

    async def platform_by_slug(self, slug: str) -> Tenant | None:
        return next((t for t in await self.platform_all() if t.slug == slug), None)

    async def platform_create(self, slug: str, name: str, type: str, jurisdiction: str) -> Tenant:
        created = await self._platform(
            "SELECT * FROM servanda_platform_create_tenant(:slug, :name, :type, :jurisdiction)",
            {"slug": slug, "name": name, "type": type, "jurisdiction": jurisdiction},
        )
        return created[0]

    async def platform_update(
        self, tenant_id: uuid.UUID, status: str | None, plan: str | None
    ) -> Tenant | None:
        updated = await self._platform(
            "SELECT * FROM servanda_platform_update_tenant(:id, :status, :plan)",
            {"id": tenant_id, "status": status, "plan": plan},
        )
        return updated[0] if updated else None

    async def platform_stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = (
            await self.session.execute(text("SELECT servanda_platform_stats()"))
        ).scalar_one()
        return stats

    # -- the own tenant (its row is visible under RLS): public reads for other modules --------

    async def status_of(self, tenant_id: uuid.UUID) -> str | None:
        """The status of the current tenant (its own row is visible under RLS)."""
        return await self.session.scalar(select(Tenant.status).where(Tenant.id == tenant_id))

    async def resolve_slug(self, slug: str) -> TenantRef | None:
        """Look a tenant up by slug without a tenant context (security-definer function)."""
        row = (
            await self.session.execute(
                text("SELECT id, type, status FROM servanda_tenant_by_slug(:s)"), {"s": slug}
            )
        ).one_or_none()
        return TenantRef(row.id, row.type, row.status) if row else None

    async def plan(self, tenant_id: uuid.UUID) -> plans.PlanName:
        """The tenant's plan (the default plan when none is set)."""
        settings = await self.session.scalar(select(Tenant.settings).where(Tenant.id == tenant_id))
        return plans.plan_of(settings)

    async def default_jurisdiction(self, tenant_id: uuid.UUID) -> str:
        found = await self.session.scalar(select(Tenant.default_jurisdiction).where(Tenant.id == tenant_id))
        return found or "DE"

    async def feature_flags(self, tenant_id: uuid.UUID) -> dict[str, bool]:
        """``featureFlags`` of the tenant's settings (``mfaRequired``, ``odtExport``), one query."""
        settings = await self.session.scalar(select(Tenant.settings).where(Tenant.id == tenant_id))
        flags = (settings or {}).get("featureFlags") or {}
        return {name: bool(flags.get(name)) for name in ("mfaRequired", "odtExport")}

    async def mfa_required(self, tenant_id: uuid.UUID) -> bool:
        """Whether the tenant requires every user to sign in with a second factor."""
        return (await self.feature_flags(tenant_id))["mfaRequired"]

    async def odt_export_enabled(self, tenant_id: uuid.UUID) -> bool:
        """Whether the tenant has switched on the ODT export (``featureFlags.odtExport``, Beta)."""
        return (await self.feature_flags(tenant_id))["odtExport"]

    async def branding(self, tenant_id: uuid.UUID) -> TenantBranding | None:
        """The own tenant's name and branding (the export's default style), None if not visible."""
        row = (
            await self.session.execute(select(Tenant.name, Tenant.settings).where(Tenant.id == tenant_id))
        ).one_or_none()
        if row is None:
            return None
        branding = (row.settings or {}).get("branding") or {}
        logo = branding.get("logo") if isinstance(branding.get("logo"), dict) else {}

        def section(name: str) -> dict[str, Any]:
            value = branding.get(name)
            return dict(value) if isinstance(value, dict) else {}

        return TenantBranding(
            name=row.name or "",
            colors=section("colors"),
            fonts=section("fonts"),
            margins_mm=section("marginsMm"),
            logo_key=str(logo["key"]) if logo and logo.get("key") else None,
            logo_content_type=str(logo["contentType"]) if logo and logo.get("contentType") else None,
        )

"""Tenant settings and profile: the settings document, its changes, the plan-bounded audit retention.

Every change is audited in the same transaction (``tenant.settings_change``
with the changed paths).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from servanda.audit import repository as audit
from servanda.identity.principal import Principal
from servanda.platform import errors
from servanda.tenants import plans
from servanda.tenants.models import Tenant


class TenantSettingsService:
    """Works in the caller's transaction (the request's unit of work)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def settings(self, principal: Principal) -> Tenant:
        session = self.session
        tenant = await session.get(Tenant, principal.tenant_id)
        assert tenant is not None
        return tenant

    async def update_settings(self, principal: Principal, patch: dict[str, Any]) -> Tenant:
        """Merge ``patch`` (snake_case keys of TenantSettingsPatch, unset fields absent)."""
        session = self.session
        tenant = await session.get(Tenant, principal.tenant_id, with_for_update=True)
        assert tenant is not None
        settings = dict(tenant.settings or {})
        changed: list[str] = []
        profile = patch.get("profile") or {}
        for field in ("name", "address", "default_jurisdiction", "default_language"):
            if field in profile and profile[field] is not None and getattr(tenant, field) != profile[field]:
                setattr(tenant, field, profile[field])
                changed.append(f"profile.{field}")
        for section, key in (("branding", "branding"), ("feature_flags", "featureFlags")):
            values = patch.get(section)
            if not values:
                continue
            current = dict(settings.get(key) or {})
            for name, value in values.items():
                if value is None:
                    continue
                camel = _camel(name)
                merged = {**(current.get(camel) or {}), **value} if isinstance(value, dict) else value
                if current.get(camel) != merged:
                    current[camel] = merged
                    changed.append(f"{key}.{camel}")
            settings[key] = current
        if patch.get("retention_days") is not None:
            _check_retention(plans.plan_of(settings), patch["retention_days"])
        if (
            patch.get("retention_days") is not None
            and settings.get("retentionDays") != patch["retention_days"]
        ):
            settings["retentionDays"] = patch["retention_days"]
            changed.append("retentionDays")
        if changed:
            tenant.settings = settings
            tenant.updated_at = datetime.now(UTC)
            await audit.record(
                session, principal, "tenant.settings_change", "tenant", tenant.id, {"changed": changed}
            )
            await session.flush()
            await session.refresh(tenant)
        return tenant


def _check_retention(plan: str, days: int) -> None:
    """The audit retention a tenant configures is bounded by its plan (``plans.LIMITS``)."""
    most = plans.max_retention_days(plan)
    if days > most:
        raise errors.Invalid(
            "tenant.retention_exceeds_plan",
            f"Ihr Tarif ({plan}) erlaubt eine Aufbewahrung von höchstens {most} Tagen.",
            errors=[{"field": "retentionDays", "message": f"höchstens {most} Tage"}],
            extra={"maxRetentionDays": most},
        )


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def settings_view(tenant: Tenant) -> dict[str, Any]:
    """The tenant settings document of the API (camelCase), with defaults filled in."""
    settings = tenant.settings or {}
    plan = str(settings.get("plan") or plans.DEFAULT_PLAN)
    branding = settings.get("branding") or {}
    flags = settings.get("featureFlags") or {}
    return {
        "profile": {
            "name": tenant.name,
            "address": tenant.address or {},
            "defaultJurisdiction": tenant.default_jurisdiction,
            "defaultLanguage": tenant.default_language,
        },
        "branding": {
            "colors": branding.get("colors") or {},
            "fonts": branding.get("fonts") or {},
            "marginsMm": branding.get("marginsMm") or {},
            "logo": branding.get("logo"),
        },
        "featureFlags": {
            "odtExport": bool(flags.get("odtExport")),
            "mfaRequired": bool(flags.get("mfaRequired")),
        },
        "retentionDays": settings.get("retentionDays", plans.limits(plan).retention_days),
        "plan": plan,
    }

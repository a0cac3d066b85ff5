"""Demo tenants and users that `servanda up` creates on first start (empty database only)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from servanda.identity.service import bootstrap_user
from servanda.platform.db import Database
from servanda.tenants.platform import PlatformService
from servanda.tenants.repository import TenantRepository

DEMO_PASSWORD = "servanda-demo"  # noqa: S105 - published demo password, embedded mode only
DEMO_TENANTS = (
    ("verlag-demo", "Demo-Verlag Recht & Praxis", "vendor"),
    ("kanzlei-demo", "Kanzlei Demo Partner mbB", "lawfirm"),
    ("kanzlei-nord", "Kanzlei Nord Rechtsanwälte", "lawfirm"),
)
VENDOR_USERS = (
    ("admin", "admin", "Vera Admin"),
    ("redakteur", "editor", "Rita Redakteurin"),
    ("pruefer", "editor", "Paul Prüfer"),
)
LAWFIRM_USERS = (
    ("admin", "admin", "Karl Kanzleiadmin"),
    ("anwalt", "user", "Anna Anwältin"),
    ("redakteur", "editor", "Rolf Redakteur"),
)


@dataclass(frozen=True)
class DemoLogin:
    tenant: str
    email: str
    role: str


async def seed_demo(platform_db: Database, app_db: Database) -> list[DemoLogin]:
    """Create the demo tenants and users unless any tenant exists; return the logins created.

    One transaction per tenant on the owner role (``platform_db``), committed before its
    users are created in one transaction on the application role (``app_db``).
    """
    async with platform_db.session(None) as session:
        if await PlatformService(session).list_tenants():
            return []
    logins: list[DemoLogin] = []
    for slug, name, kind in DEMO_TENANTS:
        async with platform_db.session(None) as session:
            await PlatformService(session).create_tenant(slug=slug, name=name, type=kind)
        async with app_db.session(None) as session:
            for local, role, display in VENDOR_USERS if kind == "vendor" else LAWFIRM_USERS:
                email = f"{local}@{slug}.de"
                await bootstrap_user(
                    session,
                    tenant_slug=slug,
                    email=email,
                    role=role,
                    password=DEMO_PASSWORD,
                    display_name=display,
                )
                logins.append(DemoLogin(slug, email, role))
        if slug in DEMO_ODT_TENANTS:
            await _enable_odt(app_db, slug)
    return logins


# The demo law firm tries the ODT export (Beta) too; every other tenant starts with it off.
DEMO_ODT_TENANTS = ("kanzlei-demo",)


async def _enable_odt(app_db: Database, slug: str) -> None:
    async with app_db.session(None) as session:
        tenant = await TenantRepository(session).resolve_slug(slug)
    assert tenant is not None
    async with app_db.session(tenant.id) as session:
        await session.execute(
            text(
                "UPDATE tenants SET settings = coalesce(settings, '{}'::jsonb) || jsonb_build_object("
                "'featureFlags', coalesce(settings->'featureFlags', '{}'::jsonb) || '{\"odtExport\": true}'::jsonb) "
                "WHERE id = :id"
            ),
            {"id": tenant.id},
        )

"""The data of the load test: `servanda demo scale` at a small size, plus one account per simulated user.

- Tenants, their first users, the published content and the bulk contracts and audit trails come
  from the scale generator (real services, COPY for the bulk; ``servanda/demo_scale.py``). The
  other shipped packs are imported and published into the same vendor (``import_pack``), so the
  catalog offers all three templates.
- One account per simulated user, spread round-robin over the law firms (editors also over the
  publisher): rows like ``bootstrap_user`` writes, with the password hash of a user the service
  created (same password; hashing 400 passwords with argon2id would take minutes here and tells
  nothing about the API). Each tenant with an editor gets at least two, so four eyes can work.
- Lawyers arrive signed in: an ``auth_sessions`` row and an access token from the API's own key,
  as after a login earlier that day. Editors and admins sign in through ``POST /auth/login``
  when they start (argon2id in the API, a few dozen times per run).
- The generator's contracts belong to its three users per firm; they are shared out over all of
  the firm's lawyers (``creator_id``), so every lawyer's list holds contracts of their own.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import psycopg

from bench.common import BenchDatabase
from bench.load.mix import MIX
from servanda.demo_scale import PASSWORD, ScaleReport, generate
from servanda.platform.db import Database
from servanda.platform.tokens import LocalTokens


def _import_other_packs(app_url: str, vendor: str) -> None:
    from servanda.content.packs import import_pack, shipped_packs
    from servanda.content.service import ContentService
    from servanda.identity.service import acting_user

    async def run() -> None:
        db = Database(app_url, pool_size=1, application_name="bench-load")
        try:
            for path in shipped_packs()[1:]:  # the generator imported the first one
                async with db.session(None) as session:
                    principal = await acting_user(session, vendor)
                    pack = json.loads(path.read_text(encoding="utf-8"))
                    await import_pack(ContentService(session), principal, pack, publish=True)
        finally:
            await db.dispose()

    asyncio.run(run())


def _tenants(conn: psycopg.Connection[Any], slugs: list[str]) -> dict[str, tuple[uuid.UUID, str]]:
    """slug -> (tenant id, password hash of a user the service created in it)."""
    rows = conn.execute(
        "SELECT t.slug, t.id, (SELECT u.password_hash FROM users u WHERE u.tenant_id = t.id "
        "AND u.password_hash IS NOT NULL LIMIT 1) FROM tenants t WHERE t.slug = ANY(%s)",
        (slugs,),
    ).fetchall()
    return {slug: (tenant_id, password_hash) for slug, tenant_id, password_hash in rows}


def _add_user(
    conn: psycopg.Connection[Any], tenant: uuid.UUID, password_hash: str, email: str, role: str, name: str
) -> uuid.UUID:
    row = conn.execute(
        "INSERT INTO users (tenant_id, email, display_name, role, status, password_hash) "
        "VALUES (%s, %s, %s, %s, 'active', %s) RETURNING id",
        (tenant, email, name, role, password_hash),
    ).fetchone()
    assert row is not None
    return uuid.UUID(str(row[0]))


def prepare(
    db: BenchDatabase,
    tokens: LocalTokens,
    counts: dict[str, int],
    *,
    tenants: int,
    contracts: int,
    audit_events: int,
) -> tuple[dict[str, Any], ScaleReport]:
    """Generate the data and the accounts; return the accounts document the locustfile reads."""
    report = asyncio.run(
        generate(db.owner, db.app, tenants=tenants, contracts=contracts, audit_events=audit_events)
    )
    _import_other_packs(db.app, report.vendor_slug)
    firms = report.tenant_slugs
    classes: dict[str, list[dict[str, Any]]] = {name: [] for name in MIX}
    with psycopg.connect(db.superuser, autocommit=True) as conn:
        tenant = _tenants(conn, [*firms, report.vendor_slug])
        editors_by_tenant: dict[str, list[str]] = {}
        for name, (_, role) in MIX.items():
            homes = [report.vendor_slug, *firms] if role == "editor" else firms
            for n in range(counts[name]):
                slug = homes[n % len(homes)]
                tenant_id, password_hash = tenant[slug]
                if role == "admin" and n < len(firms):  # the generator's admin of each firm
                    email = f"admin@{slug}.de"
                else:
                    email = f"{name.lower()}-{n:04d}@{slug}.de"
                    _add_user(conn, tenant_id, password_hash, email, role, f"{name} {n}")
                account: dict[str, Any] = {"tenant": slug, "email": email}
                if role == "user":
                    user = conn.execute("SELECT id FROM users WHERE email = %s", (email,)).fetchone()
                    assert user is not None
                    session = conn.execute(
                        "INSERT INTO auth_sessions (tenant_id, user_id, expires_at) "
                        "VALUES (%s, %s, now() + interval '1 day') RETURNING id",
                        (tenant_id, user[0]),
                    ).fetchone()
                    assert session is not None
                    account["token"] = tokens.issue(
                        user_id=user[0], tenant_id=tenant_id, email=email, role=role, session_id=session[0]
                    )
                if role == "editor":
                    editors_by_tenant.setdefault(slug, []).append(email)
                classes[name].append(account)
        for slug, editors in editors_by_tenant.items():  # four eyes: a second editor to review
            if len(editors) == 1:
                email = f"pruefer@{slug}.de"
                _add_user(conn, tenant[slug][0], tenant[slug][1], email, "editor", "Prüfer")
                editors.append(email)
        for account in classes["ContentEditor"]:
            account["reviewers"] = [e for e in editors_by_tenant[account["tenant"]] if e != account["email"]]
        # Share the generator's contracts out over every lawyer of the firm.
        conn.execute(
            "UPDATE contracts c SET creator_id = l.ids[1 + abs(hashtext(c.id::text)) % cardinality(l.ids)] "
            "FROM (SELECT tenant_id, array_agg(id ORDER BY id) AS ids FROM users WHERE role = 'user' "
            "GROUP BY tenant_id) l WHERE l.tenant_id = c.tenant_id"
        )
        day = conn.execute(
            "SELECT (min(created_at) + (max(created_at) - min(created_at)) / 2)::date FROM audit_events"
        ).fetchone()
        conn.execute("VACUUM ANALYZE")
    assert day is not None
    return {"password": PASSWORD, "auditDay": str(day[0]), "classes": classes}, report


def write_accounts(path: Path, accounts: dict[str, Any]) -> None:
    path.write_text(json.dumps(accounts, indent=1, ensure_ascii=False))

"""Scale data for benchmarks and plan tests: `servanda demo scale`.

The parts where speed allows go through the real services: the tenants
(PlatformService, audited), their users (bootstrap_user), one shipped content
pack imported and published into a vendor tenant (import_pack), and in each
law firm one contract per published template (ContractService.create: real
pins, real evaluation, real audit event). The bulk rows are clones of those
prototypes written with COPY: contracts carry the prototype's pins (the
published template version and clause version ids), answers and stored
validation state, so every one of them opens through the API; audit events
continue each tenant's hash chain exactly as ``audit/chain.py`` computes it,
so ``servanda audit verify`` passes.

COPY cannot write into a table with row-level security as the application
role, so the rows are copied into a temporary table first and moved with one
``INSERT ... SELECT`` per tenant inside that tenant (RLS checks every row).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from servanda.audit import chain
from servanda.platform import errors
from servanda.platform.db import Database

PASSWORD = "servanda-scale-demo"  # noqa: S105 - generated benchmark data only
KINDS = ("Arbeitsvertrag", "Dienstleistungsvertrag", "Geheimhaltungsvereinbarung", "Aufhebungsvertrag")
CLIENTS = (
    "Müller GmbH",
    "Schmidt & Partner",
    "Bäckerei Weber",
    "Hoffmann AG",
    "Krüger Logistik",
    "Fischer Software",
    "Wagner Bau",
    "Becker Pharma",
    "Schulz Handel",
    "Zimmermann KG",
)
ACTIONS = (  # realistic mix of a law firm's trail
    ("contract.update", 60),
    ("contract.create", 12),
    ("export.request", 10),
    ("auth.login", 10),
    ("contract.complete", 5),
    ("contract.archive", 3),
)
CONTRACT_COLUMNS = (
    "id",
    "tenant_id",
    "creator_id",
    "title",
    "client_reference",
    "tags",
    "jurisdiction",
    "template_version_id",
    "clause_version_ids",
    "answers",
    "selected_slots",
    "dismissed_warnings",
    "validation_state",
    "validation_messages",
    "status",
    "completed_at",
    "visibility",
    "created_at",
    "updated_at",
)
AUDIT_COLUMNS = (
    "id",
    "tenant_id",
    "actor_id",
    "action",
    "object_type",
    "object_id",
    "details",
    "ip_address",
    "request_id",
    "created_at",
    "seq",
    "prev_hash",
    "hash",
)


@dataclass
class ScaleReport:
    tenants: int
    contracts: int
    audit_events: int
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    tenant_slugs: list[str] = field(default_factory=list)
    vendor_slug: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenants": self.tenants,
            "contracts": self.contracts,
            "auditEvents": self.audit_events,
            "seconds": round(self.seconds, 1),
            "phases": {k: round(v, 1) for k, v in self.phases.items()},
        }


@dataclass(frozen=True)
class _Prototype:
    template_version_id: uuid.UUID
    clause_version_ids: list[uuid.UUID]
    jurisdiction: str
    answers: str
    selected_slots: str
    dismissed_warnings: str
    validation_state: str
    validation_messages: str


def _libpq(url: str) -> str:
    u = make_url(url)
    return u.set(drivername="postgresql").render_as_string(hide_password=False)


def _share(total: int, parts: int, index: int) -> int:
    return total // parts + (1 if index < total % parts else 0)


async def _services_part(
    admin_db: Database, app_db: Database, prefix: str, tenants: int
) -> tuple[list[tuple[uuid.UUID, str, list[uuid.UUID]]], str]:
    """Tenants, users, the published pack and one prototype contract per template and firm."""
    from servanda.content.packs import import_pack, shipped_packs
    from servanda.content.service import ContentService
    from servanda.contracts.service import ContractService
    from servanda.identity.service import acting_user, bootstrap_user
    from servanda.tenants.platform import PlatformService

    vendor = f"{prefix}-verlag"
    slugs = [f"{prefix}-kanzlei-{n:03d}" for n in range(1, tenants + 1)]
    for slug, kind, name in [(vendor, "vendor", "Scale-Verlag")] + [
        (s, "lawfirm", f"Kanzlei {s[-3:]}") for s in slugs
    ]:
        async with admin_db.session(None) as session:
            await PlatformService(session).create_tenant(slug=slug, name=name, type=kind)
    async with app_db.session(None) as session:
        await bootstrap_user(
            session, tenant_slug=vendor, email=f"admin@{vendor}.de", role="admin", password=PASSWORD
        )
    packs = shipped_packs()
    if not packs:
        raise errors.NotFound(
            "content.no_shipped_packs", "Es wurden keine mitgelieferten Inhaltspakete gefunden."
        )
    pack = json.loads(packs[0].read_text(encoding="utf-8"))
    async with app_db.session(None) as session:
        principal = await acting_user(session, vendor)
        await import_pack(ContentService(session), principal, pack, publish=True)
    firms: list[tuple[uuid.UUID, str, list[uuid.UUID]]] = []
    for slug in slugs:
        async with app_db.session(None) as session:
            users = [
                (
                    await bootstrap_user(
                        session, tenant_slug=slug, email=f"{local}@{slug}.de", role=role, password=PASSWORD
                    )
                ).id
                for local, role in (("admin", "admin"), ("anwalt", "user"), ("anwaeltin", "user"))
            ]
        async with app_db.session(None) as session:
            principal = await acting_user(session, slug, f"anwalt@{slug}.de")
            templates = (
                await session.execute(
                    text(
                        "SELECT id, title FROM templates WHERE current_published_version_id IS NOT NULL "
                        "ORDER BY title"
                    )
                )
            ).all()
            for template_id, title in templates:
                await ContractService(session).create(
                    principal,
                    template_id=template_id,
                    title=f"{title} (Muster)",
                    client_reference=None,
                    tags=[],
                    jurisdiction=None,
                    visibility="private",
                    team_id=None,
                )
        firms.append((principal.tenant_id, slug, users))
    return firms, vendor


def _prototypes(conn: psycopg.Connection[Any], tenant_id: uuid.UUID) -> list[_Prototype]:
    conn.execute("SELECT set_config('app.current_tenant_id', %s, true)", (str(tenant_id),))
    rows = conn.execute(
        "SELECT template_version_id, clause_version_ids, jurisdiction, answers::text, selected_slots::text, "
        "dismissed_warnings::text, validation_state, validation_messages::text FROM contracts ORDER BY title"
    ).fetchall()
    return [_Prototype(*row) for row in rows]


def _copy_into(
    conn: psycopg.Connection[Any],
    table: str,
    columns: tuple[str, ...],
    tenant_id: uuid.UUID,
    rows: Callable[[psycopg.Copy], None],
) -> None:
    """COPY into a temporary twin of ``table``, then move the rows in with RLS applying (one tenant)."""
    staging = f"scale_{table}"
    # with its defaults: columns the generator does not write (e.g. a NOT NULL one added later) get them
    conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {staging} (LIKE {table} INCLUDING DEFAULTS)")
    conn.execute(f"TRUNCATE {staging}")
    names = ", ".join(columns)
    with conn.cursor().copy(f"COPY {staging} ({names}) FROM STDIN") as copy:
        rows(copy)
    conn.execute("SELECT set_config('app.current_tenant_id', %s, true)", (str(tenant_id),))
    conn.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {staging}")


def _contracts(
    conn: psycopg.Connection[Any],
    rng: random.Random,
    tenant_id: uuid.UUID,
    users: list[uuid.UUID],
    prototypes: list[_Prototype],
    count: int,
    now: datetime,
) -> list[uuid.UUID]:
    ids = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(count)]

    def rows(copy: psycopg.Copy) -> None:
        for n, contract_id in enumerate(ids):
            p = prototypes[n % len(prototypes)]
            updated = now - timedelta(seconds=rng.randrange(365 * 86400), microseconds=rng.randrange(10**6))
            created = updated - timedelta(seconds=rng.randrange(30 * 86400))
            roll = rng.random()
            status = "draft" if roll < 0.7 else "completed" if roll < 0.95 else "archived"
            client = rng.choice(CLIENTS)
            copy.write_row(
                (
                    contract_id,
                    tenant_id,
                    rng.choice(users),
                    f"{rng.choice(KINDS)} {client} {n}",
                    f"AZ {updated.year}/{n:06d}",
                    [client.split()[0].lower()],
                    p.jurisdiction,
                    p.template_version_id,
                    p.clause_version_ids,
                    p.answers,
                    p.selected_slots,
                    p.dismissed_warnings,
                    p.validation_state,
                    p.validation_messages,
                    status,
                    updated if status != "draft" else None,
                    "private",
                    created,
                    updated,
                )
            )

    _copy_into(conn, "contracts", CONTRACT_COLUMNS, tenant_id, rows)
    return ids


def _audit_events(
    conn: psycopg.Connection[Any],
    rng: random.Random,
    tenant_id: uuid.UUID,
    users: list[uuid.UUID],
    contract_ids: list[uuid.UUID],
    count: int,
    now: datetime,
) -> None:
    """Continue the tenant's chain after its last (service-written) event, spread over the past year."""
    conn.execute("SELECT set_config('app.current_tenant_id', %s, true)", (str(tenant_id),))
    last = conn.execute("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (last[0], last[1]) if last else (0, chain.GENESIS)
    actions = [a for a, weight in ACTIONS for _ in range(weight)]
    start = now - timedelta(days=365)
    step = timedelta(days=365) / max(count, 1)

    def rows(copy: psycopg.Copy) -> None:
        nonlocal seq, prev
        for n in range(count):
            seq += 1
            action = rng.choice(actions)
            actor = rng.choice(users)
            object_type: str = "contract"
            object_id: str | None = str(rng.choice(contract_ids)) if contract_ids else None
            details: dict[str, Any] = {"fields": rng.randrange(1, 6)} if action == "contract.update" else {}
            if action == "auth.login":
                object_type, object_id, details = "user", str(actor), {"method": "password"}
            ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            request_id = f"{rng.getrandbits(64):016x}"
            created = start + step * n
            digest = chain.link_hash(
                prev,
                chain.canonical(
                    tenant_id=tenant_id,
                    seq=seq,
                    actor_id=actor,
                    action=action,
                    object_type=object_type,
                    object_id=object_id,
                    details=details,
                    ip_address=ip,
                    request_id=request_id,
                    created_at=created,
                ),
            )
            copy.write_row(
                (
                    uuid.UUID(int=rng.getrandbits(128), version=4),
                    tenant_id,
                    actor,
                    action,
                    object_type,
                    object_id,
                    json.dumps(details),
                    ip,
                    request_id,
                    created,
                    seq,
                    prev,
                    digest,
                )
            )
            prev = digest

    _copy_into(conn, "audit_events", AUDIT_COLUMNS, tenant_id, rows)


async def generate(
    admin_url: str,
    app_url: str,
    *,
    tenants: int,
    contracts: int,
    audit_events: int,
    prefix: str = "scale",
    seed: int = 15,
    progress: Callable[[str], None] = lambda _: None,
) -> ScaleReport:
    """Generate ``tenants`` law firms (plus one vendor) with ``contracts`` and ``audit_events`` in all."""
    report = ScaleReport(tenants, contracts, audit_events)
    started = time.perf_counter()
    admin_db = Database(admin_url, pool_size=1, application_name="servanda-scale")
    app_db = Database(app_url, pool_size=1, application_name="servanda-scale")
    try:
        firms, report.vendor_slug = await _services_part(admin_db, app_db, prefix, tenants)
    finally:
        await admin_db.dispose()
        await app_db.dispose()
    report.tenant_slugs = [slug for _, slug, _ in firms]
    report.phases["services"] = time.perf_counter() - started
    progress(f"tenants, users, pack and prototypes through the services: {report.phases['services']:.1f} s")
    rng = random.Random(seed)  # noqa: S311 - reproducible data, not secrets
    now = datetime.now(UTC)
    mark = time.perf_counter()
    with psycopg.connect(_libpq(app_url)) as conn:
        contract_ids: dict[uuid.UUID, list[uuid.UUID]] = {}
        for index, (tenant_id, _, users) in enumerate(firms):
            prototypes = _prototypes(conn, tenant_id)
            count = max(0, _share(contracts, len(firms), index) - len(prototypes))
            contract_ids[tenant_id] = _contracts(conn, rng, tenant_id, users, prototypes, count, now)
            conn.commit()
        report.phases["contracts"] = time.perf_counter() - mark
        progress(f"{contracts} contracts: {report.phases['contracts']:.1f} s")
        mark = time.perf_counter()
        for index, (tenant_id, _, users) in enumerate(firms):
            count = _share(audit_events, len(firms), index)
            _audit_events(conn, rng, tenant_id, users, contract_ids[tenant_id], count, now)
            conn.commit()
        report.phases["audit_events"] = time.perf_counter() - mark
        progress(f"{audit_events} audit events: {report.phases['audit_events']:.1f} s")
    mark = time.perf_counter()
    with psycopg.connect(_libpq(admin_url), autocommit=True) as conn:
        conn.execute("ANALYZE contracts")
        conn.execute("ANALYZE audit_events")
    report.phases["analyze"] = time.perf_counter() - mark
    report.seconds = time.perf_counter() - started
    return report

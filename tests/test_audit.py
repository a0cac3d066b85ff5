"""The audit trail: hash chain verification, tamper detection, retention, privileges, the audit-log API."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import errors

from servanda.audit import chain as audit_chain
from servanda.audit import service as audit
from servanda.audit.repository import AuditRepository
from servanda.platform.db import Database
from tests import factories
from tests.auth_helpers import ensure_user, login_as
from tests.conftest import APP, MAINT, TEST_DATABASE, DbUnderTest, sa_to_libpq

T = TypeVar("T")
Connect = Callable[..., psycopg.Connection]
LIST_URL = "/api/v1/identity/audit-logs"
EXPORT_URL = "/api/v1/identity/audit-logs/export"


def run(url: str, action: Callable[[Database], Awaitable[T]]) -> T:
    async def main() -> T:
        db = Database(url, pool_size=2, application_name="servanda-test")
        try:
            return await action(db)
        finally:
            await db.dispose()

    return asyncio.run(main())


def append(url: str, tenant_id: uuid.UUID, *events: dict[str, Any]) -> None:
    """Append through the repository as the application role, one transaction per event."""

    async def action(db: Database) -> None:
        for event in events:
            async with db.session(tenant_id) as session:
                await AuditRepository(session).append(tenant_id=tenant_id, **event)

    run(url, action)


def verify(clean_db: DbUnderTest, slug: str | None = None) -> dict[str, audit.ChainReport]:
    return {r.tenant_slug: r for r in run(clean_db.owner, lambda db: audit.verify_chains(db, slug))}


def maintenance_url(clean_db: DbUnderTest) -> str:
    return clean_db.role_url(MAINT, TEST_DATABASE)


def servanda(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
    return subprocess.run(
        [sys.executable, "-m", "servanda", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def cli_env(clean_db: DbUnderTest) -> dict[str, str]:
    return {
        "DATABASE_URL": clean_db.app,
        "DATABASE_ADMIN_URL": clean_db.owner,
        "DATABASE_MAINTENANCE_URL": maintenance_url(clean_db),
    }


@contextmanager
def tampering(su: psycopg.Connection) -> Iterator[None]:
    """What an attacker with superuser access could do: switch the append-only trigger off."""
    su.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
    try:
        yield
    finally:
        su.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")


def event_hash(su: psycopg.Connection, tenant_id: uuid.UUID, seq: int) -> str:
    row = su.execute(
        "SELECT hash FROM audit_events WHERE tenant_id = %s AND seq = %s", (tenant_id, seq)
    ).fetchone()
    assert row is not None
    return str(row[0])


def seqs(su: psycopg.Connection, tenant_id: uuid.UUID) -> list[int]:
    rows = su.execute(
        "SELECT seq FROM audit_events WHERE tenant_id = %s ORDER BY seq", (tenant_id,)
    ).fetchall()
    return [r[0] for r in rows]


RICH_EVENTS: tuple[dict[str, Any], ...] = (
    {"action": "user.login", "actor_id": uuid.uuid4(), "ip_address": "203.0.113.7", "request_id": "req-1"},
    {
        "action": "team.create",
        "object_type": "team",
        "object_id": "t-1",
        "details": {"name": "Arbeitsrecht – Süd", "members": [1, 2.5, None], "nested": {"b": True, "a": "ß"}},
    },
    {"action": "tenant.settings_change", "details": {"from": {"retentionDays": 90}, "to": {}}},
    {"action": "user.logout", "ip_address": "2001:db8::1"},
    {"action": "contract.create", "object_type": "contract", "object_id": str(uuid.uuid4())},
)


# --- the chain -----------------------------------------------------------------------------------


def test_chain_holds_after_appends_through_the_repository(
    clean_db: DbUnderTest, su: psycopg.Connection, make_tenant: Callable[..., uuid.UUID]
) -> None:
    a = make_tenant("kanzlei-a")
    b = make_tenant("kanzlei-b")
    make_tenant("kanzlei-leer")
    append(clean_db.app, a, *RICH_EVENTS)
    factories.audit_event(su, b, "user.login")
    append(clean_db.app, b, {"action": "user.logout"})

    assert seqs(su, a) == [1, 2, 3, 4, 5]
    first = su.execute("SELECT prev_hash FROM audit_events WHERE tenant_id = %s AND seq = 1", (a,)).fetchone()
    assert first == (audit_chain.GENESIS,)
    reports = verify(clean_db)
    assert list(reports) == ["kanzlei-a", "kanzlei-b", "kanzlei-leer"]
    assert [(r.events_checked, r.intact) for r in reports.values()] == [(5, True), (2, True), (0, True)]
    only_b = verify(clean_db, "kanzlei-b")
    assert list(only_b) == ["kanzlei-b"]


def test_the_chain_lock_is_taken_at_commit_not_held_through_the_transaction(
    clean_db: DbUnderTest, su: psycopg.Connection, make_tenant: Callable[..., uuid.UUID]
) -> None:
    """A request that recorded an event early must not block its firm's other writers until it ends.

    The first transaction records, then keeps working; a second one records and commits meanwhile.
    With the lock taken at record time the second waits for the first (here: forever, so the
    timeout fails the test). The chain stays linear: the second commits first, so it is seq 1.
    """
    a = make_tenant("kanzlei-a")

    async def action(db: Database) -> None:
        async with db.session(a) as first:
            await AuditRepository(first).append(tenant_id=a, action="contract.update", object_id="first")
            await AuditRepository(first).append(tenant_id=a, action="contract.update", object_id="first-2")

            async def second() -> None:
                async with db.session(a) as session:
                    await AuditRepository(session).append(
                        tenant_id=a, action="contract.update", object_id="second"
                    )

            await asyncio.wait_for(second(), timeout=30)

        async def rolled_back() -> None:
            async with db.session(a) as session:
                await AuditRepository(session).append(tenant_id=a, action="contract.update", object_id="lost")
                raise RuntimeError("rolled back")

        with pytest.raises(RuntimeError, match="rolled back"):
            await rolled_back()

    run(clean_db.app, action)
    rows = su.execute(
        "SELECT seq, object_id FROM audit_events WHERE tenant_id = %s ORDER BY seq", (a,)
    ).fetchall()
    assert rows == [(1, "second"), (2, "first"), (3, "first-2")]
    assert verify(clean_db, "kanzlei-a")["kanzlei-a"].intact


def test_a_commit_that_skips_the_before_commit_actions_is_refused(
    clean_db: DbUnderTest, su: psycopg.Connection, make_tenant: Callable[..., uuid.UUID]
) -> None:
    """An event recorded in a session committed past Database.session's hook is not lost silently."""
    a = make_tenant("kanzlei-a")

    async def action(db: Database) -> None:
        async with db.sessionmaker() as session:
            await session.begin()
            await AuditRepository(session).append(tenant_id=a, action="user.login")
            with pytest.raises(RuntimeError, match="before-commit actions not run"):
                await session.commit()

    run(clean_db.app, action)
    assert seqs(su, a) == []


@dataclass(frozen=True)
class Tamper:
    name: str
    statements: tuple[str, ...]
    broken_seq: int
    reason: str


TAMPERS = (
    Tamper(
        "details changed",
        ('UPDATE audit_events SET details = \'{"name": "harmlos"}\' WHERE tenant_id = %(t)s AND seq = 3',),
        3,
        "altered",
    ),
    Tamper(
        "actor changed",
        ("UPDATE audit_events SET actor_id = NULL WHERE tenant_id = %(t)s AND seq = 1",),
        1,
        "altered",
    ),
    Tamper(
        "middle event deleted",
        ("DELETE FROM audit_events WHERE tenant_id = %(t)s AND seq = 3",),
        3,
        "missing",
    ),
    Tamper(
        "first event deleted", ("DELETE FROM audit_events WHERE tenant_id = %(t)s AND seq = 1",), 1, "missing"
    ),
    Tamper(
        "renumbered after a deletion",
        (
            "DELETE FROM audit_events WHERE tenant_id = %(t)s AND seq = 3",
            "UPDATE audit_events SET seq = 3 WHERE tenant_id = %(t)s AND seq = 4",
            "UPDATE audit_events SET seq = 4 WHERE tenant_id = %(t)s AND seq = 5",
        ),
        3,
        "prev_hash",
    ),
)


def _rehash_third_event(su: psycopg.Connection, tenant_id: uuid.UUID) -> None:
    """Alter event 3 and give it a correct hash of its own, without fixing event 4's link."""
    row = su.execute(
        "SELECT seq, actor_id, object_type, object_id, details, host(ip_address), request_id, created_at, prev_hash "
        "FROM audit_events WHERE tenant_id = %s AND seq = 3",
        (tenant_id,),
    ).fetchone()
    assert row is not None
    seq, actor_id, object_type, object_id, details, ip, request_id, created_at, prev_hash = row
    forged = audit_chain.link_hash(
        prev_hash,
        audit_chain.canonical(
            tenant_id=tenant_id,
            seq=seq,
            actor_id=actor_id,
            action="user.login",
            object_type=object_type,
            object_id=object_id,
            details=details,
            ip_address=ip,
            request_id=request_id,
            created_at=created_at,
        ),
    )
    su.execute(
        "UPDATE audit_events SET action = 'user.login', hash = %s WHERE tenant_id = %s AND seq = 3",
        (forged, tenant_id),
    )


@pytest.mark.parametrize("tamper", TAMPERS, ids=lambda t: t.name)
def test_verify_reports_the_first_broken_link(
    tamper: Tamper,
    clean_db: DbUnderTest,
    su: psycopg.Connection,
    make_tenant: Callable[..., uuid.UUID],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(audit, "VERIFY_BATCH", 2)  # the walk crosses batch boundaries
    a = make_tenant("kanzlei-a")
    b = make_tenant("kanzlei-b")
    append(clean_db.app, a, *RICH_EVENTS)
    append(clean_db.app, b, *RICH_EVENTS[:2])
    assert all(r.intact for r in verify(clean_db).values())

    with tampering(su):
        for statement in tamper.statements:
            assert su.execute(statement, {"t": a}).rowcount >= 1

    reports = verify(clean_db)
    assert reports["kanzlei-a"].broken is not None
    assert reports["kanzlei-a"].broken.seq == tamper.broken_seq
    assert tamper.reason in reports["kanzlei-a"].broken.reason
    assert reports["kanzlei-b"].intact and reports["kanzlei-b"].events_checked == 2


def test_a_rehashed_event_breaks_the_next_link(
    clean_db: DbUnderTest, su: psycopg.Connection, make_tenant: Callable[..., uuid.UUID]
) -> None:
    a = make_tenant("kanzlei-a")
    append(clean_db.app, a, *RICH_EVENTS)
    with tampering(su):
        _rehash_third_event(su, a)
    broken = verify(clean_db)["kanzlei-a"].broken
    assert broken is not None
    assert (broken.seq, broken.reason) == (4, "prev_hash does not match the previous event's hash")


def test_verify_command_exit_codes_and_output(
    cli_env: dict[str, str],
    clean_db: DbUnderTest,
    su: psycopg.Connection,
    make_tenant: Callable[..., uuid.UUID],
) -> None:
    a = make_tenant("kanzlei-a")
    b = make_tenant("kanzlei-b")
    append(clean_db.app, a, *RICH_EVENTS)
    append(clean_db.app, b, *RICH_EVENTS[:3])

    intact = servanda("audit", "verify", env=cli_env)
    assert intact.returncode == 0, intact.stderr
    assert intact.stdout.splitlines() == [
        "kanzlei-a: 5 events, chain intact",
        "kanzlei-b: 3 events, chain intact",
    ]

    with tampering(su):
        su.execute("UPDATE audit_events SET details = '{}' WHERE tenant_id = %s AND seq = 2", (a,))
    broken = servanda("audit", "verify", env=cli_env)
    assert broken.returncode == 1
    lines = broken.stdout.splitlines()
    assert lines[0].startswith("kanzlei-a: chain broken at seq 2: content does not match its hash")
    assert lines[1] == "kanzlei-b: 3 events, chain intact"
    assert "failed for 1 of 2 tenant(s)" in broken.stderr

    only_b = servanda("audit", "verify", "--tenant", "kanzlei-b", env=cli_env)
    assert only_b.returncode == 0, only_b.stderr
    assert only_b.stdout.strip() == "kanzlei-b: 3 events, chain intact"
    unknown = servanda("audit", "verify", "--tenant", "gibt-es-nicht", env=cli_env)
    assert unknown.returncode == 1
    assert "[tenant.not_found]" in unknown.stderr

    no_owner = servanda("audit", "verify", env={"DATABASE_URL": clean_db.app})
    assert no_owner.returncode == 2
    assert "DATABASE_ADMIN_URL" in no_owner.stderr


# --- retention ------------------------------------------------------------------------------------

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
AGES_DAYS = (400, 200, 100, 40, 10)


@dataclass(frozen=True)
class RetentionTenants:
    starter: uuid.UUID
    enterprise: uuid.UUID
    short: uuid.UUID
    team: uuid.UUID


@pytest.fixture
def retention_tenants(su: psycopg.Connection, make_tenant: Callable[..., uuid.UUID]) -> RetentionTenants:
    tenants = RetentionTenants(
        starter=make_tenant("kanzlei-starter"),
        enterprise=make_tenant("verlag-enterprise", "vendor"),
        short=make_tenant("kanzlei-kurz"),
        team=make_tenant("kanzlei-team"),
    )
    settings = {
        tenants.enterprise: {"plan": "enterprise"},
        tenants.short: {"plan": "enterprise", "retentionDays": 30},  # explicit retention wins over the plan
        tenants.team: {"plan": "team"},
    }
    for tenant_id, value in settings.items():
        su.execute("UPDATE tenants SET settings = %s::jsonb WHERE id = %s", (json.dumps(value), tenant_id))
    for tenant_id in (tenants.starter, tenants.enterprise, tenants.short, tenants.team):
        for age in AGES_DAYS:
            factories.audit_event(su, tenant_id, "user.login", created_at=NOW - timedelta(days=age))
    return tenants


def purges(su: psycopg.Connection, tenant_id: uuid.UUID) -> list[tuple[Any, ...]]:
    return su.execute(
        "SELECT cutoff, purged_count, last_seq, last_hash, purged_by FROM audit_purges "
        "WHERE tenant_id = %s ORDER BY last_seq",
        (tenant_id,),
    ).fetchall()


def test_purge_removes_expired_events_by_plan_and_settings_and_keeps_the_chain_verifiable(
    clean_db: DbUnderTest, su: psycopg.Connection, retention_tenants: RetentionTenants
) -> None:
    t = retention_tenants
    anchors = {
        tenant: {seq: event_hash(su, tenant, seq) for seq in range(1, 6)}
        for tenant in (t.starter, t.short, t.team)
    }

    results = run(maintenance_url(clean_db), lambda db: audit.purge_expired(db, NOW))

    assert [(r.tenant_slug, r.retention_days, r.purged, r.cutoff) for r in results] == [
        ("kanzlei-kurz", 30, 4, NOW - timedelta(days=30)),
        ("kanzlei-starter", 90, 3, NOW - timedelta(days=90)),
        ("kanzlei-team", 180, 2, NOW - timedelta(days=180)),
    ]
    assert seqs(su, t.starter) == [4, 5]
    assert seqs(su, t.enterprise) == [1, 2, 3, 4, 5]
    assert seqs(su, t.short) == [5]
    assert seqs(su, t.team) == [3, 4, 5]
    assert purges(su, t.starter) == [(NOW - timedelta(days=90), 3, 3, anchors[t.starter][3], MAINT)]
    assert purges(su, t.short) == [(NOW - timedelta(days=30), 4, 4, anchors[t.short][4], MAINT)]
    assert purges(su, t.team) == [(NOW - timedelta(days=180), 2, 2, anchors[t.team][2], MAINT)]
    assert purges(su, t.enterprise) == []

    reports = verify(clean_db)
    assert {slug: (r.intact, r.events_checked, r.anchor_seq) for slug, r in reports.items()} == {
        "kanzlei-kurz": (True, 1, 4),
        "kanzlei-starter": (True, 2, 3),
        "kanzlei-team": (True, 3, 2),
        "verlag-enterprise": (True, 5, 0),
    }

    # Nothing more has expired: a second run at the same moment changes nothing.
    assert run(maintenance_url(clean_db), lambda db: audit.purge_expired(db, NOW)) == []
    assert len(purges(su, t.starter)) == 1

    # A deletion right after the anchor is still caught.
    with tampering(su):
        su.execute("DELETE FROM audit_events WHERE tenant_id = %s AND seq = 4", (t.starter,))
    broken = verify(clean_db, "kanzlei-starter")["kanzlei-starter"].broken
    assert broken is not None and broken.seq == 4


def test_after_a_full_purge_the_next_append_continues_from_the_anchor(
    clean_db: DbUnderTest, su: psycopg.Connection, retention_tenants: RetentionTenants
) -> None:
    t = retention_tenants
    last_hash = event_hash(su, t.starter, 5)
    results = run(maintenance_url(clean_db), lambda db: audit.purge_expired(db, NOW + timedelta(days=1000)))
    assert {r.tenant_slug: r.purged for r in results} == {
        "kanzlei-kurz": 5,
        "kanzlei-starter": 5,
        "kanzlei-team": 5,
    }
    assert seqs(su, t.starter) == []
    assert verify(clean_db)["kanzlei-starter"].intact

    append(clean_db.app, t.starter, {"action": "user.login"}, {"action": "user.logout"})
    rows = su.execute(
        "SELECT seq, prev_hash FROM audit_events WHERE tenant_id = %s ORDER BY seq", (t.starter,)
    ).fetchall()
    assert rows[0] == (6, last_hash)
    assert rows[1][0] == 7
    report = verify(clean_db)["kanzlei-starter"]
    assert (report.intact, report.events_checked, report.anchor_seq) == (True, 2, 5)


def test_purge_command(
    cli_env: dict[str, str],
    clean_db: DbUnderTest,
    su: psycopg.Connection,
    retention_tenants: RetentionTenants,
) -> None:
    purged = servanda("audit", "purge", "--now", NOW.isoformat(), env=cli_env)
    assert purged.returncode == 0, purged.stderr
    lines = purged.stdout.splitlines()
    assert [line.split(" older than ")[0] for line in lines] == [
        "kanzlei-kurz: purged 4 events",
        "kanzlei-starter: purged 3 events",
        "kanzlei-team: purged 2 events",
    ]
    assert lines[1].endswith("(retention 90 days)")
    assert seqs(su, retention_tenants.starter) == [4, 5]
    verified = servanda("audit", "verify", env=cli_env)
    assert verified.returncode == 0, verified.stderr
    assert "kanzlei-starter: 2 events, chain intact (from retention anchor 3)" in verified.stdout.splitlines()

    again = servanda("audit", "purge", "--now", NOW.isoformat(), env=cli_env)
    assert (again.returncode, again.stdout.strip()) == (0, "nothing to purge")

    without = servanda(
        "audit", "purge", env={k: v for k, v in cli_env.items() if k != "DATABASE_MAINTENANCE_URL"}
    )
    assert without.returncode == 2
    assert "DATABASE_MAINTENANCE_URL" in without.stderr
    bad_now = servanda("audit", "purge", "--now", "gestern", env=cli_env)
    assert bad_now.returncode == 2
    assert "--now" in bad_now.stderr
    assert seqs(su, retention_tenants.enterprise) == [1, 2, 3, 4, 5]


# --- privileges -----------------------------------------------------------------------------------


def test_maintenance_role_may_run_the_retention_function_and_nothing_else(
    clean_db: DbUnderTest, retention_tenants: RetentionTenants
) -> None:
    with psycopg.connect(sa_to_libpq(maintenance_url(clean_db)), autocommit=True) as maint:
        tables = [
            r[0]
            for r in maint.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            ).fetchall()
        ]
        assert "audit_events" in tables and "audit_purges" in tables and "tenants" in tables
        for table in tables:
            row = maint.execute(
                "SELECT has_table_privilege(current_user, %s, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE')",
                (f"public.{table}",),
            ).fetchone()
            assert row == (False,), table
            with pytest.raises(errors.InsufficientPrivilege):
                maint.execute(f"SELECT 1 FROM {table} LIMIT 1")
        for statement in (
            "UPDATE audit_events SET action = 'x'",
            "DELETE FROM audit_events",
            "DELETE FROM audit_purges",
            "INSERT INTO audit_purges (tenant_id, cutoff, purged_count, last_seq, last_hash, purged_by) "
            "VALUES (gen_random_uuid(), now(), 0, 0, '', 'x')",
        ):
            with pytest.raises(errors.InsufficientPrivilege):
                maint.execute(statement)
        for function in ("servanda_tenant_by_slug('kanzlei-starter')", "servanda_active_tenant_count()"):
            with pytest.raises(errors.InsufficientPrivilege):
                maint.execute(f"SELECT * FROM {function}")
        purged = maint.execute("SELECT slug, purged FROM servanda_audit_purge_expired(%s)", (NOW,)).fetchall()
        assert purged == [("kanzlei-kurz", 4), ("kanzlei-starter", 3), ("kanzlei-team", 2)]


def test_app_role_can_neither_run_the_retention_function_nor_delete(
    connect_as: Connect, retention_tenants: RetentionTenants, su: psycopg.Connection
) -> None:
    as_app = connect_as(APP, tenant=retention_tenants.starter)
    with pytest.raises(errors.InsufficientPrivilege):
        as_app.execute("SELECT * FROM servanda_audit_purge_expired(%s)", (NOW,))
    as_app.rollback()
    # Setting the flag the trigger honours does not help without the DELETE privilege.
    as_app.execute("SELECT set_config('servanda.retention_purge', 'on', true)")
    with pytest.raises(errors.InsufficientPrivilege):
        as_app.execute("DELETE FROM audit_events")
    assert su.execute("SELECT count(*) FROM audit_events").fetchone() == (20,)
    assert su.execute("SELECT count(*) FROM audit_purges").fetchone() == (0,)


# --- the audit-log API ----------------------------------------------------------------------------

BASE = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
CONTRACT = str(uuid.uuid4())
FORMULA_ACTION = '=HYPERLINK("https://evil.example","klick")'
ITEM_KEYS = {
    "id",
    "seq",
    "actorId",
    "actorName",
    "actorEmail",
    "action",
    "objectType",
    "objectId",
    "details",
    "ipAddress",
    "requestId",
    "createdAt",
    "hash",
    "prevHash",
}


@dataclass(frozen=True)
class Audited:
    a: uuid.UUID
    b: uuid.UUID
    alice: uuid.UUID
    a_ids: set[str]
    b_ids: set[str]


@pytest.fixture
def audited(clean_db: DbUnderTest, su: psycopg.Connection, make_tenant: Callable[..., uuid.UUID]) -> Audited:
    a = make_tenant("kanzlei-a")
    b = make_tenant("kanzlei-b")
    alice = ensure_user(su, a, "editor", "alice@kanzlei-a.de")
    day = timedelta(days=1)
    factories.audit_event(su, a, "user.login", actor_id=alice, created_at=BASE)  # seq 1
    factories.audit_event(su, a, "contract.create", actor_id=alice, object_id=CONTRACT, created_at=BASE + day)
    factories.audit_event(
        su, a, "contract.update", actor_id=alice, object_id=CONTRACT, created_at=BASE + 2 * day
    )
    factories.audit_event(su, a, "user.login", created_at=BASE + 3 * day)  # seq 4, no actor
    factories.audit_event(su, a, FORMULA_ACTION, object_id="@SUM(A1)", created_at=BASE + 4 * day)  # seq 5
    append(
        clean_db.app,
        a,
        {
            "action": "team.create",
            "actor_id": alice,
            "object_type": "team",
            "object_id": "team-1",
            "details": {"name": "Arbeitsrecht – Süd", "members": 3},
            "ip_address": "203.0.113.7",
            "request_id": "req-42",
        },
    )  # seq 6, now
    for action in ("user.login", "contract.create", "user.logout"):
        factories.audit_event(su, b, action, object_id=CONTRACT, created_at=BASE + day)

    def ids(tenant_id: uuid.UUID) -> set[str]:
        return {
            str(r[0]) for r in su.execute("SELECT id FROM audit_events WHERE tenant_id = %s", (tenant_id,))
        }

    return Audited(a, b, alice, ids(a), ids(b))


def get_list(api: TestClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = api.get(LIST_URL, headers=headers, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_admin_lists_own_tenant_events_newest_first(
    api: TestClient, su: psycopg.Connection, audited: Audited
) -> None:
    admin_a = login_as(api, su, audited.a, "admin")
    body = get_list(api, admin_a)
    assert (body["total"], body["page"], body["pageSize"]) == (6, 1, 25)
    assert [item["seq"] for item in body["items"]] == [6, 5, 4, 3, 2, 1]
    assert {item["id"] for item in body["items"]} == audited.a_ids
    assert all(set(item) == ITEM_KEYS for item in body["items"])
    team = body["items"][0]
    assert team["action"] == "team.create"
    assert team["actorId"] == str(audited.alice)
    # the actor's name and e-mail next to the id (issue 10); an event without actor has neither
    su.execute("UPDATE users SET display_name = 'Alice Anwältin' WHERE id = %s", (audited.alice,))
    team = get_list(api, admin_a)["items"][0]
    assert (team["actorName"], team["actorEmail"]) == ("Alice Anwältin", "alice@kanzlei-a.de")
    assert (body["items"][2]["actorName"], body["items"][2]["actorEmail"]) == (None, None)
    assert (team["objectType"], team["objectId"]) == ("team", "team-1")
    assert team["details"] == {"name": "Arbeitsrecht – Süd", "members": 3}
    assert (team["ipAddress"], team["requestId"]) == ("203.0.113.7", "req-42")
    assert team["prevHash"] == body["items"][1]["hash"]
    assert body["items"][-1]["prevHash"] == audit_chain.GENESIS
    assert body["items"][-1]["createdAt"].startswith("2024-03-01T09:00:00")

    admin_b = login_as(api, su, audited.b, "admin")
    foreign = get_list(api, admin_b, pageSize=100)
    assert foreign["total"] == 3
    assert {item["id"] for item in foreign["items"]} == audited.b_ids
    # Filtering by another tenant's values never reaches its rows.
    assert get_list(api, admin_b, actorId=str(audited.alice))["total"] == 0
    assert get_list(api, admin_b, action="team.create")["total"] == 0


@pytest.mark.parametrize(
    ("params", "expected_seqs"),
    [
        ({"action": "user.login"}, [4, 1]),
        ({"action": "user.login", "actorId": "ALICE"}, [1]),
        ({"actorId": "ALICE"}, [6, 3, 2, 1]),
        ({"objectType": "team"}, [6]),
        ({"objectType": "test", "objectId": CONTRACT}, [3, 2]),
        ({"from": "2024-03-02", "to": "2024-03-03"}, [3, 2]),
        ({"from": "2024-03-02T09:00:00Z", "to": "2024-03-02T09:00:00+00:00"}, [2]),
        ({"from": "2024-03-02T10:00:00+01:00", "to": "2024-03-02T10:00:00+01:00"}, [2]),
        ({"from": "2024-03-04"}, [6, 5, 4]),
        ({"to": "2024-03-01T23:59:59"}, [1]),
        ({"action": "does.not.exist"}, []),
    ],
)
def test_filters(
    api: TestClient,
    su: psycopg.Connection,
    audited: Audited,
    params: dict[str, str],
    expected_seqs: list[int],
) -> None:
    params = {k: str(audited.alice) if v == "ALICE" else v for k, v in params.items()}
    body = get_list(api, login_as(api, su, audited.a, "admin"), **params)
    assert [item["seq"] for item in body["items"]] == expected_seqs
    assert body["total"] == len(expected_seqs)


def test_pagination(api: TestClient, su: psycopg.Connection, audited: Audited) -> None:
    admin = login_as(api, su, audited.a, "admin")
    pages = [get_list(api, admin, page=page, pageSize=4) for page in (1, 2, 3)]
    assert [[item["seq"] for item in p["items"]] for p in pages] == [[6, 5, 4, 3], [2, 1], []]
    assert [(p["total"], p["page"], p["pageSize"]) for p in pages] == [(6, 1, 4), (6, 2, 4), (6, 3, 4)]
    filtered = get_list(api, admin, actorId=str(audited.alice), page=2, pageSize=3)
    assert ([item["seq"] for item in filtered["items"]], filtered["total"]) == ([1], 4)


BOTH = (LIST_URL, EXPORT_URL)


@pytest.mark.parametrize(
    ("params", "field", "urls"),
    [
        ({"from": "gestern"}, "from", BOTH),
        ({"to": "2024-13-01"}, "to", BOTH),
        ({"from": "2024-03-05", "to": "2024-03-01"}, "to", BOTH),
        ({"actorId": "kein-uuid"}, "query.actorId", BOTH),
        ({"action": "x" * 101}, "query.action", BOTH),
        ({"pageSize": "101"}, "query.pageSize", (LIST_URL,)),
        ({"page": "0"}, "query.page", (LIST_URL,)),
        ({"format": "xlsx"}, "query.format", (EXPORT_URL,)),
    ],
)
def test_bad_filter_values_are_422(
    api: TestClient,
    su: psycopg.Connection,
    audited: Audited,
    params: dict[str, str],
    field: str,
    urls: tuple[str, ...],
) -> None:
    admin = login_as(api, su, audited.a, "admin")
    for url in urls:
        response = api.get(url, headers=admin, params=params)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        body = response.json()
        assert body["code"] == "request.validation_failed"
        assert field in [e["field"] for e in body["errors"]]


@pytest.mark.parametrize("url", [LIST_URL, EXPORT_URL])
def test_only_admins_may_read_the_audit_log(
    api: TestClient, su: psycopg.Connection, audited: Audited, url: str
) -> None:
    for role in ("editor", "user"):
        response = api.get(url, headers=login_as(api, su, audited.a, role))
        assert response.status_code == 403, role
        assert response.json()["code"] == "auth.forbidden"
    anonymous = api.get(url, params={"from": "kein-datum"})
    assert anonymous.status_code == 401
    assert api.get(url, headers={"Authorization": "Bearer kaputt"}).status_code == 401


def test_csv_export(
    api: TestClient, su: psycopg.Connection, audited: Audited, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "EXPORT_BATCH", 4)  # streamed in several chunks
    admin = login_as(api, su, audited.a, "admin")
    response = api.get(EXPORT_URL, headers=admin, params={"format": "csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    today = datetime.now(UTC).date().isoformat()
    assert response.headers["content-disposition"] == f'attachment; filename="audit-kanzlei-a-{today}.csv"'
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == list(audit.CSV_COLUMNS)
    records = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert [r["seq"] for r in records] == ["1", "2", "3", "4", "5", "6"]  # chronological
    assert {r["id"] for r in records} == audited.a_ids
    formula = records[4]
    assert formula["action"] == "'" + FORMULA_ACTION
    assert formula["objectId"] == "'@SUM(A1)"
    assert records[5]["details"] == '{"members":3,"name":"Arbeitsrecht – Süd"}'
    assert records[5]["ipAddress"] == "203.0.113.7"
    assert records[3]["actorId"] == ""
    assert (records[5]["actorName"], records[5]["actorEmail"]) == ("alice", "alice@kanzlei-a.de")
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in records for cell in r.values())

    filtered = api.get(EXPORT_URL, headers=admin, params={"action": "user.login"})
    assert filtered.headers["content-disposition"].endswith('.csv"')
    assert [row[1] for row in csv.reader(io.StringIO(filtered.text))][1:] == ["1", "4"]

    empty = api.get(EXPORT_URL, headers=admin, params={"action": "does.not.exist"})
    assert list(csv.reader(io.StringIO(empty.text))) == [list(audit.CSV_COLUMNS)]


def test_jsonl_export(api: TestClient, su: psycopg.Connection, audited: Audited) -> None:
    admin_b = login_as(api, su, audited.b, "admin")
    response = api.get(EXPORT_URL, headers=admin_b, params={"format": "jsonl"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert response.headers["content-disposition"].endswith('.jsonl"')
    assert "audit-kanzlei-b-" in response.headers["content-disposition"]
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert {line["id"] for line in lines} == audited.b_ids
    assert [line["action"] for line in lines] == ["user.login", "contract.create", "user.logout"]
    assert all(set(line) == ITEM_KEYS for line in lines)

    admin_a = login_as(api, su, audited.a, "admin")
    team = api.get(EXPORT_URL, headers=admin_a, params={"format": "jsonl", "objectType": "team"})
    (line,) = [json.loads(line) for line in team.text.splitlines()]
    assert line["details"] == {"name": "Arbeitsrecht – Süd", "members": 3}
    assert line["id"] in audited.a_ids
    assert line["hash"] == event_hash(su, audited.a, 6)

"""Generated scale data (small size): valid audit chains, contracts that open, list queries on indexes.

`servanda demo scale` at 3 law firms / 3 000 contracts / 20 000 audit events
(per firm the density of the full scale: 1 000 contracts, ~6 700 events).
The list endpoints run through the API; every statement they send to
``contracts``, ``audit_events`` or ``content_reviews`` is captured at the
driver (``before_cursor_execute``) and run again under ``EXPLAIN (ANALYZE,
FORMAT JSON)`` as the application role in the caller's tenant (RLS on), so
the plans checked are the plans of the real SQL on the generated rows.
Deep pages are checked by what their LIMIT consumes: an OFFSET walk feeds
the LIMIT every skipped row, a keyset range or a page read from the list's
other end feeds it less than two pages.
"""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from servanda.audit.service import verify_chains
from servanda.demo_scale import generate
from servanda.platform.db import Database
from tests.auth_helpers import bearer
from tests.conftest import DbUnderTest, sa_to_libpq

TENANTS, CONTRACTS, AUDIT_EVENTS = 3, 3000, 20_000


LISTED_TABLES = ("contracts", "audit_events", "content_reviews")


@pytest.fixture
def statements() -> Iterator[list[tuple[str, Any]]]:
    """Every SELECT the application sends to a listed table, with its parameters, as sent."""
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, sql: str, params: Any, _context: Any, _many: bool) -> None:
        if sql.lstrip().upper().startswith("SELECT") and any(f"FROM {t}" in sql for t in LISTED_TABLES):
            captured.append((sql, params))

    event.listen(Engine, "before_cursor_execute", capture)
    yield captured
    event.remove(Engine, "before_cursor_execute", capture)


def _analyze(app: psycopg.Connection, tenant_id: uuid.UUID, sql: str, params: Any) -> dict[str, Any]:
    """The executed plan of ``sql`` as the application role inside ``tenant_id`` (RLS on).

    With sequential scans disabled: at this small scale a tiny table (the vendor's few dozen
    reviews) is scanned whole once autovacuum has analysed it, and not before, so the plan
    depended on timing (a CI run failed on it). Disabled, the planner still falls back to a
    sequential scan when no usable index exists, so a missing index still fails the test.
    """
    with app.transaction():
        app.execute("SELECT set_config('app.current_tenant_id', %s, true)", (str(tenant_id),))
        app.execute("SET LOCAL enable_seqscan = off")
        row = app.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params).fetchone()
    assert row is not None
    plan = row[0] if isinstance(row[0], list) else json.loads(row[0])
    return dict(plan[0]["Plan"])


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _limit_input(plan: dict[str, Any]) -> int:
    """Rows fed into the statement's LIMIT: OFFSET + LIMIT for an offset walk."""
    limits = [n for n in _nodes(plan) if n["Node Type"] == "Limit"]
    assert len(limits) == 1, json.dumps(plan, indent=1)
    return sum(int(c["Actual Rows"] * c["Actual Loops"]) for c in limits[0]["Plans"])


def _indexes(plan: dict[str, Any]) -> set[str]:
    """The indexes the plan reads; a sequential scan of a listed table fails the test."""
    for node in _nodes(plan):
        seq_scan = node["Node Type"] == "Seq Scan" and node.get("Relation Name") in LISTED_TABLES
        assert not seq_scan, json.dumps(plan, indent=1)
    return {node["Index Name"] for node in _nodes(plan) if "Index Name" in node}


@pytest.fixture
def scale(clean_db: DbUnderTest) -> DbUnderTest:
    report = asyncio.run(
        generate(
            clean_db.owner, clean_db.app, tenants=TENANTS, contracts=CONTRACTS, audit_events=AUDIT_EVENTS
        )
    )
    assert report.tenant_slugs == [f"scale-kanzlei-{n:03d}" for n in range(1, TENANTS + 1)]
    return clean_db


def _user(su: psycopg.Connection, email: str) -> tuple[uuid.UUID, uuid.UUID]:
    row = su.execute("SELECT tenant_id, id FROM users WHERE email = %s", (email,)).fetchone()
    assert row is not None
    return row[0], row[1]


def _headers(api: TestClient, su: psycopg.Connection, email: str) -> dict[str, str]:
    tenant_id, user_id = _user(su, email)
    return bearer(api, su, tenant_id, user_id)


def test_generated_data_is_consistent_and_lists_use_indexes(
    scale: DbUnderTest, api: TestClient, su: psycopg.Connection, statements: list[tuple[str, Any]]
) -> None:
    # counts as asked
    assert su.execute("SELECT count(*) FROM contracts").fetchone() == (CONTRACTS,)
    per_tenant = su.execute(
        "SELECT t.slug, count(e.*) FROM tenants t JOIN audit_events e ON e.tenant_id = t.id "
        "WHERE t.type = 'lawfirm' GROUP BY t.slug ORDER BY t.slug"
    ).fetchall()
    assert len(per_tenant) == TENANTS
    assert sum(n for _, n in per_tenant) >= AUDIT_EVENTS

    # every chain verifies (the same walk as `servanda audit verify`)
    async def verify() -> list[Any]:
        owner = Database(scale.owner, pool_size=1)
        try:
            return await verify_chains(owner)
        finally:
            await owner.dispose()

    reports = asyncio.run(verify())
    assert len(reports) == TENANTS + 1
    assert [r.broken for r in reports] == [None] * len(reports)
    stored = su.execute("SELECT count(*) FROM audit_events").fetchone()
    assert stored is not None
    assert sum(r.events_checked for r in reports) == stored[0]

    # generated contracts open through the API with their pins and a valid evaluation
    lawyer = _headers(api, su, "anwalt@scale-kanzlei-002.de")
    tenant_id, lawyer_id = _user(su, "anwalt@scale-kanzlei-002.de")
    sample = su.execute(
        "SELECT id, validation_state FROM contracts WHERE tenant_id = %s AND creator_id = %s "
        "ORDER BY random() LIMIT 5",
        (tenant_id, lawyer_id),
    ).fetchall()
    assert len(sample) == 5
    pinned: dict[uuid.UUID, uuid.UUID] = dict(
        su.execute(
            "SELECT c.id, c.template_version_id FROM contracts c WHERE c.id = ANY(%s)",
            ([s[0] for s in sample],),
        ).fetchall()
    )
    for contract_id, state in sample:
        response = api.get(f"/api/v1/contracts/{contract_id}", headers=lawyer)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["validationState"] == state
        assert body["slots"] and body["interview"], body
        assert body["validation"] is not None
        assert body["versionInfo"]["templateVersionId"] == str(pinned[contract_id]), body["versionInfo"]

    # the list queries: on their indexes, deep pages without an offset walk, the same rows as OFFSET
    _check_list_queries(scale, api, su, statements, lawyer, str(sample[0][0]))

    # the export reads in keyset batches by seq: an index range scan on (tenant_id, seq)
    with psycopg.connect(sa_to_libpq(scale.app)) as conn:
        conn.execute("SELECT set_config('app.current_tenant_id', %s, true)", (str(tenant_id),))
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                "EXPLAIN SELECT * FROM audit_events WHERE tenant_id = %s AND seq > %s ORDER BY seq LIMIT 1000",
                (tenant_id, 5000),
            ).fetchall()
        )
    assert "Seq Scan" not in plan and "Index" in plan, plan

    # catalog and the vendor's changelog answer on the generated content
    assert api.get("/api/v1/catalog/templates", headers=lawyer).json()["total"] >= 1
    vendor_admin = _headers(api, su, "admin@scale-verlag.de")
    assert api.get("/api/v1/content/changelog", headers=vendor_admin).status_code == 200


def _pages(total: int, size: int) -> int:
    return max(1, math.ceil(total / size))


def _check_list_queries(
    scale: DbUnderTest,
    api: TestClient,
    su: psycopg.Connection,
    statements: list[tuple[str, Any]],
    lawyer: dict[str, str],
    some_contract: str,
) -> None:
    tenant_id, _ = _user(su, "admin@scale-kanzlei-002.de")
    vendor_id, _ = _user(su, "admin@scale-verlag.de")
    admin = _headers(api, su, "admin@scale-kanzlei-002.de")
    vendor = _headers(api, su, "admin@scale-verlag.de")

    def count(sql: str, *args: object) -> int:
        row = su.execute(sql, args).fetchone()
        assert row is not None
        return int(row[0])

    events = count("SELECT count(*) FROM audit_events WHERE tenant_id = %s", tenant_id)
    updates = count(
        "SELECT count(*) FROM audit_events WHERE tenant_id = %s AND action = 'contract.update'", tenant_id
    )
    contracts = count(
        "SELECT count(*) FROM contracts WHERE tenant_id = %s AND status <> 'archived'", tenant_id
    )
    reviews = count("SELECT count(*) FROM content_reviews WHERE tenant_id = %s", vendor_id)
    assert events > 5000 and updates > 3000 and contracts > 900 and reviews > 10
    # deep = the page before the last: its rows lie between one and two pages from the list's end
    deep_events, deep_updates = _pages(events, 50) - 1, _pages(updates, 25) - 1
    deep_contracts, deep_reviews = _pages(contracts, 25) - 1, _pages(reviews, 5) - 1
    audit_rows = "FROM audit_events WHERE tenant_id = %s {} ORDER BY seq DESC OFFSET %s LIMIT %s"
    checks: list[tuple[dict[str, str], uuid.UUID, str, set[str], tuple[str, tuple[object, ...]] | None]] = [
        # (caller, tenant, request, indexes its page statement must use, the same page by OFFSET)
        (lawyer, tenant_id, "/api/v1/contracts?pageSize=25", set(), None),
        (
            lawyer,
            tenant_id,
            "/api/v1/contracts?status=completed",
            {"ix_contracts_tenant_id_status_updated_at"},
            None,
        ),
        (lawyer, tenant_id, "/api/v1/contracts?q=m%C3%BCller", set(), None),
        (
            admin,
            tenant_id,
            f"/api/v1/contracts?page={deep_contracts}&pageSize=25",
            set(),
            (
                "SELECT id FROM contracts WHERE tenant_id = %s AND status <> 'archived' "
                "ORDER BY updated_at DESC, id OFFSET %s LIMIT 25",
                (tenant_id, (deep_contracts - 1) * 25),
            ),
        ),
        (
            admin,
            tenant_id,
            "/api/v1/identity/audit-logs?pageSize=50",
            {"uq_audit_events_tenant_id_seq"},
            None,
        ),
        (
            admin,
            tenant_id,
            f"/api/v1/identity/audit-logs?page={deep_events}&pageSize=50",
            {"uq_audit_events_tenant_id_seq"},
            ("SELECT id " + audit_rows.format(""), (tenant_id, (deep_events - 1) * 50, 50)),
        ),
        (admin, tenant_id, "/api/v1/identity/audit-logs?action=contract.update", set(), None),
        (
            admin,
            tenant_id,
            f"/api/v1/identity/audit-logs?action=contract.update&page={deep_updates}",
            set(),
            (
                "SELECT id " + audit_rows.format("AND action = 'contract.update'"),
                (tenant_id, (deep_updates - 1) * 25, 25),
            ),
        ),
        (
            admin,
            tenant_id,
            f"/api/v1/identity/audit-logs?objectType=contract&objectId={some_contract}",
            {"ix_audit_events_tenant_id_object"},
            None,
        ),
        (vendor, vendor_id, "/api/v1/content/changelog?pageSize=5", set(), None),
        (
            vendor,
            vendor_id,
            f"/api/v1/content/changelog?page={deep_reviews}&pageSize=5",
            set(),
            (
                "SELECT id FROM content_reviews WHERE tenant_id = %s ORDER BY created_at DESC, id OFFSET %s LIMIT 5",
                (vendor_id, (deep_reviews - 1) * 5),
            ),
        ),
    ]
    with psycopg.connect(sa_to_libpq(scale.app)) as app:
        for headers, tenant, url, indexes, same_as in checks:
            statements.clear()
            response = api.get(url, headers=headers)
            assert response.status_code == 200, (url, response.text)
            page_size = response.json()["pageSize"]
            pages = [(sql, params) for sql, params in statements if "LIMIT" in sql]
            assert len(pages) == 1 and len(statements) <= 3, (url, statements)
            for sql, params in statements:
                plan = _analyze(app, tenant, sql, params)
                used = _indexes(plan)
                # the tenant predicate first: every index is entered by its tenant_id
                conditions = [n.get("Index Cond", "") for n in _nodes(plan) if "Index Name" in n]
                assert used and all("tenant_id = " in c for c in conditions), (url, sql, conditions)
                if "LIMIT" in sql:
                    assert indexes <= used, (url, used, json.dumps(plan, indent=1))
                    # no offset walk: the LIMIT consumes at most two pages, however deep the page
                    assert _limit_input(plan) <= 2 * page_size, (url, json.dumps(plan, indent=1))
            if same_as is not None:
                expected = [str(r[0]) for r in su.execute(same_as[0], same_as[1]).fetchall()]
                assert len(expected) == page_size, (url, expected)
                assert [item["id"] for item in response.json()["items"]] == expected, url

    # the trail's keyset pages rely on a dense seq; a gap (tampering, as superuser) falls back to
    # OFFSET for the page that meets it: still the right rows and the counted total
    with su.transaction():
        su.execute("SET LOCAL servanda.retention_purge = 'on'")
        su.execute(
            "DELETE FROM audit_events WHERE tenant_id = %s AND seq = (SELECT max(seq) - 10 FROM audit_events "
            "WHERE tenant_id = %s)",
            (tenant_id, tenant_id),
        )
    body = api.get("/api/v1/identity/audit-logs?pageSize=50", headers=admin).json()
    expected = [str(r[0]) for r in su.execute("SELECT id " + audit_rows.format(""), (tenant_id, 0, 50))]
    assert [item["id"] for item in body["items"]] == expected
    assert body["total"] == events - 1


def test_demo_scale_command_passes_audit_verify(clean_db: DbUnderTest) -> None:
    """The operator path end to end: `servanda demo scale`, then `servanda audit verify` exits 0."""
    from tests.test_cli import servanda

    env = {"DATABASE_URL": clean_db.app, "DATABASE_ADMIN_URL": clean_db.owner}
    generated = servanda(
        "demo",
        "scale",
        "--tenants",
        "2",
        "--contracts",
        "100",
        "--audit-events",
        "500",
        "--prefix",
        "klein",
        env=env,
    )
    assert generated.returncode == 0, generated.stderr
    assert "generated 2 law firms, 100 contracts, 500 audit events" in generated.stdout
    verified = servanda("audit", "verify", env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    lines = verified.stdout.strip().splitlines()
    assert len(lines) == 3 and all("chain intact" in line for line in lines), lines
    assert any(line.startswith("klein-kanzlei-001: 2") for line in lines), (
        lines
    )  # 250 generated + service events

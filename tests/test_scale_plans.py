"""Generated scale data (small size): valid audit chains, contracts that open, list queries on indexes.

`servanda demo scale` at 3 law firms / 3 000 contracts / 20 000 audit events.
The list endpoints run through the API; their page queries are captured where
they are executed (``paginate``) and EXPLAINed in the request's own session
(tenant set, RLS on), so the plans checked are the plans of the real SQL.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from servanda.audit.service import verify_chains
from servanda.demo_scale import generate
from servanda.platform import paging
from servanda.platform.db import Database
from tests.auth_helpers import bearer
from tests.conftest import DbUnderTest, sa_to_libpq

TENANTS, CONTRACTS, AUDIT_EVENTS = 3, 3000, 20_000


@pytest.fixture
def plans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every list page query the API runs, EXPLAINed in its own session before it runs."""
    captured: list[str] = []
    original = paging.paginate

    async def explaining(session: AsyncSession, query: Select[Any], page: int, page_size: int) -> Any:
        connection = await session.connection()
        compiled = (
            query.offset((page - 1) * page_size)
            .limit(page_size)
            .compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
        )
        result = await connection.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params)
        captured.append("\n".join(row[0] for row in result.all()))
        return await original(session, query, page, page_size)

    import servanda.audit.service
    import servanda.content.service
    import servanda.contracts.repository

    for module in (servanda.contracts.repository, servanda.audit.service, servanda.content.service):
        monkeypatch.setattr(module, "paginate", explaining)
    return captured


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
    scale: DbUnderTest, api: TestClient, su: psycopg.Connection, plans: list[str]
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

    # the tenant-filtered list queries: page queries on indexes, never a sequential scan
    admin = _headers(api, su, "admin@scale-kanzlei-002.de")
    some_contract = str(sample[0][0])
    requests = [
        (lawyer, "/api/v1/contracts?pageSize=25"),
        (lawyer, "/api/v1/contracts?status=completed"),
        (lawyer, "/api/v1/contracts?q=m%C3%BCller"),
        (lawyer, "/api/v1/contracts?page=12&pageSize=25"),
        (admin, "/api/v1/contracts?page=35&pageSize=25"),
        (admin, "/api/v1/identity/audit-logs?pageSize=50"),
        (admin, "/api/v1/identity/audit-logs?action=contract.update"),
        (admin, "/api/v1/identity/audit-logs?page=100&pageSize=50"),
        (admin, f"/api/v1/identity/audit-logs?objectType=contract&objectId={some_contract}"),
    ]
    for headers, url in requests:
        before = len(plans)
        response = api.get(url, headers=headers)
        assert response.status_code == 200, (url, response.text)
        assert len(plans) == before + 1, url
        plan = plans[-1]
        assert "Seq Scan on contracts" not in plan, (url, plan)
        assert "Seq Scan on audit_events" not in plan, (url, plan)
        assert "Index" in plan, (url, plan)

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

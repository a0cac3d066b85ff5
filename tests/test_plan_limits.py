"""What a plan bounds: the counted law-firm template limit (under concurrency) and the audit retention."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import Counter
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from servanda.platform.db import Database
from servanda.tenants.platform import PlatformService
from tests.auth_helpers import login_as
from tests.conftest import DbUnderTest
from tests.test_contracts import world as world  # fixture, re-exported so pytest finds it here

L = "/api/v1/lawfirm-templates"
S = "/api/v1/tenant/settings"


def test_parallel_creations_stop_exactly_at_the_plan_limit(
    api: TestClient, su: psycopg.Connection, world: dict[str, Any]
) -> None:
    """Issue 8, defect 3: 12 parallel POSTs on the starter plan (limit 5, 2 existing) gave 11 x 201.

    The requests run at the same time: each thread's request is scheduled on the app's event loop at
    once, and each uses its own pooled database connection, so the count-then-insert transactions
    interleave unless they are serialised."""
    editor = login_as(api, su, world["firm"], "editor", "redakteur@kanzlei-demo.de")
    for n in range(2):
        body = {"templateId": world["template_id"], "title": f"Bestand {n}"}
        assert api.post(L, json=body, headers=editor).status_code == 201
    start = threading.Barrier(12)

    def post(n: int) -> int:
        start.wait()
        response = api.post(
            L, json={"templateId": world["template_id"], "title": f"Parallel {n}"}, headers=editor
        )
        assert response.status_code == 201 or response.json()["code"] == "lawfirm_template.plan_limit"
        return response.status_code

    results: list[int] = []
    threads = [threading.Thread(target=lambda n=n: results.append(post(n))) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(results) == {201: 3, 409: 9}
    assert su.execute("SELECT count(*) FROM lawfirm_templates").fetchone() == (5,)


def test_unlimited_plans_take_no_limit_lock(
    api: TestClient, su: psycopg.Connection, world: dict[str, Any]
) -> None:
    su.execute(
        'UPDATE tenants SET settings = settings || \'{"plan": "pro"}\' WHERE id = %s', (world["firm"],)
    )
    editor = login_as(api, su, world["firm"], "editor", "redakteur@kanzlei-demo.de")
    for n in range(6):
        body = {"templateId": world["template_id"], "title": f"V{n}"}
        assert api.post(L, json=body, headers=editor).status_code == 201


# -- retention ---------------------------------------------------------------------------------------------


@pytest.fixture
def firm_admin(api: TestClient, su: psycopg.Connection, make_tenant: Any) -> tuple[uuid.UUID, dict[str, str]]:
    tenant = make_tenant("kanzlei-tarif")
    return tenant, login_as(api, su, tenant, "admin", "admin@kanzlei-tarif.de")


def set_plan(su: psycopg.Connection, tenant: uuid.UUID, plan: str) -> None:
    su.execute(
        "UPDATE tenants SET settings = jsonb_set(settings, '{plan}', to_jsonb(%s::text)) WHERE id = %s",
        (plan, tenant),
    )


@pytest.mark.parametrize(
    ("plan", "most"), [("starter", 90), ("team", 180), ("pro", 365), ("enterprise", 3650)]
)
def test_retention_is_bounded_by_the_plan(
    api: TestClient,
    su: psycopg.Connection,
    plan: str,
    most: int,
    firm_admin: tuple[uuid.UUID, dict[str, str]],
) -> None:
    tenant, admin = firm_admin
    set_plan(su, tenant, plan)
    assert api.patch(S, json={"retentionDays": most}, headers=admin).json()["retentionDays"] == most
    over = api.patch(S, json={"retentionDays": most + 1, "profile": {"name": "Neu"}}, headers=admin)
    assert over.status_code == 422
    if plan == "enterprise":  # the API's own ceiling
        assert over.json()["code"] == "request.validation_failed"
    else:
        assert over.json()["code"] == "tenant.retention_exceeds_plan"
        assert over.json()["maxRetentionDays"] == most
    assert [e["field"] for e in over.json()["errors"]] == ["retentionDays"]
    after = api.get(S, headers=admin).json()
    assert (after["retentionDays"], after["profile"]["name"]) == (most, "Kanzlei Tarif")  # nothing saved
    assert api.patch(S, json={"retentionDays": 30}, headers=admin).json()["retentionDays"] == 30


def test_a_downgrade_lowers_a_retention_the_new_plan_does_not_allow(
    clean_db: DbUnderTest,
    su: psycopg.Connection,
    firm_admin: tuple[uuid.UUID, dict[str, str]],
    api: TestClient,
) -> None:
    tenant, admin = firm_admin
    set_plan(su, tenant, "pro")
    assert api.patch(S, json={"retentionDays": 300}, headers=admin).status_code == 200

    async def downgrade(plan: str) -> None:
        db = Database(clean_db.app, pool_size=1)
        try:
            async with db.session(None) as session:
                await PlatformService(session).update_tenant(tenant, plan=plan)
        finally:
            await db.dispose()

    asyncio.run(downgrade("team"))
    assert api.get(S, headers=admin).json()["retentionDays"] == 180
    details = su.execute(
        "SELECT details FROM audit_events WHERE tenant_id = %s AND action = "
        "'tenant.settings_change' ORDER BY seq DESC LIMIT 1",
        (tenant,),
    ).fetchone()[0]  # type: ignore[index]
    assert details["retentionDays"] == {"from": 300, "to": 180}
    asyncio.run(downgrade("pro"))  # an upgrade leaves the configured value alone
    assert api.get(S, headers=admin).json()["retentionDays"] == 180

"""A completed contract's pins and snapshot are frozen by a database trigger (raw SQL as the app role)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import psycopg
import pytest
from psycopg import errors

from tests.conftest import APP
from tests.factories import TenantRows, tenant_rows


@pytest.fixture
def completed(su: psycopg.Connection, make_tenant: Callable[..., uuid.UUID]) -> TenantRows:
    rows = tenant_rows(su, make_tenant("kanzlei-a"), "a")
    su.execute(
        "UPDATE contracts SET status = 'completed', completed_at = now(), answers = %s WHERE id = %s",
        (json.dumps({"gehalt": "4500.00"}), rows.contract_id),
    )
    return rows


@pytest.mark.parametrize(
    "change",
    [
        'answers = \'{"gehalt": "9999.00"}\'',
        "selected_slots = '{\"s1\": null}'",
        "clause_version_ids = '{}'",
        "template_version_id = gen_random_uuid()",
        "status = 'draft'",
        "completed_at = now() - interval '1 day'",
    ],
)
def test_the_app_role_cannot_change_a_completed_contract(
    change: str, completed: TenantRows, connect_as: Callable[..., psycopg.Connection]
) -> None:
    conn = connect_as(APP, tenant=completed.tenant_id)
    with pytest.raises(errors.IntegrityConstraintViolation, match="frozen"):
        conn.execute(f"UPDATE contracts SET {change} WHERE id = %s", (completed.contract_id,))


def test_even_a_superuser_cannot_change_the_pins(completed: TenantRows, su: psycopg.Connection) -> None:
    with pytest.raises(errors.IntegrityConstraintViolation, match="frozen"):
        su.execute("UPDATE contracts SET answers = '{}' WHERE id = %s", (completed.contract_id,))


def test_archiving_and_metadata_stay_possible(
    completed: TenantRows, connect_as: Callable[..., psycopg.Connection], su: psycopg.Connection
) -> None:
    conn = connect_as(APP, tenant=completed.tenant_id)
    conn.execute(
        "UPDATE contracts SET title = 'Arbeitsvertrag Müller', status = 'archived' WHERE id = %s",
        (completed.contract_id,),
    )
    conn.commit()
    assert su.execute(
        "SELECT status, title FROM contracts WHERE id = %s", (completed.contract_id,)
    ).fetchone() == (
        "archived",
        "Arbeitsvertrag Müller",
    )


def test_drafts_change_freely(
    su: psycopg.Connection,
    make_tenant: Callable[..., uuid.UUID],
    connect_as: Callable[..., psycopg.Connection],
) -> None:
    rows = tenant_rows(su, make_tenant("kanzlei-b"), "b")
    conn = connect_as(APP, tenant=rows.tenant_id)
    assert (
        conn.execute(
            "UPDATE contracts SET answers = '{\"x\": 1}' WHERE id = %s", (rows.contract_id,)
        ).rowcount
        == 1
    )

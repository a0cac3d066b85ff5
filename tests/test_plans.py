"""Plan values live in one table (tenants/plans.py); the one copy in SQL must agree with it."""

from __future__ import annotations

import re

import psycopg

from servanda.tenants import plans


def test_the_purge_function_retains_what_the_plan_table_says(su: psycopg.Connection) -> None:
    """servanda_audit_purge_expired (migration 0002) computes the default retention per plan in SQL."""
    row = su.execute(
        "SELECT string_agg(pg_get_functiondef(oid), '') FROM pg_proc WHERE proname = 'servanda_audit_purge_expired'"
    ).fetchone()
    assert row is not None and row[0]
    body = " ".join(row[0].split())
    case = re.search(r"CASE coalesce\(t\.settings->>'plan', '(\w+)'\) (.*?) ELSE (\w+) END", body)
    assert case is not None, "the retention CASE of the purge function was not found"
    default, branches, otherwise = case.groups()
    in_sql = {plan: value for plan, value in re.findall(r"WHEN '(\w+)' THEN (\w+)", branches)}
    in_sql[default] = otherwise
    assert default == plans.DEFAULT_PLAN
    expected = {
        name: "NULL" if limits.retention_days is None else str(limits.retention_days)
        for name, limits in plans.LIMITS.items()
    }
    assert in_sql == expected

"""RLS overhead per query (quality.md: < 0.5 ms against the same query without RLS).

100 tenants x 100 contracts. Each query runs as the application role under
RLS (tenant from set_config, no tenant filter in the SQL: the policy adds it)
and as a role that bypasses RLS with the tenant filter written out. The table
owner cannot be that baseline here: FORCE ROW LEVEL SECURITY applies to it too,
so the superuser is. Queries alternate between the two sides to share noise.

    .venv/bin/python -m bench.rls_overhead [--iterations 2000]
"""

from __future__ import annotations

import argparse
import random
import time
import uuid

import psycopg

from bench.common import bench_database, summary_ms, write_results

TARGET_MS = 0.5
TENANTS = 100
CONTRACTS_PER_TENANT = 100
USERS_PER_TENANT = 20

QUERIES = {
    "contract_by_id": (
        "SELECT id, title, status FROM contracts WHERE id = %(id)s",
        "SELECT id, title, status FROM contracts WHERE id = %(id)s AND tenant_id = %(tenant)s",
    ),
    "draft_list_page": (
        "SELECT id, title, updated_at FROM contracts WHERE status = 'draft' ORDER BY updated_at DESC LIMIT 25",
        "SELECT id, title, updated_at FROM contracts WHERE tenant_id = %(tenant)s AND status = 'draft' "
        "ORDER BY updated_at DESC LIMIT 25",
    ),
    "count_by_status": (
        "SELECT status, count(*) FROM contracts GROUP BY status",
        "SELECT status, count(*) FROM contracts WHERE tenant_id = %(tenant)s GROUP BY status",
    ),
    "users_by_email": (
        "SELECT id FROM users WHERE lower(email) = lower(%(email)s)",
        "SELECT id FROM users WHERE tenant_id = %(tenant)s AND lower(email) = lower(%(email)s)",
    ),
}


def seed(superuser: str) -> list[tuple[uuid.UUID, uuid.UUID, str]]:
    """Tenants with their users and contracts on one vendor template; returns (tenant, contract, email) samples."""
    with psycopg.connect(superuser, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO tenants (slug, name, type) "
            "SELECT 'kanzlei-' || i, 'Kanzlei ' || i, 'lawfirm' FROM generate_series(1, %s) i",
            (TENANTS,),
        )
        conn.execute(
            "INSERT INTO users (tenant_id, email, display_name, role, status) "
            "SELECT id, 'anwalt' || n || '@' || slug || '.de', 'Anwalt', 'user', 'active' "
            "FROM tenants CROSS JOIN generate_series(1, %s) n",
            (USERS_PER_TENANT,),
        )
        vendor = conn.execute(
            "INSERT INTO tenants (slug, name, type) VALUES ('verlag', 'Verlag', 'vendor') RETURNING id"
        ).fetchone()
        assert vendor is not None
        template = conn.execute(
            "INSERT INTO templates (tenant_id, title) VALUES (%s, 'Arbeitsvertrag') RETURNING id",
            (vendor[0],),
        ).fetchone()
        assert template is not None
        version = conn.execute(
            "INSERT INTO template_versions (tenant_id, template_id, version_number, status) "
            "VALUES (%s, %s, 1, 'published') RETURNING id",
            (vendor[0], template[0]),
        ).fetchone()
        assert version is not None
        conn.execute(
            """
            INSERT INTO contracts (tenant_id, creator_id, title, jurisdiction, template_version_id,
                                   clause_version_ids, status, updated_at)
            SELECT u.tenant_id, u.id, 'Vertrag ' || n, 'DE', %s, '{}',
                   (ARRAY['draft', 'draft', 'completed', 'archived'])[1 + n %% 4],
                   now() - n * interval '1 minute'
            FROM users u CROSS JOIN generate_series(1, %s) n
            WHERE u.email LIKE 'anwalt1@%%'
            """,
            (version[0], CONTRACTS_PER_TENANT),
        )
        conn.execute("ANALYZE")
        rows = conn.execute(
            "SELECT DISTINCT ON (c.tenant_id) c.tenant_id, c.id, u.email FROM contracts c "
            "JOIN users u ON u.id = c.creator_id ORDER BY c.tenant_id, c.id"
        ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def plan(conn: psycopg.Connection, sql: str, params: dict[str, object]) -> str:
    rows = conn.execute("EXPLAIN (COSTS OFF) " + sql, params).fetchall()
    return "\n".join(r[0] for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=2000)
    args = parser.parse_args()
    rng = random.Random(7)
    with bench_database("servanda_bench_rls") as db:
        samples = seed(db.superuser)
        app = psycopg.connect(db.libpq(db.app), autocommit=False, prepare_threshold=0)
        raw = psycopg.connect(db.superuser, autocommit=False, prepare_threshold=0)
        results: dict[str, object] = {
            "target_overhead_ms": TARGET_MS,
            "tenants": TENANTS,
            "contracts": TENANTS * CONTRACTS_PER_TENANT,
            "queries": {},
        }
        set_tenant: list[float] = []
        print(
            f"RLS overhead per query, {TENANTS} tenants x {CONTRACTS_PER_TENANT} contracts, "
            f"{args.iterations} runs per query and side; target < {TARGET_MS} ms"
        )
        for name, (rls_sql, plain_sql) in QUERIES.items():
            rls_times: list[float] = []
            plain_times: list[float] = []
            tenant, contract, email = samples[0]
            app.execute("SELECT set_config('app.current_tenant_id', %s, false)", (str(tenant),))
            params = {"id": contract, "tenant": tenant, "email": email}
            plans = {"rls": plan(app, rls_sql, params), "no_rls": plan(raw, plain_sql, params)}
            for i in range(args.iterations + 100):  # the first 100 warm caches and plans
                tenant, contract, email = rng.choice(samples)
                params = {"id": contract, "tenant": tenant, "email": email}
                started = time.perf_counter()
                app.execute("SELECT set_config('app.current_tenant_id', %s, true)", (str(tenant),))
                set_done = time.perf_counter()
                app.execute(rls_sql, params).fetchall()
                done = time.perf_counter()
                app.rollback()
                raw_started = time.perf_counter()
                raw.execute(plain_sql, params).fetchall()
                raw_done = time.perf_counter()
                raw.rollback()
                if i >= 100:
                    set_tenant.append(set_done - started)
                    rls_times.append(done - set_done)
                    plain_times.append(raw_done - raw_started)
            rls, plain = summary_ms(rls_times), summary_ms(plain_times)
            overhead = round(rls["p50_ms"] - plain["p50_ms"], 4)
            overhead_mean = round(rls["mean_ms"] - plain["mean_ms"], 4)
            verdict = "OK" if max(overhead, overhead_mean) < TARGET_MS else "MISSED"
            index_scan = all("Index" in p for p in plans.values())
            results["queries"][name] = {  # type: ignore[index]
                "rls": rls,
                "no_rls": plain,
                "overhead_p50_ms": overhead,
                "overhead_mean_ms": overhead_mean,
                "index_scan": index_scan,
                "plans": plans,
                "verdict": verdict,
            }
            print(
                f"  {name:<16} RLS p50 {rls['p50_ms']:.3f} ms  p95 {rls['p95_ms']:.3f} ms | "
                f"no RLS p50 {plain['p50_ms']:.3f} ms  p95 {plain['p95_ms']:.3f} ms | "
                f"overhead p50 {overhead:+.3f} ms, mean {overhead_mean:+.3f} ms "
                f"(target < {TARGET_MS} ms) {verdict}; index scan: {index_scan}"
            )
        tenant_cost = summary_ms(set_tenant)
        results["set_tenant_per_transaction"] = tenant_cost
        print(
            f"  set_config(app.current_tenant_id) once per transaction: p50 {tenant_cost['p50_ms']:.3f} ms, "
            f"p95 {tenant_cost['p95_ms']:.3f} ms"
        )
        for name, data in results["queries"].items():  # type: ignore[attr-defined]
            print(f"\n  plan {name} (RLS):\n    " + data["plans"]["rls"].replace("\n", "\n    "))
            print(f"  plan {name} (no RLS):\n    " + data["plans"]["no_rls"].replace("\n", "\n    "))
        app.close()
        raw.close()
        print(f"\nresults: {write_results('rls_overhead', results)}")


if __name__ == "__main__":
    main()

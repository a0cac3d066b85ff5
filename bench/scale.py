"""The list queries at scale (quality.md: 100 tenants / 100 000 contracts / 1 M audit events).

Generates the data with `servanda demo scale` (its time is reported), then
drives a real `servanda api` process with 20 paced concurrent clients per
endpoint: the contract list (first page, status filter, search, a page deep
into the list), the catalog, the audit log (filters, a deep page, the CSV
export of one day), the tenant-wide content changelog; and times
`audit verify` over every chain. Each P95 is printed next to its target.

    .venv/bin/python -m bench.scale [--tenants 100 --contracts 100000 --audit-events 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import psycopg
from joserfc.jwk import RSAKey

from bench.common import LoadResult, api_server, bench_database, http_load, summary_ms, write_results
from servanda.audit.service import verify_chains
from servanda.demo_scale import generate
from servanda.platform.db import Database
from servanda.platform.tokens import LocalTokens

LIST_TARGET_P95_MS = 30.0  # quality.md: catalog / list endpoints, 20 concurrent


def _token(superuser: str, tokens: LocalTokens, email: str) -> dict[str, str]:
    with psycopg.connect(superuser, autocommit=True) as conn:
        row = conn.execute("SELECT tenant_id, id, role FROM users WHERE email = %s", (email,)).fetchone()
        assert row is not None, email
        session = conn.execute(
            "INSERT INTO auth_sessions (tenant_id, user_id, expires_at) "
            "VALUES (%s, %s, now() + interval '1 day') RETURNING id",
            (row[0], row[1]),
        ).fetchone()
        assert session is not None
    token = tokens.issue(user_id=row[1], tenant_id=row[0], email=email, role=row[2], session_id=session[0])
    return {"Authorization": f"Bearer {token}"}


def _one_day(superuser: str, email: str) -> str:
    """A day in the middle of the tenant's trail (its export is ~1/365 of the tenant's events)."""
    with psycopg.connect(superuser) as conn:
        row = conn.execute(
            "SELECT (min(e.created_at) + (max(e.created_at) - min(e.created_at)) / 2)::date FROM audit_events e "
            "JOIN users u ON u.tenant_id = e.tenant_id WHERE u.email = %s",
            (email,),
        ).fetchone()
    assert row is not None
    return str(row[0])


def _verify_seconds(owner_url: str) -> tuple[float, int]:
    async def run() -> tuple[float, int]:
        db = Database(owner_url, pool_size=1, application_name="bench-scale")
        try:
            started = time.perf_counter()
            reports = await verify_chains(db)
            seconds = time.perf_counter() - started
        finally:
            await db.dispose()
        assert all(r.broken is None for r in reports), [r for r in reports if r.broken]
        return seconds, sum(r.events_checked for r in reports)

    return asyncio.run(run())


def _sql_floor(
    app_url: str, superuser: str, email: str, deep_contracts: int, deep_audit: int
) -> dict[str, object]:
    """The database part alone: each page's two statements (count and page) as the app role, sequential."""
    with psycopg.connect(superuser) as conn:
        row = conn.execute("SELECT tenant_id FROM users WHERE email = %s", (email,)).fetchone()
    assert row is not None
    tenant = row[0]
    contracts = "FROM contracts WHERE status <> 'archived'"
    queries = {
        "contracts: first page": (
            f"SELECT count(*) {contracts}",
            f"SELECT * {contracts} ORDER BY updated_at DESC, id LIMIT 25",
        ),
        "contracts: last page (admin)": (
            f"SELECT count(*) {contracts}",
            f"SELECT * {contracts} ORDER BY updated_at DESC, id OFFSET {25 * (deep_contracts - 1)} LIMIT 25",
        ),
        "audit: first page": (
            "SELECT count(*) FROM audit_events WHERE tenant_id = %(t)s",
            "SELECT * FROM audit_events WHERE tenant_id = %(t)s ORDER BY seq DESC LIMIT 50",
        ),
        "audit: last page": (
            "SELECT count(*) FROM audit_events WHERE tenant_id = %(t)s",
            f"SELECT * FROM audit_events WHERE tenant_id = %(t)s ORDER BY seq DESC OFFSET {50 * (deep_audit - 1)} LIMIT 50",
        ),
    }
    floors: dict[str, object] = {}
    with psycopg.connect(app_url) as conn:
        for label, statements in queries.items():
            times = []
            for i in range(230):
                started = time.perf_counter()
                conn.execute("SELECT set_config('app.current_tenant_id', %s, true)", (str(tenant),))
                for statement in statements:
                    conn.execute(statement, {"t": tenant} if "%(t)s" in statement else None).fetchall()
                conn.commit()
                if i >= 30:
                    times.append(time.perf_counter() - started)
            floors[label] = summary_ms(times)
    return floors


def measure(
    name: str, tenants: int, contracts: int, audit_events: int, args: argparse.Namespace
) -> tuple[dict[str, object], dict[str, LoadResult], float, int]:
    """Generate a data set into a fresh database, load every endpoint, time `audit verify`."""
    key = RSAKey.generate_key(2048, private=True)
    key.ensure_kid()
    tokens = LocalTokens(key)
    with bench_database(name) as db:
        report = asyncio.run(
            generate(
                db.owner,
                db.app,
                tenants=tenants,
                contracts=contracts,
                audit_events=audit_events,
                progress=lambda line: print(f"  {line}", flush=True),
            )
        )
        print(f"generation: {report.seconds:.1f} s {report.as_dict()['phases']}", flush=True)
        firm = report.tenant_slugs[len(report.tenant_slugs) // 2]
        lawyer = _token(db.superuser, tokens, f"anwalt@{firm}.de")
        admin = _token(db.superuser, tokens, f"admin@{firm}.de")
        editor = _token(db.superuser, tokens, f"admin@{report.vendor_slug}.de")
        deep_admin = max(1, contracts // tenants // 25 - 1)
        deep_audit = max(1, audit_events // tenants // 50 - 1)
        day = _one_day(db.superuser, f"admin@{firm}.de")
        with api_server(db.app, key.as_pem(private=True).decode()) as base:
            api = f"{base}/api/v1"
            endpoints = {
                "contracts: first page": (f"{api}/contracts?pageSize=25", lawyer),
                "contracts: status filter": (f"{api}/contracts?status=completed&pageSize=25", lawyer),
                "contracts: search": (f"{api}/contracts?q=m%C3%BCller", lawyer),
                "contracts: last page (admin)": (f"{api}/contracts?page={deep_admin}&pageSize=25", admin),
                "catalog: first page": (f"{api}/catalog/templates?pageSize=25", lawyer),
                "audit: first page": (f"{api}/identity/audit-logs?pageSize=50", admin),
                "audit: action filter": (f"{api}/identity/audit-logs?action=contract.complete", admin),
                "audit: one day": (f"{api}/identity/audit-logs?from={day}&to={day}", admin),
                "audit: last page": (f"{api}/identity/audit-logs?page={deep_audit}&pageSize=50", admin),
                "audit: export one day (CSV)": (
                    f"{api}/identity/audit-logs/export?from={day}&to={day}",
                    admin,
                ),
                "changelog (vendor)": (f"{api}/content/changelog?pageSize=25", editor),
            }
            http_load(
                endpoints["contracts: first page"][0], lawyer, concurrency=args.concurrency, requests=200
            )
            runs: dict[str, LoadResult] = {}
            for label, (url, headers) in endpoints.items():
                runs[label] = http_load(
                    url,
                    headers,
                    concurrency=args.concurrency,
                    requests=args.requests,
                    rate_per_client=args.rate_per_client,
                )
        floors = _sql_floor(db.libpq(db.app), db.superuser, f"admin@{firm}.de", deep_admin, deep_audit)
        verify_s, verified = _verify_seconds(db.owner)
    return {**report.as_dict(), "sql_floor": floors}, runs, verify_s, verified


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--contracts", type=int, default=100_000)
    parser.add_argument("--audit-events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=1000, help="requests per endpoint")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--rate-per-client", type=float, default=10.0)
    args = parser.parse_args()
    # quality.md: at scale, P95 within 20 % of the small data set (10 firms, 1 000 contracts, 10 000 events)
    small = measure("servanda_bench_scale_small", 10, 1000, 10_000, args)
    large = measure("servanda_bench_scale", args.tenants, args.contracts, args.audit_events, args)
    generation, runs, verify_s, verified = large
    print(
        f"Scale: {args.tenants} law firms, {args.contracts} contracts, {args.audit_events} audit events; "
        f"{args.concurrency} paced clients x {args.rate_per_client:g}/s, 1 API worker; "
        "small = 10 firms, 1 000 contracts, 10 000 events"
    )
    results: dict[str, object] = {
        "generation": generation,
        "target_p95_ms": LIST_TARGET_P95_MS,
        "target_ratio_to_small": 1.2,
        "concurrency": args.concurrency,
        "rate_per_client": args.rate_per_client,
    }
    for label, run in runs.items():
        stats = summary_ms(run.latencies_s)
        base = summary_ms(small[1][label].latencies_s)
        ratio = stats["p95_ms"] / base["p95_ms"]
        verdict = "OK" if stats["p95_ms"] < LIST_TARGET_P95_MS else "MISSED"
        print(
            f"  {label:<30} P50 {stats['p50_ms']:7.2f} ms  P95 {stats['p95_ms']:7.2f} ms "
            f"(target < {LIST_TARGET_P95_MS:g} ms) {verdict}; small P95 {base['p95_ms']:7.2f} ms, "
            f"ratio {ratio:.2f} (target <= 1.2)"
        )
        results[label] = {
            **stats,
            "throughput_rps": round(run.throughput_rps, 1),
            "verdict": verdict,
            "small_p95_ms": base["p95_ms"],
            "ratio_to_small": round(ratio, 2),
        }
    for label, floor in generation["sql_floor"].items():  # type: ignore[attr-defined]
        small_floor = small[0]["sql_floor"][label]  # type: ignore[index]
        print(
            f"  SQL floor {label:<30} P50 {floor['p50_ms']:6.3f} ms  P95 {floor['p95_ms']:6.3f} ms; "
            f"small P50 {small_floor['p50_ms']:6.3f} ms"
        )
    print(f"  audit verify: {verified} events in {verify_s:.1f} s ({verified / verify_s:,.0f} events/s)")
    print(f"  generation:   {generation['seconds']} s {generation['phases']}")
    results["audit_verify"] = {"events": verified, "seconds": round(verify_s, 1)}
    print(f"results: {write_results('scale', results)}")


if __name__ == "__main__":
    main()

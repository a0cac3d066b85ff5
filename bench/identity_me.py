"""GET /api/v1/identity/me at 20 concurrent clients (quality.md: P95 < 10 ms).

Runs the real API process (`servanda api`, uvicorn) on a migrated database,
signs a token for a seeded user with the provider key handed to the server,
and drives it with `hey`, 20 concurrent clients, in two modes:

- paced: each client sends 25 requests/s (500 req/s in all, the sustained
  throughput target of quality.md) — the latency a user sees at that load;
- saturated: back-to-back requests — the capacity, where latency is simply
  20 / throughput (closed loop).

The floor is the request's own database work (one principal statement) over
psycopg; the ratio API / floor is printed. Load generator, API and PostgreSQL
share the machine's two cores.

    .venv/bin/python -m bench.identity_me [--requests 6000] [--workers 1]
"""

from __future__ import annotations

import argparse
import time
import uuid

import psycopg
from joserfc.jwk import RSAKey

from bench.common import api_server, bench_database, http_load, summary_ms, write_results
from servanda.platform.tokens import LocalTokens

TARGET_P95_MS = 10.0


def seed(superuser: str) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    with psycopg.connect(superuser, autocommit=True) as conn:
        tenant = conn.execute(
            "INSERT INTO tenants (slug, name, type) VALUES ('kanzlei-bench', 'Bench', 'lawfirm') RETURNING id"
        ).fetchone()
        assert tenant is not None
        conn.execute(
            "INSERT INTO users (tenant_id, email, display_name, role, status) "
            "SELECT %s, 'u' || n || '@bench.de', 'Nutzer ' || n, 'user', 'active' FROM generate_series(1, 200) n",
            (tenant[0],),
        )
        user = conn.execute("SELECT id FROM users WHERE email = 'u1@bench.de'").fetchone()
        assert user is not None
        session = conn.execute(
            "INSERT INTO auth_sessions (tenant_id, user_id, expires_at) VALUES (%s, %s, now() + interval '1 day') "
            "RETURNING id",
            (tenant[0], user[0]),
        ).fetchone()
        assert session is not None
        conn.execute("ANALYZE")
    return tenant[0], user[0], session[0]


def floor(
    app_url: str, tenant: uuid.UUID, user: uuid.UUID, session: uuid.UUID, runs: int = 2000
) -> list[float]:
    """The request's own database work, straight over psycopg: the one principal statement + commit."""
    times = []
    with psycopg.connect(app_url, autocommit=False, prepare_threshold=0) as conn:
        for i in range(runs + 100):
            started = time.perf_counter()
            conn.execute("SELECT * FROM servanda_principal(%s, %s, %s)", (tenant, user, session)).fetchone()
            conn.commit()
            if i >= 100:
                times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--rate-per-client", type=float, default=25.0)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args()
    key = RSAKey.generate_key(2048, private=True)
    key.ensure_kid()
    with bench_database("servanda_bench_me") as db:
        tenant, user, session = seed(db.superuser)
        with api_server(db.app, key.as_pem(private=True).decode(), args.workers) as base:
            token = LocalTokens(key).issue(
                user_id=user, tenant_id=tenant, email="u1@bench.de", role="user", session_id=session
            )
            url, headers = f"{base}/api/v1/identity/me", {"Authorization": f"Bearer {token}"}
            http_load(url, headers, concurrency=args.concurrency, requests=1000)  # warm-up
            paced = http_load(
                url,
                headers,
                concurrency=args.concurrency,
                requests=args.requests,
                rate_per_client=args.rate_per_client,
            )
            saturated = http_load(url, headers, concurrency=args.concurrency, requests=args.requests)
        raw = summary_ms(floor(db.libpq(db.app), tenant, user, session))
        print(
            f"GET /api/v1/identity/me, {args.concurrency} concurrent clients, {args.workers} API worker(s), "
            f"target P95 < {TARGET_P95_MS} ms"
        )
        results: dict[str, object] = {
            "target_p95_ms": TARGET_P95_MS,
            "concurrency": args.concurrency,
            "workers": args.workers,
            "floor": raw,
        }
        for name, run in (("paced", paced), ("saturated", saturated)):
            stats = summary_ms(run.latencies_s)
            verdict = "OK" if stats["p95_ms"] < TARGET_P95_MS else "MISSED"
            rate = f"{args.rate_per_client:g}/s per client" if name == "paced" else "back-to-back"
            print(
                f"  {name:<9} ({rate}): P50 {stats['p50_ms']:.2f} ms  P95 {stats['p95_ms']:.2f} ms "
                f"(target < {TARGET_P95_MS} ms) {verdict}; {run.throughput_rps:.0f} req/s"
            )
            results[name] = {**stats, "throughput_rps": round(run.throughput_rps, 1), "verdict": verdict}
        print(
            f"  floor (the principal statement over psycopg): P50 {raw['p50_ms']:.3f} ms; "
            f"API P50 (paced) / floor = {summary_ms(paced.latencies_s)['p50_ms'] / raw['p50_ms']:.1f}"
        )
        print(f"results: {write_results('identity_me', results)}")


if __name__ == "__main__":
    main()

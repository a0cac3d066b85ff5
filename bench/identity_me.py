"""GET /api/v1/identity/me at 20 concurrent clients (quality.md: P95 < 10 ms).

Runs the real API process (`servanda api`, one uvicorn worker) on a migrated
database, signs a token for a seeded user with the provider key handed to the
server, and drives it from this process with 20 concurrent httpx clients.
The floor is the same request's database work done directly (set the tenant,
load the principal) over psycopg; the ratio API / floor is printed too. Client
and server share the machine's two cores.

    .venv/bin/python -m bench.identity_me [--requests 4000] [--concurrency 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import httpx
import psycopg
from joserfc.jwk import RSAKey

from bench.common import bench_database, summary_ms, write_results
from servanda.platform.tokens import LocalTokens

TARGET_P95_MS = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


async def load(url: str, token: str, requests: int, concurrency: int) -> tuple[list[float], float]:
    latencies: list[float] = []
    per_worker = requests // concurrency
    headers = {"Authorization": f"Bearer {token}"}

    async def worker(client: httpx.AsyncClient) -> None:
        for _ in range(per_worker):
            started = time.perf_counter()
            response = await client.get(url, headers=headers)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"unexpected {response.status_code}: {response.text}")

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))  # warm-up round
        latencies.clear()
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, elapsed


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
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    key = RSAKey.generate_key(2048, private=True)
    key.ensure_kid()
    with bench_database("servanda_bench_me") as db, tempfile.TemporaryDirectory() as data_dir:
        tenant, user, session = seed(db.superuser)
        port = free_port()
        env = {**os.environ, "DATABASE_URL": db.app, "SERVANDA_DATA_DIR": data_dir, "LOG_LEVEL": "WARNING",
               "SERVANDA_JWT_PRIVATE_KEY": key.as_pem(private=True).decode()}  # fmt: skip
        server = subprocess.Popen([sys.executable, "-m", "servanda", "api", "--host", "127.0.0.1", "--port", str(port)],
                                  env=env, stdout=subprocess.DEVNULL)  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            token = LocalTokens(key).issue(user_id=user, tenant_id=tenant, email="u1@bench.de", role="user",
                                           session_id=session)  # fmt: skip
            latencies, elapsed = asyncio.run(
                load(f"{base}/api/v1/identity/me", token, args.requests, args.concurrency)
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
        api = summary_ms(latencies)
        raw = summary_ms(floor(db.libpq(db.app), tenant, user, session))
        throughput = len(latencies) / elapsed
        verdict = "OK" if api["p95_ms"] < TARGET_P95_MS else "MISSED"
        print(f"GET /api/v1/identity/me, {args.concurrency} concurrent clients, {len(latencies)} requests")
        print(f"  P50 {api['p50_ms']:.2f} ms  P95 {api['p95_ms']:.2f} ms (target < {TARGET_P95_MS} ms) {verdict}; "
              f"{throughput:.0f} req/s")  # fmt: skip
        print(f"  floor (same DB work over psycopg, sequential): P50 {raw['p50_ms']:.3f} ms; "
              f"ratio API P50 / floor P50 = {api['p50_ms'] / raw['p50_ms']:.1f}")  # fmt: skip
        path = write_results("identity_me", {"target_p95_ms": TARGET_P95_MS, "concurrency": args.concurrency,
                                             "api": api, "throughput_rps": round(throughput, 1), "floor": raw,
                                             "verdict": verdict})  # fmt: skip
        print(f"results: {path}")


if __name__ == "__main__":
    main()

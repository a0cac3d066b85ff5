"""Cost of the shared rate limit per request: one ``servanda_rate_take`` call (migration 0013).

In-process, sequential, against a fresh database: the API process's CPU per check
(``time.process_time``), the PostgreSQL backend's CPU per check (psutil on the
backend process), and the wall time per check. Compared with the same loop
running ``servanda_principal`` (the one statement every request already makes),
so the figure reads as "one more statement of this size".

    .venv/bin/python -m bench.ratelimit [--checks 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

import psutil
import psycopg
from sqlalchemy import text

from bench.common import bench_database, write_results
from servanda.platform.db import Database
from servanda.platform.ratelimit import RequestRateLimiter

NAME = "servanda-bench-ratelimit"


def backend_cpu(superuser: str) -> float:
    with psycopg.connect(superuser, autocommit=True) as conn:
        pids = [
            r[0]
            for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", (NAME,))
        ]
    return sum(float(t.user + t.system) for t in (psutil.Process(p).cpu_times() for p in pids))


async def measure(
    superuser: str, n: int, call: Callable[[int], Awaitable[object]]
) -> tuple[float, float, float]:
    for i in range(200):
        await call(i)
    cpu, pg, wall = time.process_time(), backend_cpu(superuser), time.perf_counter()
    for i in range(n):
        await call(i)
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    pg = backend_cpu(superuser) - pg
    return cpu * 1e6 / n, pg * 1e6 / n, wall * 1e6 / n


async def run(superuser: str, app_url: str, n: int) -> dict[str, float]:
    db = Database(app_url, pool_size=1, application_name=NAME)
    limiter = RequestRateLimiter(db, 100_000, 1_000_000, 1_000_000, 10_000_000)
    tenants = [uuid.uuid4() for _ in range(100)]
    rows: dict[str, float] = {}

    async def one_user(i: int) -> object:
        return await limiter.check(tenants[0], "user-1")

    async def many_users(i: int) -> object:
        return await limiter.check(tenants[i % 100], f"user-{i % 10_000}")

    async def on_session(i: int) -> object:  # as a request makes it: on its unit of work's connection
        async with db.session(None) as session:
            quota = await limiter.check(tenants[i % 100], f"user-{i % 10_000}", session)
            await session.execute(text("SELECT 1"))  # the request's first statement (the principal lookup)
            return quota

    async def session_only(i: int) -> object:  # the same without the rate limit
        async with db.session(None) as session:
            return await session.execute(text("SELECT 1"))

    async def plain_statement(i: int) -> object:  # the size of one more round trip, for scale
        async with db.autocommit_engine.connect() as conn:
            return (await conn.execute(text("SELECT 1"))).scalar_one()

    for name, call in (
        ("one user", one_user),
        ("10000 users", many_users),
        ("SELECT 1", plain_statement),
        ("request+limit", on_session),
        ("request", session_only),
    ):
        api, pg, wall = await measure(superuser, n, call)
        rows[f"{name}: API CPU us"] = round(api, 1)
        rows[f"{name}: PostgreSQL CPU us"] = round(pg, 1)
        rows[f"{name}: wall us"] = round(wall, 1)
        print(
            f"  {name:<12} API {api:6.1f} us CPU, PostgreSQL {pg:6.1f} us CPU, {wall:6.1f} us wall per check"
        )
    await db.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checks", type=int, default=3000)
    args = parser.parse_args()
    with bench_database("servanda_bench_ratelimit") as db:
        rows = asyncio.run(run(db.superuser, db.app, args.checks))
    print(f"results: {write_results('ratelimit', rows)}")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()

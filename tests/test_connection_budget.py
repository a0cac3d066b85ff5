"""The connection budget (docs/operations.md): each process opens its pools to their configured size
at start-up, so its connection count is fixed and known from then on instead of creeping up under
load (issue 15: the load test's PostgreSQL memory grew with backends opened on demand, 25 -> 36).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
from fastapi.testclient import TestClient

from servanda.app import create_app
from servanda.platform.config import load_settings
from servanda.platform.db import Database
from servanda.platform.queue import queue_app
from tests.conftest import DbUnderTest


def connections(db: DbUnderTest, application_name: str) -> int:
    with psycopg.connect(db.superuser, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (application_name,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_the_api_opens_its_whole_pool_at_start_up(clean_db: DbUnderTest, tmp_path: Path) -> None:
    settings = load_settings(servanda_env="test", servanda_data_dir=tmp_path / "data", database_pool_size=4)
    app = create_app(settings, clean_db.app)
    with TestClient(app):  # the lifespan has run; no request has been served
        assert app.state.db.pool_open() == 4
        assert connections(clean_db, "servanda-api") == 4
    assert connections(clean_db, "servanda-api") == 0  # closed with the process (the lifespan's dispose)


def test_filling_the_pool_fails_soft_when_the_database_is_away(tmp_path: Path) -> None:
    # a socket directory without a server: every connect fails at once
    db = Database(f"postgresql+psycopg://servanda_app@/servanda?host={tmp_path}", pool_size=3)

    async def fill() -> int:
        try:
            return await db.fill_pool()
        finally:
            await db.dispose()

    assert asyncio.run(fill()) == 0


def test_the_worker_queue_pool_is_fixed_at_its_size(clean_db: DbUnderTest) -> None:
    app = queue_app(clean_db.app, pool_max=3)

    async def opened() -> int:
        async with app.open_async():
            return connections(clean_db, "servanda-worker")

    assert asyncio.run(opened()) == 3  # before: 1 (min_size=1), more on demand up to 3

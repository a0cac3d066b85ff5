"""Shared helpers for benchmarks: a migrated database and result reporting."""

from __future__ import annotations

import json
import os
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from servanda.platform import migrate
from servanda.platform.embedded_pg import APP_ROLE, OWNER_ROLE, EmbeddedPostgres, libpq_url, provision

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class BenchDatabase:
    superuser: str  # libpq URL, bypasses RLS
    owner: str  # SQLAlchemy URL
    app: str  # SQLAlchemy URL

    def libpq(self, url: str) -> str:
        return libpq_url(url.replace("postgresql+psycopg://", "postgresql://", 1))


@contextmanager
def bench_database(name: str) -> Iterator[BenchDatabase]:
    """A fresh, migrated database: embedded by default, or on BENCH_DATABASE_URL (a superuser URL)."""
    external = os.environ.get("BENCH_DATABASE_URL")
    embedded = None
    tmp = None
    if external:
        server = libpq_url(external)
        password: str | None = "servanda-bench-only"
    else:
        tmp = tempfile.TemporaryDirectory(prefix="servanda-bench-")
        embedded = EmbeddedPostgres(Path(tmp.name) / "pg")
        embedded.start()
        server = embedded.superuser_url
        password = None
    try:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        provision(server, database=name, owner=OWNER_ROLE, app=APP_ROLE, password=password)
        base = make_url(server.replace("postgresql://", "postgresql+psycopg://", 1))

        def role(r: str | None) -> str:
            url = (
                base.set(database=name)
                if r is None
                else base.set(username=r, password=password, database=name)
            )
            return url.render_as_string(hide_password=False)

        db = BenchDatabase(superuser=libpq_url(role(None)), owner=role(OWNER_ROLE), app=role(APP_ROLE))
        problems = migrate.upgrade(db.owner, APP_ROLE)
        assert problems == [], problems
        yield db
    finally:
        if embedded is not None:
            embedded.stop()
        if tmp is not None:
            tmp.cleanup()


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(samples_s: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples_s]
    return {
        "n": len(ms),
        "mean_ms": round(statistics.fmean(ms), 4),
        "p50_ms": round(percentile(ms, 50), 4),
        "p95_ms": round(percentile(ms, 95), 4),
    }


def write_results(name: str, results: dict[str, object]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return path

"""Shared helpers for benchmarks: a migrated database and result reporting."""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import tempfile
import time as time_module
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
def bench_database(name: str, pgdata: Path | None = None, *, reuse: bool = False) -> Iterator[BenchDatabase]:
    """A fresh, migrated database: embedded by default, or on BENCH_DATABASE_URL (a superuser URL).

    ``pgdata``: keep the embedded cluster there instead of a temporary directory; ``reuse``: attach
    to the database ``name`` a previous run left there as it is (not dropped, not migrated).
    """
    external = os.environ.get("BENCH_DATABASE_URL")
    embedded = None
    tmp = None
    if external:
        server = libpq_url(external)
        password: str | None = "servanda-bench-only"
    else:
        if pgdata is None:
            tmp = tempfile.TemporaryDirectory(prefix="servanda-bench-")
            pgdata = Path(tmp.name) / "pg"
        embedded = EmbeddedPostgres(pgdata)
        embedded.start()
        server = embedded.superuser_url
        password = None
    try:
        if not reuse:
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
        if not reuse:
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


@dataclass(frozen=True)
class LoadResult:
    latencies_s: list[float]
    throughput_rps: float
    generator: str


def _hey(extra: list[str], url: str, headers: dict[str, str]) -> list[str]:
    import shutil

    hey = shutil.which("hey")
    if hey is None:
        raise SystemExit(
            "bench needs the 'hey' load generator: apt-get install hey (make bench installs it as root)"
        )
    command = [hey, "-o", "csv", *extra]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    return [*command, url]


def _latencies(output: str) -> list[float]:
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(output)))
    bad = [r for r in rows if r["status-code"] != "200"]
    if bad:
        raise RuntimeError(f"{len(bad)} requests failed, first status {bad[0]['status-code']}")
    return [float(r["response-time"]) for r in rows]


def http_load(
    url: str, headers: dict[str, str], *, concurrency: int, requests: int, rate_per_client: float = 0
) -> LoadResult:
    """Drive ``url`` with ``hey`` (Debian package, written in Go, so the generator stays light).

    ``rate_per_client`` = 0: ``concurrency`` clients back-to-back (saturation).
    ``rate_per_client`` > 0: ``concurrency`` independent paced clients, started
    evenly spread over one period, so they do not all fire at the same instant
    (hey's own -q pacing ticks all its workers together and measures its bursts).
    """
    import subprocess

    if rate_per_client <= 0:
        command = _hey(["-n", str(requests), "-c", str(concurrency)], url, headers)
        started = time_module.perf_counter()
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        latencies = _latencies(output)
        return LoadResult(latencies, len(latencies) / (time_module.perf_counter() - started), "hey")
    per_client = max(1, requests // concurrency)
    command = _hey(["-n", str(per_client), "-c", "1", "-q", str(rate_per_client)], url, headers)
    started = time_module.perf_counter()
    processes = []
    for _ in range(concurrency):
        processes.append(subprocess.Popen(command, stdout=subprocess.PIPE, text=True))
        time_module.sleep(1 / rate_per_client / concurrency)
    latencies = []
    for process in processes:
        output, _ = process.communicate()
        latencies.extend(_latencies(output))
    return LoadResult(latencies, len(latencies) / (time_module.perf_counter() - started), "hey x clients")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def api_server(
    app_url: str,
    private_key_pem: str,
    workers: int = 1,
    data_dir: str | None = None,
    *,
    product_rate_limits: bool = False,
) -> Iterator[str]:
    """Run `servanda api` on a free port against ``app_url``; yield its base URL.

    ``data_dir``: the SERVANDA_DATA_DIR to use (e.g. shared with a `servanda worker`, so
    downloads find the worker's files); by default a fresh temporary directory.
    ``product_rate_limits``: keep the product's per-user and per-tenant limits (bench/load,
    whose many users keep a human pace) instead of lifting them out of reach.
    """
    import subprocess
    import sys

    import httpx

    with contextlib.ExitStack() as stack:
        if data_dir is None:
            data_dir = stack.enter_context(tempfile.TemporaryDirectory())
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": app_url,
            "SERVANDA_DATA_DIR": data_dir,
            "LOG_LEVEL": "WARNING",
            "SERVANDA_JWT_PRIVATE_KEY": private_key_pem,
        }
        # One bench user sends far more than a person: limits out of reach, but still counted.
        if not product_rate_limits:
            env.update(
                RATE_LIMIT_USER_PER_S="100000",
                RATE_LIMIT_USER_BURST="1000000",
                RATE_LIMIT_TENANT_PER_S="1000000",
                RATE_LIMIT_TENANT_BURST="10000000",
            )
        command = [
            sys.executable,
            "-m",
            "servanda",
            "api",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ]
        server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time_module.sleep(0.1)
            time_module.sleep(1.0 if workers > 1 else 0)  # let every worker finish starting
            yield base
        finally:
            server.terminate()
            server.wait(timeout=30)


def report(
    name: str, target_ms: float, runs: dict[str, LoadResult], extra: dict[str, object]
) -> dict[str, object]:
    """Print each run's P50/P95 next to the target; return the JSON-able results."""
    results: dict[str, object] = {"target_p95_ms": target_ms, **extra}
    for label, run in runs.items():
        stats = summary_ms(run.latencies_s)
        verdict = "OK" if stats["p95_ms"] < target_ms else "MISSED"
        print(
            f"  {label:<28} P50 {stats['p50_ms']:6.2f} ms  P95 {stats['p95_ms']:6.2f} ms "
            f"(target < {target_ms} ms) {verdict}; {run.throughput_rps:.0f} req/s"
        )
        results[label] = {**stats, "throughput_rps": round(run.throughput_rps, 1), "verdict": verdict}
    print(f"results: {write_results(name, results)}")
    return results


def http_load_many(
    clients: list[tuple[str, dict[str, str]]],
    *,
    requests_per_client: int,
    rate_per_client: float = 0,
    method: str = "GET",
    body: str | None = None,
) -> LoadResult:
    """One ``hey`` process per client (its own URL and headers), started spread over one period;
    ``rate_per_client`` 0 sends back-to-back."""
    import subprocess

    extra = ["-n", str(requests_per_client), "-c", "1", "-m", method]
    if rate_per_client > 0:
        extra += ["-q", str(rate_per_client)]
    if body is not None:
        extra += ["-d", body, "-T", "application/json"]
    started = time_module.perf_counter()
    processes = []
    for url, headers in clients:
        processes.append(subprocess.Popen(_hey(extra, url, headers), stdout=subprocess.PIPE, text=True))
        time_module.sleep((1 / rate_per_client if rate_per_client > 0 else 0.05) / len(clients))
    latencies: list[float] = []
    for process in processes:
        output, _ = process.communicate()
        latencies.extend(_latencies(output))
    return LoadResult(latencies, len(latencies) / (time_module.perf_counter() - started), "hey x clients")

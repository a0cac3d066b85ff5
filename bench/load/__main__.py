"""Mixed load test (issue 15, quality.md): lawyers browsing, interviewing and exporting, editors
authoring, admins reading the audit log, against `servanda api` with 2 workers plus `servanda
worker`, with the product's own rate limits.

Prepares a fresh embedded database (`servanda demo scale` at a small size plus one account per
simulated user, ``bench/load/seed.py``), starts the processes, runs locust headless
(``bench/load/locustfile.py``; the mix and its reasons in ``bench/load/mix.py``) and samples
the memory (RSS; PostgreSQL as USS and PSS over its processes, and USS per client backend with
the backends per application name) and CPU of every process. Prints, per operation, requests,
failures, P50/P95/P99 and throughput next to the quality.md targets, the sustained throughput,
the zero-error verdict and each process's memory growth (limit 10 %). Latency and throughput
count the steady state (after every user has started); failures count the whole run. Memory
growth counts from the end of a warm-up (:func:`warmup_seconds`) to the end.

    .venv/bin/python -m bench.load [--users 300] [--duration 10m]   (make bench-load)
    .venv/bin/python -m bench.load --duration 60s --users 40         (a quick check)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import psycopg
from joserfc.jwk import RSAKey

from bench.common import RESULTS, api_server, bench_database, percentile
from bench.export import worker_process
from bench.load.mix import (
    MEMORY_GROWTH_LIMIT,
    MIX,
    P50_TARGETS_MS,
    P95_TARGETS_MS,
    THROUGHPUT_TARGET_RPS,
    user_counts,
)
from bench.load.seed import prepare, write_accounts
from servanda.platform.tokens import LocalTokens

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
SAMPLE_EVERY_S = 5.0
PER_BACKEND = "PostgreSQL, per client backend (private)"
BACKENDS = "backends"  # a sample's client backends per application name


def seconds(text: str) -> int:
    """``600``, ``60s``, ``10m``, ``1h30m`` -> seconds."""
    if text.isdigit():
        return int(text)
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text)
    if not parts or not any(parts.groups()):
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 600, 60s, 10m)")
    h, m, s = (int(g or 0) for g in parts.groups())
    return h * 3600 + m * 60 + s


def warmup_seconds(duration_s: int) -> float:
    """How long after the last user started the memory's start sample is taken (unless --warmup
    says): 120 s of a 10-minute run (a fifth of a shorter one). The pools are full from start-up
    (fill_pool), so the backend count is final before the load begins. 120 s are enough for the
    application's processes (flat from there on); PostgreSQL's backends fill their plan caches
    for about 20 minutes at this mix: psycopg prepares a statement on its 5th execution on a
    connection, and the rarer statements get there late on each of the 20 API connections
    (measured with pg_log_backend_memory_contexts, docs/operations.md run 6). To judge them,
    run longer with a longer warm-up (``--duration 35m --warmup 25m``)."""
    return min(120.0, duration_s * 0.2)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# -- the processes and their memory ------------------------------------------------------------


def _group(process: psutil.Process) -> list[psutil.Process]:
    try:
        return [process, *process.children(recursive=True)]
    except psutil.Error:
        return []


# PostgreSQL's shared memory: the main segment (shared buffers; an anonymous shared mapping shown
# as /dev/zero) and dynamic segments. A page of it that one process alone has touched counts in that
# process's USS, so USS grows while the buffer cache fills (one backend of 2 MB heap showed 124 MB
# of /dev/zero in its USS): private memory below leaves these mappings out.
SHARED_MEMORY = ("/dev/zero", "/dev/shm/", "/SYSV")  # noqa: S108 - mapping names, not files


def _private(p: psutil.Process) -> int:
    """Private pages outside shared memory: heap, stacks, private mappings (what a leak grows)."""
    return sum(
        m.private_clean + m.private_dirty
        for m in p.memory_maps(grouped=True)
        if not m.path.startswith(SHARED_MEMORY)
    )


def _memory_mb(processes: list[psutil.Process], measure: str) -> float:
    total = 0
    for p in processes:
        with contextlib.suppress(psutil.Error):  # a backend that just ended
            if measure == "rss":
                total += p.memory_info().rss
            elif measure == "private":
                total += _private(p)
            else:
                total += getattr(p.memory_full_info(), measure)
    return total / 2**20


def _cpu_by_pid(processes: list[psutil.Process]) -> dict[int, float]:
    """CPU seconds so far of each process (a process's own, not its children's)."""
    found = {}
    for p in processes:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            found[p.pid] = round(t.user + t.system, 2)
    return found


def _cpu_over(samples: list[tuple[float, dict[str, Any]]], role: str) -> float:
    """CPU seconds ``role``'s processes used from the first of ``samples`` to the last, per process:
    one present at the first counts from there, one started later in full, each up to the last
    sample it was seen in. So processes that come and go (LibreOffice, started afresh every
    EXPORT_CONVERTER_MAX_CONVERSIONS conversions) are counted, not subtracted."""
    first: dict[int, float] = samples[0][1][role]["cpu_by_pid"]
    last: dict[int, float] = {}
    for _, sample in samples:
        last.update(sample[role]["cpu_by_pid"])
    return sum(cpu - first.get(pid, 0.0) for pid, cpu in last.items())


@dataclass
class Watched:
    """The processes under test, by role; each entry a callable so restarted children are seen."""

    roles: dict[str, Any] = field(default_factory=dict)
    pids: dict[str, list[int]] = field(default_factory=dict)
    superuser: str = ""
    # PostgreSQL's client backends (pid -> application name) and the sampler's own backend
    # (excluded: it is ending while the memory is read), as of the last sample
    backends: dict[int, str] = field(default_factory=dict)
    own_backend: int = 0

    def _client_backends(self) -> None:
        with psycopg.connect(self.superuser, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid, application_name, pg_backend_pid() FROM pg_stat_activity "
                "WHERE backend_type = 'client backend'"
            ).fetchall()
        self.own_backend = rows[0][2] if rows else 0
        self.backends = {pid: name or "-" for pid, name, _ in rows if pid != self.own_backend}

    def _postgres(self, postmaster: psutil.Process) -> list[psutil.Process]:
        return [p for p in _group(postmaster) if p.pid != self.own_backend]

    def _backend_processes(self) -> list[psutil.Process]:
        found = []
        for pid in self.backends:
            with contextlib.suppress(psutil.Error):
                found.append(psutil.Process(pid))
        return found

    @classmethod
    def find(cls, superuser: str) -> Watched:
        mine = psutil.Process().children(recursive=True)

        def cmd(p: psutil.Process) -> list[str]:
            try:
                return list(p.cmdline())
            except psutil.Error:
                return []

        api = next(p for p in mine if "servanda" in cmd(p) and "api" in cmd(p))
        worker = next(p for p in mine if "servanda" in cmd(p) and "worker" in cmd(p))
        with psycopg.connect(superuser) as conn:  # the backend's parent, while the backend lives
            row = conn.execute("SELECT pg_backend_pid()").fetchone()
            assert row is not None
            postmaster = psutil.Process(row[0]).parent()
        assert postmaster is not None
        api_workers = sorted(
            (p for p in api.children() if not any("resource_tracker" in a for a in cmd(p))),
            key=lambda p: p.pid,
        )
        watched = cls(superuser=superuser)
        for n, p in enumerate(api_workers, 1):
            watched.roles[f"api worker {n} (RSS)"] = (lambda p=p: _group(p), "rss")
        watched.roles["api supervisor (RSS)"] = (lambda: [api], "rss")
        watched.roles["export worker (RSS)"] = (lambda: [worker], "rss")
        watched.roles["LibreOffice, converter processes (RSS)"] = (lambda: _group(worker)[1:], "rss")
        # Summed RSS would count the shared buffers once per backend, and so, in part, would USS
        # (SHARED_MEMORY). Private memory outside shared memory is what a leak would grow; judged.
        # Total = backends x memory per backend (+ the server's own processes): the two rows below
        # tell "more connections" from "each connection grows" (the pools are full from start-up).
        watched.roles["PostgreSQL, all processes (private)"] = (
            lambda: watched._postgres(postmaster),
            "private",
        )
        watched.roles[PER_BACKEND] = (watched._backend_processes, "private_mean")
        watched.roles["PostgreSQL, all processes (USS)"] = (lambda: watched._postgres(postmaster), "uss")
        watched.roles["PostgreSQL, all processes (PSS)"] = (lambda: watched._postgres(postmaster), "pss")
        watched.roles["locust (load generator, RSS)"] = (
            lambda: [p for p in psutil.Process().children() if any("locust" in a for a in cmd(p))],
            "rss",
        )
        watched.pids = {"api": [p.pid for p in api_workers], "worker": [worker.pid]}
        return watched

    def sample(self) -> dict[str, Any]:
        with contextlib.suppress(psycopg.Error):  # busy or away for a moment: the last list stands
            self._client_backends()
        out: dict[str, Any] = {}
        for role, (processes, measure) in self.roles.items():
            group = processes()
            if measure == "private_mean":
                mb = _memory_mb(group, "private") / len(group) if group else 0.0
            else:
                mb = _memory_mb(group, measure)
            out[role] = {
                "mb": round(mb, 2 if measure == "private_mean" else 1),
                "cpu_by_pid": _cpu_by_pid(group),
                "processes": len(group),
            }
        by_name: dict[str, int] = {}
        for name in self.backends.values():
            by_name[name] = by_name.get(name, 0) + 1
        out[BACKENDS] = dict(sorted(by_name.items()))
        return out


class Sampler(threading.Thread):
    def __init__(self, watched: Watched) -> None:
        super().__init__(daemon=True)
        self.watched = watched
        self.samples: list[tuple[float, dict[str, Any]]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            self.samples.append((time.time(), self.watched.sample()))
            self.halt.wait(SAMPLE_EVERY_S)

    def at(self, moment: float) -> tuple[float, dict[str, Any]]:
        """The first sample at or after ``moment`` (else the last)."""
        return next((s for s in self.samples if s[0] >= moment), self.samples[-1])

    def between(self, start: float, end: float) -> list[tuple[float, dict[str, Any]]]:
        return [s for s in self.samples if start <= s[0] <= end]

    def before(self, moment: float) -> tuple[float, dict[str, Any]]:
        return [s for s in self.samples if s[0] <= moment][-1]


# -- the run -----------------------------------------------------------------------------------


@contextmanager
def system_under_test(db_app: str, key_pem: str, data_dir: Path) -> Iterator[str]:
    """`servanda api --workers 2` and `servanda worker` on one data directory, started side by side
    (the worker's warm LibreOffice takes a while)."""
    with contextlib.ExitStack() as stack, ThreadPoolExecutor(2) as pool:
        api = api_server(db_app, key_pem, workers=2, data_dir=str(data_dir), product_rate_limits=True)
        started = [
            pool.submit(stack.enter_context, cm) for cm in (api, worker_process(db_app, str(data_dir)))
        ]
        base = started[0].result()
        started[1].result()
        yield base


def run_locust(
    base: str, counts: dict[str, int], spawn_rate: float, duration_s: int, work: Path, accounts: Path
) -> dict[str, Any]:
    env = {
        **os.environ,
        "LOAD_ACCOUNTS": str(accounts),
        "LOAD_COUNTS": json.dumps(counts),
        "LOAD_RESULTS": str(work / "locust-results.json"),
        "LOAD_MARKER": str(work / "spawned"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--users",
        str(sum(counts.values())),
        "--spawn-rate",
        f"{spawn_rate:g}",
        "--run-time",
        f"{duration_s}s",
        "--host",
        base,
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--exit-code-on-error",
        "0",
    ]
    with open(work / "locust.log", "w", encoding="utf-8") as log:
        finished = subprocess.run(
            command, env=env, cwd=ROOT, stdout=log, stderr=log, check=False, timeout=duration_s + 300
        )
    output = (work / "locust.log").read_text()
    if finished.returncode != 0 or not (work / "locust-results.json").exists():
        print(output[-4000:], file=sys.stderr)
        raise SystemExit(f"locust exited with {finished.returncode}")
    for line in output.splitlines():  # e.g. locust's own "CPU usage above 90%" (then it is the bottleneck)
        if "WARNING" in line or "ERROR" in line:
            print(f"  locust: {line.strip()}")
    result: dict[str, Any] = json.loads((work / "locust-results.json").read_text())
    return result


def summarise(result: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    steady_s = result["stopped"] - (result["steadySince"] or result["started"])
    failures: dict[str, dict[str, int]] = result["failures"]
    rows = []
    names = {key.split(" ", 1)[1]: key for key in result["samples"]}
    for name in sorted(set(names) | set(failures) | set(result["rampRequests"])):
        samples = result["samples"].get(names.get(name, ""), [])
        failed = sum(failures.get(name, {}).values())
        row: dict[str, Any] = {
            "operation": name,
            "requests": len(samples),
            "ramp_requests": result["rampRequests"].get(name, 0),
            "failures": failed,
            "per_s": round(len(samples) / steady_s, 2) if steady_s > 0 else 0.0,
            "job": names.get(name, "").startswith("JOB "),
        }
        if samples:
            row.update(
                p50_ms=round(percentile(samples, 50), 1),
                p95_ms=round(percentile(samples, 95), 1),
                p99_ms=round(percentile(samples, 99), 1),
            )
        if name in P95_TARGETS_MS:
            row["target"] = f"P95 < {P95_TARGETS_MS[name]:g} ms"
            row["verdict"] = "OK" if samples and row["p95_ms"] < P95_TARGETS_MS[name] else "MISSED"
        elif name in P50_TARGETS_MS:
            row["target"] = f"P50 < {P50_TARGETS_MS[name]:g} ms"
            row["verdict"] = "OK" if samples and row["p50_ms"] < P50_TARGETS_MS[name] else "MISSED"
        rows.append(row)
    http = [r for r in rows if not r["job"]]
    total = sum(r["requests"] for r in http)
    errors = sum(r["failures"] for r in rows) + sum(result["userErrors"].values())
    totals = {
        "steady_s": round(steady_s, 1),
        "requests": total + sum(r["ramp_requests"] for r in http),
        "steady_requests": total,
        "throughput_rps": round(total / steady_s, 1) if steady_s > 0 else 0.0,
        "throughput_target_rps": THROUGHPUT_TARGET_RPS,
        "throughput_verdict": "OK"
        if steady_s > 0 and total / steady_s >= THROUGHPUT_TARGET_RPS
        else "MISSED",
        "errors": errors,
        "zero_errors": "OK" if errors == 0 else "MISSED",
        "failures": failures,
        "user_errors": result["userErrors"],
        "by_class": result["byClass"],
    }
    return rows, totals


def memory_table(sampler: Sampler, idle_at: float, start_at: float, end_at: float) -> dict[str, Any]:
    idle, start, end = sampler.before(idle_at)[1], sampler.at(start_at), sampler.before(end_at)
    window = end[0] - start[0]
    mid = sampler.at(start[0] + window / 2)[1]  # a plateau (warm-up) or a slope (a leak)?
    table: dict[str, Any] = {}
    for role in start[1]:
        if role == BACKENDS:
            continue
        s, e = start[1][role]["mb"], end[1][role]["mb"]
        growth = (e - s) / s if s else 0.0
        table[role] = {
            "idle_mb": idle[role]["mb"],
            "start_mb": s,
            "mid_mb": mid[role]["mb"],
            "end_mb": e,
            "growth_pct": round(growth * 100, 1),
            # USS and PSS count shared-buffer pages (bounded by shared_buffers): shown, judged by the private rows
            "verdict": "-"
            if "(PSS)" in role or "(USS)" in role or "locust" in role
            else "OK"
            if growth <= MEMORY_GROWTH_LIMIT
            else "MISSED",
            "cpu_pct": round(_cpu_over(sampler.between(start[0], end[0]), role) / window * 100, 1)
            if window > 0 and role != PER_BACKEND  # the same backends as "all processes"
            else None,
            "processes": f"{start[1][role]['processes']:g}/{end[1][role]['processes']:g}",
        }
    return table


def backend_table(sampler: Sampler, idle_at: float, start_at: float, end_at: float) -> dict[str, Any]:
    """PostgreSQL's client backends per application name: idle (before the load), start, end."""
    idle, start, end = sampler.before(idle_at)[1], sampler.at(start_at)[1], sampler.before(end_at)[1]
    names = sorted(set(idle[BACKENDS]) | set(start[BACKENDS]) | set(end[BACKENDS]))
    return {
        name: {
            moment: sample[BACKENDS].get(name, 0)
            for moment, sample in (("idle", idle), ("start", start), ("end", end))
        }
        for name in names
    }


def cpu_per_request(memory: dict[str, Any], totals: dict[str, Any]) -> dict[str, Any]:
    """CPU of the processes under test per request (steady state): unlike latency on a shared machine
    this hardly moves with other processes' load, so it gives what 2 dedicated cores would sustain."""
    server = {
        r: m["cpu_pct"] or 0.0
        for r, m in memory.items()
        if "(PSS)" not in r and "(USS)" not in r and "locust" not in r and r != PER_BACKEND
    }
    rps = totals["throughput_rps"]
    ms = sum(server.values()) / 100 / rps * 1000 if rps else 0.0
    return {
        "server_cpu_pct": round(sum(server.values()), 1),
        "cpu_ms_per_request": round(ms, 2),
        "cpu_bound_rps_2_cores": round(2000 / ms, 1) if ms else None,
    }


def print_report(
    args: argparse.Namespace,
    counts: dict[str, int],
    rows: list[dict[str, Any]],
    totals: dict[str, Any],
    memory: dict[str, Any],
    extra: dict[str, Any],
) -> None:
    mix = ", ".join(f"{name} {n}" for name, n in counts.items())
    print(
        f"Mixed load, {sum(counts.values())} users ({mix}), {args.tenants} law firms, "
        f"2 API workers + export worker, product rate limits; steady state {totals['steady_s']:.0f} s "
        f"of {extra['duration_s']} s; load average before {extra['load_before']}, after {extra['load_after']}"
    )
    print(
        f"  {'operation':<36} {'n':>7} {'fail':>5} {'P50 ms':>8} {'P95 ms':>8} {'P99 ms':>8} {'req/s':>7}  target"
    )
    for r in rows:
        stats = (
            f"{r['p50_ms']:8.1f} {r['p95_ms']:8.1f} {r['p99_ms']:8.1f}" if "p50_ms" in r else f"{'-':>8} " * 3
        )
        target = f"  {r['target']} {r['verdict']}" if "target" in r else ""
        print(
            f"  {r['operation']:<36} {r['requests']:7d} {r['failures']:5d} {stats} {r['per_s']:7.1f}{target}"
        )
    print(
        f"  sustained throughput {totals['throughput_rps']:.1f} req/s (target >= {THROUGHPUT_TARGET_RPS:g}) "
        f"{totals['throughput_verdict']}; {totals['requests']} requests, {totals['errors']} errors "
        f"(zero errors: {totals['zero_errors']})"
    )
    cpu = totals["cpu"]
    print(
        f"  CPU of the processes under test: {cpu['server_cpu_pct']:.0f} % of one core = "
        f"{cpu['cpu_ms_per_request']:.1f} ms per request at this mix -> about {cpu['cpu_bound_rps_2_cores']} "
        "req/s if they had 2 cores to themselves"
    )
    for name, messages in totals["failures"].items():
        for message, n in list(messages.items())[:5]:
            print(f"    failure {name}: {n} x {message}")
    for message, n in list(totals["user_errors"].items())[:10]:
        print(f"    error in a task: {n} x {message}")
    print(
        f"  memory (MB; start = {extra['warmup_s']:.0f} s after the last user started, "
        f"{extra['warmup_requests']} requests = about {extra['warmup_requests_per_connection']} per pooled "
        f"API connection; limit +{MEMORY_GROWTH_LIMIT:.0%}), CPU % over the window:"
    )
    for role, m in memory.items():
        print(
            f"    {role:<40} idle {m['idle_mb']:7.1f}  start {m['start_mb']:7.1f}  mid {m['mid_mb']:7.1f}  "
            f"end {m['end_mb']:7.1f}  "
            f"growth {m['growth_pct']:+6.1f} % {m['verdict']:<6}  CPU {m['cpu_pct'] or 0:5.1f} %  procs {m['processes']}"
        )
    backends = extra["postgres_backends"]
    print(
        "  PostgreSQL client backends (idle/start/end): "
        + ", ".join(f"{name} {c['idle']}/{c['start']}/{c['end']}" for name, c in backends.items())
        + "; all "
        + "/".join(str(sum(c[m] for c in backends.values())) for m in ("idle", "start", "end"))
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--users", type=int, default=300, help="simulated users in all (split by bench/load/mix.py)"
    )
    parser.add_argument(
        "--spawn-rate", type=float, default=0, help="users started per second (default: all in 30 s)"
    )
    parser.add_argument("--duration", type=seconds, default=seconds("10m"), help="e.g. 10m (default), 60s")
    parser.add_argument(
        "--warmup",
        type=seconds,
        default=None,
        help="time after the last user started before the memory's start sample "
        "(default: 120 s, a fifth of a shorter run); e.g. --duration 35m --warmup 25m judges the "
        "last 10 minutes of a run whose caches had 25 minutes to fill",
    )
    parser.add_argument("--tenants", type=int, default=10, help="law firms")
    parser.add_argument("--contracts", type=int, default=10_000)
    parser.add_argument("--audit-events", type=int, default=100_000)
    parser.add_argument("--output", type=Path, default=RESULTS / "load.json")
    args = parser.parse_args(argv)
    counts = user_counts(args.users)
    spawn_rate = args.spawn_rate or max(1.0, args.users / 30)  # every user started within 30 s
    warmup_s = float(args.warmup) if args.warmup is not None else warmup_seconds(args.duration)
    if warmup_s >= args.duration:
        parser.error("--warmup must be shorter than --duration")
    key = RSAKey.generate_key(2048, private=True)
    key.ensure_kid()
    tokens = LocalTokens(key, ttl_s=args.duration + 3600)  # lawyers' sessions outlive the run
    extra: dict[str, Any] = {
        "duration_s": args.duration,
        "load_before": load_average(),
        "cores": os.cpu_count(),
    }
    wall = time.perf_counter()
    with (
        bench_database("servanda_bench_load") as db,
        tempfile.TemporaryDirectory(prefix="servanda-bench-load-") as tmp,
    ):
        work = Path(tmp)
        started = time.perf_counter()
        accounts, report = prepare(
            db, tokens, counts, tenants=args.tenants, contracts=args.contracts, audit_events=args.audit_events
        )
        extra["data"] = {**report.as_dict(), "prepare_s": round(time.perf_counter() - started, 1)}
        write_accounts(work / "accounts.json", accounts)
        (work / "data").mkdir()
        started = time.perf_counter()
        with system_under_test(db.app, key.as_pem(private=True).decode(), work / "data") as base:
            extra["start_processes_s"] = round(time.perf_counter() - started, 1)
            sampler = Sampler(Watched.find(db.superuser))
            sampler.start()
            time.sleep(1)
            idle_at = time.time()
            result = run_locust(base, counts, spawn_rate, args.duration, work, work / "accounts.json")
            end_at = time.time()
            sampler.halt.set()
            sampler.join()
            pids_after = Watched.find(db.superuser).pids
            extra["restarted_processes"] = pids_after != sampler.watched.pids
            started = time.perf_counter()
        extra["stop_s"] = round(time.perf_counter() - started, 1)
        extra["load_after"] = load_average()
    extra["wall_s"] = round(time.perf_counter() - wall, 1)
    rows, totals = summarise(result)
    steady = result["steadySince"] or result["started"]
    # the end sample: the last one while locust still ran (after it, its own row would read 0)
    end_at = min(end_at, result["stopped"])
    memory = memory_table(sampler, idle_at, steady + warmup_s, end_at)
    extra["warmup_s"] = warmup_s
    extra["postgres_backends"] = backends = backend_table(sampler, idle_at, steady + warmup_s, end_at)
    # every request before the start sample (ramp included) warmed the pooled connections up
    extra["warmup_requests"] = sum(n for t, n in result["perSecond"].items() if int(t) < steady + warmup_s)
    api_connections = backends.get("servanda-api", {}).get("start", 0)
    extra["warmup_requests_per_connection"] = (
        round(extra["warmup_requests"] / api_connections) if api_connections else None
    )
    totals["cpu"] = cpu_per_request(memory, totals)
    print_report(args, counts, rows, totals, memory, extra)
    if extra["restarted_processes"]:
        print("  a process under test was restarted during the run (pids changed)")
    results = {
        "users": counts,
        "spawn_rate": spawn_rate,
        "mix_weights_pct": {name: weight for name, (weight, _) in MIX.items()},
        **extra,
        "operations": rows,
        "totals": totals,
        "memory": memory,
        "memory_verdict": "MISSED" if any(m["verdict"] == "MISSED" for m in memory.values()) else "OK",
        "memory_samples": [
            {
                "t_s": round(t - idle_at, 1),
                **{role: v["mb"] for role, v in sample.items() if role != BACKENDS},
                BACKENDS: sample[BACKENDS],
            }
            for t, sample in sampler.samples
        ],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(f"results: {args.output}")
    return 0 if totals["errors"] == 0 and not extra["restarted_processes"] else 1


if __name__ == "__main__":
    raise SystemExit(main())

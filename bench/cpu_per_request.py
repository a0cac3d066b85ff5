"""CPU milliseconds the API process spends per request on the hot paths.

Sequential requests over one keep-alive connection against a real
`servanda api` process (1 worker); the server process's own CPU time (user +
system, from psutil) is divided by the request count. Unlike latency under
load, this figure hardly moves when other work shares the machine, so it is
the measure for "CPU per request" before and after a change.

    .venv/bin/python -m bench.cpu_per_request [--requests 400] [--profile DIR] [--throughput]

Beside each path it prints the floor under it, so a reader sees how much of the
CPU budget is left for the product's own code: a bare ASGI app under the same uvicorn
(HTTP parsing and the event loop alone), ``/health/live`` through the whole app and
middleware stack (no database, no token), and ``me`` (the same plus authentication: token,
rate-limit take and principal lookup). For every path it also prints what PostgreSQL's
backends of the API spent per request (their processes' CPU time; needs root or the
server's user) and what the client (httpx, in this process) spent.

``--throughput`` adds saturated throughput with 1 and with 2 API workers: the catalog page
driven by ``hey`` (20 clients back to back), autosave by 20 async clients each PATCHing its own
contract with a new answer every time (so no evaluation is ever repeated). For the catalog
loop it splits the machine's CPU per page into the API workers, PostgreSQL's backends, the
load generator (hey) and everything else, next to the goal's budget (2 cores / 800 pages/s =
2.5 ms of all CPU per page).

``--profile DIR`` also records each path's loop with py-spy (a dev dependency; it reads
the process's memory, so it needs root or ptrace rights) into ``DIR/<path>.txt``, collapsed
stacks of the samples that hold the GIL (``py-spy record --format raw --gil``): open them in
speedscope or any flame graph tool. Sampling costs the API process some CPU, so take the
figures of a run without it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import psycopg
from joserfc.jwk import RSAKey

from bench.common import BenchDatabase, api_server, bench_database, free_port, http_load, write_results
from bench.contracts import seed
from servanda.platform.tokens import LocalTokens

CLIENTS = 20
# The issue's goal, 800 catalog pages/s on this machine's 2 cores: the CPU of every process per page.
CORES = 2
CATALOG_GOAL_RPS = 800
BUDGET_MS = CORES * 1000 / CATALOG_GOAL_RPS


def server_process() -> psutil.Process:
    servers = [
        p
        for p in psutil.Process().children(recursive=True)
        if "api" in p.cmdline() and "servanda" in p.cmdline()
    ]
    assert len(servers) == 1, servers
    return servers[0]


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


class CpuMeter:
    """CPU seconds of a changing set of processes (gone ones count as 0; None: not readable)."""

    def __init__(self, processes: Callable[[], list[psutil.Process]]) -> None:
        self.processes = processes
        self.start: dict[int, float] = {}
        self.readable = True

    def _read(self) -> dict[int, float]:
        seen = {}
        for process in self.processes():
            try:
                seen[process.pid] = cpu_seconds(process)
            except psutil.NoSuchProcess:
                continue
            except psutil.AccessDenied:
                self.readable = False
        return seen

    def __enter__(self) -> CpuMeter:
        self.start = self._read()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._read()
        # a process that started during the loop counts from 0; one that ended is lost (a pool
        # connection opened and closed within the loop: the loops warm the pool first)
        self.seconds = sum(end[pid] - self.start.get(pid, 0.0) for pid in end)

    def ms_per(self, requests: int) -> float | None:
        return round(self.seconds * 1000 / requests, 3) if self.readable else None


def api_tree(server: psutil.Process) -> Callable[[], list[psutil.Process]]:
    """The API's processes: the server and, with several workers, its worker processes."""
    return lambda: [server, *server.children(recursive=True)]


def postgres_backends(superuser_url: str) -> Callable[[], list[psutil.Process]]:
    """The PostgreSQL backend processes serving the API's pool (application_name servanda-api)."""

    def backends() -> list[psutil.Process]:
        with psycopg.connect(superuser_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'servanda-api'"
            ).fetchall()
        found = []
        for (pid,) in rows:
            with contextlib.suppress(psutil.NoSuchProcess):
                found.append(psutil.Process(pid))
        return found

    return backends


def machine_busy_seconds() -> float:
    """CPU seconds all processes of the machine spent (every core, idle and I/O wait excluded)."""
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def children_cpu_seconds() -> float:
    """CPU seconds of this process's children that have ended (hey runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def bare_app(scope: dict[str, object], receive: Callable, send: Callable) -> None:  # type: ignore[type-arg]
    """The floor under uvicorn: an ASGI app that answers a small JSON document and nothing else."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b'{"status":"ok"}'
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@contextlib.contextmanager
def bare_server() -> Iterator[tuple[str, psutil.Process]]:
    """``bare_app`` under uvicorn with the API's HTTP options (httptools, uvloop when installed)."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "bench.cpu_per_request:bare_app", "--port", str(port)]
    command += ["--host", "127.0.0.1", "--log-level", "warning", "--no-access-log", "--no-server-header"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(base, timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        yield base, psutil.Process(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextlib.contextmanager
def profiled(pid: int, output: Path | None) -> Iterator[None]:
    """Record the process ``pid`` with py-spy into ``output`` while the block runs (None: not at all)."""
    if output is None:
        yield
        return
    spy = Path(sys.executable).parent / "py-spy"
    command = [str(spy), "record", "--pid", str(pid), "--format", "raw", "--gil", "--rate", "250"]
    recorder = subprocess.Popen([*command, "--output", str(output)], stdout=subprocess.DEVNULL)
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        recorder.wait(timeout=60)


async def _autosaves(base: str, headers: dict[str, str], contracts: list[str], seconds: float) -> int:
    """One client per contract, back-to-back PATCHes with a new answer each time, for ``seconds``."""
    deadline = time.monotonic() + seconds
    done = 0

    async def client(contract: str) -> None:
        nonlocal done
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
            value = 0
            while time.monotonic() < deadline:
                value += 1
                answer = await http.patch(f"/api/v1/contracts/{contract}", json={"answers": {"q1": value}})
                assert answer.status_code == 200, answer.text
                done += 1

    await asyncio.gather(*(client(c) for c in contracts))
    return done


def saturated(
    db: BenchDatabase, key: RSAKey, headers: dict[str, str], template: str, workers: int, seconds: float
) -> tuple[dict[str, float], dict[str, float | None]]:
    """Requests per second of `servanda api --workers N` with 20 clients back to back, and the
    catalog loop's CPU ms per page split by process."""
    figures: dict[str, float] = {}
    with api_server(db.app, key.as_pem(private=True).decode(), workers=workers) as base:
        with httpx.Client(base_url=base, headers=headers) as http:
            contracts = []
            for n in range(CLIENTS):
                created = http.post("/api/v1/contracts", json={"templateId": template, "title": f"Last {n}"})
                assert created.status_code == 201, created.text
                contracts.append(created.json()["id"])
        for _ in range(2):  # warm every worker's caches and pool
            http_load(f"{base}/api/v1/catalog/templates", headers, concurrency=CLIENTS, requests=200)
        requests = int(400 * seconds)
        with CpuMeter(api_tree(server_process())) as api, CpuMeter(postgres_backends(db.superuser)) as pg:
            busy, hey = machine_busy_seconds(), children_cpu_seconds()
            catalog = http_load(
                f"{base}/api/v1/catalog/templates", headers, concurrency=CLIENTS, requests=requests
            )
            busy, hey = machine_busy_seconds() - busy, children_cpu_seconds() - hey
        split: dict[str, float | None] = {
            "API workers": api.ms_per(requests),
            "PostgreSQL backends": pg.ms_per(requests),
            "load generator (hey)": round(hey * 1000 / requests, 3),
            "whole machine": round(busy * 1000 / requests, 3),
        }
        known = [v for v in list(split.values())[:3] if v is not None]
        split["rest of the machine (other processes)"] = round(split["whole machine"] - sum(known), 3)  # type: ignore[operator]
        figures["catalog page req/s"] = round(catalog.throughput_rps, 1)
        asyncio.run(_autosaves(base, headers, contracts, 2))
        started = time.monotonic()
        count = asyncio.run(_autosaves(base, headers, contracts, seconds))
        figures["autosave PATCH req/s"] = round(count / (time.monotonic() - started), 1)
    return figures, split


def _ms(value: float | None) -> str:
    return "   n/a" if value is None else f"{value:6.2f}"


def _loop(
    client: httpx.Client,
    server: psutil.Process,
    backends: Callable[[], list[psutil.Process]] | None,
    call: tuple[str, str, Callable[[], str] | None],
    headers: dict[str, str],
    requests: int,
    output: Path | None,
) -> dict[str, float | None]:
    """``requests`` sequential requests: CPU ms per request of the server, its PostgreSQL backends
    (None: no database, or not readable) and this process (the client)."""
    method, path, body = call
    for _ in range(20):  # warm caches and the pool
        client.request(method, path, headers=headers, content=body() if body else None)
    me = psutil.Process()
    with (
        profiled(server.pid, output),
        CpuMeter(lambda: [server]) as api,
        CpuMeter(backends or list) as pg,
        CpuMeter(lambda: [me]) as own,
    ):
        for _ in range(requests):
            content = body() if body else None
            response = client.request(method, path, headers=headers, content=content)
            assert response.status_code == 200, response.text
    return {
        "api": api.ms_per(requests),
        "postgres": pg.ms_per(requests) if backends else None,
        "client": own.ms_per(requests),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--profile", type=Path, help="record each loop with py-spy into this directory")
    parser.add_argument(
        "--throughput",
        action="store_true",
        help="also saturate catalog page (hey) and autosave (a new answer per PATCH) with 1 and 2 workers",
    )
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    key = RSAKey.generate_key(2048, private=True)
    key.ensure_kid()
    tokens = LocalTokens(key)
    rows: dict[str, dict[str, float | None]] = {}
    throughput: dict[str, float] = {}
    splits: dict[str, dict[str, float | None]] = {}

    def output(name: str) -> Path | None:
        return args.profile / f"{name.replace(' ', '_').replace('/', '_')}.txt" if args.profile else None

    def show(name: str, row: dict[str, float | None]) -> None:
        rows[name] = row
        print(f"  {name:<26} {_ms(row['api'])} {_ms(row['postgres'])}   {_ms(row['client'])}")

    print(f"  {'CPU ms per request':<26}    API PostgreSQL client (httpx)   [1 worker, sequential]")
    with bare_server() as (bare_base, bare), httpx.Client(base_url=bare_base) as client:
        show(
            "floor: bare ASGI (uvicorn)",
            _loop(client, bare, None, ("GET", "/", None), {}, args.requests, None),
        )
    with bench_database("servanda_bench_cpu") as db:
        firm, users, template = seed(db.superuser, db.app)
        user, session = users[0]
        token = tokens.issue(user_id=user, tenant_id=firm, email="x@k.de", role="user", session_id=session)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        with (
            api_server(db.app, key.as_pem(private=True).decode()) as base,
            httpx.Client(base_url=base) as client,
        ):
            server = server_process()
            backends = postgres_backends(db.superuser)
            live = ("GET", "/health/live", None)
            show("floor: /health/live", _loop(client, server, None, live, {}, args.requests, output("live")))
            created = client.post(
                "/api/v1/contracts", json={"templateId": str(template), "title": "CPU"}, headers=headers
            )
            assert created.status_code == 201, created.text
            contract = created.json()["id"]
            sent = iter(range(1, 1_000_000))

            def patch() -> str:
                # a new answer each time, as a lawyer types: no request repeats an evaluated state
                return json.dumps({"answers": {"q1": next(sent), "q2": 3}})

            calls: dict[str, tuple[str, str, Callable[[], str] | None]] = {
                "me": ("GET", "/api/v1/identity/me", None),
                "catalog page": ("GET", "/api/v1/catalog/templates", None),
                "contract GET": ("GET", f"/api/v1/contracts/{contract}", None),
                "autosave PATCH": ("PATCH", f"/api/v1/contracts/{contract}", patch),
                "validate": ("POST", f"/api/v1/contracts/{contract}/validate", None),
            }
            for name, call in calls.items():
                show(name, _loop(client, server, backends, call, headers, args.requests, output(name)))
        if args.throughput:
            for workers in (1, 2):
                figures, split = saturated(db, key, headers, str(template), workers, args.seconds)
                for name, rate in figures.items():
                    label = f"{name}, {workers} worker{'s' if workers > 1 else ''}"
                    throughput[label] = rate
                    print(f"  {label:<36} {rate:7.1f} (20 clients back to back)")
                splits[f"{workers} worker{'s' if workers > 1 else ''}"] = split
                print(
                    f"    CPU ms per catalog page, saturated (budget for {CATALOG_GOAL_RPS}/s: {BUDGET_MS} ms):"
                )
                for part, value in split.items():
                    print(f"      {part:<40} {_ms(value)}")
    floor = rows["floor: /health/live"]["api"] or 0.0
    auth = (rows["me"]["api"] or 0.0) - floor
    print(
        f"  budget per catalog page for {CATALOG_GOAL_RPS}/s on {CORES} cores: {BUDGET_MS} ms of all CPU; "
        f"the framework floor takes {floor:.2f} ms of it in the API, authentication {auth:.2f} ms more, "
        f"PostgreSQL {_ms(rows['catalog page']['postgres']).strip()} ms, the catalog page's own API work "
        f"{(rows['catalog page']['api'] or 0.0) - floor - auth:.2f} ms"
    )
    if args.profile:
        print(f"profiles (py-spy, collapsed stacks): {args.profile}")
        return  # sampled figures are inflated: keep the stored results
    load = os.getloadavg()
    results: dict[str, object] = {
        name: row["api"] for name, row in rows.items() if not name.startswith("floor")
    }
    results["floor_api_ms"] = {name: row["api"] for name, row in rows.items() if name.startswith("floor")}
    results["postgres_ms"] = {
        name: row["postgres"] for name, row in rows.items() if row["postgres"] is not None
    }
    results["client_httpx_ms"] = {name: row["client"] for name, row in rows.items()}
    results["budget_ms_per_catalog_page"] = BUDGET_MS
    results["load_average_1_5_15"] = [round(x, 2) for x in load]
    if throughput:
        results["saturated"] = throughput
        results["saturated_catalog_cpu_ms_per_page"] = splits
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"results: {write_results('cpu_per_request', results)}")


if __name__ == "__main__":
    main()

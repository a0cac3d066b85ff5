"""CPU milliseconds the API process spends per request on the hot paths.

Sequential requests over one keep-alive connection against a real
`servanda api` process (1 worker); the server process's own CPU time (user +
system, from psutil) is divided by the request count. Unlike latency under
load, this figure hardly moves when other work shares the machine, so it is
the measure for "CPU per request" before and after a change.

    .venv/bin/python -m bench.cpu_per_request [--requests 400] [--profile DIR] [--throughput]

``--throughput`` adds saturated throughput with 1 and with 2 API workers: the catalog page
driven by ``hey`` (20 clients back to back), autosave by 20 async clients each PATCHing its own
contract with a new answer every time (so no evaluation is ever repeated).

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
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
from joserfc.jwk import RSAKey

from bench.common import BenchDatabase, api_server, bench_database, http_load, write_results
from bench.contracts import seed
from servanda.platform.tokens import LocalTokens

CLIENTS = 20


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
) -> dict[str, float]:
    """Requests per second of `servanda api --workers N` with 20 clients back to back."""
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
        catalog = http_load(
            f"{base}/api/v1/catalog/templates", headers, concurrency=CLIENTS, requests=int(400 * seconds)
        )
        figures["catalog page req/s"] = round(catalog.throughput_rps, 1)
        asyncio.run(_autosaves(base, headers, contracts, 2))
        started = time.monotonic()
        count = asyncio.run(_autosaves(base, headers, contracts, seconds))
        figures["autosave PATCH req/s"] = round(count / (time.monotonic() - started), 1)
    return figures


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
    rows: dict[str, float] = {}
    throughput: dict[str, float] = {}
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
            created = client.post(
                "/api/v1/contracts", json={"templateId": str(template), "title": "CPU"}, headers=headers
            )
            assert created.status_code == 201, created.text
            contract = created.json()["id"]
            sent = iter(range(1, 1_000_000))

            def patch() -> str:
                # a new answer each time, as a lawyer types: no request repeats an evaluated state
                return json.dumps({"answers": {"q1": next(sent), "q2": 3}})

            calls = {
                "me": ("GET", "/api/v1/identity/me", None),
                "catalog page": ("GET", "/api/v1/catalog/templates", None),
                "contract GET": ("GET", f"/api/v1/contracts/{contract}", None),
                "autosave PATCH": ("PATCH", f"/api/v1/contracts/{contract}", patch),
                "validate": ("POST", f"/api/v1/contracts/{contract}/validate", None),
            }
            for name, (method, path, body) in calls.items():
                for _ in range(20):  # warm caches and the pool
                    client.request(method, path, headers=headers, content=body() if body else None)
                output = args.profile / f"{name.replace(' ', '_')}.txt" if args.profile else None
                with profiled(server.pid, output):
                    before = cpu_seconds(server)
                    for _ in range(args.requests):
                        content = body() if body else None
                        response = client.request(method, path, headers=headers, content=content)
                        assert response.status_code == 200, response.text
                    rows[name] = round((cpu_seconds(server) - before) * 1000 / args.requests, 3)
                print(f"  {name:<16} {rows[name]:6.2f} CPU ms per request (API process, 1 worker)")
        if args.throughput:
            for workers in (1, 2):
                for name, rate in saturated(db, key, headers, str(template), workers, args.seconds).items():
                    label = f"{name}, {workers} worker{'s' if workers > 1 else ''}"
                    throughput[label] = rate
                    print(f"  {label:<36} {rate:7.1f} (20 clients back to back)")
    if args.profile:
        print(f"profiles (py-spy, collapsed stacks): {args.profile}")
        return  # sampled figures are inflated: keep the stored results
    load = os.getloadavg()
    results: dict[str, object] = {**rows, "load_average_1_5_15": [round(x, 2) for x in load]}
    if throughput:
        results["saturated"] = throughput
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"results: {write_results('cpu_per_request', results)}")


if __name__ == "__main__":
    main()

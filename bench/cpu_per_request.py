"""CPU milliseconds the API process spends per request on the hot paths.

Sequential requests over one keep-alive connection against a real
`servanda api` process (1 worker); the server process's own CPU time (user +
system, from psutil) is divided by the request count. Unlike latency under
load, this figure hardly moves when other work shares the machine, so it is
the measure for "CPU per request" before and after a change.

    .venv/bin/python -m bench.cpu_per_request [--requests 400] [--profile DIR]

``--profile DIR`` also records each path's loop with py-spy (a dev dependency; it reads
the process's memory, so it needs root or ptrace rights) into ``DIR/<path>.txt``, collapsed
stacks of the samples that hold the GIL (``py-spy record --format raw --gil``): open them in
speedscope or any flame graph tool. Sampling costs the API process some CPU, so take the
figures of a run without it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
from joserfc.jwk import RSAKey

from bench.common import api_server, bench_database, write_results
from bench.contracts import seed
from servanda.platform.tokens import LocalTokens


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--profile", type=Path, help="record each loop with py-spy into this directory")
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    key = RSAKey.generate_key(2048, private=True)
    key.ensure_kid()
    tokens = LocalTokens(key)
    rows: dict[str, float] = {}
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
    if args.profile:
        print(f"profiles (py-spy, collapsed stacks): {args.profile}")
        return  # sampled figures are inflated: keep the stored results
    print(f"results: {write_results('cpu_per_request', rows)}")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()

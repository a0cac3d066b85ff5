"""CPU milliseconds the API process spends per request on the hot paths.

Sequential requests over one keep-alive connection against a real
`servanda api` process (1 worker); the server process's own CPU time (user +
system, from psutil) is divided by the request count. Unlike latency under
load, this figure hardly moves when other work shares the machine, so it is
the measure for "CPU per request" before and after a change.

    .venv/bin/python -m bench.cpu_per_request [--requests 400]
"""

from __future__ import annotations

import argparse
import json

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
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
            patch = json.dumps({"answers": {"q1": 7, "q2": 3}})
            calls = {
                "me": ("GET", "/api/v1/identity/me", None),
                "catalog page": ("GET", "/api/v1/catalog/templates", None),
                "contract GET": ("GET", f"/api/v1/contracts/{contract}", None),
                "autosave PATCH": ("PATCH", f"/api/v1/contracts/{contract}", patch),
                "validate": ("POST", f"/api/v1/contracts/{contract}/validate", None),
            }
            for name, (method, path, body) in calls.items():
                for _ in range(20):  # warm caches and the pool
                    client.request(method, path, headers=headers, content=body)
                before = cpu_seconds(server)
                for _ in range(args.requests):
                    response = client.request(method, path, headers=headers, content=body)
                    assert response.status_code == 200, response.text
                rows[name] = round((cpu_seconds(server) - before) * 1000 / args.requests, 3)
                print(f"  {name:<16} {rows[name]:6.2f} CPU ms per request (API process, 1 worker)")
    print(f"results: {write_results('cpu_per_request', rows)}")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()

"""Request rate limits per user and per tenant: 429 ``request.rate_limited`` with Retry-After (issue 8, defect 7),
shared by every API process through PostgreSQL (issue 15): two real ``servanda api`` processes together
allow the configured rate; the per-address login throttle holds across them too."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from servanda.app import create_app
from servanda.platform.config import Settings, load_settings
from tests.auth_helpers import login_as
from tests.conftest import DbUnderTest

ME = "/api/v1/identity/me"
LIMITS = (
    "rate_limit_user_per_s",
    "rate_limit_user_burst",
    "rate_limit_tenant_per_s",
    "rate_limit_tenant_burst",
)


@pytest.fixture
def limited_api(clean_db: DbUnderTest) -> Callable[..., Any]:
    """An API whose limits are given (the rest of the suite runs without limits, see conftest)."""

    @contextmanager
    def _make(**limits: Any) -> Iterator[TestClient]:
        settings = load_settings(servanda_env="test", servanda_data_dir=Path(tempfile.mkdtemp()), **limits)
        with TestClient(create_app(settings, clean_db.app), raise_server_exceptions=False) as client:
            yield client

    return _make


def statuses(client: TestClient, headers: dict[str, str], n: int) -> list[int]:
    return [client.get(ME, headers=headers).status_code for _ in range(n)]


def test_defaults_stop_a_burst_of_300_requests(
    limited_api: Callable[..., Any], su: psycopg.Connection, make_tenant: Any
) -> None:
    defaults = {name: Settings.model_fields[name].default for name in LIMITS}
    assert defaults == {
        "rate_limit_user_per_s": 20.0,
        "rate_limit_user_burst": 60,
        "rate_limit_tenant_per_s": 200.0,
        "rate_limit_tenant_burst": 1000,
    }
    with limited_api(**defaults) as api:
        user = login_as(api, su, make_tenant("kanzlei-a"), "user")
        started = time.monotonic()
        answers = statuses(api, user, 300)
        elapsed = time.monotonic() - started
    served = answers.count(200)
    assert set(answers) == {200, 429}
    assert answers[:60] == [200] * 60  # the burst a page load may need
    assert served <= 60 + 20 * elapsed + 1


def test_user_limit_answers_429_with_retry_after_and_recovers(
    limited_api: Callable[..., Any], su: psycopg.Connection, make_tenant: Any
) -> None:
    with limited_api(rate_limit_user_per_s=2, rate_limit_user_burst=3, rate_limit_tenant_per_s=0) as api:
        tenant = make_tenant("kanzlei-a")
        first, second = login_as(api, su, tenant, "user"), login_as(api, su, tenant, "admin")
        served = [api.get(ME, headers=first) for _ in range(3)]
        assert [r.status_code for r in served] == [200, 200, 200]
        assert [r.headers["ratelimit-limit"] for r in served] == ["3"] * 3
        assert [int(r.headers["ratelimit-remaining"]) for r in served] == [2, 1, 0]
        assert served[-1].headers["ratelimit-reset"] == "2"  # 3 tokens at 2 per second
        refused = api.get(ME, headers=first)
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "request.rate_limited"
        assert refused.headers["retry-after"] == "1"
        assert refused.headers["ratelimit-limit"] == "3"
        assert refused.headers["ratelimit-remaining"] == "0"
        assert 1 <= int(refused.headers["ratelimit-reset"]) <= 2  # full again in (3 - tokens) / 2 s
        assert refused.headers["cache-control"] == "no-store"
        assert api.get(ME, headers=second).status_code == 200  # another user of the tenant is not affected
        time.sleep(int(refused.headers["retry-after"]))
        assert api.get(ME, headers=first).status_code == 200
        # Unauthenticated and invalid calls are not counted against anyone (and still answer 401).
        assert api.get(ME).status_code == 401


def test_tenant_limit_covers_all_its_users_only(
    limited_api: Callable[..., Any], su: psycopg.Connection, make_tenant: Any
) -> None:
    with limited_api(
        rate_limit_user_per_s=100,
        rate_limit_user_burst=100,
        rate_limit_tenant_per_s=0.5,
        rate_limit_tenant_burst=4,
    ) as api:
        tenant = make_tenant("kanzlei-a")
        a, b = login_as(api, su, tenant, "user"), login_as(api, su, tenant, "editor")
        other = login_as(api, su, make_tenant("kanzlei-b"), "user")
        assert [api.get(ME, headers=h).status_code for h in (a, b, a, b)] == [200] * 4
        refused = api.get(ME, headers=b)
        assert (refused.status_code, refused.json()["code"]) == (429, "request.rate_limited")
        assert int(refused.headers["retry-after"]) == 2  # 0.5 per second: the next request in 2 s
        assert api.get(ME, headers=a).status_code == 429
        assert api.get(ME, headers=other).status_code == 200


def test_every_authenticated_route_is_limited(
    limited_api: Callable[..., Any], su: psycopg.Connection, make_tenant: Any
) -> None:
    with limited_api(rate_limit_user_per_s=0.1, rate_limit_user_burst=2) as api:
        admin = login_as(api, su, make_tenant("kanzlei-a"), "admin")
        assert api.get("/api/v1/identity/users", headers=admin).status_code == 200
        assert api.get("/api/v1/contracts", headers=admin).status_code == 200
        for path in ("/api/v1/identity/teams", "/api/v1/tenant/settings", "/api/v1/catalog/templates"):
            assert api.get(path, headers=admin).status_code == 429, path


def rate_take(
    su: psycopg.Connection, keys: list[str], rates: list[float], bursts: list[int], cost: int = 1
) -> Any:
    return su.execute(
        'SELECT allowed, "limit", remaining, reset_s, retry_s FROM servanda_rate_take(%s, %s, %s, %s)',
        (keys, [float(r) for r in rates], bursts, cost),
    ).fetchone()


def test_the_bucket_function_refills_caps_and_takes_all_or_nothing(
    clean_db: DbUnderTest, su: psycopg.Connection
) -> None:
    assert [rate_take(su, ["k"], [2], [3])[:3] for _ in range(3)] == [
        (True, 3, 2),
        (True, 3, 1),
        (True, 3, 0),
    ]
    assert rate_take(su, ["k"], [2], [3]) == (False, 3, 0, 2, 1)  # next token in 0.5 s: Retry-After 1
    su.execute("UPDATE rate_buckets SET updated_at = updated_at - interval '1 hour'")
    assert rate_take(su, ["k"], [2], [3])[:3] == (True, 3, 2)  # long idle: full, never above the burst
    # A refusal by the second bucket gives the first its token back; looking (cost 0) takes nothing.
    assert rate_take(su, ["a", "t"], [1, 0.001], [5, 1])[0] is True
    assert rate_take(su, ["a", "t"], [1, 0.001], [5, 1])[0] is False
    assert rate_take(su, ["a"], [1], [5], cost=0)[:3] == (True, 5, 4)
    # Idle buckets (full again) are deleted by a later take.
    su.execute("UPDATE rate_buckets SET full_at = now() - interval '1 second' WHERE key <> 'a'")
    for _ in range(10_000):
        if su.execute("SELECT count(*) FROM rate_buckets").fetchone() == (1,):
            break
        rate_take(su, ["a"], [1000], [100_000])
    assert su.execute("SELECT key FROM rate_buckets").fetchall() == [("a",)]


def test_parallel_takes_never_exceed_the_burst(clean_db: DbUnderTest) -> None:
    def spend(_: int) -> int:
        with psycopg.connect(clean_db.superuser, autocommit=True) as conn:
            return sum(bool(rate_take(conn, ["hot"], [0.001], [50])[0]) for _ in range(25))

    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(spend, range(8))) == 50  # 200 takes on 8 connections at once


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def api_processes(
    db: DbUnderTest, data_dir: Path, n: int, *, prefix: Sequence[str] = (), **env: str
) -> Iterator[list[str]]:
    """``n`` real ``servanda api`` processes on the same database and data directory (signing key).

    ``prefix`` runs each under a wrapper command (tests/test_fault_drills.py: ``setpriv``).
    """
    environment = {
        **os.environ,
        "DATABASE_URL": db.app,
        "SERVANDA_DATA_DIR": str(data_dir),
        "SERVANDA_ENV": "test",
        "LOG_LEVEL": "WARNING",
        **env,
    }
    environment.pop("DATABASE_ADMIN_URL", None)
    environment.pop("FORWARDED_ALLOW_IPS", None)
    ports = [_free_port() for _ in range(n)]
    processes = [
        subprocess.Popen(
            [*prefix, sys.executable, "-m", "servanda", "api", "--host", "127.0.0.1", "--port", str(port)],
            env=environment,
            stdout=subprocess.DEVNULL,
        )
        for port in ports
    ]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        deadline = time.monotonic() + 90
        for process, base in zip(processes, bases, strict=True):
            while True:
                assert process.poll() is None, "servanda api exited"
                try:
                    if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "servanda api not ready"
                time.sleep(0.1)
        yield bases
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def test_limits_hold_across_two_api_processes(
    clean_db: DbUnderTest, su: psycopg.Connection, make_tenant: Any, tmp_path: Path
) -> None:
    """Requests alternate between two processes; per process the old limiter allowed twice as many."""
    limits = {
        "RATE_LIMIT_USER_PER_S": "0.5",
        "RATE_LIMIT_USER_BURST": "8",
        "RATE_LIMIT_TENANT_PER_S": "0.2",
        "RATE_LIMIT_TENANT_BURST": "20",
    }
    settings = load_settings(servanda_env="test", servanda_data_dir=tmp_path)
    with TestClient(create_app(settings, clean_db.app)) as issuer:  # tokens signed with the shared key
        tenant = make_tenant("kanzlei-a")
        users = [login_as(issuer, su, tenant, role) for role in ("user", "editor", "admin")]
    with api_processes(clean_db, tmp_path, 2, **limits) as bases, httpx.Client(timeout=10) as http:
        started = time.monotonic()
        served: list[int] = []
        for headers in users:
            answers = [http.get(bases[i % 2] + ME, headers=headers) for i in range(12)]
            codes = [a.status_code for a in answers]
            assert set(codes) <= {200, 429}, codes
            served.append(codes.count(200))
            refused = next(a for a in answers if a.status_code == 429)
            assert refused.json()["code"] == "request.rate_limited"
            assert int(refused.headers["retry-after"]) >= 1
            assert refused.headers["ratelimit-remaining"] == "0"
        elapsed = time.monotonic() - started
        assert served[0] >= 8  # the user's burst ...
        assert max(served) <= 8 + 0.5 * elapsed + 1  # ... not twice of it (8 per process)
        assert sum(served) <= 20 + 0.2 * elapsed + 1  # the tenant's burst over its three users
        assert served[2] < 8  # the third user meets the tenant's empty bucket

        # Login throttle per source address: 20 failures in all, counted by both processes together.
        def fail(i: int) -> httpx.Response:
            body = {"tenant": "kanzlei-a", "email": f"nobody{i}@example.org", "password": "falsch-falsch"}
            return http.post(bases[i % 2] + "/api/v1/auth/login", json=body)

        assert [fail(i).status_code for i in range(20)] == [401] * 20
        for i in (20, 21):
            throttled = fail(i)
            assert (throttled.status_code, throttled.json()["code"]) == (429, "auth.rate_limited"), i
            assert int(throttled.headers["retry-after"]) >= 1
    keys = [row[0] for row in su.execute("SELECT key FROM rate_buckets")]
    assert keys and all(len(k) == 64 and "127.0.0.1" not in k for k in keys)  # digests only

"""Request rate limits per user and per tenant: 429 ``request.rate_limited`` with Retry-After (issue 8, defect 7)."""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from servanda.app import create_app
from servanda.platform import errors
from servanda.platform.config import Settings, load_settings
from servanda.platform.ratelimit import RequestRateLimiter, TokenBuckets
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
        assert statuses(api, first, 3) == [200, 200, 200]
        refused = api.get(ME, headers=first)
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "request.rate_limited"
        assert refused.headers["retry-after"] == "1"
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


def test_token_buckets_refill_cap_and_forget_idle_keys() -> None:
    buckets = TokenBuckets(rate_per_s=2, burst=3)
    assert [buckets.take("k", 100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("k", 100.0) == pytest.approx(0.5)
    assert buckets.take("k", 100.5) == 0.0  # one token back after half a second
    assert buckets.take("k", 1000.0) == 0.0  # long idle: full again, but never above the burst
    assert [buckets.take("k", 1000.0) for _ in range(3)][-1] == pytest.approx(0.5)
    assert buckets.take("other", 1000.0) == 0.0  # keys are independent
    buckets.take("late", 2000.0)  # more than a minute later: buckets idle for > burst/rate are dropped
    assert len(buckets) == 1


def test_a_refused_tenant_request_costs_the_user_nothing() -> None:
    limiter = RequestRateLimiter(user_per_s=1, user_burst=2, tenant_per_s=0.001, tenant_burst=1)
    tenant = uuid.uuid4()
    limiter.check(tenant, "u1")
    for _ in range(5):
        with pytest.raises(errors.TooManyRequests) as refused:
            limiter.check(tenant, "u1")
        assert refused.value.code == "request.rate_limited"
    assert limiter.users is not None and limiter.users.take((tenant, "u1"), time.monotonic()) == 0.0

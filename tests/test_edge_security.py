"""Edge rules of issue 8: no caching of API answers, /metrics off the public port, no forged client addresses."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from joserfc.jwk import RSAKey

from servanda.app import create_app
from servanda.platform.config import load_settings
from servanda.platform.tokens import LocalTokens
from tests.auth_helpers import login_as
from tests.conftest import DbUnderTest
from tests.content_helpers import Publisher
from tests.test_catalog import template


@contextmanager
def client_at(db: DbUnderTest, peer: str = "127.0.0.1", **settings: Any) -> Iterator[TestClient]:
    app = create_app(
        load_settings(servanda_env="test", servanda_data_dir=Path(tempfile.mkdtemp()), **settings), db.app
    )
    with TestClient(app, raise_server_exceptions=False, client=(peer, 50123)) as client:
        yield client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- Cache-Control ---------------------------------------------------------------------------------


def test_api_answers_are_not_stored_by_caches(
    api: TestClient, su: psycopg.Connection, pub: Publisher, make_tenant: Any
) -> None:
    published = template(pub, "Mustervertrag")
    firm = make_tenant("kanzlei-cache")
    lawyer = login_as(api, su, firm, "user")
    admin = login_as(api, su, firm, "admin")
    contract = api.post(
        "/api/v1/contracts", json={"templateId": published["entityId"], "title": "V"}, headers=lawyer
    )
    cid = contract.json()["id"]
    answers = {
        "login (failed)": api.post(
            "/api/v1/auth/login", json={"tenant": "kanzlei-cache", "email": "x@y.de", "password": "falsch"}
        ),
        "auth config": api.get("/api/v1/auth/config"),
        "me": api.get("/api/v1/identity/me", headers=lawyer),
        "contract created": contract,
        "contract": api.get(f"/api/v1/contracts/{cid}", headers=lawyer),
        "contracts": api.get("/api/v1/contracts", headers=lawyer),
        "contract patched": api.patch(f"/api/v1/contracts/{cid}", json={"title": "W"}, headers=lawyer),
        "law-firm templates": api.get("/api/v1/lawfirm-templates", headers=admin),
        "catalog": api.get("/api/v1/catalog/templates", headers=lawyer),
        "401 problem": api.get("/api/v1/identity/me"),
        "404 problem": api.get(f"/api/v1/contracts/{uuid.uuid4()}", headers=lawyer),
    }
    assert {name: r.headers.get("cache-control") for name, r in answers.items()} == dict.fromkeys(
        answers, "no-store"
    )
    assert answers["contract"].status_code == 200 and answers["law-firm templates"].status_code == 200
    # Outside the API and where a route chose its own caching, the header is left alone.
    assert "cache-control" not in api.get("/health/live").headers
    export = api.get("/api/v1/identity/audit-logs/export", headers=admin)
    assert (export.status_code, export.headers["cache-control"]) == (200, "no-store")


def test_a_route_may_choose_its_own_caching(
    api: TestClient, su: psycopg.Connection, make_tenant: Any
) -> None:
    admin = login_as(api, su, make_tenant("kanzlei-logo"), "admin")
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'
    )
    uploaded = api.put(
        "/api/v1/tenant/branding/logo", files={"file": ("logo.svg", svg, "image/svg+xml")}, headers=admin
    )
    assert uploaded.status_code in (200, 201), uploaded.text
    logo = api.get("/api/v1/tenant/branding/logo", headers=admin)
    assert (logo.status_code, logo.headers["cache-control"]) == (200, "private, no-cache")


# -- /metrics ----------------------------------------------------------------------------------------


def test_metrics_answer_only_allowed_direct_clients(clean_db: DbUnderTest) -> None:
    with client_at(clean_db, "127.0.0.1") as local:
        assert local.get("/metrics").status_code == 200
        # A request that came through a proxy is never a scrape, whatever the peer.
        for header in ("X-Forwarded-For", "X-Real-IP", "Forwarded"):
            assert local.get("/metrics", headers={header: "203.0.113.9"}).status_code == 404
    with client_at(clean_db, "::1") as local6:
        assert local6.get("/metrics").status_code == 200
    with client_at(clean_db, "203.0.113.9") as stranger:
        refused = stranger.get("/metrics")
        assert refused.status_code == 404
        assert refused.json()["code"] == "resource.not_found"
        assert "servanda_" not in refused.text
        assert stranger.get("/health/live").status_code == 200
    with client_at(clean_db, "10.1.2.3", metrics_allow="10.0.0.0/8") as prometheus:
        assert "servanda_http_request_duration_seconds" in prometheus.get("/metrics").text
    with client_at(clean_db, "127.0.0.1", metrics_allow="") as nobody:
        assert nobody.get("/metrics").status_code == 404


def test_metrics_on_their_own_port(clean_db: DbUnderTest) -> None:
    port = free_port()
    with client_at(clean_db, "203.0.113.9", metrics_port=port, metrics_host="127.0.0.1") as api:
        assert api.get("/health/live").status_code == 200
        assert api.get("/metrics").status_code == 404  # the public port still refuses strangers
        scrape = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert scrape.status_code == 200
        assert scrape.headers["content-type"].startswith("text/plain")
        assert 'route="/health/live"' in scrape.text and "servanda_db_pool_max 10.0" in scrape.text
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/identity/me", timeout=5).status_code == 404
        assert httpx.head(f"http://127.0.0.1:{port}/metrics", timeout=5).status_code == 200
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)  # closed with the app


# -- Forwarding headers (a real uvicorn process) -----------------------------------------------------


@contextmanager
def real_server(db: DbUnderTest, pem: str, **env: str) -> Iterator[str]:
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        environment = {
            **os.environ,
            "DATABASE_URL": db.app,
            "SERVANDA_DATA_DIR": data_dir,
            "LOG_LEVEL": "WARNING",
            "SERVANDA_JWT_PRIVATE_KEY": pem,
            **env,
        }
        if "FORWARDED_ALLOW_IPS" not in env:
            environment.pop("FORWARDED_ALLOW_IPS", None)
        server = subprocess.Popen(
            [sys.executable, "-m", "servanda", "api", "--host", "127.0.0.1", "--port", str(port)],
            env=environment,
            stdout=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                assert server.poll() is None, "servanda api exited"
                try:
                    if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "servanda api did not become ready"
                time.sleep(0.2)
            yield base
        finally:
            server.terminate()
            server.wait(timeout=30)


def test_forwarding_headers_count_only_from_a_configured_proxy(
    clean_db: DbUnderTest, su: psycopg.Connection, make_tenant: Any
) -> None:
    key = RSAKey.generate_key(2048, private=True)
    key.ensure_kid()
    tenant = make_tenant("kanzlei-proxy")
    admin = uuid.UUID(
        str(
            su.execute(
                "INSERT INTO users (tenant_id, email, display_name, role, status) "
                "VALUES (%s, 'admin@kanzlei-proxy.de', 'Admin', 'admin', 'active') RETURNING id",
                (tenant,),
            ).fetchone()[0]
        )
    )  # type: ignore[index]
    session = su.execute(
        "INSERT INTO auth_sessions (tenant_id, user_id, expires_at) VALUES (%s, %s, now() + interval '1 day') "
        "RETURNING id",
        (tenant, admin),
    ).fetchone()[0]  # type: ignore[index]
    token = LocalTokens(key).issue(
        user_id=admin, tenant_id=tenant, email="admin@kanzlei-proxy.de", role="admin", session_id=session
    )
    forged = {"Authorization": f"Bearer {token}", "X-Forwarded-For": "203.0.113.7"}

    def recorded_address(base: str, team: str) -> str:
        created = httpx.post(f"{base}/api/v1/identity/teams", json={"name": team}, headers=forged, timeout=10)
        assert created.status_code == 201, created.text
        row = su.execute(
            "SELECT host(ip_address) FROM audit_events WHERE action = 'team.create' AND details->>'name' = %s",
            (team,),
        ).fetchone()
        assert row is not None
        return str(row[0])

    pem = key.as_pem(private=True).decode()
    with real_server(clean_db, pem) as base:  # defaults: no proxy configured
        assert recorded_address(base, "Team Standard") == "127.0.0.1"
        assert httpx.get(f"{base}/metrics", timeout=5).status_code == 200  # the embedded local scrape
        assert (
            httpx.get(f"{base}/metrics", headers={"X-Forwarded-For": "127.0.0.1"}, timeout=5).status_code
            == 404
        )
    with real_server(clean_db, pem, FORWARDED_ALLOW_IPS="127.0.0.1") as base:  # behind a local proxy
        assert recorded_address(base, "Team Proxy") == "203.0.113.7"

"""The API process: probes, metrics, request ids, problem responses, limits, headers, resilience."""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field
from sqlalchemy import text

from servanda.app import UnsafeDatabaseRole, create_app
from servanda.platform.config import load_settings
from servanda.platform.db import Database
from servanda.platform.embedded_pg import APP_ROLE, EmbeddedPostgres
from servanda.platform.logs import configure_logging
from tests.conftest import DbUnderTest


class Thing(BaseModel):
    name: str = Field(min_length=1)
    count: int


def add_probe_routes(app: FastAPI) -> None:
    """Routes that exist only in these tests, to exercise the middleware and handlers."""

    @app.get("/api/v1/things/{thing_id}")
    async def get_thing(thing_id: uuid.UUID) -> dict[str, str]:
        return {"id": str(thing_id)}

    @app.post("/api/v1/things")
    async def post_thing(thing: Thing) -> dict[str, int]:
        return {"count": thing.count}

    @app.get("/api/v1/boom")
    async def boom() -> None:
        raise RuntimeError("secret internal detail /srv/app/db.py")

    @app.get("/api/v1/tenant-count")
    async def tenant_count(request: Request) -> dict[str, int]:
        db: Database = request.app.state.db
        async with db.session(None) as session:
            return {
                "count": (await session.execute(text("SELECT servanda_active_tenant_count()"))).scalar_one()
            }


def make_client(url: str) -> TestClient:
    app = create_app(load_settings(servanda_env="test", servanda_data_dir=Path(tempfile.mkdtemp())), url)
    add_probe_routes(app)
    # A loopback peer: /metrics answers only to METRICS_ALLOW (default loopback).
    return TestClient(app, raise_server_exceptions=False, client=("127.0.0.1", 50000))


@pytest.fixture
def client(clean_db: DbUnderTest) -> Iterator[TestClient]:
    with make_client(clean_db.app) as c:
        yield c


def test_liveness_readiness_startup(client: TestClient) -> None:
    assert client.get("/health/live").json() == {"status": "ok"}
    ready = client.get("/health/ready")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready", "db": "ok"})
    startup = client.get("/health/startup")
    assert (startup.status_code, startup.json()) == (200, {"status": "started"})


def test_startup_probe_says_migrating_below_the_head(clean_db: DbUnderTest, su: psycopg.Connection) -> None:
    (head,) = su.execute("SELECT version_num FROM alembic_version").fetchone() or ("",)
    su.execute("UPDATE alembic_version SET version_num = '0000'")
    try:
        with make_client(clean_db.app) as c:
            response = c.get("/health/startup")
            assert (response.status_code, response.json()) == (503, {"status": "migrating"})
    finally:
        su.execute("UPDATE alembic_version SET version_num = %s", (head,))


def test_metrics_use_route_templates_and_blueprint_names(
    client: TestClient, su: psycopg.Connection, make_tenant: object
) -> None:
    su.execute(
        "INSERT INTO tenants (slug, name, type) VALUES ('aktiv-1', 'A', 'lawfirm'), ('aktiv-2', 'B', 'vendor')"
    )
    su.execute(
        "INSERT INTO tenants (slug, name, type, status) VALUES ('ruhend', 'C', 'lawfirm', 'suspended')"
    )
    thing = uuid.uuid4()
    assert client.get(f"/api/v1/things/{thing}").status_code == 200
    body = client.get("/metrics").text
    assert 'route="/api/v1/things/{thing_id}"' in body
    assert str(thing) not in body
    assert "servanda_active_tenants_total 2.0" in body
    assert "servanda_db_pool_max 10.0" in body
    assert "servanda_db_pool_active " in body
    assert "servanda_db_query_duration_seconds_bucket" in body
    assert 'route="unmatched"' not in body or "/nope" not in body


def test_request_id_is_echoed_or_generated(client: TestClient) -> None:
    assert (
        client.get("/health/live", headers={"X-Request-Id": "abc-123"}).headers["x-request-id"] == "abc-123"
    )
    generated = client.get("/health/live").headers["x-request-id"]
    assert len(generated) == 32
    hostile = client.get("/health/live", headers={"X-Request-Id": "a b\x7f<script>"}).headers["x-request-id"]
    assert hostile != "a b\x7f<script>" and len(hostile) == 32


def test_security_headers_on_every_response(client: TestClient) -> None:
    for response in (client.get("/health/live"), client.get("/nope"), client.get("/api/v1/boom")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["content-security-policy"].startswith("default-src 'none'")
        assert "strict-transport-security" in response.headers
        assert "server" not in response.headers or "uvicorn" not in response.headers["server"]
        assert response.headers["x-request-id"]


def assert_problem(response: object, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:servanda:problem:{code}"
    assert body["title"] and body["detail"]
    return body


def test_problem_responses_have_stable_codes(client: TestClient) -> None:
    assert_problem(client.get("/nope"), 404, "resource.not_found")
    assert_problem(client.delete("/health/live"), 405, "request.method_not_allowed")
    body = assert_problem(client.get("/api/v1/things/not-a-uuid"), 422, "request.validation_failed")
    assert body["errors"] == [{"field": "path.thing_id", "message": body["errors"][0]["message"]}]  # type: ignore[index]
    body = assert_problem(
        client.post("/api/v1/things", json={"name": "", "count": "x"}), 422, "request.validation_failed"
    )
    assert {e["field"] for e in body["errors"]} == {"name", "count"}  # type: ignore[attr-defined, index]


def test_unexpected_errors_reveal_no_internals(client: TestClient) -> None:
    response = client.get("/api/v1/boom")
    body = assert_problem(response, 500, "internal.error")
    text_body = json.dumps(body)
    assert "secret" not in text_body and "Traceback" not in text_body and ".py" not in text_body


def test_json_bodies_over_one_mebibyte_are_refused(client: TestClient) -> None:
    big = json.dumps({"name": "x" * (1024 * 1024), "count": 1})
    assert_problem(
        client.post("/api/v1/things", content=big, headers={"content-type": "application/json"}),
        413,
        "request.too_large",
    )

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        yield b'{"name": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'", "count": 1}'

    assert_problem(
        client.post("/api/v1/things", content=chunks(), headers={"content-type": "application/json"}),
        413,
        "request.too_large",
    )
    assert client.post("/api/v1/things", json={"name": "ok", "count": 3}).json() == {"count": 3}


def test_access_log_is_one_json_line_with_backbone_fields(
    clean_db: DbUnderTest, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("api", "INFO")
    with make_client(clean_db.app) as c:
        c.get("/api/v1/things/00000000-0000-0000-0000-000000000001", headers={"X-Request-Id": "req-42"})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("action") == "http.request"]
    assert access, lines
    entry = access[-1]
    for field in (
        "timestamp",
        "level",
        "service",
        "tenantId",
        "userId",
        "requestId",
        "action",
        "duration_ms",
        "message",
    ):
        assert field in entry
    assert entry["requestId"] == "req-42"
    assert entry["service"] == "api"
    assert entry["message"] == "GET /api/v1/things/{thing_id} 200"


def test_refuses_to_serve_as_a_role_that_bypasses_rls(clean_db: DbUnderTest) -> None:
    with pytest.raises(UnsafeDatabaseRole, match="owns the schema's tables"), make_client(clean_db.owner):
        pass
    superuser = "postgresql+psycopg://" + clean_db.superuser.split("://", 1)[1]
    with pytest.raises(UnsafeDatabaseRole, match="superuser"), make_client(superuser):
        pass


def test_database_outage_gives_503_and_recovers_by_itself(tmp_path: Path) -> None:
    """A private embedded server is stopped and started under a running API."""
    from servanda.platform import migrate

    embedded = EmbeddedPostgres(tmp_path / "pg")
    urls = embedded.start()
    assert urls.admin is not None
    assert migrate.upgrade(urls.admin, APP_ROLE) == []
    server = embedded._server
    try:
        with make_client(urls.app) as c:
            assert c.get("/api/v1/tenant-count").json() == {"count": 0}
            server._stop()  # type: ignore[union-attr]
            ready = c.get("/health/ready")
            assert (ready.status_code, ready.json()) == (503, {"status": "not_ready", "db": "error"})
            body = assert_problem(c.get("/api/v1/tenant-count"), 503, "service.database_unavailable")
            assert "Retry-After" in c.get("/api/v1/tenant-count").headers
            assert "psycopg" not in json.dumps(body)
            assert c.get("/metrics").status_code == 200  # a scrape still answers
            server.ensure_postgres_running()  # type: ignore[union-attr]
            assert c.get("/health/ready").status_code == 200
            assert c.get("/api/v1/tenant-count").json() == {"count": 0}
    finally:
        embedded.stop()
        shutil.rmtree(tmp_path / "pg", ignore_errors=True)

"""Test database: the embedded PostgreSQL by default, any server via SERVANDA_TEST_DATABASE_URL.

``SERVANDA_TEST_DATABASE_URL`` must name a superuser (or CREATEROLE + CREATEDB)
connection; the suite creates its own database and roles on that server.
The schema is migrated once per session; each test starts from empty tables
(TRUNCATE through the superuser connection, a few milliseconds).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from servanda.platform import migrate
from servanda.platform.embedded_pg import EmbeddedPostgres, libpq_url, provision

TEST_DATABASE = "servanda_test"
OWNER = "servanda_owner"
APP = "servanda_app"
MAINT = "servanda_maint"
ROLE_PASSWORD = "servanda-test-only"  # only for TCP servers; the embedded socket trusts local users
KEEP_TABLES = ("alembic_version",)

# The suite drives single users far faster than a person would: the request rate limits are
# off unless a test sets them (tests/test_rate_limits.py). Servers started as subprocesses
# inherit this too.
os.environ.setdefault("RATE_LIMIT_USER_PER_S", "0")
os.environ.setdefault("RATE_LIMIT_TENANT_PER_S", "0")


@dataclass(frozen=True)
class DbUnderTest:
    superuser: str  # libpq URL of the test database as superuser
    owner: str  # SQLAlchemy URLs
    app: str
    server_superuser: str  # libpq URL of the server's maintenance database
    role_password: str | None
    embedded: EmbeddedPostgres | None

    def role_url(self, role: str, database: str) -> str:
        return _role_url(self.server_superuser, role, database, self.role_password)


def _role_url(superuser: str, role: str, database: str, password: str | None) -> str:
    url = make_url(superuser.replace("postgresql://", "postgresql+psycopg://", 1))
    return url.set(username=role, password=password, database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DbUnderTest]:
    external = os.environ.get("SERVANDA_TEST_DATABASE_URL")
    embedded: EmbeddedPostgres | None = None
    if external:
        server_superuser = libpq_url(external)
        password: str | None = ROLE_PASSWORD
    else:
        embedded = EmbeddedPostgres(tmp_path_factory.mktemp("embedded") / "pg")
        embedded.start()
        server_superuser = embedded.superuser_url
        password = None
    yield prepare_test_database(server_superuser, password, embedded)
    if embedded is not None:
        embedded.stop()


def prepare_test_database(
    server_superuser: str, password: str | None, embedded: EmbeddedPostgres | None
) -> DbUnderTest:
    """A fresh, migrated test database on the server (tests/test_fault_drills.py runs its own server)."""
    with psycopg.connect(server_superuser, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEST_DATABASE}" WITH (FORCE)')
    provision(server_superuser, database=TEST_DATABASE, owner=OWNER, app=APP, password=password)
    superuser_sa = make_url(server_superuser.replace("postgresql://", "postgresql+psycopg://", 1))
    db = DbUnderTest(
        superuser=libpq_url(superuser_sa.set(database=TEST_DATABASE).render_as_string(hide_password=False)),
        owner=_role_url(server_superuser, OWNER, TEST_DATABASE, password),
        app=_role_url(server_superuser, APP, TEST_DATABASE, password),
        server_superuser=server_superuser,
        role_password=password,
        embedded=embedded,
    )
    problems = migrate.upgrade(db.owner, APP, maintenance_role=MAINT)
    assert problems == [], problems
    return db


@pytest.fixture
def clean_db(database: DbUnderTest) -> DbUnderTest:
    """Empty every table (keeping the migration-owned system style) before the test."""
    with psycopg.connect(database.superuser, autocommit=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            ).fetchall()
            if r[0] not in (*KEEP_TABLES, "style_templates")
        ]
        # Truncating tenants cascades to style_templates; keep the migration-owned system style.
        conn.execute(
            "CREATE TEMP TABLE system_styles AS SELECT * FROM style_templates WHERE tenant_id IS NULL"
        )
        conn.execute(f"TRUNCATE {', '.join(tables)}, style_templates CASCADE")
        conn.execute("INSERT INTO style_templates SELECT * FROM system_styles")
        conn.execute("DROP TABLE system_styles")
    return database


@pytest.fixture
def su(clean_db: DbUnderTest) -> Iterator[psycopg.Connection]:
    """Superuser connection (bypasses RLS): arranging fixtures and checking ground truth."""
    with psycopg.connect(clean_db.superuser, autocommit=True) as conn:
        yield conn


def sa_to_libpq(url: str) -> str:
    return libpq_url(url.replace("postgresql+psycopg://", "postgresql://", 1))


@pytest.fixture
def connect_as(clean_db: DbUnderTest) -> Iterator[Callable[..., psycopg.Connection]]:
    """Open raw psycopg connections as the app or owner role, optionally scoped to a tenant."""
    opened: list[psycopg.Connection] = []

    def _connect(role: str = APP, tenant: uuid.UUID | None = None) -> psycopg.Connection:
        url = clean_db.app if role == APP else clean_db.owner
        conn = psycopg.connect(sa_to_libpq(url), autocommit=False)
        opened.append(conn)
        if tenant is not None:
            conn.execute("SELECT set_config('app.current_tenant_id', %s, true)", (str(tenant),))
        return conn

    yield _connect
    for conn in opened:
        conn.close()


@pytest.fixture
def make_tenant(su: psycopg.Connection) -> Callable[..., uuid.UUID]:
    def _make(slug: str, type: str = "lawfirm", status: str = "active") -> uuid.UUID:
        row = su.execute(
            "INSERT INTO tenants (slug, name, type, status) VALUES (%s, %s, %s, %s) RETURNING id",
            (slug, slug.replace("-", " ").title(), type, status),
        ).fetchone()
        assert row is not None
        return uuid.UUID(str(row[0]))

    return _make


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture
def api(clean_db: DbUnderTest, tmp_path: Path) -> Iterator[TestClient]:
    """The API on the test database, built-in identity provider, keys in a temporary data dir."""
    from servanda.app import create_app
    from servanda.platform.config import load_settings

    app = create_app(load_settings(servanda_env="test", servanda_data_dir=tmp_path / "data"), clean_db.app)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def pub(api: TestClient, su: psycopg.Connection, make_tenant: Callable[..., uuid.UUID]) -> Any:
    """A publisher (vendor tenant) with author, reviewer, another editor and an admin."""
    from tests.content_helpers import Publisher

    return Publisher(api, su, make_tenant("verlag-x", type="vendor"))

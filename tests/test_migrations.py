"""Migrations: the models and the migration history agree, and the history runs down and up again."""

from __future__ import annotations

import psycopg
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from servanda.models import Base
from servanda.platform import migrate
from servanda.platform.embedded_pg import provision
from tests.conftest import APP, OWNER, DbUnderTest


def test_models_match_the_migrated_schema(clean_db: DbUnderTest) -> None:
    engine = create_engine(clean_db.owner)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_object": migrate.include_object})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_full_downgrade_and_upgrade(database: DbUnderTest) -> None:
    scratch = "servanda_migrations_test"
    with psycopg.connect(database.server_superuser, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {scratch} WITH (FORCE)")
    provision(
        database.server_superuser, database=scratch, owner=OWNER, app=APP, password=database.role_password
    )
    owner_url = database.role_url(OWNER, scratch)
    try:
        assert migrate.upgrade(owner_url, APP) == []
        engine = create_engine(owner_url)
        with engine.begin() as conn:
            config = migrate.alembic_config()
            config.attributes["connection"] = conn
            command.downgrade(config, "base")
        with engine.connect() as conn:
            tables = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            ).scalar_one()
            assert tables == 0
            assert migrate.current_revision(conn) is None
        engine.dispose()
        assert migrate.upgrade(owner_url, APP) == []
    finally:
        with psycopg.connect(database.server_superuser, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {scratch} WITH (FORCE)")

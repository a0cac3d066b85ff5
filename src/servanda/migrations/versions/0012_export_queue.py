"""The export queue: procrastinate's schema, export batches, and the queue link of export jobs.

The job queue is procrastinate (PostgreSQL-backed, LISTEN/NOTIFY, heartbeats, retries) in the
application database. Its schema is the one procrastinate 3.10 ships, copied next to this
file so the migration does not change when the library is upgraded (a later upgrade applies
procrastinate's own migration files in a new revision).

The queue tables carry no tenant: a queue row holds only the export job's (or batch's) id and
its tenant id, never contract data. They are tenant-free on purpose - the worker must see
every tenant's jobs before it knows whose job it is, and then sets that tenant for the
transaction that reads the contract - so they are left out of row-level security and listed
as such in platform/rls.py. The ``export_jobs`` / ``export_batches`` rows are the source of
truth; each is written in the same transaction as its queue job.

``export_batches``: a batch of up to 20 contracts exported to one ZIP with a manifest,
progress counted while it runs. Tenant-owned, RLS strict like ``export_jobs``.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29
"""

from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

CURRENT_TENANT = "servanda_current_tenant()"
SCHEMA_SQL = Path(__file__).with_name("0012_procrastinate_3_10_schema.sql")


def upgrade() -> None:
    # Straight to psycopg without parameters: the script's RAISE formats contain "%".
    op.get_bind().connection.driver_connection.execute(SCHEMA_SQL.read_text(encoding="utf-8"))  # type: ignore[union-attr]

    op.add_column("export_jobs", sa.Column("queue_job_id", sa.BigInteger(), nullable=True))
    op.add_column("export_jobs", sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("export_jobs", sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        "export_batches",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("requested_by", sa.UUID(), nullable=True),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("style_template_id", sa.UUID(), nullable=True),
        sa.Column("contract_ids", postgresql.ARRAY(sa.UUID()), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="queued", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("done_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("failed_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("manifest", postgresql.JSONB(), server_default=sa.text("'[]'::jsonb"), nullable=False),
        sa.Column("queue_job_id", sa.BigInteger(), nullable=True),
        sa.Column("result_storage_key", sa.String(length=500), nullable=True),
        sa.Column("result_size", sa.BigInteger(), nullable=True),
        sa.Column("result_sha256", sa.String(length=64), nullable=True),
        sa.Column("error_code", sa.String(length=100), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("format IN ('docx', 'odt', 'pdf')", name=op.f("ck_export_batches_format")),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed', 'archived')",
            name=op.f("ck_export_batches_status"),
        ),
        sa.CheckConstraint(
            "cardinality(contract_ids) BETWEEN 1 AND 20", name=op.f("ck_export_batches_contract_count")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_export_batches_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_batches")),
    )
    op.create_index(
        "ix_export_batches_tenant_id_queued_at", "export_batches", ["tenant_id", "queued_at"], unique=False
    )
    op.execute("ALTER TABLE export_batches ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE export_batches FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY own_tenant ON export_batches "
        f"USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT})"
    )


def downgrade() -> None:
    op.drop_index("ix_export_batches_tenant_id_queued_at", table_name="export_batches")
    op.drop_table("export_batches")
    op.drop_column("export_jobs", "archived_at")
    op.drop_column("export_jobs", "next_attempt_at")
    op.drop_column("export_jobs", "queue_job_id")
    for table in (
        "procrastinate_events",
        "procrastinate_periodic_defers",
        "procrastinate_jobs",
        "procrastinate_workers",
    ):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    op.execute(
        "DO $$ DECLARE f record; BEGIN FOR f IN SELECT p.oid::regprocedure AS sig FROM pg_proc p "
        "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' "
        "AND p.proname LIKE 'procrastinate%' LOOP EXECUTE 'DROP FUNCTION ' || f.sig || ' CASCADE'; END LOOP; END $$"
    )
    for type_ in (
        "procrastinate_job_to_defer_v1",
        "procrastinate_job_event_type",
        "procrastinate_job_status",
    ):
        op.execute(f"DROP TYPE IF EXISTS {type_} CASCADE")

"""Content: review history, pack keys, German full-text search over templates.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SEARCH = (
    "to_tsvector('german'::regconfig, coalesce(title, '') || ' ' || coalesce(description, '') || ' ' "
    "|| servanda_tags_text(tags))"
)


def upgrade() -> None:
    op.execute(
        "CREATE FUNCTION servanda_tags_text(tags text[]) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE "
        "AS $$ SELECT coalesce(array_to_string(tags, ' '), '') $$"
    )
    for table in ("clauses", "templates"):
        op.add_column(table, sa.Column("external_key", sa.String(length=100), nullable=True))
        op.create_index(
            f"uq_{table}_tenant_id_external_key",
            table,
            ["tenant_id", "external_key"],
            unique=True,
            postgresql_where=sa.text("external_key IS NOT NULL"),
        )
    op.add_column(
        "templates",
        sa.Column("search", postgresql.TSVECTOR(), sa.Computed(SEARCH, persisted=True), nullable=True),
    )
    op.create_index("ix_templates_search", "templates", ["search"], postgresql_using="gin")
    op.create_table(
        "content_reviews",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("entity_id", sa.UUID(), nullable=False),
        sa.Column("version_id", sa.UUID(), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("actor_id", sa.UUID(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('clause', 'template')", name=op.f("ck_content_reviews_kind")),
        sa.CheckConstraint(
            "action IN ('create', 'submit', 'approve', 'reject', 'request_changes', 'publish', 'deprecate')",
            name=op.f("ck_content_reviews_action"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_content_reviews_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_reviews")),
    )
    op.create_index("ix_content_reviews_tenant_id_version_id", "content_reviews", ["tenant_id", "version_id"])
    op.create_index("ix_content_reviews_tenant_id_created_at", "content_reviews", ["tenant_id", "created_at"])
    op.execute("ALTER TABLE content_reviews ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE content_reviews FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY own_tenant ON content_reviews USING (tenant_id = servanda_current_tenant()) "
        "WITH CHECK (tenant_id = servanda_current_tenant())"
    )


def downgrade() -> None:
    op.drop_table("content_reviews")
    op.drop_index("ix_templates_search", table_name="templates")
    op.drop_column("templates", "search")
    for table in ("clauses", "templates"):
        op.drop_index(f"uq_{table}_tenant_id_external_key", table_name=table)
        op.drop_column(table, "external_key")
    op.execute("DROP FUNCTION servanda_tags_text(text[])")

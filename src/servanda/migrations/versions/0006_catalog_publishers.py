"""Catalog: publisher names for the catalog, without opening the tenants table.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Publishers (vendor tenants) are public by nature: their names appear in every catalog.
    op.execute(
        """
        CREATE FUNCTION servanda_publisher_names(p_ids uuid[]) RETURNS TABLE (id uuid, name text)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
        AS $$ SELECT t.id, t.name::text FROM tenants t WHERE t.id = ANY(p_ids) AND t.type = 'vendor' $$
        """
    )
    op.execute("REVOKE ALL ON FUNCTION servanda_publisher_names(uuid[]) FROM PUBLIC")
    op.create_index(
        "ix_templates_catalog",
        "templates",
        ["category", "legal_area", "jurisdiction"],
        postgresql_where="current_published_version_id IS NOT NULL",
    )


def downgrade() -> None:
    op.drop_index("ix_templates_catalog", table_name="templates")
    op.execute("DROP FUNCTION servanda_publisher_names(uuid[])")

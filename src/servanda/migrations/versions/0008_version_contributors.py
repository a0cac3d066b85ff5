"""Contributors of a content version (four-eyes: nobody who changed a version reviews it).

``contributor_ids`` on clause and template versions lists the author and every
user who edited the draft; the workflow refuses any of them as reviewer. The
column lives on the version row (not in a table of its own) because every
workflow transition locks that row, so check and change are atomic, and the
row's existing RLS policies cover it.

Existing versions are backfilled from the author and the ``clause.update`` /
``template.update`` audit events (whoever edited a draft before this revision
counts as a contributor too). The owner role is subject to FORCEd row-level
security, so the backfill runs tenant by tenant with the tenant setting, just
like the application.

The review history gains the action ``edit`` (a new contributor's first edit).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

VERSION_TABLES = {"clause_versions": "clause.update", "template_versions": "template.update"}
OLD_ACTIONS = "('create', 'submit', 'approve', 'reject', 'request_changes', 'publish', 'deprecate')"
NEW_ACTIONS = "('create', 'edit', 'submit', 'approve', 'reject', 'request_changes', 'publish', 'deprecate')"


def backfill_contributors(conn: Connection) -> None:
    """Author first, then every other editor of the version in the order of their first edit."""
    tenants = conn.execute(sa.text("SELECT id FROM tenants ORDER BY id")).scalars().all()
    for tenant in tenants:
        conn.execute(sa.text("SELECT set_config('app.current_tenant_id', :t, true)"), {"t": str(tenant)})
        for table, action in VERSION_TABLES.items():
            conn.execute(
                sa.text(
                    f"""
                    WITH edits AS (
                      SELECT a.details->>'versionId' AS version_id, a.actor_id, min(a.seq) AS first_seq
                      FROM audit_events a
                      WHERE a.action = :action AND a.actor_id IS NOT NULL
                      GROUP BY 1, 2
                    )
                    UPDATE {table} v SET contributor_ids = ARRAY(
                      SELECT s.user_id FROM (
                        SELECT v.author_id AS user_id, 0::bigint AS ord WHERE v.author_id IS NOT NULL
                        UNION ALL
                        SELECT e.actor_id, e.first_seq FROM edits e
                        WHERE e.version_id = v.id::text AND e.actor_id IS DISTINCT FROM v.author_id
                      ) s ORDER BY s.ord)
                    """
                ),
                {"action": action},
            )
    conn.execute(sa.text("SELECT set_config('app.current_tenant_id', '', true)"))


def upgrade() -> None:
    for table in VERSION_TABLES:
        op.add_column(
            table,
            sa.Column(
                "contributor_ids",
                postgresql.ARRAY(sa.UUID()),
                server_default=sa.text("'{}'::uuid[]"),
                nullable=False,
            ),
        )
    op.drop_constraint(op.f("ck_content_reviews_action"), "content_reviews", type_="check")
    op.create_check_constraint(
        op.f("ck_content_reviews_action"), "content_reviews", f"action IN {NEW_ACTIONS}"
    )
    backfill_contributors(op.get_bind())


def downgrade() -> None:
    # The old schema cannot hold ``edit`` history rows (RLS applies to the owner too: per tenant).
    conn = op.get_bind()
    for tenant in conn.execute(sa.text("SELECT id FROM tenants ORDER BY id")).scalars().all():
        conn.execute(sa.text("SELECT set_config('app.current_tenant_id', :t, true)"), {"t": str(tenant)})
        conn.execute(sa.text("DELETE FROM content_reviews WHERE action = 'edit'"))
    conn.execute(sa.text("SELECT set_config('app.current_tenant_id', '', true)"))
    op.drop_constraint(op.f("ck_content_reviews_action"), "content_reviews", type_="check")
    op.create_check_constraint(
        op.f("ck_content_reviews_action"), "content_reviews", f"action IN {OLD_ACTIONS}"
    )
    for table in VERSION_TABLES:
        op.drop_column(table, "contributor_ids")

"""Password-reset tokens ("Passwort vergessen").

One row per requested reset: the SHA-256 digest of the single-use token
(``pwr.<tenant>.<secret>``, like invites and refresh tokens), its expiry (one
hour) and when it was used. A table of its own rather than ``user_invites``
with a purpose column: the two tokens have different lifetimes, different
preconditions (invited vs. active user) and different consequences (a reset
ends every session), and neither query has to filter the other out. Row-level
security exactly like ``user_invites`` (0002): tenant-owned, enabled and
forced, one own-tenant policy.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

CURRENT_TENANT = "servanda_current_tenant()"


def upgrade() -> None:
    op.create_table(
        "password_resets",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            name=op.f("fk_password_resets_tenant_id_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_password_resets_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_resets")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_resets_token_hash")),
    )
    op.create_index(
        "ix_password_resets_tenant_id_user_id", "password_resets", ["tenant_id", "user_id"], unique=False
    )
    op.execute("ALTER TABLE password_resets ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE password_resets FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY own_tenant ON password_resets "
        f"USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT})"
    )


def downgrade() -> None:
    op.drop_index("ix_password_resets_tenant_id_user_id", table_name="password_resets")
    op.drop_table("password_resets")

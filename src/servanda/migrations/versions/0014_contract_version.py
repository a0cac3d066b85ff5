"""A contract's row version: the entity tag of optimistic concurrency (If-Match, 412).

``contracts.version`` starts at 1 and a trigger adds one on every UPDATE of the row,
whichever code path writes it, so a client's ``If-Match`` names exactly the stored state it
saw. ``updated_at`` is no substitute: complete and archive write the transaction's start
time (``now()``), autosave and upgrade the API process's clock, so two writes need not be
ordered, nor even distinct, by it.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("contracts", sa.Column("version", sa.BigInteger(), server_default="1", nullable=False))
    op.execute(
        """
        CREATE FUNCTION servanda_contract_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          NEW.version := OLD.version + 1;
          RETURN NEW;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER contracts_version BEFORE UPDATE ON contracts "
        "FOR EACH ROW EXECUTE FUNCTION servanda_contract_version()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER contracts_version ON contracts")
    op.execute("DROP FUNCTION servanda_contract_version()")
    op.drop_column("contracts", "version")

"""Completed contracts are frozen by the database itself.

Once a contract is completed, its pins (template version, clause versions) and
its snapshot (answers, slot choices) can never change again, whoever tries:
a trigger refuses it. A completed contract may only be archived (or have its
descriptive metadata edited); it never returns to draft.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION servanda_contract_freeze() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF OLD.status IN ('completed', 'archived') AND OLD.completed_at IS NOT NULL AND (
               NEW.template_version_id IS DISTINCT FROM OLD.template_version_id
            OR NEW.clause_version_ids IS DISTINCT FROM OLD.clause_version_ids
            OR NEW.answers IS DISTINCT FROM OLD.answers
            OR NEW.selected_slots IS DISTINCT FROM OLD.selected_slots
            OR NEW.completed_at IS DISTINCT FROM OLD.completed_at
            OR NEW.status = 'draft') THEN
            RAISE EXCEPTION 'contract % is completed: its pins and answers are frozen', OLD.id
              USING ERRCODE = 'integrity_constraint_violation';
          END IF;
          RETURN NEW;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER contracts_freeze BEFORE UPDATE ON contracts "
        "FOR EACH ROW EXECUTE FUNCTION servanda_contract_freeze()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER contracts_freeze ON contracts")
    op.execute("DROP FUNCTION servanda_contract_freeze()")

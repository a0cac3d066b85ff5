"""A contract a lawyer would sign (issue 11): clause display headings and the ``incomplete`` state.

- ``clause_versions.heading``: the display heading of a clause version ("Vergütung"), separate
  from the clause's internal title ("Vergütung (Pauschal)"); NULL means "use the title", so
  existing versions render as before. Versioned like the text, because the heading is part
  of what the four-eyes review approves.
- ``contracts.validation_state`` also accepts ``incomplete`` (a required visible question
  unanswered or a required parameter empty), ranked between ``has_conflicts`` and
  ``has_warnings``. Existing rows keep their stored state until their next evaluation.

Everything else of the document structure (parties, signature block, placements, option
insert texts, answer-driven alternatives) lives in the JSON of the template and clause
versions and needs no schema change.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_OLD_STATES = "('valid', 'has_warnings', 'has_conflicts')"
_NEW_STATES = "('valid', 'has_warnings', 'incomplete', 'has_conflicts')"


def upgrade() -> None:
    op.add_column("clause_versions", sa.Column("heading", sa.String(length=300), nullable=True))
    op.drop_constraint(op.f("ck_contracts_validation_state"), "contracts", type_="check")
    op.create_check_constraint(
        op.f("ck_contracts_validation_state"), "contracts", f"validation_state IN {_NEW_STATES}"
    )


def downgrade() -> None:
    # Before the state existed an incomplete contract was stored as valid (or with warnings,
    # which the next write re-evaluates). Contracts are under forced RLS: tenant by tenant.
    conn = op.get_bind()
    for tenant in conn.execute(sa.text("SELECT id FROM tenants ORDER BY id")).scalars().all():
        conn.execute(sa.text("SELECT set_config('app.current_tenant_id', :t, true)"), {"t": str(tenant)})
        conn.execute(
            sa.text("UPDATE contracts SET validation_state = 'valid' WHERE validation_state = 'incomplete'")
        )
    conn.execute(sa.text("SELECT set_config('app.current_tenant_id', '', true)"))
    op.drop_constraint(op.f("ck_contracts_validation_state"), "contracts", type_="check")
    op.create_check_constraint(
        op.f("ck_contracts_validation_state"), "contracts", f"validation_state IN {_OLD_STATES}"
    )
    op.drop_column("clause_versions", "heading")

"""Login back-off per (tenant, e-mail, source address); attempt limit on credential checks.

A failed login no longer locks the account (anyone could lock anyone out).
Instead each (tenant slug, e-mail, source address) - stored only as a SHA-256
digest, whether or not tenant and account exist - waits 2^n seconds after
the fifth failure, up to 15 minutes. The table holds no tenant rows and is
reached only through three security-definer functions, because login runs
before a tenant context exists and an unknown tenant must behave exactly like
a known one. RLS is enabled and forced with an owner-only policy, and the app
role has no privilege on the table itself.

``users.failed_check_*`` count wrong codes and passwords of signed-in users
(MFA enable/disable, password change) in a 15-minute window.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_DEFINER = "SECURITY DEFINER SET search_path = public, pg_temp"


def upgrade() -> None:
    op.create_table(
        "login_backoff",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "last_failure_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_backoff")),
    )
    op.create_index("ix_login_backoff_last_failure_at", "login_backoff", ["last_failure_at"], unique=False)
    op.execute("ALTER TABLE login_backoff ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE login_backoff FORCE ROW LEVEL SECURITY")
    # Only the owner (inside the functions below) reaches the rows.
    op.execute("CREATE POLICY definer_only ON login_backoff TO CURRENT_USER USING (true) WITH CHECK (true)")

    # Takes the per-key lock for the rest of the login transaction (parallel guesses queue
    # up instead of slipping past the check) and answers the seconds still to wait.
    op.execute(
        f"""
        CREATE FUNCTION servanda_login_backoff_wait(p_key text) RETURNS integer
        LANGUAGE plpgsql VOLATILE {_DEFINER} AS $$
        DECLARE
          v_until timestamptz;
        BEGIN
          PERFORM pg_advisory_xact_lock(hashtextextended('servanda.login:' || p_key, 0));
          SELECT b.blocked_until INTO v_until FROM login_backoff b WHERE b.key = p_key;
          IF v_until IS NULL OR v_until <= clock_timestamp() THEN
            RETURN 0;
          END IF;
          RETURN greatest(ceil(extract(epoch FROM v_until - clock_timestamp())), 1)::integer;
        END $$
        """
    )
    # Counts a failure; from the p_free-th on, the key waits 2^(n - p_free + 1) s (at most
    # p_max_delay). A key quiet for p_forget seconds starts again; such rows are swept.
    op.execute(
        f"""
        CREATE FUNCTION servanda_login_backoff_failed(
          p_key text, p_free integer, p_max_delay integer, p_forget integer)
        RETURNS integer LANGUAGE plpgsql VOLATILE {_DEFINER} AS $$
        DECLARE
          v_now timestamptz := clock_timestamp();
          v_failures integer;
          v_delay integer := 0;
        BEGIN
          INSERT INTO login_backoff AS b (key, failures, last_failure_at) VALUES (p_key, 1, v_now)
          ON CONFLICT (key) DO UPDATE SET
            failures = CASE WHEN b.last_failure_at < v_now - make_interval(secs => p_forget)
                            THEN 1 ELSE b.failures + 1 END,
            last_failure_at = v_now
          RETURNING b.failures INTO v_failures;
          IF v_failures >= p_free THEN
            v_delay := least(power(2, least(v_failures - p_free + 1, 30)), p_max_delay)::integer;
          END IF;
          UPDATE login_backoff b
            SET blocked_until = CASE WHEN v_delay > 0 THEN v_now + make_interval(secs => v_delay) END
            WHERE b.key = p_key;
          IF random() < 0.01 THEN
            DELETE FROM login_backoff b WHERE b.last_failure_at < v_now - make_interval(secs => p_forget);
          END IF;
          RETURN v_delay;
        END $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION servanda_login_backoff_clear(p_key text) RETURNS void
        LANGUAGE sql VOLATILE {_DEFINER}
        AS $$ DELETE FROM login_backoff WHERE key = p_key $$
        """
    )
    for function in _FUNCTIONS:
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")

    op.drop_column("users", "locked_until")
    op.drop_column("users", "failed_login_count")
    op.add_column(
        "users", sa.Column("failed_check_count", sa.Integer(), server_default=sa.text("0"), nullable=False)
    )
    op.add_column("users", sa.Column("failed_check_since", sa.DateTime(timezone=True), nullable=True))


_FUNCTIONS = (
    "servanda_login_backoff_wait(text)",
    "servanda_login_backoff_failed(text, integer, integer, integer)",
    "servanda_login_backoff_clear(text)",
)


def downgrade() -> None:
    op.drop_column("users", "failed_check_since")
    op.drop_column("users", "failed_check_count")
    op.add_column("users", sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "users", sa.Column("failed_login_count", sa.Integer(), server_default=sa.text("0"), nullable=False)
    )
    for function in _FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
    op.drop_index("ix_login_backoff_last_failure_at", table_name="login_backoff")
    op.drop_table("login_backoff")

"""Rate limits shared by every API process: token buckets in PostgreSQL.

``rate_buckets`` holds one token bucket per key (request limits per user and per
tenant, the per-address login and password-reset throttles). Keys arrive as
SHA-256 digests, so no e-mail or address is stored. The table is UNLOGGED: a
crash empties it, which only forgives recent requests. It holds no tenant rows
and is reached only through ``servanda_rate_take``, a security-definer function
that refills and takes tokens atomically (the row lock of the upsert serialises
parallel requests on a key, so they never exceed the burst). A bucket that is
surely full again (``full_at``: last take + burst / rate) is the same as no row; the function deletes such
rows now and then (about one call in a thousand), so the table stays as small as
the set of recently active keys.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_DEFINER = "SECURITY DEFINER SET search_path = public, pg_temp"
FUNCTION = "servanda_rate_take(text[], double precision[], integer[], integer)"


def upgrade() -> None:
    # fillfactor leaves room for HOT updates: no indexed column changes on a take.
    op.execute(
        """
        CREATE UNLOGGED TABLE rate_buckets (
          key text NOT NULL,
          tokens double precision NOT NULL,
          updated_at timestamptz NOT NULL,
          full_at timestamptz NOT NULL,
          last_ok boolean NOT NULL,
          CONSTRAINT pk_rate_buckets PRIMARY KEY (key)
        ) WITH (fillfactor = 70)
        """
    )
    op.execute("ALTER TABLE rate_buckets ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE rate_buckets FORCE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY definer_only ON rate_buckets TO CURRENT_USER USING (true) WITH CHECK (true)")

    # One call per request: for each key in order, refill (rate per second, at most the
    # burst) and take p_cost tokens; all or nothing (a refusal by a later key gives the
    # earlier ones their tokens back). p_cost 0 only looks (allowed: a token is there).
    # Returns the binding bucket's state for the RateLimit-* headers: its burst, the whole
    # tokens left, the seconds until it is full again, and (refused) the seconds until
    # p_cost tokens are there.
    refill = (
        "least(p_bursts[i], b.tokens + greatest(extract(epoch FROM v_now - b.updated_at), 0) * p_rates[i])"
    )
    op.execute(
        f"""
        CREATE FUNCTION servanda_rate_take(
          p_keys text[], p_rates double precision[], p_bursts integer[], p_cost integer)
        RETURNS TABLE (allowed boolean, "limit" integer, remaining integer, reset_s integer, retry_s integer)
        LANGUAGE plpgsql VOLATILE {_DEFINER} AS $$
        DECLARE
          v_now timestamptz := clock_timestamp();
          v_tokens double precision;
          v_ok boolean;
          v_least double precision := 'Infinity';
          i integer;
          j integer;
        BEGIN
          allowed := true; "limit" := 0; remaining := 0; reset_s := 0; retry_s := 0;
          FOR i IN 1 .. coalesce(array_length(p_keys, 1), 0) LOOP
            IF p_cost = 0 THEN
              SELECT {refill} INTO v_tokens FROM rate_buckets b WHERE b.key = p_keys[i];
              v_tokens := coalesce(v_tokens, p_bursts[i]);
              v_ok := v_tokens >= 1;
            ELSE
              INSERT INTO rate_buckets AS b (key, tokens, updated_at, full_at, last_ok)
                VALUES (p_keys[i], p_bursts[i] - p_cost, v_now,
                        v_now + make_interval(secs => p_bursts[i] / p_rates[i]), p_bursts[i] >= p_cost)
              ON CONFLICT (key) DO UPDATE SET
                tokens = CASE WHEN {refill} >= p_cost THEN {refill} - p_cost ELSE {refill} END,
                last_ok = {refill} >= p_cost,
                updated_at = v_now,
                full_at = EXCLUDED.full_at
              RETURNING b.tokens, b.last_ok INTO v_tokens, v_ok;
            END IF;
            IF NOT v_ok THEN
              IF p_cost > 0 THEN
                FOR j IN 1 .. i - 1 LOOP
                  UPDATE rate_buckets b SET tokens = least(p_bursts[j], b.tokens + p_cost) WHERE b.key = p_keys[j];
                END LOOP;
              END IF;
              allowed := false;
              "limit" := p_bursts[i];
              remaining := 0;
              reset_s := ceil((p_bursts[i] - v_tokens) / p_rates[i])::integer;
              retry_s := greatest(ceil((greatest(p_cost, 1) - v_tokens) / p_rates[i]), 1)::integer;
              RETURN NEXT;
              RETURN;
            END IF;
            IF v_tokens < v_least THEN
              v_least := v_tokens;
              "limit" := p_bursts[i];
              remaining := greatest(floor(v_tokens), 0)::integer;
              reset_s := ceil((p_bursts[i] - v_tokens) / p_rates[i])::integer;
            END IF;
          END LOOP;
          IF p_cost > 0 AND random() < 0.001 THEN
            DELETE FROM rate_buckets b WHERE b.full_at < v_now;
          END IF;
          RETURN NEXT;
        END $$
        """
    )
    op.execute(f"REVOKE ALL ON FUNCTION {FUNCTION} FROM PUBLIC")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}")
    op.execute("DROP TABLE IF EXISTS rate_buckets")

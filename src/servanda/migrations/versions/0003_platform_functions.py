"""Platform (operator) functions: the only way the application role reaches other tenants' rows.

The API connects as the application role, which sees only its own tenant row.
Platform-admin endpoints and the operator CLI go through these
security-definer functions, each doing one narrow thing on the tenants table
(owned by the owner role, whose platform policy admits it).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_DEFINER = "SECURITY DEFINER SET search_path = public, pg_temp"


def upgrade() -> None:
    op.execute(
        f"""
        CREATE FUNCTION servanda_platform_tenants() RETURNS SETOF tenants
        LANGUAGE sql STABLE {_DEFINER}
        AS $$ SELECT * FROM tenants ORDER BY slug $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION servanda_platform_create_tenant(p_slug text, p_name text, p_type text, p_jurisdiction text)
        RETURNS SETOF tenants LANGUAGE sql {_DEFINER}
        AS $$ INSERT INTO tenants (slug, name, type, default_jurisdiction)
              VALUES (p_slug, p_name, p_type, p_jurisdiction) RETURNING * $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION servanda_platform_update_tenant(p_id uuid, p_status text, p_plan text)
        RETURNS SETOF tenants LANGUAGE sql {_DEFINER}
        AS $$ UPDATE tenants SET
                status = coalesce(p_status, status),
                settings = CASE WHEN p_plan IS NULL THEN settings
                                ELSE jsonb_set(settings, '{{plan}}', to_jsonb(p_plan)) END,
                updated_at = now()
              WHERE id = p_id RETURNING * $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION servanda_platform_stats() RETURNS jsonb
        LANGUAGE plpgsql {_DEFINER} AS $$
        DECLARE
          t record;
          users bigint := 0;
          contracts bigint := 0;
          events bigint := 0;
          previous text := current_setting('app.current_tenant_id', true);
        BEGIN
          FOR t IN SELECT id FROM tenants LOOP
            PERFORM set_config('app.current_tenant_id', t.id::text, true);
            users := users + (SELECT count(*) FROM users WHERE deleted_at IS NULL);
            contracts := contracts + (SELECT count(*) FROM contracts);
            events := events + (SELECT count(*) FROM audit_events);
          END LOOP;
          PERFORM set_config('app.current_tenant_id', coalesce(previous, ''), true);
          RETURN jsonb_build_object(
            'tenants', (SELECT count(*) FROM tenants),
            'tenantsByStatus', (SELECT coalesce(jsonb_object_agg(status, n), '{{}}') FROM
                                (SELECT status, count(*) n FROM tenants GROUP BY status) s),
            'tenantsByType', (SELECT coalesce(jsonb_object_agg(type, n), '{{}}') FROM
                              (SELECT type, count(*) n FROM tenants GROUP BY type) s),
            'users', users, 'contracts', contracts, 'auditEvents', events);
        END $$
        """
    )
    for function in _FUNCTIONS:
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")


_FUNCTIONS = (
    "servanda_platform_tenants()",
    "servanda_platform_create_tenant(text, text, text, text)",
    "servanda_platform_update_tenant(uuid, text, text)",
    "servanda_platform_stats()",
)


def downgrade() -> None:
    for function in _FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {function}")

"""One-round-trip principal lookup for authentication.

``servanda_principal(tenant, user, session)`` sets the transaction's tenant and
returns the caller's user, tenant and login-session state in a single
statement. It runs with the caller's rights (SECURITY INVOKER), so row-level
security applies exactly as for any other query of the application role.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_COLUMNS = """
    id uuid, email text, display_name text, role text, status text, mfa_enabled boolean,
    platform_admin boolean, external_subject text, slug text, type text, tenant_status text,
    mfa_required boolean, revoked_at timestamptz, session_expired boolean, session_user_id uuid
"""


def upgrade() -> None:
    for name, where, session_arg in (
        ("servanda_principal", "u.id = p_user", "p_session uuid"),
        ("servanda_principal_by_subject", "u.external_subject = p_subject", None),
    ):
        params = "p_tenant uuid, " + ("p_user uuid, p_session uuid" if session_arg else "p_subject text")
        session_id = "p_session" if session_arg else "NULL::uuid"
        op.execute(
            f"""
            CREATE FUNCTION {name}({params}) RETURNS TABLE ({_COLUMNS})
            LANGUAGE plpgsql VOLATILE AS $$
            BEGIN
              PERFORM set_config('app.current_tenant_id', p_tenant::text, true);
              RETURN QUERY
                SELECT u.id, u.email::text, u.display_name::text, u.role::text, u.status::text, u.mfa_enabled,
                       u.platform_admin, u.external_subject::text, t.slug::text, t.type::text, t.status::text,
                       coalesce((t.settings->'featureFlags'->>'mfaRequired')::boolean, false),
                       s.revoked_at, s.expires_at < now(), s.user_id
                FROM users u JOIN tenants t ON t.id = u.tenant_id
                LEFT JOIN auth_sessions s ON s.id = {session_id}
                WHERE {where};
            END $$
            """
        )


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS servanda_principal(uuid, uuid, uuid)")
    op.execute("DROP FUNCTION IF EXISTS servanda_principal_by_subject(uuid, text)")

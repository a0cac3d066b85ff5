"""Row-level security: the application role's privileges and the coverage gate.

Policies themselves live in the migrations (they are schema); this module
holds what depends on the deployment's role names: the grants for the
application role, applied after every upgrade, and ``check_rls``, the gate
that ``servanda migrate`` and ``servanda db check-rls`` run.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

# Privileges of the application role, per table. A table missing here fails the
# gate, so a new table can never ship without a deliberate decision. TRUNCATE is
# never granted: it is not subject to row-level security.
APP_TABLE_PRIVILEGES: dict[str, str] = {
    "alembic_version": "SELECT",
    "tenants": "SELECT",
    "users": "SELECT, INSERT, UPDATE, DELETE",
    "teams": "SELECT, INSERT, UPDATE, DELETE",
    "team_members": "SELECT, INSERT, UPDATE, DELETE",
    "audit_events": "SELECT, INSERT",  # append-only
    "clauses": "SELECT, INSERT, UPDATE, DELETE",
    "clause_versions": "SELECT, INSERT, UPDATE, DELETE",
    "templates": "SELECT, INSERT, UPDATE, DELETE",
    "template_versions": "SELECT, INSERT, UPDATE, DELETE",
    "contracts": "SELECT, INSERT, UPDATE, DELETE",
    "lawfirm_templates": "SELECT, INSERT, UPDATE, DELETE",
    "export_jobs": "SELECT, INSERT, UPDATE, DELETE",
    "style_templates": "SELECT, INSERT, UPDATE, DELETE",
    "auth_sessions": "SELECT, INSERT, UPDATE, DELETE",
    "refresh_tokens": "SELECT, INSERT, UPDATE, DELETE",
    "user_invites": "SELECT, INSERT, UPDATE, DELETE",
    "password_resets": "SELECT, INSERT, UPDATE",
    "audit_purges": "SELECT",  # written only by the retention function
    "content_reviews": "SELECT, INSERT",  # history: never rewritten
    "login_backoff": "",  # none: only the servanda_login_backoff_* functions reach it
    "rate_buckets": "",  # none: only servanda_rate_take reaches it (migration 0013)
    "export_batches": "SELECT, INSERT, UPDATE, DELETE",
    # The job queue (procrastinate, migration 0012): tenant-free by design. A queue row
    # holds only an export job's or batch's id and tenant id; the worker must see every
    # tenant's jobs before it knows whose job it is, then sets that tenant for the
    # transaction that reads the contract (which RLS confines).
    **{
        f"procrastinate_{name}": "SELECT, INSERT, UPDATE, DELETE"
        for name in ("jobs", "events", "periodic_defers", "workers")
    },
}
# Sequences of the tenant-free queue tables (their ids); every other id is a UUID.
APP_SEQUENCES = (
    "procrastinate_jobs_id_seq",
    "procrastinate_events_id_seq",
    "procrastinate_periodic_defers_id_seq",
    "procrastinate_workers_id_seq",
)
# Column-level grants where a whole-table UPDATE would be too much: a tenant
# admin may edit its profile and settings, never its slug, type or status.
APP_COLUMN_PRIVILEGES: dict[str, str] = {
    "tenants": "UPDATE (name, address, default_jurisdiction, default_language, settings, updated_at)",
}
# Security-definer functions the app role may call. The platform_* ones are reached
# only from platform-admin routes (and the operator CLI, as owner).
APP_FUNCTIONS = (
    "servanda_active_tenant_count()",
    "servanda_tenant_by_slug(text)",
    "servanda_platform_tenants()",
    "servanda_platform_create_tenant(text, text, text, text)",
    "servanda_platform_update_tenant(uuid, text, text)",
    "servanda_platform_stats()",
    "servanda_publisher_names(uuid[])",
    "servanda_login_backoff_wait(text)",
    "servanda_login_backoff_failed(text, integer, integer, integer)",
    "servanda_login_backoff_clear(text)",
    "servanda_rate_take(text[], double precision[], integer[], integer)",
)
# Tables whose rows are not owned by a tenant but still need RLS.
RLS_WITHOUT_TENANT_ID = ("tenants", "login_backoff", "rate_buckets")
APPEND_ONLY_TABLES = ("audit_events", "audit_purges")
# The maintenance role (retention) may run exactly this and nothing else.
MAINTENANCE_FUNCTIONS = ("servanda_audit_purge_expired(timestamptz)",)


def apply_app_grants(conn: Connection, app_role: str) -> None:
    """Reset the application role's privileges to exactly the declared ones (idempotent)."""
    role = _quote_ident(conn, app_role)
    conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {role}"))
    conn.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}"))
    conn.execute(text(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}"))
    for table, privileges in APP_TABLE_PRIVILEGES.items():
        if not privileges:
            continue  # declared as "no privileges"
        conn.execute(text(f"GRANT {privileges} ON TABLE public.{table} TO {role}"))
    for table, privileges in APP_COLUMN_PRIVILEGES.items():
        conn.execute(text(f"GRANT {privileges} ON TABLE public.{table} TO {role}"))
    for function in APP_FUNCTIONS:
        conn.execute(text(f"GRANT EXECUTE ON FUNCTION public.{function} TO {role}"))
    for sequence in APP_SEQUENCES:
        conn.execute(text(f"GRANT USAGE, SELECT ON SEQUENCE public.{sequence} TO {role}"))


def apply_maintenance_grants(conn: Connection, maintenance_role: str) -> None:
    role = _quote_ident(conn, maintenance_role)
    conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {role}"))
    for function in MAINTENANCE_FUNCTIONS:
        conn.execute(text(f"GRANT EXECUTE ON FUNCTION public.{function} TO {role}"))


def _quote_ident(conn: Connection, name: str) -> str:
    return str(conn.execute(text("SELECT quote_ident(:n)"), {"n": name}).scalar_one())


@dataclass(frozen=True)
class RlsProblem:
    subject: str
    problem: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.problem}"


def check_rls(conn: Connection, app_role: str) -> list[RlsProblem]:
    """Return every way the schema or the application role could leak across tenants."""
    problems: list[RlsProblem] = []
    role = conn.execute(
        text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :r"), {"r": app_role}
    ).one_or_none()
    if role is None:
        return [RlsProblem(f"role {app_role}", "does not exist")]
    if role.rolsuper:
        problems.append(RlsProblem(f"role {app_role}", "is a superuser and bypasses every policy"))
    if role.rolbypassrls:
        problems.append(RlsProblem(f"role {app_role}", "has BYPASSRLS"))

    tables = conn.execute(
        text(
            """
            SELECT c.relname AS name, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced,
                   pg_get_userbyid(c.relowner) AS owner,
                   pg_has_role(:r, c.relowner, 'MEMBER') AS app_is_owner,
                   EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                           AND a.attname = 'tenant_id' AND NOT a.attisdropped) AS has_tenant_id,
                   (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies,
                   has_table_privilege(:r, c.oid, 'TRUNCATE') AS can_truncate,
                   has_table_privilege(:r, c.oid, 'UPDATE') AS can_update,
                   has_table_privilege(:r, c.oid, 'DELETE') AS can_delete
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
            ORDER BY c.relname
            """
        ),
        {"r": app_role},
    ).all()
    for t in tables:
        subject = f"table {t.name}"
        if t.app_is_owner:
            problems.append(RlsProblem(subject, f"owned by {t.owner}, which {app_role} is (a member of)"))
        if t.name not in APP_TABLE_PRIVILEGES:
            problems.append(RlsProblem(subject, "has no declared application privileges (platform/rls.py)"))
        if t.can_truncate:
            problems.append(RlsProblem(subject, f"{app_role} may TRUNCATE (not subject to RLS)"))
        if t.name in APPEND_ONLY_TABLES and (t.can_update or t.can_delete):
            problems.append(RlsProblem(subject, f"append-only but {app_role} may UPDATE or DELETE"))
        if t.has_tenant_id or t.name in RLS_WITHOUT_TENANT_ID:
            if not t.enabled:
                problems.append(RlsProblem(subject, "row-level security is not enabled"))
            if not t.forced:
                problems.append(RlsProblem(subject, "row-level security is not FORCEd"))
            if t.policies == 0:
                problems.append(RlsProblem(subject, "has no policy"))
    return problems

"""Row-level security, proven with raw SQL as the application role (domain.md, "Tenancy and RLS")."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import psycopg
import pytest
from psycopg import errors
from sqlalchemy import text

from servanda.platform import migrate
from servanda.platform.db import Database
from tests.conftest import APP, OWNER, DbUnderTest
from tests.factories import TenantRows, content, tenant_rows

STRICT = (
    "users",
    "teams",
    "team_members",
    "contracts",
    "lawfirm_templates",
    "export_jobs",
    "audit_events",
    "auth_sessions",
    "refresh_tokens",
    "user_invites",
    "password_resets",
)
TENANT_OWNED = (*STRICT, "clauses", "clause_versions", "templates", "template_versions", "style_templates")
Connect = Callable[..., psycopg.Connection]


@pytest.fixture
def two_firms(su: psycopg.Connection, make_tenant: Callable[..., uuid.UUID]) -> tuple[TenantRows, TenantRows]:
    a = tenant_rows(su, make_tenant("kanzlei-a"), "a")
    b = tenant_rows(su, make_tenant("kanzlei-b"), "b")
    return a, b


def count(conn: psycopg.Connection, sql: str, *params: object) -> int:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("table", TENANT_OWNED)
def test_foreign_rows_are_invisible_even_when_asked_for_by_tenant_id(
    table: str, two_firms: tuple[TenantRows, TenantRows], connect_as: Connect, su: psycopg.Connection
) -> None:
    a, b = two_firms
    assert count(su, f"SELECT count(*) FROM {table} WHERE tenant_id = %s", a.tenant_id) >= 1  # ground truth
    as_b = connect_as(APP, tenant=b.tenant_id)
    assert count(as_b, f"SELECT count(*) FROM {table} WHERE tenant_id = %s", a.tenant_id) == 0
    assert count(as_b, f"SELECT count(*) FROM {table} WHERE tenant_id = %s", b.tenant_id) >= 1


@pytest.mark.parametrize("table", TENANT_OWNED)
def test_without_a_tenant_no_rows_are_visible(
    table: str, two_firms: tuple[TenantRows, TenantRows], connect_as: Connect
) -> None:
    assert count(connect_as(APP), f"SELECT count(*) FROM {table} WHERE tenant_id IS NOT NULL") == 0


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("users", "display_name"),
        ("teams", "name"),
        ("contracts", "title"),
        ("lawfirm_templates", "title"),
        ("export_jobs", "error_message"),
        ("clauses", "title"),
        ("clause_versions", "content"),
        ("templates", "title"),
        ("template_versions", "change_note"),
        ("style_templates", "name"),
    ],
)
def test_foreign_rows_cannot_be_updated_or_deleted(
    table: str,
    column: str,
    two_firms: tuple[TenantRows, TenantRows],
    connect_as: Connect,
    su: psycopg.Connection,
) -> None:
    a, b = two_firms
    before = count(su, f"SELECT count(*) FROM {table} WHERE tenant_id = %s", a.tenant_id)
    as_b = connect_as(APP, tenant=b.tenant_id)
    updated = as_b.execute(f"UPDATE {table} SET {column} = 'gehackt' WHERE tenant_id = %s", (a.tenant_id,))
    assert updated.rowcount == 0
    deleted = as_b.execute(f"DELETE FROM {table} WHERE tenant_id = %s", (a.tenant_id,))
    assert deleted.rowcount == 0
    as_b.commit()
    assert count(su, f"SELECT count(*) FROM {table} WHERE tenant_id = %s", a.tenant_id) == before
    assert count(su, f"SELECT count(*) FROM {table} WHERE {column} = 'gehackt'") == 0


def test_rows_cannot_be_written_into_another_tenant(
    two_firms: tuple[TenantRows, TenantRows], connect_as: Connect
) -> None:
    a, b = two_firms
    as_b = connect_as(APP, tenant=b.tenant_id)
    with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
        as_b.execute("INSERT INTO teams (tenant_id, name) VALUES (%s, 'Fremdes Team')", (a.tenant_id,))
    as_b.rollback()
    as_b.execute("SELECT set_config('app.current_tenant_id', %s, true)", (str(b.tenant_id),))
    with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
        as_b.execute("UPDATE teams SET tenant_id = %s WHERE tenant_id = %s", (a.tenant_id, b.tenant_id))


def test_team_members_cannot_span_tenants(
    two_firms: tuple[TenantRows, TenantRows], su: psycopg.Connection
) -> None:
    a, b = two_firms
    # Even the superuser cannot put tenant A's user into tenant B's team: composite foreign keys.
    with pytest.raises(errors.ForeignKeyViolation):
        su.execute(
            "INSERT INTO team_members (tenant_id, team_id, user_id) VALUES (%s, %s, %s)",
            (b.tenant_id, b.team_id, a.user_id),
        )


def test_tenants_table_shows_only_the_own_row_and_protects_status(
    two_firms: tuple[TenantRows, TenantRows], connect_as: Connect
) -> None:
    a, b = two_firms
    as_b = connect_as(APP, tenant=b.tenant_id)
    assert [r[0] for r in as_b.execute("SELECT id FROM tenants").fetchall()] == [b.tenant_id]
    assert as_b.execute("UPDATE tenants SET name = 'X' WHERE id = %s", (a.tenant_id,)).rowcount == 0
    assert (
        as_b.execute("UPDATE tenants SET name = 'Kanzlei B GmbH' WHERE id = %s", (b.tenant_id,)).rowcount == 1
    )
    with pytest.raises(errors.InsufficientPrivilege):
        as_b.execute("UPDATE tenants SET status = 'active' WHERE id = %s", (b.tenant_id,))
    as_b.rollback()
    with pytest.raises(errors.InsufficientPrivilege):
        as_b.execute("INSERT INTO tenants (slug, name, type) VALUES ('neu-x', 'Neu', 'vendor')")


def test_slug_lookup_function_reveals_only_id_type_status(
    two_firms: tuple[TenantRows, TenantRows], connect_as: Connect
) -> None:
    a, _ = two_firms
    row = connect_as(APP).execute("SELECT * FROM servanda_tenant_by_slug('kanzlei-a')").fetchone()
    assert row == (a.tenant_id, "lawfirm", "active")


class TestPublisherContent:
    @pytest.fixture
    def vendor(self, su: psycopg.Connection, make_tenant: Callable[..., uuid.UUID]) -> uuid.UUID:
        return make_tenant("verlag-x", type="vendor")

    def test_published_vendor_content_is_readable_by_a_law_firm(
        self,
        vendor: uuid.UUID,
        two_firms: tuple[TenantRows, TenantRows],
        su: psycopg.Connection,
        connect_as: Connect,
    ) -> None:
        clause, clause_version, template, template_version = content(su, vendor, "published", "Kündigung")
        _, draft_version, _, draft_template_version = content(su, vendor, "draft", "Entwurf")
        _, b = two_firms
        as_b = connect_as(APP, tenant=b.tenant_id)
        assert [r[0] for r in as_b.execute("SELECT id FROM clauses WHERE tenant_id = %s", (vendor,))] == [
            clause
        ]
        assert [
            r[0] for r in as_b.execute("SELECT id FROM clause_versions WHERE tenant_id = %s", (vendor,))
        ] == [clause_version]
        assert [r[0] for r in as_b.execute("SELECT id FROM templates WHERE tenant_id = %s", (vendor,))] == [
            template
        ]
        visible_template_versions = [
            r[0] for r in as_b.execute("SELECT id FROM template_versions WHERE tenant_id = %s", (vendor,))
        ]
        assert visible_template_versions == [template_version]
        assert draft_version not in visible_template_versions
        assert draft_template_version not in visible_template_versions

    def test_deprecated_vendor_versions_stay_readable(
        self,
        vendor: uuid.UUID,
        two_firms: tuple[TenantRows, TenantRows],
        su: psycopg.Connection,
        connect_as: Connect,
    ) -> None:
        clause, version, _, _ = content(su, vendor, "published")
        su.execute("UPDATE clause_versions SET status = 'deprecated' WHERE id = %s", (version,))
        as_b = connect_as(APP, tenant=two_firms[1].tenant_id)
        assert count(as_b, "SELECT count(*) FROM clause_versions WHERE id = %s", version) == 1
        assert count(as_b, "SELECT count(*) FROM clauses WHERE id = %s", clause) == 1

    def test_vendor_drafts_are_invisible(
        self,
        vendor: uuid.UUID,
        two_firms: tuple[TenantRows, TenantRows],
        su: psycopg.Connection,
        connect_as: Connect,
    ) -> None:
        for status in ("draft", "review", "approved"):
            content(su, vendor, status, f"Klausel {status}")
        as_b = connect_as(APP, tenant=two_firms[1].tenant_id)
        for table in ("clauses", "clause_versions", "templates", "template_versions"):
            assert count(as_b, f"SELECT count(*) FROM {table} WHERE tenant_id = %s", vendor) == 0, table

    def test_vendor_content_is_not_writable_by_a_law_firm(
        self,
        vendor: uuid.UUID,
        two_firms: tuple[TenantRows, TenantRows],
        su: psycopg.Connection,
        connect_as: Connect,
    ) -> None:
        clause, version, template, template_version = content(su, vendor, "published")
        as_b = connect_as(APP, tenant=two_firms[1].tenant_id)
        assert as_b.execute("UPDATE clauses SET title = 'X' WHERE id = %s", (clause,)).rowcount == 0
        assert (
            as_b.execute("UPDATE clause_versions SET content = 'X' WHERE id = %s", (version,)).rowcount == 0
        )
        assert as_b.execute("UPDATE templates SET title = 'X' WHERE id = %s", (template,)).rowcount == 0
        assert as_b.execute("DELETE FROM template_versions WHERE id = %s", (template_version,)).rowcount == 0
        assert as_b.execute("DELETE FROM clauses WHERE id = %s", (clause,)).rowcount == 0
        as_b.commit()
        assert (
            count(su, "SELECT count(*) FROM clause_versions WHERE id = %s AND content = 'Text'", version) == 1
        )

    def test_law_firm_content_is_never_shared_even_when_published(
        self, two_firms: tuple[TenantRows, TenantRows], su: psycopg.Connection, connect_as: Connect
    ) -> None:
        a, b = two_firms
        content(su, a.tenant_id, "published", "Kanzleiklausel")
        as_b = connect_as(APP, tenant=b.tenant_id)
        assert count(as_b, "SELECT count(*) FROM clause_versions WHERE tenant_id = %s", a.tenant_id) == 0

    def test_a_law_firm_cannot_pose_as_a_publisher(
        self, two_firms: tuple[TenantRows, TenantRows], connect_as: Connect
    ) -> None:
        a, b = two_firms
        as_a = connect_as(APP, tenant=a.tenant_id)
        as_a.execute(
            "INSERT INTO clauses (tenant_id, title, publisher_is_vendor, has_public_version) "
            "VALUES (%s, 'Getarnt', true, true)",
            (a.tenant_id,),
        )
        as_a.commit()
        as_b = connect_as(APP, tenant=b.tenant_id)
        assert count(as_b, "SELECT count(*) FROM clauses WHERE title = 'Getarnt'") == 0


def test_system_style_is_readable_by_all_and_writable_by_none(
    two_firms: tuple[TenantRows, TenantRows], connect_as: Connect
) -> None:
    as_b = connect_as(APP, tenant=two_firms[1].tenant_id)
    assert (
        count(as_b, "SELECT count(*) FROM style_templates WHERE tenant_id IS NULL AND type = 'system'") == 1
    )
    assert as_b.execute("UPDATE style_templates SET name = 'X' WHERE tenant_id IS NULL").rowcount == 0
    assert as_b.execute("DELETE FROM style_templates WHERE tenant_id IS NULL").rowcount == 0
    with pytest.raises(errors.InsufficientPrivilege):
        as_b.execute("INSERT INTO style_templates (tenant_id, name, type) VALUES (NULL, 'Fake', 'system')")


class TestAuditImmutability:
    def test_app_role_cannot_update_or_delete_audit_events(
        self, two_firms: tuple[TenantRows, TenantRows], connect_as: Connect
    ) -> None:
        a, _ = two_firms
        for statement in (
            "UPDATE audit_events SET action = 'x'",
            "DELETE FROM audit_events",
            "TRUNCATE audit_events",
        ):
            as_a = connect_as(APP, tenant=a.tenant_id)
            with pytest.raises(errors.InsufficientPrivilege):
                as_a.execute(statement)

    def test_even_a_superuser_is_stopped_by_the_trigger(
        self, two_firms: tuple[TenantRows, TenantRows], su: psycopg.Connection, connect_as: Connect
    ) -> None:
        a, _ = two_firms
        # The owner has no UPDATE policy, so it reaches no row; its DELETE policy (the
        # retention path) meets the trigger outside the retention function ...
        as_owner = connect_as(OWNER, tenant=a.tenant_id)
        assert as_owner.execute("UPDATE audit_events SET action = 'x'").rowcount == 0
        with pytest.raises(errors.InsufficientPrivilege, match="append-only"):
            as_owner.execute("DELETE FROM audit_events WHERE tenant_id = %s", (a.tenant_id,))
        # ... and so does a role that bypasses RLS altogether.
        for statement in ("UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"):
            with pytest.raises(errors.InsufficientPrivilege, match="append-only"):
                su.execute(statement)

    def test_app_role_may_append_in_its_own_tenant(
        self, two_firms: tuple[TenantRows, TenantRows], connect_as: Connect
    ) -> None:
        a, _ = two_firms
        as_a = connect_as(APP, tenant=a.tenant_id)
        as_a.execute(
            "INSERT INTO audit_events (tenant_id, action, seq, prev_hash, hash) VALUES (%s, 'user.login', 99, '', '')",
            (a.tenant_id,),
        )
        assert count(as_a, "SELECT count(*) FROM audit_events") == 2


def test_truncate_is_refused_for_the_app_role_on_every_table(
    clean_db: DbUnderTest, connect_as: Connect
) -> None:
    conn = connect_as(APP)
    tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    for table in tables:
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(f"TRUNCATE {table}")
        conn.rollback()


def test_the_guard_matters_a_superuser_sees_everything(
    two_firms: tuple[TenantRows, TenantRows], su: psycopg.Connection
) -> None:
    """Why the app must not connect as a superuser: with the same tenant setting, RLS is silently skipped."""
    a, b = two_firms
    su.execute("BEGIN")
    su.execute("SELECT set_config('app.current_tenant_id', %s, true)", (str(b.tenant_id),))
    assert count(su, "SELECT count(*) FROM contracts WHERE tenant_id = %s", a.tenant_id) == 1
    su.execute("ROLLBACK")


class TestPooledConnections:
    def test_two_tenants_on_one_pooled_connection_never_see_each_other(
        self, two_firms: tuple[TenantRows, TenantRows], clean_db: DbUnderTest
    ) -> None:
        a, b = two_firms

        async def scenario() -> list[tuple[int, list[uuid.UUID]]]:
            db = Database(clean_db.app, pool_size=1)
            seen = []
            try:
                for tenant in (a.tenant_id, b.tenant_id, None, a.tenant_id):
                    async with db.session(tenant) as session:
                        pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
                        rows = (
                            (await session.execute(text("SELECT tenant_id FROM contracts"))).scalars().all()
                        )
                        seen.append((pid, list(rows)))
            finally:
                await db.dispose()
            return seen

        seen = asyncio.run(scenario())
        assert len({pid for pid, _ in seen}) == 1, "the scenario must reuse one connection"
        assert [rows for _, rows in seen] == [[a.tenant_id], [b.tenant_id], [], [a.tenant_id]]

    def test_concurrent_requests_for_different_tenants_stay_apart(
        self, two_firms: tuple[TenantRows, TenantRows], clean_db: DbUnderTest
    ) -> None:
        a, b = two_firms

        async def scenario() -> list[bool]:
            db = Database(clean_db.app, pool_size=2)

            async def request(tenant: uuid.UUID) -> bool:
                async with db.session(tenant) as session:
                    await session.execute(text("SELECT pg_sleep(0.001)"))
                    rows = (
                        (await session.execute(text("SELECT DISTINCT tenant_id FROM users"))).scalars().all()
                    )
                    return list(rows) == [tenant]

            try:
                return list(await asyncio.gather(*(request(t) for t in [a.tenant_id, b.tenant_id] * 20)))
            finally:
                await db.dispose()

        assert all(asyncio.run(scenario()))


class TestCoverageGate:
    def test_gate_passes_on_the_migrated_schema(self, clean_db: DbUnderTest) -> None:
        assert migrate.run_check(clean_db.owner, APP) == []

    def test_gate_fails_for_a_tenant_table_without_forced_rls(
        self, clean_db: DbUnderTest, su: psycopg.Connection
    ) -> None:
        su.execute("CREATE TABLE leaky (id int, tenant_id uuid)")
        try:
            problems = {str(p) for p in migrate.run_check(clean_db.owner, APP)}
            assert "table leaky: row-level security is not enabled" in problems
            assert "table leaky: row-level security is not FORCEd" in problems
            assert "table leaky: has no policy" in problems
            su.execute("ALTER TABLE leaky ENABLE ROW LEVEL SECURITY")
            su.execute("CREATE POLICY p ON leaky USING (true)")
            problems = {str(p) for p in migrate.run_check(clean_db.owner, APP)}
            assert "table leaky: row-level security is not FORCEd" in problems
            assert "table leaky: has no policy" not in problems
        finally:
            su.execute("DROP TABLE leaky")

    def test_gate_fails_when_contracts_lose_force(
        self, clean_db: DbUnderTest, su: psycopg.Connection
    ) -> None:
        su.execute("ALTER TABLE contracts NO FORCE ROW LEVEL SECURITY")
        try:
            assert [str(p) for p in migrate.run_check(clean_db.owner, APP)] == [
                "table contracts: row-level security is not FORCEd"
            ]
        finally:
            su.execute("ALTER TABLE contracts FORCE ROW LEVEL SECURITY")

    @pytest.mark.parametrize(
        ("grant", "revoke", "expected"),
        [
            (f"ALTER ROLE {APP} BYPASSRLS", f"ALTER ROLE {APP} NOBYPASSRLS", "has BYPASSRLS"),
            (f"ALTER ROLE {APP} SUPERUSER", f"ALTER ROLE {APP} NOSUPERUSER", "is a superuser"),
            (f"GRANT {OWNER} TO {APP}", f"REVOKE {OWNER} FROM {APP}", "which servanda_app is (a member of)"),
            (
                f"GRANT TRUNCATE ON contracts TO {APP}",
                f"REVOKE TRUNCATE ON contracts FROM {APP}",
                "may TRUNCATE",
            ),
            (
                f"GRANT DELETE ON audit_events TO {APP}",
                f"REVOKE DELETE ON audit_events FROM {APP}",
                "append-only",
            ),
        ],
    )
    def test_gate_fails_for_an_app_role_that_could_bypass(
        self, grant: str, revoke: str, expected: str, clean_db: DbUnderTest, su: psycopg.Connection
    ) -> None:
        su.execute(grant)
        try:
            problems = " | ".join(str(p) for p in migrate.run_check(clean_db.owner, APP))
            assert expected in problems
        finally:
            su.execute(revoke)
        assert migrate.run_check(clean_db.owner, APP) == []

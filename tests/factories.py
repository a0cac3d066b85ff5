"""Rows for tests, written as superuser (bypassing RLS) so arrangement never depends on the policies under test."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from servanda.audit import chain as audit_chain


@dataclass(frozen=True)
class TenantRows:
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    team_id: uuid.UUID
    clause_id: uuid.UUID
    clause_version_id: uuid.UUID
    template_id: uuid.UUID
    template_version_id: uuid.UUID
    contract_id: uuid.UUID
    lawfirm_template_id: uuid.UUID
    export_job_id: uuid.UUID
    style_template_id: uuid.UUID


def _id(conn: psycopg.Connection, sql: str, params: tuple[object, ...]) -> uuid.UUID:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return uuid.UUID(str(row[0]))


def content(
    conn: psycopg.Connection, tenant_id: uuid.UUID, status: str = "published", title: str = "Klausel"
) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID, uuid.UUID]:
    """A clause and a template, each with one version in ``status``."""
    clause_id = _id(
        conn, "INSERT INTO clauses (tenant_id, title) VALUES (%s, %s) RETURNING id", (tenant_id, title)
    )
    clause_version_id = _id(
        conn,
        "INSERT INTO clause_versions (tenant_id, clause_id, version_number, content, status) "
        "VALUES (%s, %s, 1, 'Text', %s) RETURNING id",
        (tenant_id, clause_id, status),
    )
    template_id = _id(
        conn,
        "INSERT INTO templates (tenant_id, title) VALUES (%s, %s) RETURNING id",
        (tenant_id, f"Vorlage {title}"),
    )
    template_version_id = _id(
        conn,
        "INSERT INTO template_versions (tenant_id, template_id, version_number, structure, status) "
        "VALUES (%s, %s, 1, %s, %s) RETURNING id",
        (tenant_id, template_id, json.dumps({"sections": []}), status),
    )
    return clause_id, clause_version_id, template_id, template_version_id


def audit_event(
    conn: psycopg.Connection,
    tenant_id: uuid.UUID,
    action: str,
    *,
    actor_id: uuid.UUID | None = None,
    object_id: str | None = None,
    created_at: datetime | None = None,
) -> None:
    """Append a correctly chained event (as the repository would)."""
    last = conn.execute(
        "SELECT seq, hash FROM audit_events WHERE tenant_id = %s ORDER BY seq DESC LIMIT 1", (tenant_id,)
    ).fetchone()
    seq, prev = (last[0] + 1, last[1]) if last else (1, audit_chain.GENESIS)
    created = created_at or datetime.now(UTC)
    digest = audit_chain.link_hash(
        prev,
        audit_chain.canonical(
            tenant_id=tenant_id,
            seq=seq,
            actor_id=actor_id,
            action=action,
            object_type="test",
            object_id=object_id,
            details={},
            ip_address=None,
            request_id=None,
            created_at=created,
        ),
    )
    conn.execute(
        "INSERT INTO audit_events (tenant_id, actor_id, action, object_type, object_id, created_at, seq, "
        "prev_hash, hash) VALUES (%s, %s, %s, 'test', %s, %s, %s, %s, %s)",
        (tenant_id, actor_id, action, object_id, created, seq, prev, digest),
    )


def tenant_rows(conn: psycopg.Connection, tenant_id: uuid.UUID, label: str) -> TenantRows:
    """One row in every tenant-owned table of ``tenant_id``."""
    user_id = _id(
        conn,
        "INSERT INTO users (tenant_id, email, display_name, role, status) "
        "VALUES (%s, %s, %s, 'admin', 'active') RETURNING id",
        (tenant_id, f"admin@{label}.example", f"Admin {label}"),
    )
    team_id = _id(
        conn, "INSERT INTO teams (tenant_id, name) VALUES (%s, %s) RETURNING id", (tenant_id, "Team")
    )
    conn.execute(
        "INSERT INTO team_members (tenant_id, team_id, user_id) VALUES (%s, %s, %s)",
        (tenant_id, team_id, user_id),
    )
    clause_id, clause_version_id, template_id, template_version_id = content(conn, tenant_id, "draft", label)
    contract_id = _id(
        conn,
        "INSERT INTO contracts (tenant_id, creator_id, title, jurisdiction, template_version_id, "
        "clause_version_ids) VALUES (%s, %s, %s, 'DE', %s, %s) RETURNING id",
        (tenant_id, user_id, f"Vertrag {label}", template_version_id, [clause_version_id]),
    )
    lawfirm_template_id = _id(
        conn,
        "INSERT INTO lawfirm_templates (tenant_id, title, source_template_version_id) VALUES (%s, %s, %s) RETURNING id",
        (tenant_id, f"Kanzleivorlage {label}", template_version_id),
    )
    export_job_id = _id(
        conn,
        "INSERT INTO export_jobs (tenant_id, contract_id, format) VALUES (%s, %s, 'docx') RETURNING id",
        (tenant_id, contract_id),
    )
    style_template_id = _id(
        conn,
        "INSERT INTO style_templates (tenant_id, name, type) VALUES (%s, %s, 'lawfirm') RETURNING id",
        (tenant_id, f"Stil {label}"),
    )
    audit_event(conn, tenant_id, "contract.create", actor_id=user_id, object_id=str(contract_id))
    session_id = _id(
        conn,
        "INSERT INTO auth_sessions (tenant_id, user_id, expires_at) VALUES (%s, %s, now() + interval '1 day') "
        "RETURNING id",
        (tenant_id, user_id),
    )
    conn.execute(
        "INSERT INTO refresh_tokens (tenant_id, session_id, token_hash, expires_at) "
        "VALUES (%s, %s, md5(random()::text) || md5(random()::text), now() + interval '1 day')",
        (tenant_id, session_id),
    )
    conn.execute(
        "INSERT INTO user_invites (tenant_id, user_id, token_hash, expires_at) "
        "VALUES (%s, %s, md5(random()::text) || md5(random()::text), now() + interval '1 day')",
        (tenant_id, user_id),
    )
    conn.execute(
        "INSERT INTO password_resets (tenant_id, user_id, token_hash, expires_at) "
        "VALUES (%s, %s, md5(random()::text) || md5(random()::text), now() + interval '1 hour')",
        (tenant_id, user_id),
    )
    return TenantRows(
        tenant_id,
        user_id,
        team_id,
        clause_id,
        clause_version_id,
        template_id,
        template_version_id,
        contract_id,
        lawfirm_template_id,
        export_job_id,
        style_template_id,
    )

"""Identity tables: users, teams and their members, login sessions, refresh tokens, invites, login back-off."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.orm import Mapped, mapped_column

from servanda.platform.orm import Base, created_at, updated_at, uuid_pk

USER_ROLES = ("admin", "editor", "user")
USER_STATUSES = ("invited", "active", "disabled")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        Index("uq_users_tenant_id_email", "tenant_id", func.lower(text("email")), unique=True),
        Index(
            "uq_users_tenant_id_external_subject",
            "tenant_id",
            "external_subject",
            unique=True,
            postgresql_where=text("external_subject IS NOT NULL"),
        ),
        CheckConstraint(f"role IN {USER_ROLES}", name="role"),
        CheckConstraint(f"status IN {USER_STATUSES}", name="status"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    email: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), server_default="invited")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    mfa_enabled: Mapped[bool] = mapped_column(server_default=text("false"))
    last_login_at: Mapped[datetime | None]
    external_subject: Mapped[str | None] = mapped_column(String(255))
    # Wrong codes/passwords of the signed-in user (MFA enable/disable, password change) in the
    # window that began at failed_check_since; the login back-off lives in LoginBackoff.
    failed_check_count: Mapped[int] = mapped_column(server_default=text("0"))
    failed_check_since: Mapped[datetime | None]
    mfa_secret: Mapped[str | None] = mapped_column(String(500))  # encrypted (Fernet) TOTP secret
    platform_admin: Mapped[bool] = mapped_column(server_default=text("false"))
    deleted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class Team(Base):
    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("tenant_id", "name"), UniqueConstraint("tenant_id", "id"))

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class TeamMember(Base):
    """Membership; the composite keys make a cross-tenant member impossible."""

    __tablename__ = "team_members"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "team_id"], ["teams.tenant_id", "teams.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
        Index("ix_team_members_tenant_id_user_id", "tenant_id", "user_id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    team_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = created_at()


class AuthSession(Base):
    """A login; access tokens name it (``sid``), so logout ends them at once."""

    __tablename__ = "auth_sessions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
        Index("ix_auth_sessions_tenant_id_user_id", "tenant_id", "user_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    user_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime] = created_at()
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    ip_address: Mapped[str | None] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(String(300))


class RefreshToken(Base):
    """Rotating refresh tokens, stored as SHA-256 hashes; reuse of a spent one ends the session."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "session_id"], ["auth_sessions.tenant_id", "auth_sessions.id"], ondelete="CASCADE"
        ),
        Index("ix_refresh_tokens_tenant_id_session_id", "tenant_id", "session_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    session_id: Mapped[uuid.UUID]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at()


class UserInvite(Base):
    """One-time invitation token (hashed) for an invited user."""

    __tablename__ = "user_invites"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
        Index("ix_user_invites_tenant_id_user_id", "tenant_id", "user_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    user_id: Mapped[uuid.UUID]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = created_at()


class PasswordReset(Base):
    """Single-use password-reset token (hashed), valid for an hour."""

    __tablename__ = "password_resets"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
        Index("ix_password_resets_tenant_id_user_id", "tenant_id", "user_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    user_id: Mapped[uuid.UUID]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at()


class LoginBackoff(Base):
    """Failed logins per (tenant slug, e-mail, source address), keyed by their SHA-256 digest.

    Not a tenant table: login runs before a tenant is known, and an unknown tenant or
    e-mail must be counted exactly like a known one. Only the security-definer functions
    of migration 0009 reach it (RLS forced, owner-only policy, no app privileges).
    """

    __tablename__ = "login_backoff"
    __table_args__ = (Index("ix_login_backoff_last_failure_at", "last_failure_at"),)

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(server_default=text("0"))
    last_failure_at: Mapped[datetime] = mapped_column(server_default=func.now())
    blocked_until: Mapped[datetime | None]

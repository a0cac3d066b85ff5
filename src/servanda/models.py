"""Every module's tables, imported once so Alembic sees the whole schema."""

from servanda.audit.models import AuditEvent, AuditPurge
from servanda.content.models import Clause, ClauseVersion, ContentReview, Template, TemplateVersion
from servanda.contracts.models import ContractInstance, LawFirmTemplate
from servanda.export.models import ExportJob, StyleTemplate
from servanda.identity.models import (
    AuthSession,
    LoginBackoff,
    RefreshToken,
    Team,
    TeamMember,
    User,
    UserInvite,
)
from servanda.platform.orm import Base
from servanda.platform.ratelimit import RateBucket
from servanda.tenants.models import Tenant

__all__ = [
    "AuditEvent",
    "AuditPurge",
    "AuthSession",
    "Base",
    "Clause",
    "ClauseVersion",
    "ContentReview",
    "ContractInstance",
    "ExportJob",
    "LawFirmTemplate",
    "LoginBackoff",
    "RateBucket",
    "RefreshToken",
    "StyleTemplate",
    "Team",
    "TeamMember",
    "Template",
    "TemplateVersion",
    "Tenant",
    "User",
    "UserInvite",
]

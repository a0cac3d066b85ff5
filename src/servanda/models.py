"""Every module's tables, imported once so Alembic sees the whole schema."""

from servanda.content.models import Clause, ClauseVersion, Template, TemplateVersion
from servanda.contracts.models import ContractInstance, LawFirmTemplate
from servanda.export.models import ExportJob, StyleTemplate
from servanda.identity.models import AuditEvent, Team, TeamMember, Tenant, User
from servanda.platform.orm import Base

__all__ = [
    "AuditEvent",
    "Base",
    "Clause",
    "ClauseVersion",
    "ContractInstance",
    "ExportJob",
    "LawFirmTemplate",
    "StyleTemplate",
    "Team",
    "TeamMember",
    "Template",
    "TemplateVersion",
    "Tenant",
    "User",
]

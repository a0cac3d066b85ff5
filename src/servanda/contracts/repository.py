"""Queries of the contract context: contracts visible to a principal, team membership."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from servanda.contracts.models import ContractInstance
from servanda.identity.principal import Principal
from servanda.identity.repository import TeamRepository
from servanda.platform import errors


def visible(principal: Principal, query: Select[Any]) -> Select[Any]:
    """Within the tenant (RLS): admins see all; others their own and their teams' team contracts."""
    if principal.role == "admin":
        return query
    my_teams = TeamRepository.ids_of_member(principal.user_id)
    return query.where(
        or_(
            ContractInstance.creator_id == principal.user_id,
            (ContractInstance.visibility == "team") & ContractInstance.team_id.in_(my_teams),
        )
    )


async def get_visible(session: AsyncSession, principal: Principal, contract_id: uuid.UUID,
                      *, lock: bool = False) -> ContractInstance | None:  # fmt: skip
    query = visible(principal, select(ContractInstance).where(ContractInstance.id == contract_id))
    if lock:
        query = query.with_for_update()
    contract: ContractInstance | None = await session.scalar(query)
    return contract


async def is_member(session: AsyncSession, principal: Principal, team_id: uuid.UUID) -> bool:
    teams = TeamRepository(session)
    if principal.role == "admin":
        return await teams.exists(team_id)
    return await teams.has_member(team_id, principal.user_id)


async def require_team(
    session: AsyncSession, principal: Principal, visibility: str, team_id: uuid.UUID | None
) -> None:
    """Team visibility needs a team the caller belongs to (admins: any team of the tenant)."""
    if visibility == "team" and (team_id is None or not await is_member(session, principal, team_id)):
        raise errors.Invalid("contract.invalid_team", "Das Team ist unbekannt oder Sie sind nicht Mitglied.",
                      errors=[{"field": "teamId", "message": "kein Team, dem Sie angehören"}])  # fmt: skip

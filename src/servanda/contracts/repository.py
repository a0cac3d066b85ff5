"""Queries of the contracts module: what a principal sees (contracts and law-firm templates), pins, teams.

Both visibility filters live here, the one rule for each kind of object:
within the tenant (RLS), admins see all; others their own and their teams'
team-visible ones. Everything else gets 404, as if the object did not exist.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import Date, Select, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from servanda.content import published
from servanda.contracts.models import ContractInstance, LawFirmTemplate
from servanda.contracts.pins import Pins, load_pins
from servanda.identity.principal import Principal
from servanda.identity.repository import TeamRepository
from servanda.platform import errors
from servanda.platform.paging import paginate, paginate_counted

LOCAL_TIME_ZONE = "Europe/Berlin"


def contract_not_found() -> errors.NotFound:
    return errors.NotFound("contract.not_found", "Der Vertrag wurde nicht gefunden.")


def template_not_found() -> errors.NotFound:
    return errors.NotFound("lawfirm_template.not_found", "Die Kanzleivorlage wurde nicht gefunden.")


# -- contracts -----------------------------------------------------------------------------------


def visible_contracts(principal: Principal, query: Select[Any]) -> Select[Any]:
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


async def contract(
    session: AsyncSession, principal: Principal, contract_id: uuid.UUID, *, lock: bool = False
) -> ContractInstance:
    """A contract the principal sees (``lock``: FOR UPDATE), else 404 ``contract.not_found``."""
    query = visible_contracts(principal, select(ContractInstance).where(ContractInstance.id == contract_id))
    found: ContractInstance | None = await session.scalar(query.with_for_update() if lock else query)
    if found is None:
        raise contract_not_found()
    return found


async def contract_with_pins(
    session: AsyncSession, principal: Principal, contract_id: uuid.UUID, *, lock: bool = False
) -> tuple[ContractInstance, Pins]:
    """A visible contract and its pins, exactly as pinned."""
    found = await contract(session, principal, contract_id, lock=lock)
    return found, await load_pins(session, found.template_version_id, list(found.clause_version_ids))


async def list_contracts(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None,
    q: str | None,
    template_id: uuid.UUID | None,
    mine: bool,
    page: int,
    page_size: int,
    updated_from: date | None = None,
    updated_to: date | None = None,
) -> tuple[list[ContractInstance], int]:
    """Visible contracts, newest change first; archived ones only when asked for by status.

    ``updated_from``/``updated_to`` bound the day of the last change (inclusive) as German users
    count days (Europe/Berlin), so "today" includes a change at 00:30 local time.
    """
    query = visible_contracts(principal, select(ContractInstance))
    query = (
        query.where(ContractInstance.status == status)
        if status
        else query.where(ContractInstance.status != "archived")
    )
    if q:
        # a substring search: %, _ and the escape character in q are literal characters
        needle = q.lower()
        query = query.where(
            func.lower(ContractInstance.title).contains(needle, autoescape=True)
            | func.lower(func.coalesce(ContractInstance.client_reference, "")).contains(
                needle, autoescape=True
            )
        )
    if mine:
        query = query.where(ContractInstance.creator_id == principal.user_id)
    if updated_from or updated_to:
        day = cast(func.timezone(LOCAL_TIME_ZONE, ContractInstance.updated_at), Date)
        if updated_from:
            query = query.where(day >= updated_from)
        if updated_to:
            query = query.where(day <= updated_to)
    if template_id:
        query = query.where(ContractInstance.template_version_id.in_(published.version_ids_of(template_id)))
    query = query.order_by(ContractInstance.updated_at.desc(), ContractInstance.id)
    if q:
        # the substring match filters every contract of the firm anyway: the page and its total
        # in one statement (one plan - it is planned anew on every execution, its generic plan
        # never wins - and one pass over the firm's contracts instead of two of each)
        return await paginate_counted(session, query, page, page_size)
    return await paginate(session, query, page, page_size)


# -- law-firm templates --------------------------------------------------------------------------


def visible_templates(principal: Principal, query: Select[Any]) -> Select[Any]:
    """The same rule for law-firm templates: admins all; others their own and their teams' team ones."""
    if principal.role == "admin":
        return query
    my_teams = TeamRepository.ids_of_member(principal.user_id)
    return query.where(
        or_(
            LawFirmTemplate.created_by == principal.user_id,
            (LawFirmTemplate.visibility == "team") & LawFirmTemplate.team_id.in_(my_teams),
        )
    )


async def lawfirm_template(
    session: AsyncSession, principal: Principal, template_id: uuid.UUID, *, lock: bool = False
) -> LawFirmTemplate:
    """A law-firm template the principal sees (``lock``: FOR UPDATE), else 404."""
    query = visible_templates(principal, select(LawFirmTemplate).where(LawFirmTemplate.id == template_id))
    found: LawFirmTemplate | None = await session.scalar(query.with_for_update() if lock else query)
    if found is None:
        raise template_not_found()
    return found


async def list_lawfirm_templates(
    session: AsyncSession, principal: Principal, page: int, page_size: int
) -> tuple[list[LawFirmTemplate], int]:
    query = visible_templates(principal, select(LawFirmTemplate))
    query = query.order_by(func.lower(LawFirmTemplate.title), LawFirmTemplate.id)
    return await paginate(session, query, page, page_size)


async def count_lawfirm_templates(session: AsyncSession) -> int:
    """All law-firm templates of the tenant (the plan limit counts them all, whoever sees them)."""
    return await session.scalar(select(func.count()).select_from(LawFirmTemplate)) or 0


# -- teams ---------------------------------------------------------------------------------------


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
        raise errors.Invalid(
            "contract.invalid_team",
            "Das Team ist unbekannt oder Sie sind nicht Mitglied.",
            errors=[{"field": "teamId", "message": "kein Team, dem Sie angehören"}],
        )

"""Queries of the identity module: users, teams, the login back-off.

The public read side for other modules: ``UserRepository.ref`` and
``display_names`` (who may review, who wrote), ``TeamRepository`` (team
membership for visibility rules). Other modules never query the identity
tables themselves.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Select, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from servanda.identity.models import Team, TeamMember, User
from servanda.platform.orm import any_of, none_of
from servanda.platform.paging import paginate

# Who may be named reviewer of content (content/service.py checks the same at submit).
REVIEWER_ROLES = ("editor", "admin")


@dataclass(frozen=True)
class Colleague:
    """A user of the caller's tenant as a colleague sees one (to choose a reviewer)."""

    id: uuid.UUID
    display_name: str
    email: str
    role: str


@dataclass(frozen=True)
class UserRef:
    """A user as other modules see one."""

    id: uuid.UUID
    display_name: str
    role: str
    status: str


class LoginBackoffRepository:
    """Failed logins per (tenant slug, e-mail, source) digest, through the functions of migration 0009.

    Works without a tenant context, so unknown tenants and e-mails are counted like known ones.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def wait_s(self, key: str) -> int:
        """Seconds the key must still wait (0: go on). Holds the key's lock until the transaction ends."""
        wait: int = (
            await self.session.execute(text("SELECT servanda_login_backoff_wait(:k)"), {"k": key})
        ).scalar_one()
        return wait

    async def failed(self, key: str, *, free: int, max_delay_s: int, forget_s: int) -> int:
        """Count a failure; returns the delay it imposes (0 while under ``free`` failures)."""
        delay: int = (
            await self.session.execute(
                text("SELECT servanda_login_backoff_failed(:k, :free, :max_delay, :forget)"),
                {"k": key, "free": free, "max_delay": max_delay_s, "forget": forget_s},
            )
        ).scalar_one()
        return delay

    async def clear(self, key: str) -> None:
        await self.session.execute(text("SELECT servanda_login_backoff_clear(:k)"), {"k": key})


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, user: User) -> User:
        self.session.add(user)
        await self.session.flush()
        await self.session.refresh(user)
        return user

    async def by_email(self, email: str) -> User | None:
        return await self.session.scalar(select(User).where(func.lower(User.email) == email.lower()))

    async def ref(self, user_id: uuid.UUID) -> UserRef | None:
        user = await self.session.get(User, user_id)
        return UserRef(user.id, user.display_name, user.role, user.status) if user is not None else None

    async def display_names(self, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
        if not user_ids:
            return {}
        rows = await self.session.execute(select(User.id, User.display_name).where(any_of(User.id, user_ids)))
        return {row.id: row.display_name for row in rows}

    async def contacts(self, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, tuple[str, str]]:
        """Display name and e-mail of each of the current tenant's users among ``user_ids`` (audit log)."""
        if not user_ids:
            return {}
        query = select(User.id, User.display_name, User.email).where(any_of(User.id, user_ids))
        return {row.id: (row.display_name, row.email) for row in await self.session.execute(query)}

    async def reviewers(
        self, exclude: set[uuid.UUID], page: int, page_size: int
    ) -> tuple[list[Colleague], int]:
        """Active editors and admins of the current tenant who may review content, minus ``exclude``."""
        query = (
            select(User)
            .where(
                User.status == "active",
                User.role.in_(REVIEWER_ROLES),
                User.deleted_at.is_(None),
                none_of(User.id, exclude),
            )
            .order_by(func.lower(User.display_name), User.id)
        )
        users, total = await paginate(self.session, query, page, page_size)
        return [Colleague(u.id, u.display_name, u.email, u.role) for u in users], total


class TeamRepository:
    """Team membership, for the visibility rules of other modules (contracts, law-firm templates)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @staticmethod
    def ids_of_member(user_id: uuid.UUID) -> Select[uuid.UUID]:
        """The teams ``user_id`` belongs to, as a subquery for ``team_id IN (...)`` filters."""
        return select(TeamMember.team_id).where(TeamMember.user_id == user_id)

    async def exists(self, team_id: uuid.UUID) -> bool:
        return await self.session.get(Team, team_id) is not None

    async def has_member(self, team_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        found = await self.session.scalar(
            select(func.count())
            .select_from(TeamMember)
            .where(TeamMember.team_id == team_id, TeamMember.user_id == user_id)
        )
        return bool(found)

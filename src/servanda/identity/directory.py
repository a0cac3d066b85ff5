"""Users and teams of one tenant (the caller's), with their invariants.

- a tenant always keeps at least one active admin (409 ``user.last_admin``);
- deleting a user anonymises them; their contracts and audit events stay;
- team members are users of the same tenant (also enforced by composite keys).
Every change is audited in the same transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from servanda.audit import repository as audit
from servanda.identity.auth_service import LocalAuthService
from servanda.identity.models import AuthSession, Team, TeamMember, User
from servanda.identity.principal import Principal
from servanda.platform import errors
from servanda.platform.orm import any_of
from servanda.platform.paging import paginate

DELETED_NAME = "Gelöschter Nutzer"


def not_found(kind: str) -> errors.NotFound:
    names = {"user": "Der Nutzer", "team": "Das Team"}
    return errors.NotFound(f"{kind}.not_found", f"{names.get(kind, 'Das Objekt')} wurde nicht gefunden.")


@dataclass(frozen=True)
class PageResult:
    items: list[Any]
    total: int
    page: int
    page_size: int


class DirectoryService:
    """Works in the caller's transaction (the request's unit of work)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- users -------------------------------------------------------------------------------

    async def list_users(
        self,
        principal: Principal,
        page: int,
        page_size: int,
        status: str | None = None,
        role: str | None = None,
        q: str | None = None,
    ) -> PageResult:
        session = self.session
        query = select(User).where(User.deleted_at.is_(None))
        if status:
            query = query.where(User.status == status)
        if role:
            query = query.where(User.role == role)
        if q:
            needle = q.lower()  # a substring: %, _ and the escape character in q are literal
            query = query.where(
                func.lower(User.email).contains(needle, autoescape=True)
                | func.lower(User.display_name).contains(needle, autoescape=True)
            )
        query = query.order_by(func.lower(User.display_name), User.id)
        users, total = await paginate(session, query, page, page_size)
        return PageResult(users, total, page, page_size)

    async def get_user(self, principal: Principal, user_id: uuid.UUID) -> User:
        session = self.session
        return await self._user(session, user_id)

    @staticmethod
    async def _user(session: AsyncSession, user_id: uuid.UUID, *, lock: bool = False) -> User:
        user = await session.get(User, user_id, with_for_update=lock)
        if user is None or user.deleted_at is not None:
            raise not_found("user")
        return user

    async def invite(
        self, principal: Principal, email: str, display_name: str, role: str
    ) -> tuple[User, str, datetime]:
        session = self.session
        try:
            taken = await session.scalar(select(User.id).where(func.lower(User.email) == email.lower()))
            if taken is not None:
                raise errors.Conflict("user.email_taken", f"Die E-Mail-Adresse {email} ist bereits vergeben.")
            user = User(
                tenant_id=principal.tenant_id,
                email=email,
                display_name=display_name.strip(),
                role=role,
                status="invited",
            )
            session.add(user)
            await session.flush()
            token, invite = LocalAuthService.new_invite(principal.tenant_id, user.id, principal.user_id)
            session.add(invite)
            await session.flush()
            await session.refresh(user)
            await audit.record(
                session, principal, "user.invite", "user", user.id, {"email": email, "role": role}
            )
            return user, token, invite.expires_at
        except IntegrityError:
            raise errors.Conflict(
                "user.email_taken", f"Die E-Mail-Adresse {email} ist bereits vergeben."
            ) from None

    async def _ensure_other_admin(self, session: AsyncSession, principal: Principal, user: User) -> None:
        """Refuse to take away the tenant's last active admin (rows locked: concurrent demotions serialise)."""
        if user.role != "admin" or user.status != "active":
            return
        admins = (
            await session.scalars(
                select(User.id).where(User.role == "admin", User.status == "active").with_for_update()
            )
        ).all()
        if [a for a in admins if a != user.id] == []:
            raise errors.Conflict(
                "user.last_admin", "Der Mandant braucht mindestens einen aktiven Administrator."
            )

    async def update_user(
        self, principal: Principal, user_id: uuid.UUID, display_name: str | None, role: str | None
    ) -> User:
        session = self.session
        user = await self._user(session, user_id, lock=True)
        if role is not None and role != user.role:
            if role != "admin":
                await self._ensure_other_admin(session, principal, user)
            await audit.record(
                session, principal, "user.role_change", "user", user.id, {"from": user.role, "to": role}
            )
            user.role = role
        if display_name is not None and display_name.strip() != user.display_name:
            await audit.record(
                session,
                principal,
                "user.update",
                "user",
                user.id,
                {"displayName": {"from": user.display_name, "to": display_name.strip()}},
            )
            user.display_name = display_name.strip()
        await session.flush()
        await session.refresh(user)
        return user

    async def set_active(self, principal: Principal, user_id: uuid.UUID, active: bool) -> User:
        session = self.session
        user = await self._user(session, user_id, lock=True)
        if active:
            if user.status == "invited":
                raise errors.Conflict(
                    "user.invite_pending", "Eingeladene Nutzer werden durch die Einladung aktiviert."
                )
            if user.status != "active":
                user.status = "active"
                await audit.record(session, principal, "user.activate", "user", user.id)
        elif user.status != "disabled":
            await self._ensure_other_admin(session, principal, user)
            user.status = "disabled"
            await self._end_sessions(session, user.id)
            await audit.record(session, principal, "user.deactivate", "user", user.id)
        await session.flush()
        await session.refresh(user)
        return user

    @staticmethod
    async def _end_sessions(session: AsyncSession, user_id: uuid.UUID) -> None:
        await session.execute(
            update(AuthSession)
            .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )

    async def delete_user(self, principal: Principal, user_id: uuid.UUID) -> None:
        session = self.session
        user = await self._user(session, user_id, lock=True)
        await self._ensure_other_admin(session, principal, user)
        await self._end_sessions(session, user.id)
        await session.execute(delete(TeamMember).where(TeamMember.user_id == user.id))
        user.display_name = DELETED_NAME
        user.email = f"geloescht-{user.id}@invalid"
        user.status = "disabled"
        user.password_hash = None
        user.mfa_enabled = False
        user.mfa_secret = None
        user.external_subject = None
        user.deleted_at = datetime.now(UTC)
        await audit.record(session, principal, "user.delete", "user", user.id, {"anonymised": True})

    # -- teams -------------------------------------------------------------------------------

    async def list_teams(self, principal: Principal, page: int, page_size: int) -> PageResult:
        session = self.session
        teams, total = await paginate(session, select(Team).order_by(func.lower(Team.name)), page, page_size)
        members = await self._members(session, [t.id for t in teams])
        return PageResult([(t, members.get(t.id, [])) for t in teams], total, page, page_size)

    @staticmethod
    async def _members(session: AsyncSession, team_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
        result: dict[uuid.UUID, list[uuid.UUID]] = {}
        if team_ids:
            rows = await session.execute(
                select(TeamMember.team_id, TeamMember.user_id)
                .where(any_of(TeamMember.team_id, team_ids))
                .order_by(TeamMember.created_at)
            )
            for team_id, user_id in rows:
                result.setdefault(team_id, []).append(user_id)
        return result

    async def _team(self, session: AsyncSession, team_id: uuid.UUID) -> Team:
        team = await session.get(Team, team_id, with_for_update=True)
        if team is None:
            raise not_found("team")
        return team

    async def get_team(self, principal: Principal, team_id: uuid.UUID) -> tuple[Team, list[uuid.UUID]]:
        session = self.session
        team = await self._team(session, team_id)
        return team, (await self._members(session, [team.id])).get(team.id, [])

    async def create_team(self, principal: Principal, name: str) -> tuple[Team, list[uuid.UUID]]:
        session = self.session
        try:
            team = Team(tenant_id=principal.tenant_id, name=name.strip())
            session.add(team)
            await session.flush()
            await session.refresh(team)
            await audit.record(session, principal, "team.create", "team", team.id, {"name": team.name})
            return team, []
        except IntegrityError:
            raise self._name_taken(name) from None

    @staticmethod
    def _name_taken(name: str) -> errors.Conflict:
        return errors.Conflict("team.name_taken", f"Ein Team namens '{name.strip()}' gibt es bereits.")

    async def rename_team(
        self, principal: Principal, team_id: uuid.UUID, name: str
    ) -> tuple[Team, list[uuid.UUID]]:
        session = self.session
        try:
            team = await self._team(session, team_id)
            if team.name != name.strip():
                await audit.record(
                    session,
                    principal,
                    "team.update",
                    "team",
                    team.id,
                    {"name": {"from": team.name, "to": name.strip()}},
                )
                team.name = name.strip()
                await session.flush()
                await session.refresh(team)
            return team, (await self._members(session, [team.id])).get(team.id, [])
        except IntegrityError:
            raise self._name_taken(name) from None

    async def delete_team(self, principal: Principal, team_id: uuid.UUID) -> None:
        session = self.session
        team = await self._team(session, team_id)
        await audit.record(session, principal, "team.delete", "team", team.id, {"name": team.name})
        await session.delete(team)

    async def set_members(
        self, principal: Principal, team_id: uuid.UUID, user_ids: list[uuid.UUID]
    ) -> tuple[Team, list[uuid.UUID]]:
        wanted = list(dict.fromkeys(user_ids))
        session = self.session
        team = await self._team(session, team_id)
        known = (
            set(
                (
                    await session.scalars(
                        select(User.id).where(any_of(User.id, wanted), User.deleted_at.is_(None))
                    )
                ).all()
            )
            if wanted
            else set()
        )
        unknown = [str(u) for u in wanted if u not in known]
        if unknown:
            raise errors.Invalid(
                "team.unknown_members",
                "Mitglieder müssen Nutzer dieses Mandanten sein.",
                errors=[{"field": "userIds", "message": f"Unbekannter Nutzer: {u}"} for u in unknown],
            )
        before = (await self._members(session, [team.id])).get(team.id, [])
        await session.execute(delete(TeamMember).where(TeamMember.team_id == team.id))
        for user_id in wanted:
            session.add(TeamMember(tenant_id=principal.tenant_id, team_id=team.id, user_id=user_id))
        await session.flush()
        await audit.record(
            session,
            principal,
            "team.update",
            "team",
            team.id,
            {
                "members": {
                    "added": [str(u) for u in wanted if u not in before],
                    "removed": [str(u) for u in before if u not in wanted],
                }
            },
        )
        return team, wanted

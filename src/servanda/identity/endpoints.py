"""HTTP endpoints of the identity module: auth, me, users, teams.

Endpoints are thin: parse, call the service, shape the response.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from servanda.identity.auth_service import LocalAuthService, TokenPair
from servanda.identity.dependencies import CurrentPrincipal, Permission, allow, request_meta
from servanda.identity.directory import DirectoryService, PageResult
from servanda.identity.models import Team
from servanda.identity.schemas import (
    AcceptInviteRequest,
    AuthConfig,
    InviteOut,
    InviteRequest,
    Jwks,
    LoginRequest,
    Me,
    MfaCode,
    MfaSetup,
    PasswordChange,
    RefreshRequest,
    TeamIn,
    TeamMembers,
    TeamOut,
    TokenResponse,
    UserOut,
    UserPatch,
)
from servanda.platform.api_models import Page
from servanda.platform.http import API_PREFIX, PageNumber, PageSize
from servanda.platform.problems import Problem

auth_router = APIRouter(prefix=f"{API_PREFIX}/auth", tags=["auth"])
identity_router = APIRouter(prefix=f"{API_PREFIX}/identity", tags=["identity"])


def _local(request: Request) -> LocalAuthService:
    service: LocalAuthService | None = request.app.state.local_auth
    if service is None:
        raise Problem(
            404, "auth.local_login_disabled", "Die Anmeldung erfolgt über den Single-Sign-On-Anbieter."
        )
    return service


def _directory(request: Request) -> DirectoryService:
    return DirectoryService(request.app.state.db)


def _tokens(pair: TokenPair) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in
    )


# -- auth ------------------------------------------------------------------------------------


@auth_router.get("/config", dependencies=[allow(Permission.PUBLIC)])
async def auth_config(request: Request) -> AuthConfig:
    settings = request.app.state.settings
    if settings.identity_provider == "oidc":
        return AuthConfig(
            provider="oidc",
            issuer=settings.oidc_issuer,
            client_id=settings.oidc_client_id,
            audience=settings.oidc_audience,
        )
    return AuthConfig(provider="local")


@auth_router.get("/jwks", dependencies=[allow(Permission.PUBLIC)])
async def jwks(request: Request) -> Jwks:
    tokens = request.app.state.local_tokens
    if tokens is None:
        raise Problem(
            404, "auth.local_login_disabled", "Die Anmeldung erfolgt über den Single-Sign-On-Anbieter."
        )
    return Jwks.model_validate(tokens.jwks())


@auth_router.post("/login", dependencies=[allow(Permission.PUBLIC)])
async def login(body: LoginRequest, request: Request) -> TokenResponse:
    pair = await _local(request).login(
        body.tenant, body.email, body.password, body.totp, request_meta(request)
    )
    return _tokens(pair)


@auth_router.post("/refresh", dependencies=[allow(Permission.PUBLIC)])
async def refresh(body: RefreshRequest, request: Request) -> TokenResponse:
    return _tokens(await _local(request).refresh(body.refresh_token, request_meta(request)))


@auth_router.post(
    "/logout", status_code=204, dependencies=[allow(Permission.AUTHENTICATED, during_mfa_setup=True)]
)
async def logout(principal: CurrentPrincipal, request: Request) -> Response:
    service: LocalAuthService | None = request.app.state.local_auth
    if service is not None:
        await service.logout(principal)
    return Response(status_code=204)


@auth_router.post("/accept-invite", dependencies=[allow(Permission.PUBLIC)])
async def accept_invite(body: AcceptInviteRequest, request: Request) -> TokenResponse:
    pair = await _local(request).accept_invite(
        body.token, body.password, body.display_name, request_meta(request)
    )
    return _tokens(pair)


@auth_router.post("/mfa/setup", dependencies=[allow(Permission.AUTHENTICATED, during_mfa_setup=True)])
async def mfa_setup(principal: CurrentPrincipal, request: Request) -> MfaSetup:
    secret, uri = await _local(request).mfa_setup(principal)
    return MfaSetup(secret=secret, otpauth_uri=uri)


@auth_router.post(
    "/mfa/enable", status_code=204, dependencies=[allow(Permission.AUTHENTICATED, during_mfa_setup=True)]
)
async def mfa_enable(body: MfaCode, principal: CurrentPrincipal, request: Request) -> Response:
    await _local(request).mfa_set(principal, body.code, enabled=True)
    return Response(status_code=204)


@auth_router.post("/mfa/disable", status_code=204, dependencies=[allow(Permission.AUTHENTICATED)])
async def mfa_disable(body: MfaCode, principal: CurrentPrincipal, request: Request) -> Response:
    await _local(request).mfa_set(principal, body.code, enabled=False)
    return Response(status_code=204)


@auth_router.post("/password", status_code=204, dependencies=[allow(Permission.AUTHENTICATED)])
async def change_password(body: PasswordChange, principal: CurrentPrincipal, request: Request) -> Response:
    await _local(request).change_password(principal, body.current_password, body.new_password)
    return Response(status_code=204)


# -- me, users -------------------------------------------------------------------------------


@identity_router.get("/me", dependencies=[allow(Permission.AUTHENTICATED, during_mfa_setup=True)])
async def me(principal: CurrentPrincipal) -> Me:
    return Me(
        id=principal.user_id,
        tenant_id=principal.tenant_id,
        tenant_slug=principal.tenant_slug,
        tenant_type=principal.tenant_type,
        email=principal.email,
        display_name=principal.display_name,
        role=principal.role,
        status=principal.status,
        mfa_enabled=principal.mfa_enabled,
        mfa_setup_required=principal.mfa_setup_required,
        platform_admin=principal.platform_admin,
    )


def _users(page: PageResult) -> Page[UserOut]:
    return Page[UserOut](
        items=[UserOut.model_validate(u) for u in page.items],
        total=page.total,
        page=page.page,
        page_size=page.page_size,
    )


@identity_router.get("/users", dependencies=[allow(Permission.TENANT_ADMIN)])
async def list_users(
    principal: CurrentPrincipal,
    request: Request,
    page: PageNumber = 1,
    page_size: PageSize = 25,
    status: Literal["invited", "active", "disabled"] | None = None,
    role: Literal["admin", "editor", "user"] | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[UserOut]:
    return _users(await _directory(request).list_users(principal, page, page_size, status, role, q))


@identity_router.post("/users", status_code=201, dependencies=[allow(Permission.TENANT_ADMIN)])
async def invite_user(body: InviteRequest, principal: CurrentPrincipal, request: Request) -> InviteOut:
    user, token, expires_at = await _directory(request).invite(
        principal, body.email, body.display_name, body.role
    )
    return InviteOut(
        user=UserOut.model_validate(user),
        invite_token=token,
        invite_link=f"/einladung?token={token}",
        expires_at=expires_at,
    )


@identity_router.get("/users/{user_id}", dependencies=[allow(Permission.TENANT_ADMIN)])
async def get_user(user_id: uuid.UUID, principal: CurrentPrincipal, request: Request) -> UserOut:
    return UserOut.model_validate(await _directory(request).get_user(principal, user_id))


@identity_router.patch("/users/{user_id}", dependencies=[allow(Permission.TENANT_ADMIN)])
async def update_user(
    user_id: uuid.UUID, body: UserPatch, principal: CurrentPrincipal, request: Request
) -> UserOut:
    user = await _directory(request).update_user(principal, user_id, body.display_name, body.role)
    return UserOut.model_validate(user)


@identity_router.delete("/users/{user_id}", status_code=204, dependencies=[allow(Permission.TENANT_ADMIN)])
async def delete_user(user_id: uuid.UUID, principal: CurrentPrincipal, request: Request) -> Response:
    await _directory(request).delete_user(principal, user_id)
    return Response(status_code=204)


@identity_router.post("/users/{user_id}/activate", dependencies=[allow(Permission.TENANT_ADMIN)])
async def activate_user(user_id: uuid.UUID, principal: CurrentPrincipal, request: Request) -> UserOut:
    return UserOut.model_validate(await _directory(request).set_active(principal, user_id, True))


@identity_router.post("/users/{user_id}/deactivate", dependencies=[allow(Permission.TENANT_ADMIN)])
async def deactivate_user(user_id: uuid.UUID, principal: CurrentPrincipal, request: Request) -> UserOut:
    return UserOut.model_validate(await _directory(request).set_active(principal, user_id, False))


# -- teams -----------------------------------------------------------------------------------


def _team(team: Team, members: list[uuid.UUID]) -> TeamOut:
    return TeamOut(id=team.id, name=team.name, member_ids=members, created_at=team.created_at)


@identity_router.get("/teams", dependencies=[allow(Permission.TENANT_ADMIN)])
async def list_teams(
    principal: CurrentPrincipal, request: Request, page: PageNumber = 1, page_size: PageSize = 25
) -> Page[TeamOut]:
    result = await _directory(request).list_teams(principal, page, page_size)
    return Page[TeamOut](
        items=[_team(t, m) for t, m in result.items],
        total=result.total,
        page=result.page,
        page_size=result.page_size,
    )


@identity_router.post("/teams", status_code=201, dependencies=[allow(Permission.TENANT_ADMIN)])
async def create_team(body: TeamIn, principal: CurrentPrincipal, request: Request) -> TeamOut:
    return _team(*await _directory(request).create_team(principal, body.name))


@identity_router.get("/teams/{team_id}", dependencies=[allow(Permission.TENANT_ADMIN)])
async def get_team(team_id: uuid.UUID, principal: CurrentPrincipal, request: Request) -> TeamOut:
    return _team(*await _directory(request).get_team(principal, team_id))


@identity_router.patch("/teams/{team_id}", dependencies=[allow(Permission.TENANT_ADMIN)])
async def rename_team(
    team_id: uuid.UUID, body: TeamIn, principal: CurrentPrincipal, request: Request
) -> TeamOut:
    return _team(*await _directory(request).rename_team(principal, team_id, body.name))


@identity_router.delete("/teams/{team_id}", status_code=204, dependencies=[allow(Permission.TENANT_ADMIN)])
async def delete_team(team_id: uuid.UUID, principal: CurrentPrincipal, request: Request) -> Response:
    await _directory(request).delete_team(principal, team_id)
    return Response(status_code=204)


@identity_router.put("/teams/{team_id}/members", dependencies=[allow(Permission.TENANT_ADMIN)])
async def set_team_members(
    team_id: uuid.UUID, body: TeamMembers, principal: CurrentPrincipal, request: Request
) -> TeamOut:
    return _team(*await _directory(request).set_members(principal, team_id, body.user_ids))


routers = [auth_router, identity_router]

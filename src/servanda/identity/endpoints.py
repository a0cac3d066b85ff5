"""HTTP endpoints of the identity module: auth, me, users, teams.

Endpoints are thin: parse, call the service, shape the response.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response

from servanda.identity.auth_service import TokenPair
from servanda.identity.dependencies import (
    CurrentPrincipal,
    IdentityMail,
    LocalAuth,
    LocalTokenIssuer,
    Meta,
    OptionalLocalAuth,
    Permission,
    allow,
)
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
    PasswordResetAccepted,
    PasswordResetConfirm,
    PasswordResetRequest,
    RefreshRequest,
    TeamIn,
    TeamMembers,
    TeamOut,
    TokenResponse,
    UserOut,
    UserPatch,
)
from servanda.platform.api_models import Page
from servanda.platform.http import API_PREFIX, AppSettings, PageNumber, PageSize, UnitOfWork, created
from servanda.platform.openapi import problems

auth_router = APIRouter(prefix=f"{API_PREFIX}/auth", tags=["auth"])
identity_router = APIRouter(prefix=f"{API_PREFIX}/identity", tags=["identity"])


async def _directory(session: UnitOfWork) -> DirectoryService:
    return DirectoryService(session)


# Works in the request's unit of work (the transaction the principal lookup began).
Directory = Annotated[DirectoryService, Depends(_directory)]


def _tokens(pair: TokenPair) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in
    )


# -- auth ------------------------------------------------------------------------------------


@auth_router.get(
    "/config",
    dependencies=[allow(Permission.PUBLIC)],
    summary="Get the sign-in configuration",
    description="Which identity provider is active (`local` or `oidc` with issuer, client id and audience), for the web client.",
)
async def auth_config(settings: AppSettings) -> AuthConfig:
    if settings.identity_provider == "oidc":
        return AuthConfig(
            provider="oidc",
            issuer=settings.oidc_issuer,
            client_id=settings.oidc_client_id,
            audience=settings.oidc_audience,
        )
    return AuthConfig(provider="local")


@auth_router.get(
    "/jwks",
    dependencies=[allow(Permission.PUBLIC)],
    summary="Get the token signing keys",
    description="The public keys (JWKS) that sign the built-in provider's access tokens.",
    responses=problems(404, "auth.local_login_disabled"),
)
async def jwks(tokens: LocalTokenIssuer) -> Jwks:
    return Jwks.model_validate(tokens.jwks())


@auth_router.post(
    "/login",
    dependencies=[allow(Permission.PUBLIC)],
    summary="Sign in",
    description="Built-in provider: tenant, e-mail and password (and a TOTP code when MFA is on) for an access token and a refresh token.",
    responses=problems(401, "auth.invalid_credentials", "auth.mfa_required", "auth.invalid_totp")
    | problems(404, "auth.local_login_disabled")
    | problems(429, "auth.rate_limited"),
)
async def login(body: LoginRequest, service: LocalAuth, meta: Meta) -> TokenResponse:
    # The one route that leaves the unit of work unused: the attempt runs in its own
    # transaction, which a refusal commits too (back-off counter, failed-login event).
    pair = await service.login(body.tenant, body.email, body.password, body.totp, meta)
    return _tokens(pair)


@auth_router.post(
    "/refresh",
    dependencies=[allow(Permission.PUBLIC)],
    summary="Refresh the tokens",
    description="Exchange a refresh token for a new token pair (the old refresh token is spent; reusing it ends the session).",
    responses=problems(401, "auth.invalid_refresh_token") | problems(404, "auth.local_login_disabled"),
)
async def refresh(body: RefreshRequest, service: LocalAuth, session: UnitOfWork, meta: Meta) -> TokenResponse:
    return _tokens(await service.refresh(session, body.refresh_token, meta))


@auth_router.post(
    "/logout",
    status_code=204,
    dependencies=[allow(Permission.AUTHENTICATED, during_mfa_setup=True)],
    summary="Sign out",
    description="End the caller's session; its refresh token stops working.",
)
async def logout(principal: CurrentPrincipal, service: OptionalLocalAuth, session: UnitOfWork) -> Response:
    if service is not None:
        await service.logout(session, principal)
    return Response(status_code=204)


@auth_router.post(
    "/accept-invite",
    dependencies=[allow(Permission.PUBLIC)],
    summary="Accept an invitation",
    description="Set the password and display name of an invited user with the token of the invitation link.",
    responses=problems(400, "auth.invalid_invite")
    | problems(404, "auth.local_login_disabled")
    | problems(422, "user.password_policy"),
)
async def accept_invite(
    body: AcceptInviteRequest, service: LocalAuth, session: UnitOfWork, meta: Meta
) -> TokenResponse:
    pair = await service.accept_invite(session, body.token, body.password, body.display_name, meta)
    return _tokens(pair)


RESET_ACCEPTED = (
    "Falls zu diesen Angaben ein aktives Konto besteht, haben wir eine E-Mail mit einem Link "
    "zum Zurücksetzen des Passworts gesendet. Der Link ist eine Stunde gültig."
)


@auth_router.post(
    "/password-reset",
    status_code=202,
    dependencies=[allow(Permission.PUBLIC)],
    summary="Request a password reset",
    description="Send a reset link to the e-mail address if it belongs to an active user of the tenant; always 202, so nobody learns whether an account exists.",
    responses=problems(404, "auth.local_login_disabled") | problems(429, "auth.rate_limited"),
)
async def request_password_reset(
    body: PasswordResetRequest, service: LocalAuth, session: UnitOfWork, meta: Meta, mails: IdentityMail
) -> PasswordResetAccepted:
    # Always the same answer (no account enumeration); the mail leaves after the commit.
    ticket = await service.request_password_reset(session, body.tenant, body.email, meta)
    if ticket is not None:
        mails.password_reset(
            session,
            to=ticket.email,
            display_name=ticket.display_name,
            tenant_slug=ticket.tenant_slug,
            token=ticket.token,
            expires_at=ticket.expires_at,
        )
    return PasswordResetAccepted(message=RESET_ACCEPTED)


@auth_router.post(
    "/password-reset/confirm",
    status_code=204,
    dependencies=[allow(Permission.PUBLIC)],
    summary="Reset the password",
    description="Set a new password with the single-use token of a reset link; ends every session of the user.",
    responses=problems(400, "auth.invalid_reset_token", "auth.reset_token_used", "auth.reset_token_expired")
    | problems(404, "auth.local_login_disabled")
    | problems(422, "user.password_policy"),
)
async def confirm_password_reset(
    body: PasswordResetConfirm, service: LocalAuth, session: UnitOfWork, meta: Meta
) -> Response:
    await service.confirm_password_reset(session, body.token, body.password, meta)
    return Response(status_code=204)


@auth_router.post(
    "/mfa/setup",
    dependencies=[allow(Permission.AUTHENTICATED, during_mfa_setup=True)],
    summary="Start MFA setup",
    description="A new TOTP secret and its provisioning URI for an authenticator app (active after enable).",
    responses=problems(404, "auth.local_login_disabled") | problems(409, "auth.mfa_already_enabled"),
)
async def mfa_setup(principal: CurrentPrincipal, service: LocalAuth, session: UnitOfWork) -> MfaSetup:
    secret, uri = await service.mfa_setup(session, principal)
    return MfaSetup(secret=secret, otpauth_uri=uri)


@auth_router.post(
    "/mfa/enable",
    status_code=204,
    dependencies=[allow(Permission.AUTHENTICATED, during_mfa_setup=True)],
    summary="Enable MFA",
    description="Confirm the TOTP secret of the setup with a current code.",
    responses=problems(404, "auth.local_login_disabled")
    | problems(409, "auth.mfa_already_enabled")
    | problems(422, "auth.invalid_totp")
    | problems(429, "auth.too_many_attempts"),
)
async def mfa_enable(body: MfaCode, principal: CurrentPrincipal, service: LocalAuth) -> Response:
    await service.mfa_set(principal, body.code, enabled=True)  # its own transaction (attempt counter)
    return Response(status_code=204)


@auth_router.post(
    "/mfa/disable",
    status_code=204,
    dependencies=[allow(Permission.AUTHENTICATED)],
    summary="Disable MFA",
    description="Turn TOTP off with a current code.",
    responses=problems(404, "auth.local_login_disabled")
    | problems(422, "auth.invalid_totp")
    | problems(429, "auth.too_many_attempts"),
)
async def mfa_disable(body: MfaCode, principal: CurrentPrincipal, service: LocalAuth) -> Response:
    await service.mfa_set(principal, body.code, enabled=False)  # its own transaction (attempt counter)
    return Response(status_code=204)


@auth_router.post(
    "/password",
    status_code=204,
    dependencies=[allow(Permission.AUTHENTICATED)],
    summary="Change the password",
    description="Built-in provider: the current and a new password; ends the caller's other sessions.",
    responses=problems(404, "auth.local_login_disabled")
    | problems(422, "auth.invalid_password", "user.password_policy")
    | problems(429, "auth.too_many_attempts"),
)
async def change_password(body: PasswordChange, principal: CurrentPrincipal, service: LocalAuth) -> Response:
    # Its own transaction (attempt counter).
    await service.change_password(principal, body.current_password, body.new_password)
    return Response(status_code=204)


# -- me, users -------------------------------------------------------------------------------


@identity_router.get(
    "/me",
    dependencies=[allow(Permission.AUTHENTICATED, during_mfa_setup=True)],
    summary="Get the signed-in user",
    description="The caller: user, tenant, role, status and MFA state.",
)
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


@identity_router.get(
    "/users",
    dependencies=[allow(Permission.TENANT_ADMIN)],
    summary="List users",
    description="The tenant's users, paged.",
)
async def list_users(
    principal: CurrentPrincipal,
    directory: Directory,
    page: PageNumber = 1,
    page_size: PageSize = 25,
    status: Literal["invited", "active", "disabled"] | None = None,
    role: Literal["admin", "editor", "user"] | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[UserOut]:
    return _users(await directory.list_users(principal, page, page_size, status, role, q))


@identity_router.post(
    "/users",
    status_code=201,
    dependencies=[allow(Permission.TENANT_ADMIN)],
    summary="Invite a user",
    description="Create an invited user with e-mail, display name and role; the answer carries the invitation link, which is also sent by e-mail.",
    responses=problems(409, "user.email_taken"),
)
async def invite_user(
    body: InviteRequest,
    principal: CurrentPrincipal,
    directory: Directory,
    settings: AppSettings,
    response: Response,
    session: UnitOfWork,
    mails: IdentityMail,
) -> InviteOut:
    user, token, expires_at = await directory.invite(principal, body.email, body.display_name, body.role)
    mails.invitation(
        session,
        to=user.email,
        display_name=user.display_name,
        inviter=principal.display_name,
        tenant_slug=principal.tenant_slug,
        token=token,
        expires_at=expires_at,
    )
    created(response, f"{API_PREFIX}/identity/users/{user.id}")
    return InviteOut(
        user=UserOut.model_validate(user),
        invite_token=token,
        invite_link=settings.public_url(f"/einladung?token={token}"),  # absolute: it goes out by e-mail
        expires_at=expires_at,
    )


@identity_router.get(
    "/users/{user_id}",
    dependencies=[allow(Permission.TENANT_ADMIN)],
    summary="Get a user",
    description="One user of the tenant.",
    responses=problems(404, "user.not_found"),
)
async def get_user(user_id: uuid.UUID, principal: CurrentPrincipal, directory: Directory) -> UserOut:
    return UserOut.model_validate(await directory.get_user(principal, user_id))


@identity_router.patch(
    "/users/{user_id}",
    dependencies=[allow(Permission.TENANT_ADMIN)],
    summary="Update a user",
    description="Display name and role.",
    responses=problems(404, "user.not_found") | problems(409, "user.last_admin"),
)
async def update_user(
    user_id: uuid.UUID, body: UserPatch, principal: CurrentPrincipal, directory: Directory
) -> UserOut:
    user = await directory.update_user(principal, user_id, body.display_name, body.role)
    return UserOut.model_validate(user)


@identity_router.delete(
    "/users/{user_id}",
    status_code=204,
    dependencies=[allow(Permission.TENANT_ADMIN)],
    summary="Delete a user",
    description="Removes the user's personal data; audit events keep the id.",
    responses=problems(404, "user.not_found") | problems(409, "user.last_admin"),
)
async def delete_user(user_id: uuid.UUID, principal: CurrentPrincipal, directory: Directory) -> Response:
    await directory.delete_user(principal, user_id)
    return Response(status_code=204)


@identity_router.post(
    "/users/{user_id}/activate",
    dependencies=[allow(Permission.TENANT_ADMIN)],
    summary="Activate a user",
    description="Allow a deactivated user to sign in again.",
    responses=problems(404, "user.not_found") | problems(409, "user.invite_pending"),
)
async def activate_user(user_id: uuid.UUID, principal: CurrentPrincipal, directory: Directory) -> UserOut:
    return UserOut.model_validate(await directory.set_active(principal, user_id, True))


@identity_router.post(
    "/users/{user_id}/deactivate",
    dependencies=[allow(Permission.TENANT_ADMIN)],
    summary="Deactivate a user",
    description="The user cannot sign in; their sessions end.",
    responses=problems(404, "user.not_found") | problems(409, "user.last_admin"),
)
async def deactivate_user(user_id: uuid.UUID, principal: CurrentPrincipal, directory: Directory) -> UserOut:
    return UserOut.model_validate(await directory.set_active(principal, user_id, False))


# -- teams -----------------------------------------------------------------------------------


def _team(team: Team, members: list[uuid.UUID]) -> TeamOut:
    return TeamOut(id=team.id, name=team.name, member_ids=members, created_at=team.created_at)


@identity_router.get(
    "/teams",
    dependencies=[allow(Permission.TENANT_ADMIN)],
    summary="List teams",
    description="The tenant's teams with their members, paged.",
)
async def list_teams(
    principal: CurrentPrincipal, directory: Directory, page: PageNumber = 1, page_size: PageSize = 25
) -> Page[TeamOut]:
    result = await directory.list_teams(principal, page, page_size)
    return Page[TeamOut](
        items=[_team(t, m) for t, m in result.items],
        total=result.total,
        page=result.page,
        page_size=result.page_size,
    )


@identity_router.post(
    "/teams",
    status_code=201,
    dependencies=[allow(Permission.TENANT_ADMIN)],
    summary="Create a team",
    description="A named team with optional members.",
    responses=problems(409, "team.name_taken") | problems(422, "team.unknown_members"),
)
async def create_team(
    body: TeamIn, principal: CurrentPrincipal, directory: Directory, response: Response
) -> TeamOut:
    team = _team(*await directory.create_team(principal, body.name))
    created(response, f"{API_PREFIX}/identity/teams/{team.id}")
    return team


@identity_router.get(
    "/teams/{team_id}",
    dependencies=[allow(Permission.TENANT_ADMIN)],
    summary="Get a team",
    description="One team with its members.",
    responses=problems(404, "team.not_found"),
)
async def get_team(team_id: uuid.UUID, principal: CurrentPrincipal, directory: Directory) -> TeamOut:
    return _team(*await directory.get_team(principal, team_id))


@identity_router.patch(
    "/teams/{team_id}",
    dependencies=[allow(Permission.TENANT_ADMIN)],
    summary="Rename a team",
    description="Change the team's name.",
    responses=problems(404, "team.not_found") | problems(409, "team.name_taken"),
)
async def rename_team(
    team_id: uuid.UUID, body: TeamIn, principal: CurrentPrincipal, directory: Directory
) -> TeamOut:
    return _team(*await directory.rename_team(principal, team_id, body.name))


@identity_router.delete(
    "/teams/{team_id}",
    status_code=204,
    dependencies=[allow(Permission.TENANT_ADMIN)],
    summary="Delete a team",
    description="Contracts shared with the team stay with their creators.",
    responses=problems(404, "team.not_found"),
)
async def delete_team(team_id: uuid.UUID, principal: CurrentPrincipal, directory: Directory) -> Response:
    await directory.delete_team(principal, team_id)
    return Response(status_code=204)


@identity_router.put(
    "/teams/{team_id}/members",
    dependencies=[allow(Permission.TENANT_ADMIN)],
    summary="Set a team's members",
    description="Replace the member list.",
    responses=problems(404, "team.not_found") | problems(422, "team.unknown_members"),
)
async def set_team_members(
    team_id: uuid.UUID, body: TeamMembers, principal: CurrentPrincipal, directory: Directory
) -> TeamOut:
    return _team(*await directory.set_members(principal, team_id, body.user_ids))


routers = [auth_router, identity_router]

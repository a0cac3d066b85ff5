"""Request and response bodies of the identity module: auth, me, users, teams (camelCase on the wire)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import EmailStr, Field

from servanda.platform.api_models import ApiInput, ApiModel

Role = Literal["admin", "editor", "user"]


class LoginRequest(ApiInput):
    model_config = {
        "json_schema_extra": {
            "examples": [{"tenant": "kanzlei-mueller", "email": "anna@kanzlei-mueller.de", "password": "…"}]
        }
    }

    tenant: str = Field(min_length=3, max_length=63)
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=256)
    totp: str | None = Field(default=None, max_length=10)


class TokenResponse(ApiModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int
    refresh_token: str


class RefreshRequest(ApiInput):
    refresh_token: str = Field(min_length=10, max_length=200)


class AcceptInviteRequest(ApiInput):
    token: str = Field(min_length=10, max_length=200)
    password: str = Field(min_length=1, max_length=256)
    display_name: str = Field(min_length=1, max_length=200)


class PasswordResetRequest(ApiInput):
    tenant: str = Field(min_length=1, max_length=63)
    email: str = Field(min_length=3, max_length=320)


class PasswordResetAccepted(ApiModel):
    """The same answer whether or not the account exists (no account enumeration)."""

    message: str


class PasswordResetConfirm(ApiInput):
    token: str = Field(min_length=10, max_length=200)
    password: str = Field(min_length=1, max_length=256)


class AuthConfig(ApiModel):
    provider: Literal["local", "oidc"]
    issuer: str | None = None
    client_id: str | None = None
    audience: str | None = None


class Me(ApiModel):
    id: uuid.UUID
    tenant_id: uuid.UUID
    tenant_slug: str
    tenant_type: str
    email: str
    display_name: str
    role: Role
    status: str
    mfa_enabled: bool
    mfa_setup_required: bool = False
    platform_admin: bool = False


class MfaSetup(ApiModel):
    secret: str
    otpauth_uri: str


class MfaCode(ApiInput):
    code: str = Field(pattern=r"^[0-9]{6}$")


class PasswordChange(ApiInput):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class UserOut(ApiModel):
    id: uuid.UUID
    email: str
    display_name: str
    role: Role
    status: str
    mfa_enabled: bool
    last_login_at: datetime | None
    created_at: datetime


class InviteRequest(ApiInput):
    model_config = {
        "json_schema_extra": {
            "examples": [{"email": "ben@kanzlei-mueller.de", "displayName": "Ben Schulz", "role": "user"}]
        }
    }

    email: EmailStr
    display_name: str = Field(min_length=1, max_length=200)
    role: Role


class InviteOut(ApiModel):
    user: UserOut
    invite_token: str
    invite_link: str
    expires_at: datetime


class UserPatch(ApiInput):
    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    role: Role | None = None


class TeamIn(ApiInput):
    name: str = Field(min_length=1, max_length=200)


class TeamOut(ApiModel):
    id: uuid.UUID
    name: str
    member_ids: list[uuid.UUID]
    created_at: datetime


class TeamMembers(ApiInput):
    user_ids: list[uuid.UUID] = Field(max_length=1000)


class Jwk(ApiModel):
    """A public RSA signing key of the built-in identity provider (RFC 7517)."""

    kty: Literal["RSA"]
    n: str
    e: str
    kid: str
    use: Literal["sig"]
    alg: str


class Jwks(ApiModel):
    keys: list[Jwk]

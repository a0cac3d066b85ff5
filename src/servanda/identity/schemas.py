"""Request and response bodies of the identity module (camelCase on the wire)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import EmailStr, Field

from servanda.platform.api_models import ApiInput, ApiModel

Role = Literal["admin", "editor", "user"]


class LoginRequest(ApiInput):
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


class Profile(ApiModel):
    name: str
    address: dict[str, Any]
    default_jurisdiction: str
    default_language: str


class Branding(ApiModel):
    colors: dict[str, str] = {}
    fonts: dict[str, str] = {}
    margins_mm: dict[str, float] = {}
    logo: dict[str, Any] | None = None  # set by PUT /tenant/branding/logo


class FeatureFlags(ApiModel):
    odt_export: bool = False
    mfa_required: bool = False


class TenantSettingsOut(ApiModel):
    profile: Profile
    branding: Branding
    feature_flags: FeatureFlags
    retention_days: int | None
    plan: str


class ProfilePatch(ApiInput):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    address: dict[str, str] | None = None
    default_jurisdiction: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    default_language: Literal["de", "en"] | None = None


class BrandingPatch(ApiInput):
    colors: dict[Literal["primary", "secondary"], str] | None = None
    fonts: dict[Literal["body", "headings"], str] | None = None
    margins_mm: dict[Literal["top", "bottom", "left", "right"], float] | None = None


class FeatureFlagsPatch(ApiInput):
    odt_export: bool | None = None
    mfa_required: bool | None = None


class TenantSettingsPatch(ApiInput):
    profile: ProfilePatch | None = None
    branding: BrandingPatch | None = None
    feature_flags: FeatureFlagsPatch | None = None
    retention_days: int | None = Field(default=None, ge=30, le=3650)


class TenantOut(ApiModel):
    id: uuid.UUID
    slug: str
    name: str
    type: str
    status: str
    default_jurisdiction: str
    plan: str


class TenantCreate(ApiInput):
    slug: str = Field(pattern=r"^[a-z0-9-]{3,63}$")
    name: str = Field(min_length=1, max_length=200)
    type: Literal["vendor", "lawfirm", "individual"]
    jurisdiction: str = Field(default="DE", pattern=r"^[A-Z]{2}$")


class TenantPatch(ApiInput):
    status: Literal["active", "suspended"] | None = None
    plan: Literal["starter", "team", "pro", "enterprise"] | None = None


class PlatformStats(ApiModel):
    tenants: int
    tenants_by_status: dict[str, int]
    tenants_by_type: dict[str, int]
    users: int
    contracts: int
    audit_events: int

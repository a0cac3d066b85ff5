"""Request and response bodies of the tenants module: settings, branding, platform administration."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from servanda.platform.api_models import API_PREFIX, ApiInput, ApiModel, Stored
from servanda.tenants import plans


class Profile(ApiModel):
    name: str
    address: Stored[dict[str, str]]  # free lines as the admin entered them (street, postalCode, city ...)
    default_jurisdiction: str
    default_language: str


class LogoRecord(ApiModel):
    """The stored record of the tenant's logo (the image itself: GET /branding/logo)."""

    key: str  # object storage key
    content_type: str
    size: int
    sha256: str
    uploaded_at: str  # ISO 8601, as recorded


class Branding(ApiModel):
    colors: dict[str, str] = {}
    fonts: dict[str, str] = {}
    margins_mm: dict[str, float] = {}
    logo: Stored[LogoRecord | None] = None  # set by PUT /tenant/branding/logo


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
    retention_days: int | None = Field(default=None, ge=plans.RETENTION_MIN_DAYS, le=plans.RETENTION_MAX_DAYS)


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
    plan: plans.PlanName | None = None


class PlatformStats(ApiModel):
    tenants: int
    tenants_by_status: dict[str, int]
    tenants_by_type: dict[str, int]
    users: int
    contracts: int
    audit_events: int


class LogoOut(ApiModel):
    content_type: str
    size: int
    sha256: str
    uploaded_at: datetime
    url: str = f"{API_PREFIX}/branding/logo"

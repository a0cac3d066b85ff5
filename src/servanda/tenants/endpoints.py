"""HTTP endpoints of the tenants module: settings, logo, platform administration.

- ``GET|PATCH /api/v1/tenant/settings``: tenant admins read and change the settings.
- ``PUT|GET|DELETE /api/v1/tenant/branding/logo``: tenant admins manage the logo.
- ``GET /api/v1/branding/logo``: every signed-in user of the tenant sees it (the UI shows it).
- ``/api/v1/platform/*``: platform admins manage tenants across the platform.

Every router is in :data:`routers`; the app registers them.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Request, Response, UploadFile

from servanda.identity.dependencies import CurrentPrincipal, Permission, allow
from servanda.platform.api_models import Page
from servanda.platform.http import API_PREFIX, AppStorage, PageNumber, PageSize, UnitOfWork, created
from servanda.platform.openapi import STORAGE_UNAVAILABLE, problems
from servanda.platform.paging import page_of
from servanda.tenants.branding import BrandingService
from servanda.tenants.logo import SVG_TYPE, UPLOAD_MAX_BYTES, too_large
from servanda.tenants.platform import PlatformService, TenantView
from servanda.tenants.repository import TenantRepository
from servanda.tenants.schemas import (
    FeatureFlags,
    LogoOut,
    PlatformStats,
    TenantCreate,
    TenantOut,
    TenantPatch,
    TenantSettingsOut,
    TenantSettingsPatch,
)
from servanda.tenants.settings import TenantSettingsService, settings_view

tenant_router = APIRouter(prefix=f"{API_PREFIX}/tenant", tags=["tenant"])
router = APIRouter(prefix=f"{API_PREFIX}/tenant/branding", tags=["tenant"])
logo_router = APIRouter(prefix=f"{API_PREFIX}/branding", tags=["tenant"])
platform_router = APIRouter(prefix=f"{API_PREFIX}/platform", tags=["platform"])

SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'"


# The services work in the request's unit of work (the transaction the principal lookup began).
async def _branding(session: UnitOfWork, storage: AppStorage) -> BrandingService:
    return BrandingService(session, storage)


async def _settings_service(session: UnitOfWork) -> TenantSettingsService:
    return TenantSettingsService(session)


async def _platform(session: UnitOfWork) -> PlatformService:
    return PlatformService(session)


Branding = Annotated[BrandingService, Depends(_branding)]
TenantSettings = Annotated[TenantSettingsService, Depends(_settings_service)]
Platform = Annotated[PlatformService, Depends(_platform)]


async def _read_bounded(upload: UploadFile) -> bytes:
    data = await upload.read(UPLOAD_MAX_BYTES + 1)
    if len(data) > UPLOAD_MAX_BYTES:
        raise too_large(UPLOAD_MAX_BYTES)
    return data


async def _serve_logo(principal: CurrentPrincipal, request: Request, branding: BrandingService) -> Response:
    logo = await branding.logo(principal.tenant_id)
    etag = f'"{logo.sha256}"'
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-cache",
        "ETag": etag,
    }
    if logo.content_type == SVG_TYPE:
        headers["Content-Security-Policy"] = SVG_CSP
        headers["Content-Disposition"] = 'inline; filename="logo.svg"'
    else:
        headers["Content-Disposition"] = 'inline; filename="logo.png"'
    if logo.sha256 and request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(content=logo.data, media_type=logo.content_type, headers=headers)


# -- logo --------------------------------------------------------------------------------------


@router.put(
    "/logo",
    dependencies=[allow(Permission.TENANT_ADMIN)],
    summary="Upload the tenant logo",
    description="PNG (at most 1 MiB and 2000×2000 pixels) or SVG (at most 512 KiB; scripts, external references and event handlers are refused), as multipart field `file`.",
    responses=problems(413, "branding.too_large")
    | problems(415, "branding.unsupported_type")
    | problems(422, "branding.unsafe_svg", "branding.invalid_image", "branding.dimensions_too_large")
    | STORAGE_UNAVAILABLE,
)
async def upload_logo(
    file: Annotated[UploadFile, File(description="PNG (max. 1 MiB, 2000×2000) or SVG (max. 512 KiB)")],
    principal: CurrentPrincipal,
    branding: Branding,
) -> LogoOut:
    try:
        data = await _read_bounded(file)
    finally:
        await file.close()
    record = await branding.upload_logo(principal, data)
    return LogoOut(
        content_type=record["contentType"],
        size=record["size"],
        sha256=record["sha256"],
        uploaded_at=record["uploadedAt"],
    )


# The image itself, not JSON: documented with its media types (tests/test_openapi.py lists these routes).
LOGO_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The logo", "content": {"image/png": {}, SVG_TYPE: {}}},
    304: {"description": "Unchanged (If-None-Match)"},
    **problems(404, "branding.logo_not_found"),
    **STORAGE_UNAVAILABLE,
}


@router.get(
    "/logo",
    dependencies=[allow(Permission.TENANT_ADMIN)],
    response_class=Response,
    responses=LOGO_RESPONSES,
    summary="Get the tenant logo (settings)",
    description="The logo image with an ETag; `If-None-Match` answers 304.",
)
async def get_logo_admin(principal: CurrentPrincipal, request: Request, branding: Branding) -> Response:
    return await _serve_logo(principal, request, branding)


@router.delete(
    "/logo",
    status_code=204,
    dependencies=[allow(Permission.TENANT_ADMIN)],
    summary="Delete the tenant logo",
    description="Removes the logo from storage and settings.",
    responses=problems(404, "branding.logo_not_found"),
)
async def delete_logo(principal: CurrentPrincipal, branding: Branding) -> Response:
    await branding.delete_logo(principal)
    return Response(status_code=204)


@logo_router.get(
    "/logo",
    dependencies=[allow(Permission.CONTRACTS_USE)],
    response_class=Response,
    responses=LOGO_RESPONSES,
    summary="Get the tenant logo",
    description="The logo image for every signed-in user (documents, the web client), with an ETag.",
)
async def get_logo(principal: CurrentPrincipal, request: Request, branding: Branding) -> Response:
    return await _serve_logo(principal, request, branding)


# -- settings -------------------------------------------------------------------------


@tenant_router.get(
    "/settings",
    dependencies=[allow(Permission.TENANT_ADMIN)],
    summary="Get the tenant settings",
    description="Profile, branding, feature flags, retention and plan.",
)
async def get_settings(principal: CurrentPrincipal, service: TenantSettings) -> TenantSettingsOut:
    return TenantSettingsOut.model_validate(settings_view(await service.settings(principal)))


@tenant_router.get(
    "/features",
    dependencies=[allow(Permission.AUTHENTICATED)],
    summary="Get the tenant's feature flags",
    description="What the web app offers every user of the tenant, e.g. the ODT export (Beta). "
    "The full settings stay with tenant admins.",
)
async def get_features(principal: CurrentPrincipal, session: UnitOfWork) -> FeatureFlags:
    flags = await TenantRepository(session).feature_flags(principal.tenant_id)
    return FeatureFlags(odt_export=flags["odtExport"], mfa_required=flags["mfaRequired"])


@tenant_router.patch(
    "/settings",
    dependencies=[allow(Permission.TENANT_ADMIN)],
    summary="Update the tenant settings",
    description="Merges the given members into the settings.",
    responses=problems(422, "tenant.retention_exceeds_plan", "content.unknown_style_template"),
)
async def update_settings(
    body: TenantSettingsPatch, principal: CurrentPrincipal, service: TenantSettings
) -> TenantSettingsOut:
    tenant = await service.update_settings(principal, body.model_dump(exclude_unset=True))
    return TenantSettingsOut.model_validate(settings_view(tenant))


# -- platform (operators; principals with the platform-admin flag) ---------------------------


def _tenant_out(view: TenantView) -> TenantOut:
    return TenantOut(
        id=view.id,
        slug=view.slug,
        name=view.name,
        type=view.type,
        status=view.status,
        default_jurisdiction=view.default_jurisdiction,
        plan=view.plan,
    )


@platform_router.get(
    "/tenants",
    dependencies=[allow(Permission.PLATFORM_ADMIN)],
    summary="List tenants (operator)",
    description="Every tenant with its status and plan.",
)
async def platform_tenants(
    platform: Platform, page: PageNumber = 1, page_size: PageSize = 25
) -> Page[TenantOut]:
    views, total = page_of(await platform.list_tenants(), page, page_size)
    return Page[TenantOut](items=[_tenant_out(t) for t in views], total=total, page=page, page_size=page_size)


@platform_router.post(
    "/tenants",
    status_code=201,
    dependencies=[allow(Permission.PLATFORM_ADMIN)],
    summary="Create a tenant (operator)",
    description="A new law-firm or publisher tenant.",
    responses=problems(409, "tenant.slug_taken"),
)
async def platform_create_tenant(
    body: TenantCreate, principal: CurrentPrincipal, platform: Platform, response: Response
) -> TenantOut:
    view = await platform.create_tenant(
        slug=body.slug, name=body.name, type=body.type, jurisdiction=body.jurisdiction, actor=principal
    )
    created(response, f"{API_PREFIX}/platform/tenants/{view.id}")
    return _tenant_out(view)


@platform_router.get(
    "/tenants/{tenant_id}",
    dependencies=[allow(Permission.PLATFORM_ADMIN)],
    summary="Get a tenant (operator)",
    description="One tenant.",
    responses=problems(404, "tenant.not_found"),
)
async def platform_tenant(tenant_id: uuid.UUID, platform: Platform) -> TenantOut:
    return _tenant_out(await platform.get_tenant(tenant_id))


@platform_router.patch(
    "/tenants/{tenant_id}",
    dependencies=[allow(Permission.PLATFORM_ADMIN)],
    summary="Update a tenant (operator)",
    description="Suspend or reactivate a tenant, change its plan.",
    responses=problems(404, "tenant.not_found") | problems(409, "tenant.deleted"),
)
async def platform_update_tenant(
    tenant_id: uuid.UUID, body: TenantPatch, principal: CurrentPrincipal, platform: Platform
) -> TenantOut:
    view = await platform.update_tenant(tenant_id, status=body.status, plan=body.plan, actor=principal)
    return _tenant_out(view)


@platform_router.get(
    "/stats",
    dependencies=[allow(Permission.PLATFORM_ADMIN)],
    summary="Get platform statistics (operator)",
    description="Counts of tenants, users and contracts.",
)
async def platform_stats(platform: Platform) -> PlatformStats:
    return PlatformStats.model_validate(await platform.stats())


routers = [tenant_router, router, logo_router, platform_router]

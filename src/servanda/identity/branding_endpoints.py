"""HTTP endpoints of the tenant logo.

- ``PUT|GET|DELETE /api/v1/tenant/branding/logo``: tenant admins manage the logo.
- ``GET /api/v1/branding/logo``: every signed-in user of the tenant sees it (the UI shows it).

Both routers are in :data:`routers`; the identity module registers them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Request, Response, UploadFile

from servanda.identity.branding import SVG_TYPE, UPLOAD_MAX_BYTES, BrandingService, too_large
from servanda.identity.dependencies import CurrentPrincipal, Permission, allow
from servanda.platform.api_models import ApiModel
from servanda.platform.http import API_PREFIX
from servanda.platform.storage import Storage, storage_from_settings

router = APIRouter(prefix=f"{API_PREFIX}/tenant/branding", tags=["tenant"])
logo_router = APIRouter(prefix=f"{API_PREFIX}/branding", tags=["tenant"])

SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'"


class LogoOut(ApiModel):
    content_type: str
    size: int
    sha256: str
    uploaded_at: datetime
    url: str = f"{API_PREFIX}/branding/logo"


def storage_of(request: Request) -> Storage:
    """The application's object storage (created from the settings on first use)."""
    storage: Storage | None = getattr(request.app.state, "storage", None)
    if storage is None:
        storage = storage_from_settings(request.app.state.settings)
        request.app.state.storage = storage
    return storage


def _service(request: Request) -> BrandingService:
    return BrandingService(request.app.state.db, storage_of(request))


async def _read_bounded(upload: UploadFile) -> bytes:
    data = await upload.read(UPLOAD_MAX_BYTES + 1)
    if len(data) > UPLOAD_MAX_BYTES:
        raise too_large(UPLOAD_MAX_BYTES)
    return data


async def _serve_logo(principal: CurrentPrincipal, request: Request) -> Response:
    logo = await _service(request).logo(principal.tenant_id)
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


@router.put("/logo", dependencies=[allow(Permission.TENANT_ADMIN)])
async def upload_logo(
    file: Annotated[UploadFile, File(description="PNG (max. 1 MiB, 2000×2000) or SVG (max. 512 KiB)")],
    principal: CurrentPrincipal,
    request: Request,
) -> LogoOut:
    try:
        data = await _read_bounded(file)
    finally:
        await file.close()
    record = await _service(request).upload_logo(principal, data)
    return LogoOut(content_type=record["contentType"], size=record["size"], sha256=record["sha256"],
                   uploaded_at=record["uploadedAt"])  # fmt: skip


@router.get("/logo", dependencies=[allow(Permission.TENANT_ADMIN)], response_class=Response)
async def get_logo_admin(principal: CurrentPrincipal, request: Request) -> Response:
    return await _serve_logo(principal, request)


@router.delete("/logo", status_code=204, dependencies=[allow(Permission.TENANT_ADMIN)])
async def delete_logo(principal: CurrentPrincipal, request: Request) -> Response:
    await _service(request).delete_logo(principal)
    return Response(status_code=204)


@logo_router.get("/logo", dependencies=[allow(Permission.CONTRACTS_USE)], response_class=Response)
async def get_logo(principal: CurrentPrincipal, request: Request) -> Response:
    return await _serve_logo(principal, request)


routers = [router, logo_router]

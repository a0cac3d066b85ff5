"""HTTP endpoints of style templates: ``/api/v1/export/style-templates``.

Every user of the tenant reads them (``contracts.use``: a style is chosen when exporting);
creating, changing, deleting and the uploads need ``templates.manage``. The built-in system
style is read-only for everyone (403 ``style.system_read_only``).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, File, Response, UploadFile

from servanda.export import docx_upload
from servanda.export.models import StyleTemplate
from servanda.export.repository import group, logo_record
from servanda.export.style_schemas import (
    BaseDocxOut,
    Colors,
    Fonts,
    FontSizes,
    Footer,
    Header,
    Margins,
    StrippedRelationshipOut,
    StyleLogoOut,
    StyleTemplateCreate,
    StyleTemplateOut,
    StyleTemplatePatch,
)
from servanda.export.styles import LOGO_MAX_BYTES, LOGO_POLICY, StyleTemplateService
from servanda.identity.dependencies import CurrentPrincipal, Permission, allow
from servanda.platform import images
from servanda.platform.api_models import Page
from servanda.platform.http import API_PREFIX, AppStorage, PageNumber, PageSize, UnitOfWork, created
from servanda.platform.openapi import STORAGE_UNAVAILABLE, problems

BASE = f"{API_PREFIX}/export/style-templates"
router = APIRouter(prefix=BASE, tags=["export"])
READ = [allow(Permission.CONTRACTS_USE)]
WRITE = [allow(Permission.TEMPLATES_MANAGE)]

NOT_FOUND = problems(404, "style.not_found")
READ_ONLY = problems(403, "style.system_read_only")
LOGO_ERRORS = (
    problems(413, "style.logo_too_large")
    | problems(415, "style.logo_unsupported_type")
    | problems(422, "style.logo_invalid_image", "style.logo_unsafe_svg", "style.logo_dimensions_too_large")
)
DOCX_ERRORS = (
    problems(413, "style.base_docx_too_large")
    | problems(415, "style.base_docx_not_docx")
    | problems(422, "style.base_docx_invalid", "style.base_docx_zip_bomb", "style.base_docx_macros")
)


async def _service(session: UnitOfWork, storage: AppStorage) -> StyleTemplateService:
    return StyleTemplateService(session, storage)


Styles = Annotated[StyleTemplateService, Depends(_service)]


async def _writable(style_template_id: uuid.UUID, styles: Styles) -> uuid.UUID:
    """Look the style up before the upload is read or judged: another tenant's id is 404 (not a
    422 for the missing file), the system style 403."""
    await styles.writable(style_template_id)
    return style_template_id


WritableStyle = Annotated[uuid.UUID, Depends(_writable)]


def _out(style: StyleTemplate, tenant_has_default: bool) -> StyleTemplateOut:
    system = style.tenant_id is None
    logo = logo_record(style)
    return StyleTemplateOut(
        id=style.id,
        name=style.name,
        type=style.type,
        read_only=system,
        is_default=(style.is_default and not tenant_has_default) if system else style.is_default,
        fonts=Fonts.model_validate(group(style, "fonts")),
        font_sizes=FontSizes.model_validate(group(style, "font_sizes")),
        colors=Colors.model_validate(group(style, "colors")),
        margins_mm=Margins.model_validate(group(style, "margins_mm")),
        header=Header.model_validate(group(style, "header")),
        footer=Footer.model_validate(group(style, "footer")),
        has_base_docx=bool(style.base_docx_key),
        logo=_logo_out(logo) if logo else None,
        created_at=style.created_at,
        updated_at=style.updated_at,
    )


def _logo_out(record: dict[str, object]) -> StyleLogoOut:
    return StyleLogoOut(
        content_type=str(record["contentType"]),
        size=int(str(record["size"])),
        sha256=str(record["sha256"]),
        uploaded_at=str(record["uploadedAt"]),
    )


async def _read_bounded(upload: UploadFile, limit: int, too_large: Exception) -> bytes:
    try:
        data = await upload.read(limit + 1)
    finally:
        await upload.close()
    if len(data) > limit:
        raise too_large
    return data


@router.get(
    "",
    dependencies=READ,
    summary="List style templates",
    description="The built-in system style (read-only) and the tenant's own style templates, paged.",
)
async def list_styles(
    principal: CurrentPrincipal, styles: Styles, page: PageNumber = 1, page_size: PageSize = 25
) -> Page[StyleTemplateOut]:
    result = await styles.page(principal, page, page_size)
    return Page[StyleTemplateOut](
        items=[_out(s, result.tenant_has_default) for s in result.items],
        total=result.total,
        page=page,
        page_size=page_size,
    )


@router.post(
    "",
    status_code=201,
    dependencies=WRITE,
    summary="Create a style template",
    description="Fonts, sizes, colours (#RRGGBB), margins (mm), header and footer; unset members "
    "come from the tenant's branding. `isDefault: true` makes it the tenant's only default.",
    responses=problems(422, "style.invalid_margins"),
)
async def create_style(
    body: StyleTemplateCreate, principal: CurrentPrincipal, styles: Styles, response: Response
) -> StyleTemplateOut:
    style = await styles.create(principal, body.model_dump())
    created(response, f"{BASE}/{style.id}")
    return _out(style, True)


@router.get(
    "/{style_template_id}",
    dependencies=READ,
    summary="Get a style template",
    description="One style template: the system style or one of the tenant's own.",
    responses=NOT_FOUND,
)
async def get_style(
    style_template_id: uuid.UUID, principal: CurrentPrincipal, styles: Styles
) -> StyleTemplateOut:
    style = await styles.get(style_template_id)
    has_default = style.tenant_id is not None or await styles.tenant_has_default(principal.tenant_id)
    return _out(style, has_default)


@router.patch(
    "/{style_template_id}",
    dependencies=WRITE,
    summary="Update a style template",
    description="Merges the given groups member by member (`null` removes a member: inherited again). "
    "`isDefault: true` clears the tenant's other default in the same transaction.",
    responses=NOT_FOUND | READ_ONLY | problems(422, "style.invalid_margins"),
)
async def update_style(
    style_template_id: uuid.UUID, body: StyleTemplatePatch, principal: CurrentPrincipal, styles: Styles
) -> StyleTemplateOut:
    style = await styles.update(principal, style_template_id, body.model_dump(exclude_unset=True))
    return _out(style, True)


@router.delete(
    "/{style_template_id}",
    status_code=204,
    dependencies=WRITE,
    summary="Delete a style template",
    description="Removes the style with its base DOCX and logo. Exports that name it fall back to the "
    "tenant's default style.",
    responses=NOT_FOUND | READ_ONLY,
)
async def delete_style(style_template_id: uuid.UUID, principal: CurrentPrincipal, styles: Styles) -> Response:
    await styles.delete(principal, style_template_id)
    return Response(status_code=204)


@router.put(
    "/{style_template_id}/base-docx",
    dependencies=WRITE,
    summary="Upload the base DOCX",
    description="A Word document (.docx, at most 5 MiB) whose styles the export uses, as multipart field "
    "`file`. The type is decided from the content; macros, ActiveX and OLE objects are refused, as are "
    "zip bombs; external relationships (attached templates, remote images, linked objects) are stripped "
    "and listed in the answer.",
    responses=NOT_FOUND | READ_ONLY | DOCX_ERRORS | STORAGE_UNAVAILABLE,
)
async def upload_base_docx(
    style_template_id: WritableStyle,
    file: Annotated[UploadFile, File(description="DOCX, max. 5 MiB")],
    principal: CurrentPrincipal,
    styles: Styles,
) -> BaseDocxOut:
    data = await _read_bounded(file, docx_upload.MAX_BYTES, docx_upload.too_large())
    result = await styles.upload_base_docx(principal, style_template_id, data)
    return BaseDocxOut(
        size=result.size,
        sha256=result.sha256,
        stripped_relationships=[
            StrippedRelationshipOut(part=s.part, type=s.type, target=s.target) for s in result.stripped
        ],
    )


@router.delete(
    "/{style_template_id}/base-docx",
    status_code=204,
    dependencies=WRITE,
    summary="Remove the base DOCX",
    description="The style renders without a base document again.",
    responses=problems(404, "style.not_found", "style.base_docx_not_found") | READ_ONLY,
)
async def delete_base_docx(
    style_template_id: uuid.UUID, principal: CurrentPrincipal, styles: Styles
) -> Response:
    await styles.delete_base_docx(principal, style_template_id)
    return Response(status_code=204)


@router.put(
    "/{style_template_id}/logo",
    dependencies=WRITE,
    summary="Upload the style's logo",
    description="PNG or JPEG (at most 1 MiB and 2000×2000 pixels) or SVG (at most 512 KiB; scripts and "
    "external references are refused), as multipart field `file`. It replaces the tenant's logo in "
    "documents of this style.",
    responses=NOT_FOUND | READ_ONLY | LOGO_ERRORS | STORAGE_UNAVAILABLE,
)
async def upload_logo(
    style_template_id: WritableStyle,
    file: Annotated[UploadFile, File(description="PNG, JPEG (max. 1 MiB, 2000×2000) or SVG (max. 512 KiB)")],
    principal: CurrentPrincipal,
    styles: Styles,
) -> StyleLogoOut:
    data = await _read_bounded(file, LOGO_MAX_BYTES, images.too_large(LOGO_POLICY, LOGO_MAX_BYTES))
    return _logo_out(await styles.upload_logo(principal, style_template_id, data))


@router.delete(
    "/{style_template_id}/logo",
    status_code=204,
    dependencies=WRITE,
    summary="Remove the style's logo",
    description="Documents of this style show the tenant's logo again.",
    responses=problems(404, "style.not_found", "style.logo_not_found") | READ_ONLY,
)
async def delete_logo(style_template_id: uuid.UUID, principal: CurrentPrincipal, styles: Styles) -> Response:
    await styles.delete_logo(principal, style_template_id)
    return Response(status_code=204)

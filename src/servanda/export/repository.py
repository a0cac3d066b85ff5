"""Queries of the export module: the public read side for other modules and the worker.

Style templates: whether one exists (content pins a template's default style), the rows'
groups as stored, and :func:`resolve_style`, the one lookup the export worker makes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from servanda.export.models import ExportJob, StyleTemplate
from servanda.export.style import Logo, StyleSpec, style_from_settings
from servanda.platform import errors
from servanda.platform.db import after_commit
from servanda.platform.logs import get_logger
from servanda.platform.storage import ObjectNotFound, Storage, StorageKeyError
from servanda.tenants.repository import TenantRepository

log = get_logger("servanda.export.styles")


async def style_template_exists(session: AsyncSession, style_template_id: uuid.UUID) -> bool:
    """Whether the style is visible to the tenant: the built-in system style or one of its own (RLS)."""
    return await session.get(StyleTemplate, style_template_id) is not None


async def discard_contract_exports(session: AsyncSession, storage: Storage, contract_id: uuid.UUID) -> None:
    """Before a draft is deleted: its exports go with it (rows now, files once committed).

    While one of them is queued or running the draft cannot be deleted (409): the worker
    would otherwise store a file no row points to any more.
    """
    rows = (
        await session.execute(
            select(ExportJob.status, ExportJob.tenant_id, ExportJob.result_storage_key)
            .where(ExportJob.contract_id == contract_id)
            .with_for_update()
        )
    ).all()
    if any(row.status in ("queued", "running") for row in rows):
        raise errors.Conflict(
            "contract.export_running",
            "Der Entwurf wird gerade exportiert; löschen Sie ihn, wenn der Export abgeschlossen ist.",
        )
    await session.execute(delete(ExportJob).where(ExportJob.contract_id == contract_id))
    files = [(row.tenant_id, row.result_storage_key) for row in rows if row.result_storage_key]

    async def remove_files() -> None:
        for tenant_id, key in files:
            try:
                await storage.delete(tenant_id, key)
            except Exception as exc:  # the row is gone either way; an orphan is logged, not fatal
                log.warning("export file not removed", action="export.discard", error=type(exc).__name__)

    if files:
        after_commit(session, remove_files)


# -- style templates: the rows as the API and the renderer read them -----------------------------

GROUPS = ("fonts", "font_sizes", "colors", "margins_mm", "header", "footer")
# Keys of each group (camelCase, as stored and answered).
GROUP_KEYS: dict[str, tuple[str, ...]] = {
    "fonts": ("body", "headings"),
    "font_sizes": ("body", "heading", "title", "small"),
    "colors": ("primary", "secondary"),
    "margins_mm": ("top", "bottom", "left", "right"),
    "header": ("text", "logo", "clientReference"),
    "footer": ("text", "pageNumbers"),
}
# The system style of migration 0001 names its sizes heading1/heading2 (title and § heading).
_LEGACY_SIZES = {"heading1": "title", "heading2": "heading"}
LOGO_RECORD = "logoFile"  # in ``header``: the style's own logo (storage key, type, size, sha256)


def group(row: StyleTemplate, name: str) -> dict[str, Any]:
    """The stored members of one group, known keys only (``None`` members left out)."""
    stored = dict(getattr(row, name) or {})
    if name == "font_sizes":
        for old, new in _LEGACY_SIZES.items():
            if old in stored and new not in stored:
                stored[new] = stored[old]
    return {key: stored[key] for key in GROUP_KEYS[name] if stored.get(key) is not None}


def logo_record(row: StyleTemplate) -> dict[str, Any] | None:
    record = (row.header or {}).get(LOGO_RECORD)
    return record if isinstance(record, dict) and record.get("key") else None


async def system_style(session: AsyncSession) -> StyleTemplate | None:
    """The built-in system style (tenant NULL, migration 0001), readable by every tenant."""
    query = (
        select(StyleTemplate)
        .where(StyleTemplate.tenant_id.is_(None))
        .order_by(StyleTemplate.is_default.desc(), StyleTemplate.created_at, StyleTemplate.id)
        .limit(1)
    )
    return await session.scalar(query)


async def default_style(session: AsyncSession, tenant_id: uuid.UUID) -> StyleTemplate | None:
    """The tenant's own default style template, if it marked one."""
    query = (
        select(StyleTemplate)
        .where(StyleTemplate.tenant_id == tenant_id, StyleTemplate.is_default)
        .order_by(StyleTemplate.updated_at.desc(), StyleTemplate.id)
        .limit(1)
    )
    return await session.scalar(query)


@dataclass(frozen=True)
class ResolvedStyle:
    """Everything the renderer needs of a style: the merged spec, the header logo (None when
    there is none or the style hides it), the base DOCX whose styles are used, and which
    style template it came from (None only without any style row)."""

    spec: StyleSpec
    logo: Logo | None
    base_docx: bytes | None
    style_template_id: uuid.UUID | None


async def _object(storage: Storage, tenant_id: uuid.UUID, key: str | None) -> bytes | None:
    if not key:
        return None
    try:
        return await storage.get(tenant_id, key)
    except (ObjectNotFound, StorageKeyError):
        log.warning("style object missing", action="export.style_object_missing", key=key)
        return None


async def resolve_style(
    session: AsyncSession, storage: Storage, tenant_id: uuid.UUID, style_template_id: uuid.UUID | None
) -> ResolvedStyle:
    """The style of one export, for the worker (in the job's tenant context).

    ``style_template_id`` None, or a style no longer visible (deleted since the job was
    queued): the tenant's default style template, else the system style. Layers, later ones
    win member by member: built-in defaults (``StyleSpec``) < system style < tenant branding
    (colours, fonts, margins) < the chosen tenant style template. The firm name is the
    tenant's name. Logo: the style template's own, else the tenant's branding logo.
    """
    chosen = await session.get(StyleTemplate, style_template_id) if style_template_id else None
    if chosen is None:
        chosen = await default_style(session, tenant_id)
    system = await system_style(session)
    if chosen is None:
        chosen = system
    branding = await TenantRepository(session).branding(tenant_id)
    layers: list[dict[str, dict[str, Any]]] = []
    if system is not None:
        system_groups = {name: group(system, name) for name in GROUPS}
        # The system style hides the logo only because it has none: the tenant's logo shows.
        system_groups["header"].pop("logo", None)
        layers.append(system_groups)
    if branding is not None:
        layers.append({"fonts": branding.fonts, "colors": branding.colors, "margins_mm": branding.margins_mm})
    own = chosen if chosen is not None and chosen.tenant_id is not None else None
    if own is not None:
        layers.append({name: group(own, name) for name in GROUPS})
    merged: dict[str, dict[str, Any]] = {name: {} for name in GROUPS}
    for layer in layers:
        for name, values in layer.items():
            merged[name].update({k: v for k, v in values.items() if v is not None})
    spec = style_from_settings(
        fonts=merged["fonts"],
        font_sizes=merged["font_sizes"],
        colors=merged["colors"],
        margins_mm=merged["margins_mm"],
        header=merged["header"],
        footer=merged["footer"],
        firm_name=branding.name if branding else "",
    )

    logo: Logo | None = None
    if spec.header.logo:
        record = logo_record(own) if own is not None else None
        if record is not None:
            data = await _object(storage, tenant_id, str(record["key"]))
            logo = Logo(data, str(record.get("contentType"))) if data is not None else None
        if logo is None and branding is not None and branding.logo_key:
            data = await _object(storage, tenant_id, branding.logo_key)
            logo = Logo(data, branding.logo_content_type or "") if data is not None else None
    base_docx = await _object(storage, tenant_id, own.base_docx_key) if own is not None else None
    return ResolvedStyle(
        spec=spec,
        logo=logo,
        base_docx=base_docx,
        style_template_id=chosen.id if chosen is not None else None,
    )

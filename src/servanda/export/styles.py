"""Style templates of a tenant: CRUD, the one default, the base DOCX and the logo uploads.

Works in the caller's transaction (the request's unit of work). Rules:

- every user of the tenant reads its styles and the built-in system style (they choose one
  when exporting); writing needs ``templates.manage`` (checked on the routes);
- the system style (``tenant_id`` NULL) is read-only for everyone: 403
  ``style.system_read_only`` (RLS would let no write through anyway);
- at most one default per tenant: marking one clears the others in the same transaction,
  under a per-tenant advisory lock so two concurrent requests cannot both win;
- uploads are validated from their bytes (``docx_upload``, ``platform/images``) and stored
  under ``{tenant}/styles/{id}/base.docx`` and ``{tenant}/styles/{id}/logo.<ext>``; an object
  no record points to any more is deleted after the commit;
- every change is audited as ``style_template.create|update|delete``.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from servanda.audit import repository as audit
from servanda.export import docx_upload
from servanda.export.models import StyleTemplate
from servanda.export.repository import (
    GROUP_KEYS,
    GROUPS,
    LOGO_RECORD,
    ResolvedStyle,
    logo_record,
    resolve_style,
)
from servanda.export.style_schemas import MARGINS_HORIZONTAL_MAX_MM, MARGINS_VERTICAL_MAX_MM
from servanda.identity.principal import Principal
from servanda.platform import errors, images
from servanda.platform.db import after_commit
from servanda.platform.logs import get_logger
from servanda.platform.paging import paginate
from servanda.platform.storage import Storage, tenant_key

log = get_logger("servanda.export.styles")

# The worker's one lookup lives with the public reads (export/repository.py); named here too.
__all__ = ["ResolvedStyle", "StyleTemplateService", "resolve_style"]

LOGO_POLICY: Final = images.ImagePolicy(
    code_prefix="style.logo_", types=(images.PNG_TYPE, images.JPEG_TYPE, images.SVG_TYPE)
)
LOGO_MAX_BYTES: Final = LOGO_POLICY.max_bytes
_DEFAULT_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended('servanda.style_default:' || :t, 0))")


def not_found() -> errors.NotFound:
    return errors.NotFound("style.not_found", "Die Formatvorlage wurde nicht gefunden.")


def system_read_only() -> errors.Forbidden:
    return errors.Forbidden(
        "style.system_read_only",
        "Die Standard-Formatvorlage des Systems kann nicht geändert werden. "
        "Legen Sie eine eigene Formatvorlage an.",
    )


def base_docx_key(tenant_id: uuid.UUID, style_id: uuid.UUID) -> str:
    return tenant_key(tenant_id, "styles", f"{style_id}/base.docx")


def logo_key(tenant_id: uuid.UUID, style_id: uuid.UUID, extension: str) -> str:
    return tenant_key(tenant_id, "styles", f"{style_id}/logo.{extension}")


@dataclass(frozen=True)
class StylePage:
    items: list[StyleTemplate]
    total: int
    tenant_has_default: bool


@dataclass(frozen=True)
class BaseDocxResult:
    size: int
    sha256: str
    stripped: list[docx_upload.StrippedRelationship]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _merge(current: dict[str, Any], changes: dict[str, Any], name: str) -> dict[str, Any]:
    """``current`` with the members given in ``changes`` (snake_case) set, ``None`` removed."""
    merged = dict(current)
    for key, value in changes.items():
        camel = _camel(key)
        if camel not in GROUP_KEYS[name]:
            continue
        if value is None:
            merged.pop(camel, None)
        else:
            merged[camel] = value
    return merged


def _check_margins(margins: dict[str, Any]) -> None:
    """The members are in range each (schema); here the page must keep room for text."""
    problems = []
    if float(margins.get("left") or 0) + float(margins.get("right") or 0) > MARGINS_HORIZONTAL_MAX_MM:
        problems.append(
            {
                "field": "marginsMm",
                "message": f"Linker und rechter Rand zusammen dürfen höchstens "
                f"{MARGINS_HORIZONTAL_MAX_MM:g} mm betragen.",
            }
        )
    if float(margins.get("top") or 0) + float(margins.get("bottom") or 0) > MARGINS_VERTICAL_MAX_MM:
        problems.append(
            {
                "field": "marginsMm",
                "message": f"Oberer und unterer Rand zusammen dürfen höchstens "
                f"{MARGINS_VERTICAL_MAX_MM:g} mm betragen.",
            }
        )
    if problems:
        raise errors.Invalid(
            "style.invalid_margins", "Die Seitenränder lassen zu wenig Platz für den Text.", errors=problems
        )


class StyleTemplateService:
    def __init__(self, session: AsyncSession, storage: Storage) -> None:
        self.session = session
        self.storage = storage

    # -- reads ---------------------------------------------------------------------------------

    async def page(self, principal: Principal, page: int, page_size: int) -> StylePage:
        """The system style first, then the tenant's own by name (RLS shows exactly these)."""
        query = select(StyleTemplate).order_by(
            StyleTemplate.tenant_id.is_not(None), func.lower(StyleTemplate.name), StyleTemplate.id
        )
        items, total = await paginate(self.session, query, page, page_size)
        return StylePage(items, total, await self.tenant_has_default(principal.tenant_id))

    async def get(self, style_id: uuid.UUID) -> StyleTemplate:
        style = await self.session.get(StyleTemplate, style_id)
        if style is None:
            raise not_found()
        return style

    async def tenant_has_default(self, tenant_id: uuid.UUID) -> bool:
        query = select(StyleTemplate.id).where(StyleTemplate.tenant_id == tenant_id, StyleTemplate.is_default)
        return (await self.session.scalar(query.limit(1))) is not None

    async def writable(self, style_id: uuid.UUID) -> StyleTemplate:
        """The style, locked for the change; 404 when not visible, 403 for the system style."""
        style = await self.get(style_id)
        if style.tenant_id is None:
            raise system_read_only()
        locked = await self.session.get(StyleTemplate, style_id, with_for_update=True, populate_existing=True)
        if locked is None:  # deleted meanwhile
            raise not_found()
        return locked

    # -- writes --------------------------------------------------------------------------------

    async def _clear_other_defaults(self, principal: Principal, style_id: uuid.UUID) -> list[str]:
        session = self.session
        await session.execute(_DEFAULT_LOCK, {"t": str(principal.tenant_id)})
        cleared = await session.scalars(
            update(StyleTemplate)
            .where(
                StyleTemplate.tenant_id == principal.tenant_id,
                StyleTemplate.is_default,
                StyleTemplate.id != style_id,
            )
            .values(is_default=False, updated_at=func.now())
            .returning(StyleTemplate.id)
            .execution_options(synchronize_session="fetch")
        )
        return [str(i) for i in cleared.all()]

    async def create(self, principal: Principal, body: dict[str, Any]) -> StyleTemplate:
        """``body``: snake_case members of StyleTemplateCreate (``model_dump``)."""
        groups = {name: _merge({}, body.get(name) or {}, name) for name in GROUPS}
        _check_margins(groups["margins_mm"])
        style = StyleTemplate(
            id=uuid.uuid4(),
            tenant_id=principal.tenant_id,
            name=str(body["name"]),
            type="vendor" if principal.tenant_type == "vendor" else "lawfirm",
            is_default=bool(body.get("is_default")),
            **groups,
        )
        cleared: list[str] = []
        if style.is_default:
            cleared = await self._clear_other_defaults(principal, style.id)
        self.session.add(style)
        await self.session.flush()
        await self.session.refresh(style)
        details: dict[str, Any] = {"name": style.name, "isDefault": style.is_default}
        if cleared:
            details["previousDefault"] = cleared
        await audit.record(
            self.session, principal, "style_template.create", "style_template", style.id, details
        )
        return style

    async def update(self, principal: Principal, style_id: uuid.UUID, patch: dict[str, Any]) -> StyleTemplate:
        """``patch``: the members of StyleTemplatePatch the caller set (``exclude_unset``)."""
        style = await self.writable(style_id)
        changed: list[str] = []
        details: dict[str, Any] = {}
        name = patch.get("name")
        if name is not None and name != style.name:
            details["name"] = {"from": style.name, "to": name}
            style.name = name
            changed.append("name")
        for group in GROUPS:
            if patch.get(group) is None:
                continue
            current = dict(getattr(style, group) or {})
            merged = _merge(current, patch[group], group)
            if group == "margins_mm":
                _check_margins(merged)
            if merged != current:
                setattr(style, group, merged)
                changed.append(_camel(group))
        wanted = patch.get("is_default")
        if wanted is not None and wanted != style.is_default:
            if wanted:
                cleared = await self._clear_other_defaults(principal, style.id)
                if cleared:
                    details["previousDefault"] = cleared
            style.is_default = wanted
            changed.append("isDefault")
        if changed:
            style.updated_at = datetime.now(UTC)
            await self.session.flush()
            await self.session.refresh(style)
            await audit.record(
                self.session,
                principal,
                "style_template.update",
                "style_template",
                style.id,
                {"changed": changed, **details},
            )
        return style

    async def delete(self, principal: Principal, style_id: uuid.UUID) -> None:
        style = await self.writable(style_id)
        keys = [k for k in (style.base_docx_key, (logo_record(style) or {}).get("key")) if k]
        details = {"name": style.name, "wasDefault": style.is_default}
        await self.session.delete(style)
        await self.session.flush()
        await audit.record(
            self.session, principal, "style_template.delete", "style_template", style_id, details
        )
        for key in keys:
            self._discard_after_commit(principal.tenant_id, str(key))

    # -- uploads -------------------------------------------------------------------------------

    async def upload_base_docx(
        self, principal: Principal, style_id: uuid.UUID, data: bytes
    ) -> BaseDocxResult:
        style = await self.writable(style_id)
        clean = docx_upload.validate_base_docx(data)
        key = base_docx_key(principal.tenant_id, style.id)
        digest = hashlib.sha256(clean.data).hexdigest()
        had_one = style.base_docx_key == key
        await self.storage.put(principal.tenant_id, key, clean.data, docx_upload.DOCX_TYPE)
        try:
            style.base_docx_key = key
            style.updated_at = datetime.now(UTC)
            await audit.record(
                self.session,
                principal,
                "style_template.update",
                "style_template",
                style.id,
                {
                    "changed": ["baseDocx"],
                    "size": len(clean.data),
                    "sha256": digest,
                    "strippedRelationships": [
                        {"part": s.part, "type": s.type, "target": s.target} for s in clean.stripped
                    ],
                },
            )
            await self.session.flush()
        except BaseException:
            if not had_one:  # else the record still points at the key (now with the new bytes)
                await self._discard(principal.tenant_id, key)
            raise
        return BaseDocxResult(len(clean.data), digest, clean.stripped)

    async def delete_base_docx(self, principal: Principal, style_id: uuid.UUID) -> None:
        style = await self.writable(style_id)
        if not style.base_docx_key:
            raise errors.NotFound("style.base_docx_not_found", "Die Formatvorlage hat kein Basisdokument.")
        key = style.base_docx_key
        style.base_docx_key = None
        style.updated_at = datetime.now(UTC)
        await audit.record(
            self.session,
            principal,
            "style_template.update",
            "style_template",
            style.id,
            {"changed": ["baseDocx"], "removed": True},
        )
        await self.session.flush()
        self._discard_after_commit(principal.tenant_id, key)

    async def upload_logo(self, principal: Principal, style_id: uuid.UUID, data: bytes) -> dict[str, Any]:
        style = await self.writable(style_id)
        logo = images.validate_image(data, LOGO_POLICY)
        key = logo_key(principal.tenant_id, style.id, logo.extension)
        record = {
            "key": key,
            "contentType": logo.content_type,
            "size": len(logo.data),
            "sha256": hashlib.sha256(logo.data).hexdigest(),
            "uploadedAt": datetime.now(UTC).isoformat(),
        }
        previous = logo_record(style)
        await self.storage.put(principal.tenant_id, key, logo.data, logo.content_type)
        try:
            style.header = {**(style.header or {}), LOGO_RECORD: record}
            style.updated_at = datetime.now(UTC)
            await audit.record(
                self.session,
                principal,
                "style_template.update",
                "style_template",
                style.id,
                {"changed": ["logo"], "contentType": logo.content_type, "sha256": record["sha256"]},
            )
            await self.session.flush()
        except BaseException:
            if previous is None or previous["key"] != key:
                await self._discard(principal.tenant_id, key)
            raise
        if previous is not None and previous["key"] != key:
            self._discard_after_commit(principal.tenant_id, str(previous["key"]))
        return record

    async def delete_logo(self, principal: Principal, style_id: uuid.UUID) -> None:
        style = await self.writable(style_id)
        record = logo_record(style)
        if record is None:
            raise errors.NotFound("style.logo_not_found", "Die Formatvorlage hat kein eigenes Logo.")
        style.header = {k: v for k, v in (style.header or {}).items() if k != LOGO_RECORD}
        style.updated_at = datetime.now(UTC)
        await audit.record(
            self.session,
            principal,
            "style_template.update",
            "style_template",
            style.id,
            {"changed": ["logo"], "removed": True},
        )
        await self.session.flush()
        self._discard_after_commit(principal.tenant_id, str(record["key"]))

    # -- storage housekeeping ------------------------------------------------------------------

    def _discard_after_commit(self, tenant_id: uuid.UUID, key: str) -> None:
        after_commit(self.session, lambda: self._discard(tenant_id, key))

    async def _discard(self, tenant_id: uuid.UUID, key: str) -> None:
        """Best-effort removal of an object no record points to any more."""
        try:
            await self.storage.delete(tenant_id, key)
        except Exception as error:  # file system or S3 client errors: the record is what counts
            log.warning(
                "could not remove style object",
                action="export.style_cleanup_failed",
                key=key,
                error=type(error).__name__,
            )

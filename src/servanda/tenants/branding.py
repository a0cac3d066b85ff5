"""The tenant's logo in storage and in the settings record; the bytes are checked by ``tenants.logo``.

The file is stored under ``{tenant}/branding/logo.png|svg`` and recorded in
``tenants.settings.branding.logo``; the change is audited in the same
transaction.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from servanda.audit import repository as audit
from servanda.identity.principal import Principal
from servanda.platform import errors
from servanda.platform.db import after_commit
from servanda.platform.logs import get_logger
from servanda.platform.storage import ObjectNotFound, Storage, tenant_key
from servanda.tenants.logo import CONTENT_TYPES, validate_logo
from servanda.tenants.models import Tenant

log = get_logger("servanda.branding")


@dataclass(frozen=True)
class StoredLogo:
    data: bytes
    content_type: str
    sha256: str
    uploaded_at: str


def logo_not_found() -> errors.NotFound:
    return errors.NotFound("branding.logo_not_found", "Es ist kein Logo hinterlegt.")


def _logo_record(tenant: Tenant) -> dict[str, Any] | None:
    branding = (tenant.settings or {}).get("branding") or {}
    record = branding.get("logo")
    return record if isinstance(record, dict) and record.get("key") else None


def _without_logo(settings: dict[str, Any]) -> dict[str, Any]:
    branding = {k: v for k, v in (settings.get("branding") or {}).items() if k != "logo"}
    return {**settings, "branding": branding}


class BrandingService:
    """Works in the caller's transaction (the request's unit of work); the object in storage
    follows the record: a replaced or removed object is deleted after the commit."""

    def __init__(self, session: AsyncSession, storage: Storage) -> None:
        self.session = session
        self.storage = storage

    async def upload_logo(self, principal: Principal, data: bytes) -> dict[str, Any]:
        """Validate, store and record the logo; returns the settings record."""
        logo = validate_logo(data)
        tenant_id = principal.tenant_id
        key = tenant_key(tenant_id, "branding", f"logo.{logo.extension}")
        record = {
            "key": key,
            "contentType": logo.content_type,
            "size": len(logo.data),
            "sha256": hashlib.sha256(logo.data).hexdigest(),
            "uploadedAt": datetime.now(UTC).isoformat(),
        }
        session = self.session
        # The row lock serialises uploads of one tenant: object and record stay in step.
        tenant = await session.get(Tenant, tenant_id, with_for_update=True)
        assert tenant is not None
        previous = _logo_record(tenant)
        await self.storage.put(tenant_id, key, logo.data, logo.content_type)
        try:
            settings = dict(tenant.settings or {})
            settings["branding"] = {**(settings.get("branding") or {}), "logo": record}
            tenant.settings = settings
            await audit.record(
                session,
                principal,
                "tenant.settings_change",
                "tenant",
                tenant_id,
                {"changed": ["branding.logo"]},
            )
            await session.flush()
        except BaseException:
            if previous is None or previous["key"] != key:
                await self._discard(tenant_id, key)
            raise
        if previous is not None and previous["key"] != key:
            old_key = str(previous["key"])
            after_commit(session, lambda: self._discard(tenant_id, old_key))
        return record

    async def logo(self, tenant_id: uuid.UUID) -> StoredLogo:
        tenant = await self.session.get(Tenant, tenant_id)
        record = _logo_record(tenant) if tenant is not None else None
        if record is None or record.get("contentType") not in CONTENT_TYPES:
            raise logo_not_found()
        try:
            data = await self.storage.get(tenant_id, str(record["key"]))
        except ObjectNotFound:
            log.warning("logo object missing", action="branding.logo_missing", key=record["key"])
            raise logo_not_found() from None
        return StoredLogo(
            data,
            str(record["contentType"]),
            str(record.get("sha256") or ""),
            str(record.get("uploadedAt") or ""),
        )

    async def delete_logo(self, principal: Principal) -> None:
        tenant_id = principal.tenant_id
        session = self.session
        tenant = await session.get(Tenant, tenant_id, with_for_update=True)
        assert tenant is not None
        record = _logo_record(tenant)
        if record is None:
            raise logo_not_found()
        tenant.settings = _without_logo(dict(tenant.settings or {}))
        await audit.record(
            session,
            principal,
            "tenant.settings_change",
            "tenant",
            tenant_id,
            {"changed": ["branding.logo"]},
        )
        key = str(record["key"])
        after_commit(session, lambda: self._discard(tenant_id, key))

    async def _discard(self, tenant_id: uuid.UUID, key: str) -> None:
        """Best-effort removal of an object no record points to any more."""
        try:
            await self.storage.delete(tenant_id, key)
        except Exception as error:  # file system or S3 client errors: the record is what counts
            log.warning(
                "could not remove logo object",
                action="branding.cleanup_failed",
                key=key,
                error=type(error).__name__,
            )

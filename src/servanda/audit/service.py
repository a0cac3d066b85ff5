"""The audit trail service: list and export a tenant's events, verify the chains, apply retention.

Reading (list, export) runs on the application role inside the caller's
tenant, so row-level security keeps every other tenant's events out. The
list reads in the request's unit of work; the export streams after the
response has started (and the request's transaction has committed), so it
reads in its own transaction.
Verification runs on the owner role: it sees every tenant (the platform
policy on ``tenants``) but still obeys RLS on ``audit_events``, so each chain
is read inside its own tenant's transaction. Retention runs on the
maintenance role, which may execute ``servanda_audit_purge_expired`` and
nothing else.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from servanda.audit import chain
from servanda.audit.models import AuditEvent, AuditPurge
from servanda.identity.principal import Principal
from servanda.identity.repository import UserRepository
from servanda.platform import errors
from servanda.platform.api_models import ApiModel, Page
from servanda.platform.db import Database
from servanda.platform.paging import paginate
from servanda.tenants.repository import TenantRepository

MAX_PAGE_SIZE = 100
EXPORT_BATCH = 1000
VERIFY_BATCH = 1000
ExportFormat = Literal["csv", "jsonl"]

# Cells an office suite would read as a formula (OWASP "CSV injection").
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = (
    "id",
    "seq",
    "createdAt",
    "actorId",
    "actorName",
    "actorEmail",
    "action",
    "objectType",
    "objectId",
    "details",
    "ipAddress",
    "requestId",
    "prevHash",
    "hash",
)


class AuditEventOut(ApiModel):
    id: uuid.UUID
    seq: int
    actor_id: uuid.UUID | None
    # who the actor is now (display name, e-mail; read when the log is read, not stored in the
    # chained event): null for system events and for users deleted since
    actor_name: str | None = None
    actor_email: str | None = None
    action: str
    object_type: str | None
    object_id: str | None
    details: dict[str, Any]
    ip_address: str | None
    request_id: str | None
    created_at: datetime
    hash: str
    prev_hash: str

    @classmethod
    def of(cls, event: AuditEvent, contact: tuple[str, str] | None = None) -> AuditEventOut:
        return cls(
            id=event.id,
            seq=event.seq,
            actor_id=event.actor_id,
            actor_name=contact[0] if contact else None,
            actor_email=contact[1] if contact else None,
            action=event.action,
            object_type=event.object_type,
            object_id=event.object_id,
            details=event.details,
            ip_address=_ip(event.ip_address),
            request_id=event.request_id,
            created_at=event.created_at,
            hash=event.hash,
            prev_hash=event.prev_hash,
        )


@dataclass(frozen=True)
class AuditFilters:
    """Conditions of a list or export; ``created_from`` and ``created_until`` are inclusive."""

    action: str | None = None
    actor_id: uuid.UUID | None = None
    object_type: str | None = None
    object_id: str | None = None
    created_from: datetime | None = None
    created_until: datetime | None = None


def _invalid(field: str, message: str) -> errors.Invalid:
    return errors.Invalid("request.validation_failed", message, errors=[{"field": field, "message": message}])


def parse_time_bound(value: str | None, field: str, *, end: bool = False) -> datetime | None:
    """An ISO 8601 date or date-time (UTC when no offset is given).

    A bare date as the upper bound (``end``) includes that whole day.
    """
    if value is None or not value.strip():
        return None
    raw = value.strip()
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            start = datetime.combine(day, time.min, tzinfo=UTC)
            return start + timedelta(days=1, microseconds=-1) if end else start
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise _invalid(
            field,
            "Erwartet wird ein Datum oder Zeitpunkt nach ISO 8601, z. B. 2026-03-01 oder 2026-03-01T08:00:00Z.",
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def make_filters(
    *,
    action: str | None = None,
    actor_id: uuid.UUID | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    created_from: str | None = None,
    created_to: str | None = None,
) -> AuditFilters:
    """Filters from query values; raises ``errors.Invalid`` for unusable ones."""
    start = parse_time_bound(created_from, "from")
    until = parse_time_bound(created_to, "to", end=True)
    if start is not None and until is not None and start > until:
        raise _invalid("to", "Das Ende des Zeitraums liegt vor seinem Anfang.")
    return AuditFilters(
        action=action or None,
        actor_id=actor_id,
        object_type=object_type or None,
        object_id=object_id or None,
        created_from=start,
        created_until=until,
    )


def _ip(value: object) -> str | None:
    return None if value is None else str(value)


def _conditions(tenant_id: uuid.UUID, filters: AuditFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [AuditEvent.tenant_id == tenant_id]
    if filters.action is not None:
        conditions.append(AuditEvent.action == filters.action)
    if filters.actor_id is not None:
        conditions.append(AuditEvent.actor_id == filters.actor_id)
    if filters.object_type is not None:
        conditions.append(AuditEvent.object_type == filters.object_type)
    if filters.object_id is not None:
        conditions.append(AuditEvent.object_id == filters.object_id)
    if filters.created_from is not None:
        conditions.append(AuditEvent.created_at >= filters.created_from)
    if filters.created_until is not None:
        conditions.append(AuditEvent.created_at <= filters.created_until)
    return conditions


async def list_events(
    session: AsyncSession, principal: Principal, filters: AuditFilters, page: int = 1, page_size: int = 25
) -> Page[AuditEventOut]:
    """One page of the caller's tenant's events, newest first (by ``seq``), with the total count."""
    if page < 1:
        raise _invalid("page", "Die Seite beginnt bei 1.")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise _invalid("pageSize", f"Die Seitengröße liegt zwischen 1 und {MAX_PAGE_SIZE}.")
    conditions = _conditions(principal.tenant_id, filters)
    query = select(AuditEvent).where(*conditions).order_by(AuditEvent.seq.desc())
    whole_trail = await _trail_page(session, query, page, page_size) if filters == AuditFilters() else None
    events, total = whole_trail or await paginate(session, query, page, page_size)
    items = await _with_actors(session, events)
    return Page[AuditEventOut](items=items, total=total, page=page, page_size=page_size)


async def _trail_page(
    session: AsyncSession, query: Select[AuditEvent], page: int, page_size: int
) -> tuple[list[AuditEvent], int] | None:
    """A page of the unfiltered trail as a keyset range on the unique ``(tenant_id, seq)`` index.

    A tenant's ``seq`` is dense from its oldest kept event to its newest: appends are serialised
    per tenant, the application role cannot delete, retention removes an oldest prefix. So the
    total is ``newest - oldest + 1`` (two index probes, where count(*) reads every event) and
    page ``p`` is ``seq <= newest - (p - 1) * page_size`` (about ``page_size`` index entries,
    however deep the page, where an OFFSET walks every skipped event: 22 ms for the last page of
    10 000 events). None when the page finds a gap (a broken chain, which `audit verify`
    reports): the caller then counts and pages by OFFSET.
    """
    bounds = query.order_by(None).with_only_columns(func.max(AuditEvent.seq), func.min(AuditEvent.seq))
    newest, oldest = (await session.execute(bounds)).one()
    if newest is None:
        return [], 0
    top = newest - (page - 1) * page_size
    rows = list((await session.scalars(query.where(AuditEvent.seq <= top).limit(page_size))).all())
    expected = max(0, min(page_size, top - oldest + 1))
    if len(rows) != expected or (rows and rows[-1].seq != top - expected + 1):  # seq is unique: a run
        return None
    return rows, newest - oldest + 1


async def _with_actors(session: AsyncSession, events: Sequence[AuditEvent]) -> list[AuditEventOut]:
    """The events with their actors' display names and e-mails (one query for all of them)."""
    contacts = await UserRepository(session).contacts({e.actor_id for e in events if e.actor_id})
    return [AuditEventOut.of(e, contacts.get(e.actor_id) if e.actor_id else None) for e in events]


async def _batches(
    session: AsyncSession, query: Select[AuditEvent], batch: int
) -> AsyncIterator[Sequence[AuditEvent]]:
    """Keyset pagination by ascending ``seq`` (an index range scan, however long the chain)."""
    after: int | None = None
    while True:
        page_query = query if after is None else query.where(AuditEvent.seq > after)
        rows = (await session.scalars(page_query.order_by(AuditEvent.seq).limit(batch))).all()
        if not rows:
            return
        yield rows
        if len(rows) < batch:
            return
        after = rows[-1].seq


def csv_safe(value: str) -> str:
    """Neutralise a cell an office suite would evaluate as a formula."""
    return "'" + value if value.startswith(_FORMULA_PREFIXES) else value


def _csv_row(event: AuditEventOut) -> list[str]:
    data = event.model_dump(mode="json", by_alias=True)
    data["details"] = json.dumps(event.details, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return [csv_safe("" if data[c] is None else str(data[c])) for c in CSV_COLUMNS]


def _csv_chunk(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


async def export_events(
    db: Database, principal: Principal, filters: AuditFilters, fmt: ExportFormat = "csv"
) -> AsyncIterator[str]:
    """The caller's tenant's matching events in chronological order, as CSV or JSON Lines chunks.

    Its own transaction for the whole stream, not the request's unit of work: the
    stream is read after the response has started, when that one has committed.
    Events appended meanwhile may appear at the end.
    """
    if fmt == "csv":
        yield _csv_chunk([list(CSV_COLUMNS)])
    query = select(AuditEvent).where(*_conditions(principal.tenant_id, filters))
    async with db.session(principal.tenant_id) as session:
        async for rows in _batches(session, query, EXPORT_BATCH):
            events = await _with_actors(session, rows)
            if fmt == "csv":
                yield _csv_chunk([_csv_row(e) for e in events])
            else:
                yield "".join(e.model_dump_json(by_alias=True) + "\n" for e in events)


@dataclass(frozen=True)
class ChainReport:
    tenant_id: uuid.UUID
    tenant_slug: str
    events_checked: int
    anchor_seq: int
    broken: chain.BrokenLink | None

    @property
    def intact(self) -> bool:
        return self.broken is None


async def _verify_tenant(owner_db: Database, tenant_id: uuid.UUID, slug: str) -> ChainReport:
    async with owner_db.session(tenant_id) as session:
        anchor = (
            await session.execute(
                select(AuditPurge.last_seq, AuditPurge.last_hash)
                .where(AuditPurge.tenant_id == tenant_id)
                .order_by(AuditPurge.last_seq.desc())
                .limit(1)
            )
        ).one_or_none()
        anchor_seq, anchor_hash = (anchor.last_seq, anchor.last_hash) if anchor else (0, chain.GENESIS)
        prev_seq, prev_hash, checked = anchor_seq, anchor_hash, 0
        query = select(AuditEvent).where(AuditEvent.tenant_id == tenant_id)
        async for rows in _batches(session, query, VERIFY_BATCH):
            chained = list(rows)
            broken = chain.first_broken_link(chained, prev_seq, prev_hash)
            if broken is not None:
                checked += sum(1 for e in chained if e.seq <= broken.seq)
                return ChainReport(tenant_id, slug, checked, anchor_seq, broken)
            checked += len(chained)
            prev_seq, prev_hash = chained[-1].seq, chained[-1].hash
    return ChainReport(tenant_id, slug, checked, anchor_seq, None)


async def verify_chains(owner_db: Database, tenant_slug: str | None = None) -> list[ChainReport]:
    """Walk every tenant's chain (or one tenant's) from its latest retention anchor.

    ``owner_db`` must connect as the schema owner: the platform path onto ``tenants``.
    """
    async with owner_db.session(None) as session:
        repository = TenantRepository(session)
        if tenant_slug is None:
            tenants = [(t.id, t.slug) for t in await repository.platform_all()]
        else:
            tenant = await repository.platform_by_slug(tenant_slug)
            if tenant is None:
                raise errors.NotFound("tenant.not_found", f"Den Mandanten '{tenant_slug}' gibt es nicht.")
            tenants = [(tenant.id, tenant.slug)]
    return [await _verify_tenant(owner_db, tenant_id, slug) for tenant_id, slug in tenants]


@dataclass(frozen=True)
class PurgeResult:
    tenant_id: uuid.UUID
    tenant_slug: str
    retention_days: int
    cutoff: datetime
    purged: int


async def purge_expired(maintenance_db: Database, now: datetime | None = None) -> list[PurgeResult]:
    """Delete every tenant's events older than its retention (one row per tenant that lost events).

    ``maintenance_db`` connects as the maintenance role; ``now`` defaults to the database clock.
    """
    async with maintenance_db.session(None) as session:
        if now is None:
            result = await session.execute(text("SELECT * FROM servanda_audit_purge_expired()"))
        else:
            result = await session.execute(
                text("SELECT * FROM servanda_audit_purge_expired(:now)"), {"now": now}
            )
        return [PurgeResult(r.tenant_id, r.slug, r.retention_days, r.cutoff, r.purged) for r in result.all()]

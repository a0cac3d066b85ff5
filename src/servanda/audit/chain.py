"""The tamper-evident form of audit events: canonical serialisation, hashing, verification.

Pure functions, no I/O: the repository appends with them, ``servanda audit
verify`` checks with them. Each tenant's events form a chain by ``seq``:
``hash = sha256(prev_hash + "\\n" + canonical(event))`` and each ``prev_hash`` is
the previous event's ``hash`` (``GENESIS`` for the first, or the anchor left
by a retention purge).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

GENESIS = "0" * 64


class ChainedEvent(Protocol):
    """What the chain covers; the stored ``AuditEvent`` row is one (ip_address may be an address object)."""

    tenant_id: uuid.UUID
    seq: int
    actor_id: uuid.UUID | None
    action: str
    object_type: str | None
    object_id: str | None
    details: dict[str, Any]
    ip_address: Any
    request_id: str | None
    created_at: datetime
    prev_hash: str
    hash: str


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(
    *,
    tenant_id: uuid.UUID,
    seq: int,
    actor_id: uuid.UUID | None,
    action: str,
    object_type: str | None,
    object_id: str | None,
    details: dict[str, Any],
    ip_address: str | None,
    request_id: str | None,
    created_at: datetime,
) -> str:
    """Sorted-key compact JSON of every stored field except the hashes."""
    return json.dumps(
        {
            "tenant_id": str(tenant_id),
            "seq": seq,
            "actor_id": str(actor_id) if actor_id else None,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "details": details,
            "ip_address": ip_address,
            "request_id": request_id,
            "created_at": _timestamp(created_at),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )


def link_hash(prev_hash: str, canonical_form: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{canonical_form}".encode()).hexdigest()


def event_hash(event: ChainedEvent) -> str:
    """The hash ``event`` must carry, given its ``prev_hash`` and content."""
    return link_hash(
        event.prev_hash,
        canonical(
            tenant_id=event.tenant_id,
            seq=event.seq,
            actor_id=event.actor_id,
            action=event.action,
            object_type=event.object_type,
            object_id=event.object_id,
            details=event.details,
            ip_address=None if event.ip_address is None else str(event.ip_address),
            request_id=event.request_id,
            created_at=event.created_at,
        ),
    )


@dataclass(frozen=True)
class BrokenLink:
    seq: int
    reason: str


def first_broken_link(
    events: Iterable[ChainedEvent], anchor_seq: int = 0, anchor_hash: str = GENESIS
) -> BrokenLink | None:
    """Walk one tenant's events in ``seq`` order; return the first link that does not hold."""
    expected_seq, expected_prev = anchor_seq + 1, anchor_hash
    for event in events:
        if event.seq != expected_seq:
            return BrokenLink(expected_seq, f"event {expected_seq} is missing (next found: {event.seq})")
        if event.prev_hash != expected_prev:
            return BrokenLink(event.seq, "prev_hash does not match the previous event's hash")
        if event_hash(event) != event.hash:
            return BrokenLink(event.seq, "content does not match its hash (event was altered)")
        expected_seq, expected_prev = event.seq + 1, event.hash
    return None

"""Writing the audit trail: every module records its state changes here, in their own transaction.

``record`` is the one call for an action of a signed-in principal; tenant,
actor, request id and source address come from the principal.
``record_system`` is its variant for actions without a principal of the
tenant: login steps before a principal exists, identity-provider sync,
operator and platform-admin actions.
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from servanda.audit import chain
from servanda.audit.models import AuditEvent
from servanda.platform import metrics
from servanda.platform.db import before_commit


class Origin(Protocol):
    """Where a request came from (``identity.principal.RequestMeta`` and ``Principal`` are ones)."""

    @property
    def request_id(self) -> str | None: ...
    @property
    def ip_address(self) -> str | None: ...


class Actor(Origin, Protocol):
    """Who acts: ``identity.principal.Principal`` is one (audit does not depend on identity)."""

    @property
    def tenant_id(self) -> uuid.UUID: ...
    @property
    def user_id(self) -> uuid.UUID: ...


async def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    object_type: str | None,
    object_id: object,
    details: dict[str, Any] | None = None,
) -> None:
    """Append ``action`` of the signed-in ``actor`` to its tenant's trail."""
    await AuditRepository(session).append(
        tenant_id=actor.tenant_id,
        action=action,
        actor_id=actor.user_id,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        details=details,
        request_id=actor.request_id,
        ip_address=actor.ip_address,
    )


async def record_system(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    action: str,
    object_type: str | None,
    object_id: object,
    details: dict[str, Any] | None = None,
    *,
    actor_id: uuid.UUID | None = None,
    origin: Origin | None = None,
) -> None:
    """Append ``action`` to ``tenant_id``'s trail when no principal of that tenant acts.

    ``actor_id`` names the user when there is one (e.g. the one logging in);
    ``origin`` gives the request id and source address of an HTTP request.
    """
    await AuditRepository(session).append(
        tenant_id=tenant_id,
        action=action,
        actor_id=actor_id,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        details=details,
        request_id=origin.request_id if origin else None,
        ip_address=origin.ip_address if origin else None,
    )


_PENDING = "servanda.audit.pending"
_CHAIN_HEAD = text(
    "SELECT clock_timestamp() AS now, "
    "(SELECT seq FROM audit_events WHERE tenant_id = :t ORDER BY seq DESC LIMIT 1) AS seq, "
    "(SELECT hash FROM audit_events WHERE tenant_id = :t ORDER BY seq DESC LIMIT 1) AS hash, "
    "(SELECT last_seq FROM audit_purges WHERE tenant_id = :t ORDER BY last_seq DESC LIMIT 1) AS a_seq, "
    "(SELECT last_hash FROM audit_purges WHERE tenant_id = :t ORDER BY last_seq DESC LIMIT 1) AS a_hash"
)
_TENANT_AND_CHAIN_LOCK = text(
    "SELECT set_config('app.current_tenant_id', :tenant, true), "
    "pg_advisory_xact_lock(hashtextextended('servanda.audit:' || :tenant, 0))"
)


class AuditRepository:
    """Appends hash-chained events; call inside the transaction of the change they describe.

    An event is chained when its transaction is about to commit (``platform.db.before_commit``):
    the per-tenant chain lock that keeps the chain linear across API processes is then held only
    from the append to COMMIT, not through the rest of the request. Before, every autosave held
    its firm's lock while the contract view was built, so one firm's writes ran one at a time.
    Events of a transaction that rolls back are never written, as before.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def append(
        self,
        *,
        tenant_id: uuid.UUID,
        action: str,
        actor_id: uuid.UUID | None = None,
        object_type: str | None = None,
        object_id: str | None = None,
        details: dict[str, Any] | None = None,
        request_id: str | None = None,
        ip_address: str | None = None,
    ) -> None:
        if action in metrics.SECURITY_ACTIONS:
            metrics.SECURITY_EVENTS.labels(action, str(tenant_id)).inc()
        if ip_address is not None:  # hash the form PostgreSQL will store (INET normalises)
            ip_address = str(ipaddress.ip_address(ip_address))
        event = AuditEvent(
            tenant_id=tenant_id,
            actor_id=actor_id,
            action=action,
            object_type=object_type,
            object_id=object_id,
            details=details or {},
            request_id=request_id,
            ip_address=ip_address,
        )
        self.session.info.setdefault(_PENDING, []).append(event)
        before_commit(self.session, _PENDING, self._chain_pending)

    async def _chain_pending(self) -> None:
        """Lock each tenant's chain, link this transaction's events to its head, insert them."""
        events: list[AuditEvent] = self.session.info.pop(_PENDING, [])
        for tenant_id in dict.fromkeys(event.tenant_id for event in events):
            # The events are the tenant's rows: the insert runs under that tenant (a transaction
            # may record for several, e.g. a platform admin creating a tenant).
            # Tenant and chain lock in one round trip; the head is read by the next statement, whose
            # snapshot is taken after the lock was granted (it sees the previous holder's commit).
            await self.session.execute(_TENANT_AND_CHAIN_LOCK, {"tenant": str(tenant_id)})
            row = (await self.session.execute(_CHAIN_HEAD, {"t": tenant_id})).one()
            if row.seq is not None:
                seq, prev_hash = row.seq + 1, row.hash
            elif row.a_seq is not None:  # everything before was purged by retention
                seq, prev_hash = row.a_seq + 1, row.a_hash
            else:
                seq, prev_hash = 1, chain.GENESIS
            for event in (e for e in events if e.tenant_id == tenant_id):
                event.created_at, event.seq, event.prev_hash = row.now, seq, prev_hash
                event.hash = chain.event_hash(event)
                self.session.add(event)
                seq, prev_hash = seq + 1, event.hash
        await self.session.flush()

"""Rate limits shared by every API process: token buckets in PostgreSQL (migration 0013).

Each key may spend ``burst`` requests at once and regains ``rate`` requests per
second. The buckets live in the UNLOGGED table ``rate_buckets``, reached only
through ``servanda_rate_take``: one statement per request refills and takes the
tokens of all its keys atomically, so N API workers or replicas together allow
exactly the configured rate. It runs in autocommit mode on the request's connection
before the request's transaction begins (``take_before_transaction``), not inside
it: a bucket row stays locked only for the statement, never for a whole request
(the tenant's bucket is shared by all of its users' requests).

Keys are SHA-256 digests of ``user:<tenant>:<subject>``, ``tenant:<id>``,
``login:<address>``, ``reset:<address>``: no address or account is stored in clear.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import namedtuple_row
from sqlalchemy import Double, Text, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from servanda.platform import errors
from servanda.platform.db import Database
from servanda.platform.memo import Memo
from servanda.platform.orm import Base

IDLE = TransactionStatus.IDLE

_TAKE = text('SELECT allowed, "limit", remaining, reset_s, retry_s FROM servanda_rate_take(:k, :r, :b, :c)')


@functools.lru_cache(maxsize=4096)  # two digests per request, of a few active users and tenants
def bucket_key(kind: str, *parts: object) -> str:
    """The stored key: a digest, so the table holds no address, e-mail or id in clear."""
    material = ":".join([kind, *map(str, parts)])
    return hashlib.sha256(material.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Quota:
    """The binding bucket after a take: what the RateLimit-* headers say."""

    allowed: bool
    limit: int
    remaining: int
    reset_s: int
    retry_s: int

    def headers(self) -> dict[str, str]:
        """RateLimit-Limit / -Remaining / -Reset (draft-ietf-httpapi-ratelimit-headers, the
        separate-fields form of drafts 03-06): the burst, the whole requests left now, and the
        seconds until the bucket is full again; a refusal adds Retry-After."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_s),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_s)
        return headers


async def take(
    db: Database | AsyncSession,
    keys: Sequence[str],
    rates: Sequence[float],
    bursts: Sequence[int],
    cost: int = 1,
) -> Quota:
    """Take ``cost`` tokens from every bucket, or from none (``cost`` 0: only look).

    With a ``Database``: on its own autocommit connection (the row locks end with the
    statement). With a session: inside its transaction (a take then holds the rows'
    locks until that transaction ends; only for short transactions).
    """
    params = {"k": list(keys), "r": [float(r) for r in rates], "b": list(bursts), "c": cost}
    if isinstance(db, AsyncSession):
        row = (await db.execute(_TAKE, params)).one()
    else:
        async with db.autocommit_engine.connect() as conn:
            row = (await conn.execute(_TAKE, params)).one()
    return Quota(bool(row[0]), int(row[1]), int(row[2]), int(row[3]), int(row[4]))


_TAKE_RAW = 'SELECT allowed, "limit", remaining, reset_s, retry_s FROM servanda_rate_take(%s, %s, %s, %s)'
_TAKE_THEN = (
    'SELECT allowed, "limit", remaining, reset_s, retry_s FROM servanda_rate_take(%(k)s, %(r)s, %(b)s, 1); '
    "COMMIT; BEGIN; "
)


@dataclass(frozen=True)
class FirstStatement:
    """The statement a transaction begins with (psycopg ``%(name)s`` parameters), sent in the take's
    round trip."""

    sql: str
    params: dict[str, object]


@dataclass(frozen=True)
class FirstRow:
    row: Any  # the first row of a FirstStatement (attribute access by column name), or None


# The take-then-first query as sent, per user, tenant and session: its literals are the same on
# every request of one session, and binding them (lists of digests, rates and bursts) costs more
# CPU than the rest of the take.
_RENDERED: Memo[tuple[object, ...], bytes] = Memo(4096)


def _take_then_query(
    cursor: psycopg.AsyncClientCursor[Any],
    keys: Sequence[str],
    rates: Sequence[float],
    bursts: Sequence[int],
    first: FirstStatement,
) -> bytes:
    """``_TAKE_THEN + first`` with its parameters bound as literals (psycopg's own quoting)."""
    cache_key = (tuple(keys), tuple(rates), tuple(bursts), first.sql, *first.params.items())
    query = _RENDERED.get(cache_key)
    if query is None:
        params = {"k": list(keys), "r": [float(r) for r in rates], "b": list(bursts), **first.params}
        query = cursor.mogrify(_TAKE_THEN + first.sql, params).encode(cursor.connection.info.encoding)
        _RENDERED.put(cache_key, query)
    return query


async def take_before_transaction(
    session: AsyncSession,
    db: Database,
    keys: Sequence[str],
    rates: Sequence[float],
    bursts: Sequence[int],
    first: FirstStatement | None = None,
) -> tuple[Quota, FirstRow | None]:
    """Take one token per key on the connection of ``session`` before its transaction begins.

    The take commits on its own, on the session's own pooled connection, so it costs no second
    connection, and its row locks end with it (a take inside the request's transaction would hold
    the tenant's bucket locked for the whole request). With ``first``, the take, its COMMIT, the
    request transaction's BEGIN and ``first`` go to the server as one query (client-side bound
    literals, so several statements in one round trip): psycopg's own BEGIN plus that query, two
    round trips instead of three (take, BEGIN, first); ``first`` then runs inside the request's
    transaction as before, and its row comes back as ``FirstRow``. Without ``first`` the take runs
    in autocommit mode (one round trip). When the session has already begun its transaction, it
    falls back to :func:`take` on ``db`` (``first`` is not run: None).
    """
    conn = await session.connection()
    raw = (await conn.get_raw_connection()).driver_connection
    if not isinstance(raw, psycopg.AsyncConnection) or raw.info.transaction_status != IDLE:
        return await take(db, keys, rates, bursts), None
    if first is not None:
        bound = psycopg.AsyncClientCursor(raw, row_factory=namedtuple_row)
        await bound.execute(_take_then_query(bound, keys, rates, bursts, first))
        taken = await bound.fetchone()
        while bound.nextset():  # COMMIT, BEGIN, then the first statement's result
            pass
        first_row = await bound.fetchone()
        assert taken is not None
        quota = Quota(bool(taken[0]), int(taken[1]), int(taken[2]), int(taken[3]), int(taken[4]))
        return quota, FirstRow(first_row)
    await raw.set_autocommit(True)
    try:
        cursor = await raw.execute(_TAKE_RAW, (list(keys), [float(r) for r in rates], list(bursts), 1))
        row = await cursor.fetchone()
    finally:
        await raw.set_autocommit(False)
    assert row is not None
    return Quota(bool(row[0]), int(row[1]), int(row[2]), int(row[3]), int(row[4])), None


class RateLimited(errors.TooManyRequests):
    """429 ``request.rate_limited`` carrying the quota for its headers."""

    def __init__(self, quota: Quota) -> None:
        retry = max(1, quota.retry_s)
        super().__init__(
            "request.rate_limited",
            f"Zu viele Anfragen. Bitte versuchen Sie es in {retry} Sekunden erneut.",
            retry_after=retry,
        )
        self.quota = quota


class RequestRateLimiter:
    """The per-user and the per-tenant limit of authenticated API requests (0 switches one off)."""

    def __init__(
        self, db: Database, user_per_s: float, user_burst: int, tenant_per_s: float, tenant_burst: int
    ) -> None:
        self.db = db
        self.user = (user_per_s, user_burst) if user_per_s > 0 else None
        self.tenant = (tenant_per_s, tenant_burst) if tenant_per_s > 0 else None

    @property
    def enabled(self) -> bool:
        return self.user is not None or self.tenant is not None

    async def check(
        self, tenant_id: uuid.UUID, subject: str, session: AsyncSession | None = None
    ) -> Quota | None:
        """Spend one request of the user and of the tenant, or raise 429 ``request.rate_limited``.

        A request the tenant's bucket refuses costs the user nothing (all or nothing).
        """
        return (await self.check_then(tenant_id, subject, session))[0]

    async def check_then(
        self,
        tenant_id: uuid.UUID,
        subject: str,
        session: AsyncSession | None = None,
        first: FirstStatement | None = None,
    ) -> tuple[Quota | None, FirstRow | None]:
        """:meth:`check`, and with a session ``first`` as its transaction's first statement in the
        same round trip (see :func:`take_before_transaction`; None when it did not run)."""
        keys: list[str] = []
        rates: list[float] = []
        bursts: list[int] = []
        # Always the user's bucket before the tenant's: parallel takes lock rows in one order.
        if self.user is not None:
            keys.append(bucket_key("user", tenant_id, subject))
            rates.append(self.user[0])
            bursts.append(self.user[1])
        if self.tenant is not None:
            keys.append(bucket_key("tenant", tenant_id))
            rates.append(self.tenant[0])
            bursts.append(self.tenant[1])
        if not keys:
            return None, None
        first_row = None
        if session is not None:
            quota, first_row = await take_before_transaction(session, self.db, keys, rates, bursts, first)
        else:
            quota = await take(self.db, keys, rates, bursts)
        if not quota.allowed:
            raise RateLimited(quota)
        return quota, first_row


class RateBucket(Base):
    """One token bucket (UNLOGGED table, migration 0013); only ``servanda_rate_take`` reads or writes it."""

    __tablename__ = "rate_buckets"
    __table_args__ = {"prefixes": ["UNLOGGED"]}

    key: Mapped[str] = mapped_column(Text, primary_key=True)  # SHA-256 digest of kind:parts
    tokens: Mapped[float] = mapped_column(Double)
    updated_at: Mapped[datetime]
    full_at: Mapped[datetime]  # surely full again from here on: the row may be deleted
    last_ok: Mapped[bool]

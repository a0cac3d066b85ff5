"""Database access for the application role, with the tenant set per transaction.

Every unit of work runs in one transaction that starts with
``set_config('app.current_tenant_id', <tenant>, true)``: the setting is local
to the transaction, so a pooled connection never carries a tenant over to the
next request. No tenant set means the RLS policies return no rows.
"""

from __future__ import annotations

import asyncio
import re
import select
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
import psycopg
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool, QueuePool

from servanda.platform import metrics
from servanda.platform.logs import get_logger

log = get_logger("servanda.db")


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


SET_TENANT = text("SELECT set_config('app.current_tenant_id', :tenant, true)")
_AFTER_COMMIT = "servanda.after_commit"
_BEFORE_COMMIT = "servanda.before_commit"


def after_commit(session: AsyncSession, action: Callable[[], Awaitable[None]]) -> None:
    """Run ``action`` once the session's transaction has committed (never if it rolls back).

    For effects outside the database that must follow the committed state, e.g.
    removing a stored object no record points to any more. Sessions from
    :meth:`Database.session` (and so the request's unit of work) run them. Best
    effort: a failing action is logged, and the request still answers what it
    committed (read-only storage must not turn a committed archive into a 503).
    """
    session.info.setdefault(_AFTER_COMMIT, []).append(action)


def before_commit(session: AsyncSession, key: str, action: Callable[[], Awaitable[None]]) -> None:
    """Run ``action`` inside the transaction as its last work, right before it commits.

    One action per ``key`` (the first registered wins), in registration order. For
    work that takes a lock which must be held as briefly as possible: the audit
    trail's per-tenant chain lock is taken here, so it is held from the chain
    append to COMMIT, not through the rest of the request. A failing action rolls
    the transaction back. Sessions of :meth:`Database.session` run them; committing
    any other way with actions pending raises (nothing registered is dropped).
    """
    session.info.setdefault(_BEFORE_COMMIT, {}).setdefault(key, action)


async def _run_before_commit(session: AsyncSession) -> None:
    while actions := session.info.pop(_BEFORE_COMMIT, None):
        for action in actions.values():
            await action()


@event.listens_for(Session, "before_commit")
def _refuse_pending_before_commit(session: Session) -> None:
    if session.info.get(_BEFORE_COMMIT):
        raise RuntimeError(f"commit with before-commit actions not run: {list(session.info[_BEFORE_COMMIT])}")


_STATEMENT_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE|JOIN)\s+\"?([a-z_][a-z0-9_]*)", re.IGNORECASE)


def _operation_and_table(statement: str) -> tuple[str, str]:
    head = statement.lstrip().split(None, 1)
    operation = head[0].lower() if head else "unknown"
    found = _STATEMENT_TABLE.search(statement)
    return operation, found.group(1).lower() if found else "none"


def _instrument(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "before_cursor_execute")
    def _start(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        conn.info.setdefault("query_start", []).append(time.perf_counter())

    @event.listens_for(sync_engine, "after_cursor_execute")
    def _stop(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        started = conn.info["query_start"].pop()
        operation, table = _operation_and_table(statement)
        metrics.DB_QUERY_DURATION.labels(operation, table).observe(time.perf_counter() - started)


def _refuse_dead(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Checkout hook: a pooled connection the server has closed is replaced, without a round trip.

    An idle connection has nothing to read (the roles LISTEN nowhere and leave no notices
    pending), so a readable socket means the server has spoken: its FATAL goodbye and EOF
    after a restart or crash, or, rarely, an asynchronous parameter report, which costs one
    reconnect. A poll() with timeout 0 costs about a microsecond; pool_pre_ping would cost a
    round trip per request. The pool opens a fresh connection instead (or fails with the
    connect error, which answers 503 while the database is away).
    """
    try:
        socket = dbapi_connection.driver_connection.pgconn.socket
    except psycopg.OperationalError as exc:  # libpq has closed it already
        raise DisconnectionError("pooled connection closed") from exc
    poller = select.poll()  # not select.select: no limit on descriptor numbers
    poller.register(socket, select.POLLIN)
    if poller.poll(0):  # readable, hung up or invalid
        raise DisconnectionError("the server closed the pooled connection")


class Database:
    """The application role's connection pool."""

    def __init__(
        self, url: str, *, pool_size: int = 10, pool_timeout: float = 5.0, application_name: str = "servanda"
    ) -> None:
        self.url = url
        self.pool_size = pool_size
        connect_args = {"connect_timeout": 5, "application_name": application_name}
        self.engine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=0,
            pool_timeout=pool_timeout,  # then 503 service.database_busy (platform/problems.py)
            # No pre-ping round trip on the hot path: _refuse_dead replaces connections the
            # server closed (a restart while the pool was idle) at checkout, for free. A
            # connection that dies mid-request fails that request with 503, and SQLAlchemy
            # then recycles the whole pool (tests/test_fault_drills.py).
            pool_pre_ping=False,
            # Statement parameters are contract answers, clause texts, e-mails: never put them
            # into exception messages (which end up in logs).
            hide_parameters=True,
            connect_args=connect_args,
            # JSONB columns (rules, structures, snapshots) are decoded on every request: use orjson.
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
        )
        self._probe_engine = create_async_engine(url, poolclass=NullPool, connect_args=connect_args)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # Same pool, no explicit transaction: for single statements that set their own tenant
        # (each runs in its own implicit transaction, so a local setting ends with it).
        self.autocommit_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        _instrument(self.engine)
        event.listen(self.engine.sync_engine, "checkout", _refuse_dead)

    @property
    def role(self) -> str:
        return str(make_url(self.url).username)

    @asynccontextmanager
    async def session(self, tenant_id: uuid.UUID | None) -> AsyncIterator[AsyncSession]:
        """One transaction scoped to ``tenant_id`` (None: no tenant, no tenant rows).

        Committed when the block ends without an exception, after the session's
        :func:`before_commit` actions; then its :func:`after_commit` actions run.
        Rolled back otherwise.
        """
        async with self.sessionmaker() as session:
            async with session.begin():
                if tenant_id is not None:
                    await session.execute(SET_TENANT, {"tenant": str(tenant_id)})
                yield session
                await _run_before_commit(session)
            for action in session.info.pop(_AFTER_COMMIT, []):
                try:
                    await action()
                except Exception as exc:  # committed already: log it, the answer stays true
                    log.warning(
                        "after-commit action failed", action="db.after_commit", error=type(exc).__name__
                    )

    def pool_in_use(self) -> int:
        pool = self.engine.pool
        return pool.checkedout() if isinstance(pool, QueuePool) else 0

    def pool_open(self) -> int:
        """Connections the pool holds open (idle or in use)."""
        pool = self.engine.pool
        return pool.checkedin() + pool.checkedout() if isinstance(pool, QueuePool) else 0

    async def fill_pool(self) -> int:
        """Open the pool to its full size now (process start-up); returns how many are open.

        Without it the pool opens connections on demand and a process holds a few at start
        and up to ``pool_size`` later: the database's connection count (and memory, a few MB
        per backend) crept up under load, and the operator's budget (docs/operations.md,
        "Connection budget") was reached at some unknown moment instead of at start-up.
        Fails soft: a database that is away now gets the connections on demand later.
        """
        results = await asyncio.gather(
            *(self.engine.connect().start() for _ in range(self.pool_size)), return_exceptions=True
        )
        failed = [r for r in results if isinstance(r, BaseException)]
        for result in results:
            if not isinstance(result, BaseException):
                await result.close()  # back into the pool, still open
        if failed:
            log.warning(
                "database pool not filled at start-up",
                action="db.pool_fill",
                error=type(failed[0]).__name__,
                opened=self.pool_open(),
                size=self.pool_size,
            )
        return self.pool_open()

    async def ping(self) -> None:
        """Whether the database answers, on a connection outside the pool (opened per probe).

        A busy pool is load, not unreadiness: a readiness probe that queued for a pooled
        connection would take every saturated pod out of the Service at once.
        """
        async with self._probe_engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
        await self._probe_engine.dispose()


async def privileged_role_reasons(db: Database) -> list[str]:
    """Why the connected role must not serve requests (empty when it is safe)."""
    async with db.engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    """
                    SELECT r.rolsuper, r.rolbypassrls,
                           EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                   WHERE n.nspname = 'public' AND c.relkind = 'r'
                                   AND pg_has_role(current_user, c.relowner, 'MEMBER')) AS owns_tables
                    FROM pg_roles r WHERE r.rolname = current_user
                    """
                )
            )
        ).one()
    reasons = []
    if row.rolsuper:
        reasons.append("is a superuser")
    if row.rolbypassrls:
        reasons.append("has BYPASSRLS")
    if row.owns_tables:
        reasons.append("owns the schema's tables")
    return reasons

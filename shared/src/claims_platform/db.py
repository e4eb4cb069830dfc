"""Database access: engine, naming convention, and the unit of work that owns commit and rollback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, MetaData, String, bindparam, event, func, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Session

from claims_contracts.envelope import EventEnvelope, EventPayload
from claims_platform.context import causation_id_var, correlation_id_var
from claims_platform.outbox import outbox, outbox_row
from claims_platform.tables import NAMING_CONVENTION
from claims_platform.tracing import current_trace_context

T = TypeVar("T")


def transaction_state(session: AsyncSession | Session, key: str, factory: Callable[[], T]) -> T:
    """State that lives as long as the session's current transaction (a savepoint counts as one of its own).

    Made by ``factory`` the first time ``key`` is asked for in a transaction, forgotten when another one
    asks: what a handler remembers (rows it locked and loaded, locks it holds, lookups) is valid for the
    transaction it was taken in, and one transaction may apply several events (a consumer's batch). Before
    the session's first statement there is no transaction yet: the state made then is not kept.
    """
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    transaction = sync.get_nested_transaction() or sync.get_transaction()
    if transaction is None:
        return factory()
    entry: tuple[object, T] | None = sync.info.get(key)
    if entry is None or entry[0] is not transaction:
        entry = (transaction, factory())
        sync.info[key] = entry
    return entry[1]


def existing_transaction_state(session: AsyncSession | Session, key: str, *, outer: bool = False) -> Any:
    """The state ``transaction_state`` made for ``key`` in the session's current transaction (a savepoint
    counting as one of its own, as there; with ``outer``, the transaction holding any savepoint), None when it
    made none there."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    transaction = sync.get_transaction() if outer else sync.get_nested_transaction() or sync.get_transaction()
    entry: tuple[object, Any] | None = sync.info.get(key)
    if transaction is None or entry is None or entry[0] is not transaction:
        return None
    return entry[1]


def any_of(column: ColumnElement[Any], name: str) -> ColumnElement[bool]:
    """``column = ANY(:name)``, the parameter ``name`` a list of strings sent as one array (PostgreSQL): one
    statement text, so one prepared statement, whatever the list's length (an IN list has one per length)."""
    return column == func.any(bindparam(name, type_=postgresql.ARRAY(String())))


def new_metadata() -> MetaData:
    """A MetaData with the project's constraint naming convention."""
    return MetaData(naming_convention=NAMING_CONVENTION)


class ServiceBase(DeclarativeBase):
    """Declarative base for a service; each service subclasses it with its own ``metadata``."""

    __abstract__ = True


def is_sqlite(url: str) -> bool:
    """Whether the URL points at SQLite (embedded mode)."""
    return url.startswith("sqlite")


def create_engine(url: str, *, pool_size: int = 10, pre_ping: bool = False) -> AsyncEngine:
    """An async engine tuned for the backend: WAL and busy timeout on SQLite, a pool on PostgreSQL.

    No ping on checkout by default: it is a round trip before every transaction. After a PostgreSQL
    restart the first statement on a dead connection fails as a disconnect, SQLAlchemy then discards
    every connection of the pool, and that one request answers 503 + Retry-After (a consumer waits the
    outage out and retries). ``pre_ping`` (``CLAIMS_DB_POOL_PRE_PING``) is for networks that drop idle
    connections silently.
    """
    if is_sqlite(url):
        engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _: Any) -> None:  # pragma: no cover - driver callback
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    # Up to twice pool_size connections, opened when needed and then kept: a connection opened past the pool
    # ("overflow") would be closed as soon as it is returned, and under load (a consumer's partitions side
    # by side, requests in flight) the next burst would open it again: a PostgreSQL backend started and a
    # SCRAM handshake each time.
    return create_async_engine(
        url, pool_size=2 * pool_size, max_overflow=0, pool_pre_ping=pre_ping, hide_parameters=True
    )


class UnitOfWork:
    """One database transaction: the state change and the events to publish, committed together."""

    def __init__(self, session: AsyncSession, producer: str) -> None:
        self.session = session
        self.producer = producer
        self.events: list[EventEnvelope] = []
        self.committed: list[Callable[[], None]] = []

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once this unit of work has committed (never if it rolls back); once per callback."""
        if callback not in self.committed:
            self.committed.append(callback)

    def publish(
        self,
        payload: EventPayload,
        *,
        claim_id: str,
        correlation_id: str | None = None,
        causation_id: str | None = None,
    ) -> EventEnvelope:
        """Record an event in the outbox; it is published only if this transaction commits.

        The current trace context (the request's or the handled event's span) goes along in the envelope,
        so the event's consumers continue the same trace.
        """
        envelope = EventEnvelope.wrap(
            payload,
            claim_id=claim_id,
            producer=self.producer,
            correlation_id=correlation_id or correlation_id_var.get(),
            causation_id=causation_id or causation_id_var.get(),
            trace_context=current_trace_context(),
        )
        self.events.append(envelope)
        return envelope

    async def flush_events(self) -> None:
        """Write recorded events to the outbox table inside the current transaction."""
        if self.events:
            await self.session.execute(outbox.insert(), [outbox_row(e) for e in self.events])


class Database:
    """Engine, sessions and units of work of one service."""

    def __init__(self, url: str, producer: str, *, pool_size: int = 10, pre_ping: bool = False) -> None:
        self.url = url
        self.producer = producer
        self.engine = create_engine(url, pool_size=pool_size, pre_ping=pre_ping)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._on_outbox: list[Callable[[], None]] = []

    @property
    def is_sqlite(self) -> bool:
        """Whether this database is SQLite."""
        return is_sqlite(self.url)

    def on_outbox_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after a commit that wrote outbox rows (the relay's wake-up)."""
        self._on_outbox.append(callback)

    @asynccontextmanager
    async def uow(self) -> AsyncIterator[UnitOfWork]:
        """A unit of work: commits on success, rolls back on any exception."""
        async with self.sessions() as session:
            work = UnitOfWork(session, self.producer)
            try:
                yield work
                await work.flush_events()
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
        for callback in work.committed:
            callback()
        if work.events:
            for callback in self._on_outbox:
                callback()

    async def ping(self) -> bool:
        """Whether the database answers."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()

"""Transactional outbox: events written with the state change, published by one relay per service."""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, text

from claims_contracts.envelope import EventEnvelope
from claims_platform.bus.base import EventBus, Message
from claims_platform.logging import get_logger
from claims_platform.tables import outbox
from claims_platform.tracing import trace_headers_of_json

if TYPE_CHECKING:
    from claims_platform.db import Database
    from claims_platform.metrics import ServiceMetrics

log = get_logger(__name__)

__all__ = ["OutboxRelay", "envelope_headers", "outbox", "outbox_row"]


def topic_for(envelope: EventEnvelope) -> str:
    """The topic an envelope is published on, from the contracts registry."""
    from claims_contracts.registry import EVENT_TYPES

    cls = EVENT_TYPES.get((envelope.event_type, envelope.event_version))
    if cls is None:
        raise ValueError(f"unknown event type {envelope.event_type} v{envelope.event_version}")
    return cls.topic


def outbox_row(envelope: EventEnvelope) -> dict[str, Any]:
    """The outbox row for an envelope."""
    return {
        "event_id": envelope.event_id,
        "topic": topic_for(envelope),
        "message_key": envelope.claim_id,
        "event_type": envelope.event_type,
        "correlation_id": envelope.correlation_id,
        # An envelope without a trace context leaves the field out: the wire stays as it was before it existed.
        "message": envelope.model_dump_json(exclude={"trace_context"} if envelope.trace_context is None else None),
        "created_at": datetime.now(UTC),
    }


def envelope_headers(event_type: str, correlation_id: str, event_id: str) -> tuple[tuple[str, bytes], ...]:
    """Kafka headers of an event: its type and the correlation id, for routing and tracing."""
    return (
        ("event_type", event_type.encode()),
        ("correlation_id", correlation_id.encode()),
        ("event_id", event_id.encode()),
    )


_COLUMNS = (
    outbox.c.id,
    outbox.c.topic,
    outbox.c.message_key,
    outbox.c.event_type,
    outbox.c.correlation_id,
    outbox.c.event_id,
    outbox.c.message,
)

# The oldest rows, only if this relay holds the service's relay lock (an InitPlan: evaluated once, first); and
# then the transaction commits without waiting for its WAL to reach the disk (``synchronous_commit`` off for it
# alone, also an InitPlan): should the server crash just after, the rows come back and are published again,
# which the consumers' inboxes make harmless, as after a relay crash between publish and delete.
_TAKE_BATCH = text(
    "DELETE FROM outbox WHERE id IN ("
    " SELECT id FROM outbox"
    " WHERE (SELECT pg_try_advisory_xact_lock(:k))"
    " AND (SELECT set_config('synchronous_commit', 'off', true)) = 'off'"
    " ORDER BY id LIMIT :n"
    ") RETURNING id, topic, message_key, event_type, correlation_id, event_id, message"
)


class OutboxRelay:
    """Publishes committed outbox rows in insertion order, then deletes them.

    Only one relay of a service publishes at a time: each batch runs in a transaction holding a
    PostgreSQL transaction-scoped advisory lock, so a second replica skips the round instead of
    overtaking the first, and order per claim is kept. A crash between publish and delete republishes
    the batch in the same order; consumers' inboxes make that harmless.
    """

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        *,
        batch_size: int = 500,
        poll_seconds: float = 0.5,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self.db = db
        self.bus = bus
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.metrics = metrics
        self._wake = asyncio.Event()
        self._stopping = False
        self._lock_key = zlib.crc32(f"outbox-relay:{db.producer}".encode()) & 0x7FFFFFFF

    def wake(self) -> None:
        """Ask the relay to look at the outbox now."""
        self._wake.set()

    async def publish_batch(self) -> int:
        """Publish one batch; returns how many rows it published.

        On PostgreSQL one statement takes the relay lock and removes the batch (``DELETE … RETURNING``);
        the transaction commits only once Kafka has acknowledged every message, so a failed publish
        puts the rows back by rolling back. It commits asynchronously (``_TAKE_BATCH``).
        """
        async with self.db.engine.begin() as conn:
            if self.db.is_sqlite:
                rows = list((await conn.execute(select(*_COLUMNS).order_by(outbox.c.id).limit(self.batch_size))).all())
                if rows:
                    await conn.execute(delete(outbox).where(outbox.c.id.in_([r.id for r in rows])))
            else:
                rows = sorted(
                    (await conn.execute(_TAKE_BATCH, {"k": self._lock_key, "n": self.batch_size})).all(),
                    key=lambda r: r.id,
                )
            if not rows:
                return 0
            messages = [
                Message(
                    topic=r.topic,
                    key=r.message_key.encode(),
                    value=r.message.encode(),
                    headers=envelope_headers(r.event_type, r.correlation_id, str(r.event_id))
                    + trace_headers_of_json(r.message),
                )
                for r in rows
            ]
            await self.bus.publish(messages)
        if self.metrics:
            self.metrics.events_published.inc(len(rows))
        return len(rows)

    async def backlog(self) -> int:
        """How many events wait in the outbox (the ``outbox_backlog`` gauge, counted on every scrape)."""
        async with self.db.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(outbox))).scalar_one())

    async def run(self) -> None:
        """Publish until stopped; wakes on commit or every ``poll_seconds``; survives outages."""
        backoff = self.poll_seconds
        while not self._stopping:
            self._wake.clear()
            try:
                published = await self.publish_batch()
                backoff = self.poll_seconds
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox relay round failed; retrying", error=str(exc), retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            if published >= self.batch_size:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)

    def stop(self) -> None:
        """Ask the loop to end after the current round."""
        self._stopping = True
        self._wake.set()

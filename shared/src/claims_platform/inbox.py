"""Idempotent consumer: the inbox row and the handler's effects commit in one transaction."""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import sqlalchemy.exc
from opentelemetry import context as otel_context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.dialects import sqlite

from claims_contracts.envelope import EventEnvelope, EventPayload
from claims_contracts.registry import parse_payload
from claims_platform.bus.base import Message
from claims_platform.context import causation_id_var, claim_id_var, correlation_id_var
from claims_platform.logging import get_logger, mask_text
from claims_platform.tables import inbox
from claims_platform.tracing import NO_TRACING, Tracing, extract_context

if TYPE_CHECKING:
    from claims_platform.db import Database, UnitOfWork
    from claims_platform.metrics import ServiceMetrics

log = get_logger(__name__)

EventHandler = Callable[["UnitOfWork", EventEnvelope, EventPayload], Awaitable[None]]
PrepareBatch = Callable[["UnitOfWork", Sequence[tuple[EventEnvelope, EventPayload]]], Awaitable[None]]
"""Runs once per transaction before its events' handlers, with the events to apply (the new ones, in order):
what the handlers would each do for their own event and can be done for all at once (locks, reads)."""
DeadLetter = Callable[[Message, str], Awaitable[None]]
EventScope = Callable[[int], contextlib.AbstractContextManager[object]]
"""Around the handling of the i-th event of a batch (its trace span)."""


_LOCK_AND_INSERT = text(
    "INSERT INTO inbox (consumer, event_id, event_type, processed_at)"
    " SELECT :consumer, e.id, e.type, :at FROM unnest(CAST(:ids AS uuid[]), CAST(:types AS text[])) AS e(id, type)"
    # An uncorrelated subquery (an InitPlan): runs once, before the first row is inserted, and takes the
    # claims' locks in hash order.
    " WHERE (SELECT count(pg_advisory_xact_lock(:space, s.h)) FROM"
    "  (SELECT DISTINCT hashtext(c) AS h FROM unnest(CAST(:claims AS text[])) AS c ORDER BY 1) AS s) >= 0"
    " ON CONFLICT DO NOTHING RETURNING event_id"
)
"""One round trip: the consumer's per-claim locks, then the batch's inbox rows (one text for any batch size,
so it is prepared once per connection)."""


class PoisonMessage(Exception):
    """A message that can never be handled, however often it is tried."""


def is_transient(exc: BaseException) -> bool:
    """Whether an error is an outage worth waiting out (database or network), not a bad message."""
    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        if code in {"40001", "40P01", "57P01", "57P02", "57P03", "53300"}:
            return True
    return isinstance(
        exc,
        sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError | ConnectionError | TimeoutError | OSError,
    )


def describe(exc: BaseException) -> str:
    """A short, masked description of an error for a dead letter or a log line."""
    return mask_text(f"{type(exc).__name__}: {exc}")[:2000]


class IdempotentConsumer:
    """Applies each event at most once per consumer name, whatever the redeliveries."""

    def __init__(
        self,
        name: str,
        db: Database,
        handlers: Mapping[str, EventHandler],
        *,
        prepare: PrepareBatch | None = None,
    ) -> None:
        self.name = name
        self.db = db
        self.handlers = dict(handlers)
        self.prepare = prepare
        self._lock_space = zlib.crc32(f"consumer:{name}".encode()) & 0x7FFFFFFF

    def wants(self, event_type: str) -> bool:
        """Whether this consumer handles the event type."""
        return event_type in self.handlers

    def parse(self, envelope: EventEnvelope) -> EventPayload:
        """The event's payload; PoisonMessage when it does not match its type's schema."""
        try:
            return parse_payload(envelope)
        except (ValidationError, ValueError) as exc:
            raise PoisonMessage(describe(exc)) from exc

    async def handle(self, envelope: EventEnvelope) -> bool:
        """Apply the event; False when it was seen before (or is not for this consumer)."""
        if envelope.event_type not in self.handlers:
            return False
        return (await self.handle_many([(envelope, self.parse(envelope))]))[0]

    async def handle_many(
        self, events: Sequence[tuple[EventEnvelope, EventPayload]], scope: EventScope | None = None
    ) -> list[bool]:
        """Apply events in order in ONE transaction; per event, False when it was seen before.

        The inbox rows of all of them go in with one statement, and the claims' locks are taken up
        front. If anything fails, nothing of the batch is kept (the caller retries one at a time).
        """
        now = datetime.now(UTC)
        async with self.db.uow() as uow:
            # One claim's events come on several topics and partitions, and maybe to several replicas:
            # this consumer applies them one at a time per claim, so a handler always sees what an
            # earlier one committed. A batch takes its claims' locks with its inbox rows, in one global
            # order, so two batches never wait on each other in a cycle. (SQLite has a single writer.)
            if self.db.is_sqlite:
                stmt = (
                    sqlite.insert(inbox)
                    .values(
                        [
                            {
                                "consumer": self.name,
                                "event_id": envelope.event_id,
                                "event_type": envelope.event_type,
                                "processed_at": now,
                            }
                            for envelope, _ in events
                        ]
                    )
                    .on_conflict_do_nothing()
                    .returning(inbox.c.event_id)
                )
                fresh = set((await uow.session.execute(stmt)).scalars())
            else:
                params = {
                    "consumer": self.name,
                    "ids": [e.event_id for e, _ in events],
                    "types": [e.event_type for e, _ in events],
                    "at": now,
                    "space": self._lock_space,
                    "claims": sorted({e.claim_id for e, _ in events}),
                }
                fresh = set((await uow.session.execute(_LOCK_AND_INSERT, params)).scalars())
            if self.prepare is not None and fresh:
                todo = {e.event_id: (e, p) for e, p in events if e.event_id in fresh}  # a repeat once
                await self.prepare(uow, list(todo.values()))
            applied: list[bool] = []
            for i, (envelope, payload) in enumerate(events):
                if envelope.event_id not in fresh:
                    applied.append(False)
                    continue
                fresh.discard(envelope.event_id)  # the same event twice in one batch is applied once
                tokens = (
                    correlation_id_var.set(envelope.correlation_id),
                    causation_id_var.set(str(envelope.event_id)),
                    claim_id_var.set(envelope.claim_id),
                )
                try:
                    with scope(i) if scope is not None else contextlib.nullcontext():
                        await self.handlers[envelope.event_type](uow, envelope, payload)
                finally:
                    claim_id_var.reset(tokens[2])
                    causation_id_var.reset(tokens[1])
                    correlation_id_var.reset(tokens[0])
                applied.append(True)
        return applied


def _span_attributes(message: Message, envelope: EventEnvelope, consumer: str) -> dict[str, str | int]:
    return {
        "messaging.operation.type": "process",
        "messaging.destination.name": message.topic,
        "messaging.destination.partition.id": str(message.partition),
        "messaging.kafka.offset": message.offset,
        "messaging.consumer.group.name": consumer,
        "messaging.message.id": str(envelope.event_id),
        "claims.event_type": envelope.event_type,
        "claims.claim_id": envelope.claim_id,
        "claims.correlation_id": envelope.correlation_id,
    }


class MessageProcessor:
    """Turns a raw message into a handled event: parse, retry with backoff, dead-letter when hopeless.

    Outages (database down, connection lost) are retried until they pass, so nothing is dead-lettered
    for a reason that is not the message's own; any other error is retried ``max_attempts`` times.
    """

    def __init__(
        self,
        consumer: IdempotentConsumer,
        dead_letter: DeadLetter,
        *,
        max_attempts: int = 5,
        backoff_seconds: float = 0.2,
        metrics: ServiceMetrics | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.consumer = consumer
        self.dead_letter = dead_letter
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.metrics = metrics
        self.tracing = tracing or NO_TRACING

    def _count(self, event_type: str, result: str) -> None:
        if self.metrics:
            self.metrics.events_consumed.labels(self.consumer.name, event_type, result).inc()

    async def handle_batch(self, messages: Sequence[Message]) -> None:
        """Handle one partition's messages, in order, in one transaction when all goes well.

        Anything out of the ordinary — an envelope or payload that does not parse, a handler that
        fails, an outage — and the batch's transaction is rolled back and its messages are handled one
        at a time (``__call__``), with their own retries and dead-lettering. So a batch changes how
        many commits the happy path costs, never what is applied.
        """
        prepared: list[tuple[Message, EventEnvelope, EventPayload]] = []
        for message in messages:
            try:
                envelope = EventEnvelope.model_validate_json(message.value)
                if self.consumer.wants(envelope.event_type):
                    prepared.append((message, envelope, self.consumer.parse(envelope)))
            except (ValidationError, PoisonMessage):
                prepared = []
                break
        if len(prepared) < 2:
            for message in messages:
                await self(message)
            return
        try:
            results = await self.consumer.handle_many(
                [(envelope, payload) for _, envelope, payload in prepared],
                scope=lambda i: self._batch_scope(prepared[i][0], prepared[i][1]),
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.info("batch not applied; one message at a time", consumer=self.consumer.name, error=describe(exc))
            for message in messages:
                await self(message)
            return
        for (_, envelope, _), applied in zip(prepared, results, strict=True):
            self._count(envelope.event_type, "applied" if applied else "duplicate")

    @contextlib.contextmanager
    def _scope(self, message: Message, envelope: EventEnvelope) -> Iterator[Span | None]:
        """Around the handling of one event: its CONSUMER span (a child of the span that recorded the
        event) when tracing records; otherwise the trace it continues, so the events the handler
        records stay in that trace."""
        parent = extract_context(message.headers, envelope.trace_context)
        if self.tracing.enabled:
            with self.tracing.tracer.start_as_current_span(
                f"process {message.topic}",
                context=parent,
                kind=SpanKind.CONSUMER,
                attributes=_span_attributes(message, envelope, self.consumer.name),
            ) as span:
                yield span
        elif parent is not None:
            token = otel_context.attach(parent)
            try:
                yield None
            finally:
                otel_context.detach(token)
        else:
            yield None

    @contextlib.contextmanager
    def _batch_scope(self, message: Message, envelope: EventEnvelope) -> Iterator[object]:
        with self._scope(message, envelope) as span:
            yield span
            if span is not None:
                span.set_attribute("claims.consumer.result", "applied")

    async def __call__(self, message: Message) -> None:
        """Handle one message; returns when it is applied, a duplicate, ignored or dead-lettered."""
        try:
            envelope = EventEnvelope.model_validate_json(message.value)
        except ValidationError as exc:
            await self._dead(message, "unknown", f"invalid envelope: {describe(exc)}")
            return
        if not self.consumer.wants(envelope.event_type):
            return
        with self._scope(message, envelope) as span:
            result = await self._process(message, envelope)
            if span is not None:
                span.set_attribute("claims.consumer.result", result)
                if result == "dead_lettered":
                    span.set_status(Status(StatusCode.ERROR, "dead-lettered"))

    async def _process(self, message: Message, envelope: EventEnvelope) -> str:
        """Apply with retries; returns ``applied``, ``duplicate`` or ``dead_lettered``."""
        failures = 0
        outage_wait = self.backoff_seconds
        while True:
            try:
                result = "applied" if await self.consumer.handle(envelope) else "duplicate"
                self._count(envelope.event_type, result)
                return result
            except asyncio.CancelledError:
                raise
            except PoisonMessage as exc:
                await self._dead(message, envelope.event_type, str(exc))
                return "dead_lettered"
            except Exception as exc:
                if is_transient(exc):
                    log.warning("consumer waiting out an outage", consumer=self.consumer.name, error=describe(exc))
                    await asyncio.sleep(outage_wait)
                    outage_wait = min(outage_wait * 2, 5.0)
                    continue
                failures += 1
                if failures >= self.max_attempts:
                    await self._dead(message, envelope.event_type, describe(exc))
                    return "dead_lettered"
                log.warning(
                    "handler failed; retrying", consumer=self.consumer.name, attempt=failures, error=describe(exc)
                )
                await asyncio.sleep(self.backoff_seconds * 2 ** (failures - 1))

    async def _dead(self, message: Message, event_type: str, error: str) -> None:
        log.error(
            "message dead-lettered",
            consumer=self.consumer.name,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            error=error,
        )
        await self.dead_letter(message, error)
        self._count(event_type, "dead_lettered")

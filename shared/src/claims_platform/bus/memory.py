"""The in-process bus of the embedded mode: same interface as Kafka, delivery within one process.

Delivery is asynchronous and in order per consumer group. What is queued lives in memory only: the
outbox keeps an event until the bus has taken it, but an event taken and not yet consumed is lost if
the process dies. That is the embedded mode's known limit; the full mode runs on Kafka.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from claims_contracts.topics import dlq_topic
from claims_platform.bus.base import Message, MessageHandler, dead_letter_headers, without_dlq_headers
from claims_platform.logging import get_logger

log = get_logger(__name__)


@dataclass
class _Subscription:
    group: str
    topics: frozenset[str]
    handler: MessageHandler
    queue: asyncio.Queue[Message] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None


class InMemoryBus:
    """A bus inside one process, shared by the services of the embedded mode."""

    def __init__(self) -> None:
        self._subs: list[_Subscription] = []
        self._offsets: dict[str, int] = {}
        self._running = False
        self.dead_letters: list[Message] = []

    def subscribe(self, group: str, topics: Sequence[str], handler: MessageHandler) -> None:
        """Register a consumer group for some topics."""
        sub = _Subscription(group, frozenset(topics), handler)
        self._subs.append(sub)
        if self._running:
            sub.task = asyncio.create_task(self._work(sub), name=f"bus:{group}")

    async def start(self) -> None:
        """Start a worker per consumer group; calling it again is harmless."""
        self._running = True
        for sub in self._subs:
            if sub.task is None:
                sub.task = asyncio.create_task(self._work(sub), name=f"bus:{sub.group}")

    async def stop(self) -> None:
        """Stop the workers."""
        self._running = False
        tasks = [s.task for s in self._subs if s.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for s in self._subs:
            s.task = None

    async def publish(self, messages: Sequence[Message]) -> None:
        """Hand each message to every group subscribed to its topic."""
        for m in messages:
            offset = self._offsets.get(m.topic, 0)
            self._offsets[m.topic] = offset + 1
            placed = replace(m, partition=0, offset=offset)
            for sub in self._subs:
                if m.topic in sub.topics:
                    sub.queue.put_nowait(placed)

    async def dead_letter(self, group: str, message: Message, error: str) -> None:
        """Keep the message on the in-memory dead-letter topic."""
        dead = Message(
            topic=dlq_topic(message.topic),
            key=message.key,
            value=message.value,
            headers=dead_letter_headers(group, message, error),
        )
        self.dead_letters.append(dead)
        await self.publish([dead])

    async def replay_dead_letters(self, topic: str) -> int:
        """Publish the dead letters of ``topic`` again on it; returns how many."""
        mine = [d for d in self.dead_letters if d.header("dlq.source_topic") == topic]
        self.dead_letters = [d for d in self.dead_letters if d not in mine]
        await self.publish(
            [Message(topic=topic, key=d.key, value=d.value, headers=without_dlq_headers(d.headers)) for d in mine]
        )
        return len(mine)

    def lag(self) -> dict[str, int]:
        """Messages queued and not yet taken, per consumer group."""
        lags: dict[str, int] = {}
        for sub in self._subs:
            lags[sub.group] = lags.get(sub.group, 0) + sub.queue.qsize()
        return lags

    async def refresh_lag(self) -> dict[str, int]:
        """Same as ``lag()``: nothing to ask anyone."""
        return self.lag()

    async def dead_letter_counts(self, topics: Sequence[str]) -> dict[str, int]:
        """Dead letters held and not yet replayed, per source topic."""
        counts = dict.fromkeys(topics, 0)
        for dead in self.dead_letters:
            source = dead.header("dlq.source_topic")
            if source in counts:
                counts[source] += 1
        return counts

    async def ready(self) -> bool:
        """Always reachable while running."""
        return self._running

    async def idle(self) -> None:
        """Wait until every queue is drained (for tests and the embedded quick start)."""
        for sub in self._subs:
            await sub.queue.join()

    async def _work(self, sub: _Subscription) -> None:
        while True:
            message = await sub.queue.get()
            try:
                await sub.handler(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the processor dead-letters; this is a last guard
                log.error("in-process consumer failed", group=sub.group, error=type(exc).__name__)
            finally:
                sub.queue.task_done()

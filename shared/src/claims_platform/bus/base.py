"""The bus interface that the outbox relay and the consumers use."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Message:
    """One message as it travels: topic, key, JSON value and headers."""

    topic: str
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = field(default=())
    partition: int = -1
    offset: int = -1

    def header(self, name: str) -> str | None:
        """The first header called ``name``, decoded."""
        for k, v in self.headers:
            if k == name:
                return v.decode(errors="replace")
        return None


MessageHandler = Callable[[Message], Awaitable[None]]


@runtime_checkable
class BatchHandler(Protocol):
    """A handler that can also take a run of one partition's messages at once (in one transaction)."""

    async def __call__(self, message: Message) -> None:
        """Handle one message."""

    async def handle_batch(self, messages: Sequence[Message]) -> None:
        """Handle the messages in order; returns once every one is dealt with."""


class EventBus(Protocol):
    """What a service needs from a bus."""

    async def start(self) -> None:
        """Connect; create topics where needed."""

    async def stop(self) -> None:
        """Stop consumers and flush the producer."""

    async def publish(self, messages: Sequence[Message]) -> None:
        """Publish in order and return once every message is acknowledged."""

    def subscribe(self, group: str, topics: Sequence[str], handler: MessageHandler) -> None:
        """Register a consumer group; ``handler`` returns normally once the message is dealt with."""

    async def dead_letter(self, group: str, message: Message, error: str) -> None:
        """Put a message that cannot be handled on ``<topic>.dlq`` with the error."""

    async def ready(self) -> bool:
        """Whether the bus is reachable."""


@runtime_checkable
class ObservableBus(Protocol):
    """A bus that can tell its consumer lag and dead-letter counts (for ``/metrics``)."""

    async def refresh_lag(self) -> dict[str, int]:
        """Messages not yet consumed and committed, per consumer group."""

    async def dead_letter_counts(self, topics: Sequence[str]) -> dict[str, int]:
        """Dead letters not yet replayed, per source topic."""


def dead_letter_headers(group: str, message: Message, error: str) -> tuple[tuple[str, bytes], ...]:
    """The original headers plus where the message came from and why it failed."""
    own = tuple((k, v) for k, v in message.headers if not k.startswith("dlq."))
    return (
        *own,
        ("dlq.error", error.encode()[:4000]),
        ("dlq.consumer", group.encode()),
        ("dlq.source_topic", message.topic.encode()),
        ("dlq.source_partition", str(message.partition).encode()),
        ("dlq.source_offset", str(message.offset).encode()),
    )


def without_dlq_headers(headers: tuple[tuple[str, bytes], ...]) -> tuple[tuple[str, bytes], ...]:
    """Headers of a dead letter as they were on the original message."""
    return tuple((k, v) for k, v in headers if not k.startswith("dlq."))

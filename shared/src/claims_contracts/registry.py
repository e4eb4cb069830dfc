"""Lookup from ``(event_type, event_version)`` to the payload class, and typed parsing of envelopes."""

from __future__ import annotations

from typing import TypeVar

from claims_contracts.envelope import EventEnvelope, EventPayload
from claims_contracts.events import ALL_EVENTS

__all__ = [
    "EVENT_TYPES",
    "EnvelopeMismatch",
    "UnknownEventType",
    "parse_as",
    "parse_payload",
    "payload_class",
    "topic_of",
]

P = TypeVar("P", bound=EventPayload)


class UnknownEventType(ValueError):
    """No payload class is registered for an event type and version."""

    def __init__(self, event_type: str, event_version: int | None = None) -> None:
        self.event_type = event_type
        self.event_version = event_version
        label = event_type if event_version is None else f"{event_type} v{event_version}"
        super().__init__(f"unknown event type {label}")


class EnvelopeMismatch(ValueError):
    """An envelope does not agree with its payload (another type, or another claim)."""


def _build(classes: tuple[type[EventPayload], ...]) -> dict[tuple[str, int], type[EventPayload]]:
    table: dict[tuple[str, int], type[EventPayload]] = {}
    for cls in classes:
        key = (cls.event_type, cls.event_version)
        if key in table:
            raise RuntimeError(f"{key} is registered twice: {table[key].__name__} and {cls.__name__}")
        table[key] = cls
    return table


EVENT_TYPES: dict[tuple[str, int], type[EventPayload]] = _build(ALL_EVENTS)
"""Every payload class by ``(event_type, event_version)``."""


def payload_class(event_type: str, event_version: int) -> type[EventPayload]:
    """Return the payload class of an event type and version, or raise ``UnknownEventType``."""
    try:
        return EVENT_TYPES[(event_type, event_version)]
    except KeyError:
        raise UnknownEventType(event_type, event_version) from None


def parse_payload(envelope: EventEnvelope) -> EventPayload:
    """Validate an envelope's payload into its registered class."""
    cls = payload_class(envelope.event_type, envelope.event_version)
    payload = cls.model_validate(envelope.payload)
    claim_id = getattr(payload, "claim_id", None)
    if claim_id is not None and claim_id != envelope.claim_id:
        raise EnvelopeMismatch(f"envelope claim_id {envelope.claim_id!r} but payload claim_id {claim_id!r}")
    return payload


def parse_as(envelope: EventEnvelope, cls: type[P]) -> P:
    """Parse an envelope's payload as ``cls``, raising ``EnvelopeMismatch`` when it is another type."""
    payload = parse_payload(envelope)
    if not isinstance(payload, cls):
        got = f"{envelope.event_type} v{envelope.event_version}"
        raise EnvelopeMismatch(f"expected {cls.event_type}, got {got}")
    return payload


def topic_of(payload: type[EventPayload] | EventPayload) -> str:
    """Return the topic that carries a registered payload class (or instance)."""
    cls = payload if isinstance(payload, type) else type(payload)
    event_type = getattr(cls, "event_type", cls.__name__)
    if EVENT_TYPES.get((event_type, cls.event_version)) is not cls:
        raise UnknownEventType(event_type, cls.event_version)
    return cls.topic

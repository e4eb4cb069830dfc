"""The event envelope that every message on the bus carries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator


class EventPayload(BaseModel):
    """Base of every event payload; subclasses fix their type, version and topic."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    event_version: ClassVar[int] = 1
    topic: ClassVar[str]


class EventEnvelope(BaseModel):
    """What travels on the wire: identity, tracing and the payload as JSON."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: uuid.UUID
    event_type: str = Field(min_length=1, max_length=100)
    event_version: int = Field(ge=1)
    occurred_at: AwareDatetime
    producer: str = Field(min_length=1, max_length=100)
    claim_id: str = Field(min_length=1, max_length=64)
    correlation_id: str = Field(min_length=1, max_length=100)
    causation_id: str | None = Field(default=None, max_length=100)
    payload: dict[str, Any]
    trace_context: dict[str, str] | None = Field(
        default=None,
        description="W3C trace context (`traceparent`, `tracestate`) of the work that recorded the event.",
    )

    @field_validator("occurred_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @classmethod
    def wrap(
        cls,
        payload: EventPayload,
        *,
        claim_id: str,
        producer: str,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        occurred_at: datetime | None = None,
        trace_context: dict[str, str] | None = None,
    ) -> Self:
        """Build an envelope around a typed payload."""
        event_id = uuid.uuid4()
        return cls(
            event_id=event_id,
            event_type=payload.event_type,
            event_version=payload.event_version,
            occurred_at=occurred_at or datetime.now(UTC),
            producer=producer,
            claim_id=claim_id,
            correlation_id=correlation_id or str(event_id),
            causation_id=causation_id,
            payload=payload.model_dump(mode="json"),
            trace_context=trace_context,
        )

    @property
    def topic_key(self) -> bytes:
        """The Kafka key: the claim id, so one claim's events stay in order."""
        return self.claim_id.encode()

"""Kafka topics: one per producing service, versioned, each with a dead-letter companion."""

from __future__ import annotations

from typing import Final

__all__ = [
    "ADJUDICATION_TOPIC",
    "ALL_TOPICS",
    "CORRELATION_ID_HEADER",
    "DLQ_SUFFIX",
    "EVENT_TYPE_HEADER",
    "INTAKE_TOPIC",
    "NOTIFICATION_TOPIC",
    "PAYMENT_TOPIC",
    "dlq_topic",
]

INTAKE_TOPIC: Final = "claims.intake.v1"
ADJUDICATION_TOPIC: Final = "claims.adjudication.v1"
PAYMENT_TOPIC: Final = "claims.payment.v1"
NOTIFICATION_TOPIC: Final = "claims.notification.v1"

ALL_TOPICS: Final[tuple[str, ...]] = (INTAKE_TOPIC, ADJUDICATION_TOPIC, PAYMENT_TOPIC, NOTIFICATION_TOPIC)

DLQ_SUFFIX: Final = ".dlq"

EVENT_TYPE_HEADER: Final = "event_type"
"""Kafka header carrying the envelope's ``event_type``."""

CORRELATION_ID_HEADER: Final = "correlation_id"
"""Kafka header carrying the envelope's ``correlation_id``."""


def dlq_topic(topic: str) -> str:
    """Return the dead-letter topic of ``topic``."""
    return f"{topic}{DLQ_SUFFIX}"

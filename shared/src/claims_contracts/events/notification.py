"""Events the notification service publishes on ``claims.notification.v1``."""

from __future__ import annotations

import uuid
from typing import Annotated, ClassVar

from pydantic import Field, StringConstraints

from claims_contracts.envelope import EventPayload
from claims_contracts.topics import NOTIFICATION_TOPIC
from claims_contracts.values import Channel, ClaimId, EntityId, Locale

__all__ = ["FeedbackReceived", "NotificationSent"]


class NotificationSent(EventPayload):
    """A message about a claim went out on one channel."""

    event_type: ClassVar[str] = "NotificationSent"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = NOTIFICATION_TOPIC

    claim_id: ClaimId
    notification_id: EntityId
    source_event_type: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    source_event_id: uuid.UUID | None = None
    message_type: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = Field(
        default=None,
        description="The kind of message (documents_requested, claim_decided, survey, …); one event may give several.",
    )
    channel: Channel
    locale: Locale
    recipient: Annotated[str, StringConstraints(min_length=1, max_length=254)] = Field(
        description="Masked address, e.g. z***@example.com or +86138****0000."
    )


class FeedbackReceived(EventPayload):
    """A claimant answered the satisfaction survey."""

    event_type: ClassVar[str] = "FeedbackReceived"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = NOTIFICATION_TOPIC

    claim_id: ClaimId
    survey_id: EntityId
    score: int = Field(ge=1, le=5)
    comment: Annotated[str, StringConstraints(max_length=2000)] | None = None

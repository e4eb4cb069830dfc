"""HTTP schemas of the notification service."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

SupportedLocale = Literal["zh-CN", "en"]
_Email = Annotated[str, StringConstraints(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
_Phone = Annotated[str, StringConstraints(min_length=5, max_length=32, pattern=r"^\+?[0-9][0-9 -]{3,30}$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeliveryRead(BaseModel):
    """One entry of a message's delivery log."""

    attempt_no: int
    attempted_at: datetime
    outcome: Literal["delivered", "retry", "failed", "cancelled"]
    error: str | None = None


class NotificationRead(BaseModel):
    """A message on one channel to one recipient."""

    notification_id: str
    claim_id: str
    event_type: str = Field(description="The kind of message, e.g. claim_decided, survey.")
    source_event_type: str
    source_event_id: uuid.UUID
    channel: Literal["email", "sms", "in_app"]
    locale: str
    subject: str | None = Field(description="None for SMS.")
    body: str
    recipient: str = Field(description="Masked address (e-mail, phone) or the recipient's id for in-app.")
    recipient_type: Literal["member", "provider"]
    status: Literal["pending", "sent", "failed", "cancelled"]
    attempts: int
    created_at: datetime
    sent_at: datetime | None = None


class NotificationDetail(NotificationRead):
    """A message with its delivery log."""

    last_error: str | None = None
    deliveries: list[DeliveryRead]


class PreferencesUpdate(_In):
    """A member's choices; in-app messages are the claim's record and are always kept."""

    email: bool = True
    sms: bool = True
    surveys: bool = Field(default=True, description="False: no satisfaction surveys on any channel.")
    locale: SupportedLocale | None = Field(default=None, description="None: the locale the claim was submitted in.")


class PreferencesRead(PreferencesUpdate):
    """A member's stored preferences."""

    member_id: str
    updated_at: datetime | None = None


class ProviderContactUpdate(_In):
    """How to reach a hospital."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    email: _Email | None = None
    phone: _Phone | None = None
    locale: SupportedLocale | None = None


class ProviderContactRead(ProviderContactUpdate):
    """A hospital's stored contact."""

    provider_id: str
    updated_at: datetime


class FeedbackCreate(_In):
    """An answer to a satisfaction survey; the token from the survey link authenticates it."""

    token: Annotated[str, StringConstraints(min_length=10, max_length=2000)]
    score: int = Field(ge=1, le=5, strict=True)
    comment: Annotated[str, StringConstraints(max_length=2000, strip_whitespace=True)] | None = None


class FeedbackRead(BaseModel):
    """A recorded answer."""

    survey_id: str
    claim_id: str
    score: int
    comment: str | None
    received_at: datetime


class SurveyRead(BaseModel):
    """What a survey link points at."""

    survey_id: str
    claim_id: str
    expires_at: datetime
    answered: bool


class FeedbackSummary(BaseModel):
    """Satisfaction, for the reports."""

    surveys_sent: int
    answers: int
    average_score: str | None = Field(description="Two decimals; None before the first answer.")
    per_score: dict[str, int]

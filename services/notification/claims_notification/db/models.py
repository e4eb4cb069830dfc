"""Tables of the notification service."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from claims_platform.db import new_metadata
from claims_platform.types import UtcDateTime

metadata = new_metadata()


class Base(DeclarativeBase):
    """Declarative base of the notification service's tables."""

    metadata = metadata


class ClaimRecipientRow(Base):
    """Who a claim's messages go to: the member's contact and the claim's provider, from intake's events."""

    __tablename__ = "claim_recipients"

    claim_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(64), index=True)
    member_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    locale: Mapped[str | None] = mapped_column(String(35))
    provider_id: Mapped[str] = mapped_column(String(64), index=True)
    provider_name: Mapped[str | None] = mapped_column(String(200))
    submitted_by_provider: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PreferencesRow(Base):
    """A member's channel choices, survey opt-out and language."""

    __tablename__ = "recipient_preferences"

    member_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[bool] = mapped_column(Boolean)
    sms: Mapped[bool] = mapped_column(Boolean)
    surveys: Mapped[bool] = mapped_column(Boolean)
    locale: Mapped[str | None] = mapped_column(String(35))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str] = mapped_column(String(100))


class ProviderContactRow(Base):
    """How to reach a hospital (set by an administrator)."""

    __tablename__ = "provider_contacts"

    provider_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    locale: Mapped[str | None] = mapped_column(String(35))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str] = mapped_column(String(100))


class NoticeRow(Base):
    """Something one audience must be told, from one event; becomes messages once the recipient is known."""

    __tablename__ = "notices"
    __table_args__ = (UniqueConstraint("source_event_id", "kind", "audience"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    claim_id: Mapped[str] = mapped_column(String(64), index=True)
    source_event_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    source_event_type: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40))
    audience: Mapped[str] = mapped_column(String(10))
    provider_id: Mapped[str | None] = mapped_column(String(64))
    context: Mapped[dict[str, Any]] = mapped_column(JSON)
    not_before: Mapped[datetime] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    planned_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class MessageRow(Base):
    """One message on one channel to one recipient; recorded before it is sent, at most once per source."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("source_event_id", "event_type", "channel", "recipient_key"),
        Index("ix_messages_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_messages_claim_id_created_at", "claim_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    notice_id: Mapped[str] = mapped_column(ForeignKey("notices.id"))
    claim_id: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[str | None] = mapped_column(String(64), index=True)
    provider_id: Mapped[str | None] = mapped_column(String(64), index=True)
    submitted_by_provider: Mapped[bool] = mapped_column(Boolean, default=False)
    recipient_type: Mapped[str] = mapped_column(String(10))
    recipient_key: Mapped[str] = mapped_column(String(80))
    event_type: Mapped[str] = mapped_column(String(40))
    source_event_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    source_event_type: Mapped[str] = mapped_column(String(100))
    correlation_id: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(10))
    locale: Mapped[str] = mapped_column(String(35))
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(254))
    address_masked: Mapped[str] = mapped_column(String(254))
    survey_id: Mapped[str | None] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    # Never loaded: it tells the unit of work that notices are inserted before their messages when one
    # flush writes both (without it, the flush would order the tables by class name).
    notice: Mapped[NoticeRow] = relationship(lazy="raise")


class DeliveryAttemptRow(Base):
    """The delivery log: every try of a message and how it went."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), index=True)
    attempt_no: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime] = mapped_column(UtcDateTime())
    outcome: Mapped[str] = mapped_column(String(10))
    error: Mapped[str | None] = mapped_column(Text)

    # Never loaded: messages are inserted before their delivery log in one flush (see ``MessageRow.notice``).
    message: Mapped[MessageRow] = relationship(lazy="raise")


class SurveyRow(Base):
    """A satisfaction survey after a claim closed; one per claim and decision."""

    __tablename__ = "surveys"
    __table_args__ = (UniqueConstraint("claim_id", "decision_version"),)

    survey_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    claim_id: Mapped[str] = mapped_column(String(64))
    decision_version: Mapped[int] = mapped_column(Integer)
    member_id: Mapped[str] = mapped_column(String(64))
    closed_as: Mapped[str] = mapped_column(String(20))
    source_event_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


class FeedbackRow(Base):
    """The one answer to a survey."""

    __tablename__ = "feedback"

    survey_id: Mapped[str] = mapped_column(ForeignKey("surveys.survey_id"), primary_key=True)
    claim_id: Mapped[str] = mapped_column(String(64), index=True)
    score: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())

"""Tables of the intake service."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from claims_platform.db import new_metadata
from claims_platform.types import UtcDateTime

metadata = new_metadata()

MONEY = Numeric(14, 2, asdecimal=True)
BIGID = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base of the intake service's tables."""

    metadata = metadata


class ClaimRow(Base):
    """A claim as submitted, its lifecycle and what the archive learned about it."""

    __tablename__ = "claims"

    claim_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(32), index=True)
    lifecycle: Mapped[str] = mapped_column(String(32))
    claim_type: Mapped[str] = mapped_column(String(16))
    policy_number: Mapped[str] = mapped_column(String(64), index=True)
    member_id: Mapped[str] = mapped_column(String(64), index=True)
    provider_id: Mapped[str] = mapped_column(String(64), index=True)
    submitted_by: Mapped[str] = mapped_column(String(100))
    submitted_by_provider: Mapped[bool] = mapped_column(Boolean)
    channel: Mapped[str] = mapped_column(String(16), default="api")
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    received_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    currency: Mapped[str] = mapped_column(String(3))
    payee: Mapped[str] = mapped_column(String(16))
    charged: Mapped[Decimal] = mapped_column(MONEY)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The claim as submitted, without the ID number and the bank account (those are in ``sensitive``)."""
    sensitive: Mapped[str | None] = mapped_column(Text, nullable=True)
    """ID number and bank account, encrypted (Fernet)."""
    missing_documents: Mapped[list[str]] = mapped_column(JSON)
    documents_deadline: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)
    decision_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    decision: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    deciders: Mapped[list[str]] = mapped_column(JSON)
    pended: Mapped[bool] = mapped_column(Boolean, default=False)
    disputed_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # What the reports need, kept as columns so that SQL can count and sum them (migration inta0003):
    primary_diagnosis: Mapped[str | None] = mapped_column(String(16), nullable=True)
    icd10_chapter: Mapped[str | None] = mapped_column(String(8), nullable=True)
    """WHO ICD-10 chapter (I to XXII) of the primary diagnosis."""
    payable: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)
    """Payable of the latest decision."""
    decision_automatic: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    """Whether the latest decision was made with no human touch."""
    first_decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    first_paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    """When the first payment settled (cleared when no settled payment is left)."""
    pended_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    """Since when the claim waits in human review (None when it does not)."""

    __table_args__ = (Index("ix_claims_submitted_at_claim_id", "submitted_at", "claim_id"),)


def _of_claim() -> Any:
    """The row's claim, never loaded (``lazy="raise"``): it tells a flush to INSERT the claim first.

    A new claim's lines, documents and timeline go to the database in the same flush as the claim; without
    a relationship the unit of work would not know which table comes first (a foreign key alone does not
    tell it).
    """
    return relationship("ClaimRow", lazy="raise")


class ClaimLineRow(Base):
    """A bill line's category, charged amount and the latest decision's payable, for the reports."""

    __tablename__ = "claim_lines"

    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.claim_id"), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    category: Mapped[str] = mapped_column(String(32))
    charged: Mapped[Decimal] = mapped_column(MONEY)
    payable: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True)
    claim: Mapped[ClaimRow] = _of_claim()


class DenialReasonRow(Base):
    """A denial reason of a claim's latest decision."""

    __tablename__ = "claim_denial_reasons"

    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.claim_id"), primary_key=True)
    reason: Mapped[str] = mapped_column(String(40), primary_key=True)


class FeedbackRow(Base):
    """A claimant's answer to a satisfaction survey."""

    __tablename__ = "feedback"

    survey_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.claim_id"), index=True)
    score: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())


class IdempotencyKeyRow(Base):
    """A submission's idempotency key: one per client and key, with the request's hash and the answer."""

    __tablename__ = "idempotency_keys"

    id: Mapped[int] = mapped_column(BIGID, primary_key=True, autoincrement=True)
    client: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    claim_id: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (UniqueConstraint("client", "key"),)


class DocumentRow(Base):
    """A document's metadata; its content is its ``DocumentContentRow`` when it has one, otherwise in the
    document store under ``storage_key``."""

    __tablename__ = "documents"

    document_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.claim_id"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(16))
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    claim: Mapped[ClaimRow] = _of_claim()


class DocumentContentRow(Base):
    """The content of a small document, kept with the claim's rows (in their transaction) instead of in the
    document store (migration inta0004). A table of its own, so that reading documents never reads contents."""

    __tablename__ = "document_contents"

    document_id: Mapped[str] = mapped_column(ForeignKey("documents.document_id"), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    document: Mapped[DocumentRow] = relationship(lazy="raise")
    """Never loaded: it tells a flush to INSERT the document first (as ``_of_claim``)."""


class TimelineRow(Base):
    """One entry of a claim's history: when, who, what and why."""

    __tablename__ = "timeline"

    id: Mapped[int] = mapped_column(BIGID, primary_key=True, autoincrement=True)
    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.claim_id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(50))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    status_from: Mapped[str | None] = mapped_column(String(32), nullable=True)
    status_to: Mapped[str | None] = mapped_column(String(32), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    claim: Mapped[ClaimRow] = _of_claim()


class PaymentRow(Base):
    """A payment of a claim as the payment service reported it."""

    __tablename__ = "payments"

    payment_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.claim_id"), index=True)
    decision_version: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    payee: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ComplaintRow(Base):
    """A complaint about the service (not the decision) and the staff's answer."""

    __tablename__ = "complaints"

    complaint_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.claim_id"), index=True)
    message: Mapped[str] = mapped_column(Text)
    raised_by: Mapped[str] = mapped_column(String(100))
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime())
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    answered_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)

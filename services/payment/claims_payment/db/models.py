"""Tables of the payment service."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from claims_platform.db import new_metadata
from claims_platform.types import UtcDateTime

metadata = new_metadata()

MONEY = Numeric(14, 2)
PAYMENT_STATUSES = "'scheduled', 'sent', 'settled', 'failed', 'returned'"


class Base(DeclarativeBase):
    """Declarative base of the payment service's tables."""

    metadata = metadata


class ClaimPayeeRow(Base):
    """Who a claim pays, from ``ClaimReceived``; the member's account number encrypted."""

    __tablename__ = "claim_payees"

    claim_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(64))
    provider_id: Mapped[str] = mapped_column(String(64))
    payee: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    account_holder: Mapped[str | None] = mapped_column(String(200))
    account_number_enc: Mapped[str | None] = mapped_column(Text)
    account_last4: Mapped[str | None] = mapped_column(String(4))
    bank_code: Mapped[str | None] = mapped_column(String(20))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ProviderAccountRow(Base):
    """A hospital's registered bank account; the number encrypted."""

    __tablename__ = "provider_accounts"

    provider_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    account_number_enc: Mapped[str] = mapped_column(Text)
    account_last4: Mapped[str] = mapped_column(String(4))
    bank_code: Mapped[str] = mapped_column(String(20))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str] = mapped_column(String(100))


class DecisionRow(Base):
    """Every decision the service has seen, and what it did with it."""

    __tablename__ = "decisions"

    claim_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    decision_version: Mapped[int] = mapped_column(Integer, primary_key=True)
    outcome: Mapped[str] = mapped_column(String(32))
    payable: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    action: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    recovery_waived: Mapped[Decimal] = mapped_column(MONEY)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PaymentRow(Base):
    """A payment: one per decision with something left to pay, identity ``(claim_id, decision_version)``."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("claim_id", "decision_version"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(f"status IN ({PAYMENT_STATUSES})", name="status_known"),
        Index("ix_payments_due", "status", "next_attempt_at"),
        Index("ix_payments_provider_id", "provider_id"),
        Index("ix_payments_created_on", "created_on"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    claim_id: Mapped[str] = mapped_column(String(64))
    decision_version: Mapped[int] = mapped_column(Integer)
    member_id: Mapped[str] = mapped_column(String(64))
    provider_id: Mapped[str] = mapped_column(String(64))
    payee: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    status: Mapped[str] = mapped_column(String(16))
    hold_reason: Mapped[str | None] = mapped_column(String(32))
    creditor_name: Mapped[str | None] = mapped_column(String(200))
    account_number_enc: Mapped[str | None] = mapped_column(Text)
    account_last4: Mapped[str | None] = mapped_column(String(4))
    bank_code: Mapped[str | None] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(String(500))
    failure_reason: Mapped[str | None] = mapped_column(String(500))
    retryable: Mapped[bool | None] = mapped_column(Boolean)
    batch_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    bank_reference: Mapped[str | None] = mapped_column(String(100))
    superseded_by_version: Mapped[int | None] = mapped_column(Integer)
    created_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    settled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    returned_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class OverpaymentRow(Base):
    """An amount to recover after a lower re-decision."""

    __tablename__ = "overpayments"
    __table_args__ = (
        UniqueConstraint("claim_id", "decision_version"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    claim_id: Mapped[str] = mapped_column(String(64))
    decision_version: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    payee: Mapped[str] = mapped_column(String(16))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())


class BatchRow(Base):
    """Payments handed to the bank together: one ``pain.001`` message."""

    __tablename__ = "batches"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(35), unique=True)
    currency: Mapped[str] = mapped_column(String(3))
    transaction_count: Mapped[int] = mapped_column(Integer)
    control_sum: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    execution_date: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class BatchItemRow(Base):
    """A transfer of a batch, frozen as it was sent (a later retry goes into another batch)."""

    __tablename__ = "batch_items"

    batch_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("batches.id"), primary_key=True)
    payment_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("payments.id"), primary_key=True)
    end_to_end_id: Mapped[str] = mapped_column(String(35))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    creditor_name: Mapped[str] = mapped_column(String(200))
    account_number_enc: Mapped[str] = mapped_column(Text)
    account_last4: Mapped[str] = mapped_column(String(4))
    bank_code: Mapped[str] = mapped_column(String(20))
    remittance: Mapped[str] = mapped_column(String(140))


class LedgerEntryRow(Base):
    """One posting of a double-entry movement (debit positive, credit negative)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_nonzero"),
        Index("ix_ledger_entries_movement_id", "movement_id"),
        Index("ix_ledger_entries_payment_id", "payment_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    movement_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    claim_id: Mapped[str] = mapped_column(String(64))
    payment_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

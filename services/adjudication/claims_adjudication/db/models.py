"""Tables of the adjudication service."""

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
    Numeric,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from claims_platform.db import new_metadata
from claims_platform.types import UtcDateTime

metadata = new_metadata()

MONEY = Numeric(14, 2)


class Base(DeclarativeBase):
    """Declarative base of the adjudication service's tables."""

    metadata = metadata


class PlanRow(Base):
    """A benefit plan; its content lives in versions."""

    __tablename__ = "plans"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    current_version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)


class PlanVersionRow(Base):
    """One version of a plan, never changed once written (decisions name the version they used)."""

    __tablename__ = "plan_versions"

    plan_code: Mapped[str] = mapped_column(String(32), ForeignKey("plans.code"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    created_by: Mapped[str] = mapped_column(String(100), nullable=False)


class PolicyRow(Base):
    """A policy: who is insured under which plan, for which period."""

    __tablename__ = "policies"

    policy_number: Mapped[str] = mapped_column(String(64), primary_key=True)
    plan_code: Mapped[str] = mapped_column(String(32), ForeignKey("plans.code"), nullable=False)
    holder_name: Mapped[str] = mapped_column(String(200), nullable=False)
    effective_date: Mapped[date] = mapped_column(Date, nullable=False)
    expiry_date: Mapped[date] = mapped_column(Date, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    members: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    updated_by: Mapped[str] = mapped_column(String(100), nullable=False)


class ClaimRow(Base):
    """A claim as received from intake, and where it stands here."""

    __tablename__ = "claims"

    claim_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    provider_id: Mapped[str] = mapped_column(String(64), nullable=False)
    policy_number: Mapped[str] = mapped_column(String(64), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    charged: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    first_service_date: Mapped[date] = mapped_column(Date, nullable=False)
    received_on: Mapped[date] = mapped_column(Date, nullable=False)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    status: Mapped[str] = mapped_column(String(30), nullable=False)
    latest_version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)


class AccumulatorRow(Base):
    """What a member has used of one policy period; updated under a row lock with a version."""

    __tablename__ = "accumulators"

    member_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    policy_number: Mapped[str] = mapped_column(String(64), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    period_end: Mapped[date] = mapped_column(Date, nullable=False)
    deductible_used: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    paid_total: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    paid_by_category: Mapped[dict[str, str]] = mapped_column(JSON, nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)


class DecisionRow(Base):
    """One version of the decision on a claim."""

    __tablename__ = "decisions"

    claim_id: Mapped[str] = mapped_column(String(64), ForeignKey("claims.claim_id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    outcome: Mapped[str] = mapped_column(String(30), nullable=False)
    automatic: Mapped[bool] = mapped_column(Boolean, nullable=False)
    decided_by: Mapped[str] = mapped_column(String(100), nullable=False)
    approved_by: Mapped[str | None] = mapped_column(String(100))
    review_id: Mapped[str | None] = mapped_column(String(64))
    plan_code: Mapped[str | None] = mapped_column(String(32))
    plan_version: Mapped[int | None] = mapped_column(Integer)
    policy_number: Mapped[str] = mapped_column(String(64), nullable=False)
    policy_version: Mapped[int | None] = mapped_column(Integer)
    member_id: Mapped[str] = mapped_column(String(64), nullable=False)
    provider_id: Mapped[str] = mapped_column(String(64), nullable=False)
    payee: Mapped[str] = mapped_column(String(20), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    charged: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    allowed: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    payable: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    member_responsibility: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    other_insurance: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)
    denial_reasons: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    period_start: Mapped[date | None] = mapped_column(Date)
    delta_deductible: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    delta_paid: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    delta_by_category: Mapped[dict[str, str]] = mapped_column(JSON, nullable=False)
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)


class ReviewRow(Base):
    """A claim waiting for (or decided by) a human: risk rules fired, or a dispute."""

    __tablename__ = "reviews"
    __table_args__ = (Index("ix_reviews_status_created_at", "status", "created_at"),)

    review_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    claim_id: Mapped[str] = mapped_column(String(64), ForeignKey("claims.claim_id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    reasons: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    status: Mapped[str] = mapped_column(String(30), nullable=False)
    calculated: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    excluded_deciders: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    dispute: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    pending_action: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    approved_by: Mapped[str | None] = mapped_column(String(100))
    decision_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class VerificationRow(Base):
    """A request to the provider to confirm a claim's records and bill, and its answer."""

    __tablename__ = "verifications"

    verification_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    review_id: Mapped[str] = mapped_column(String(64), ForeignKey("reviews.review_id"), nullable=False, index=True)
    claim_id: Mapped[str] = mapped_column(String(64), nullable=False)
    provider_id: Mapped[str] = mapped_column(String(64), nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    requested_by: Mapped[str] = mapped_column(String(100), nullable=False)
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    confirmed: Mapped[bool | None] = mapped_column(Boolean)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[str | None] = mapped_column(String(100))
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class AuditRow(Base):
    """One human (or system) action: who, when, what, on what, why."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), nullable=False)
    actor: Mapped[str] = mapped_column(String(100), nullable=False)
    action: Mapped[str] = mapped_column(String(50), nullable=False)
    entity_type: Mapped[str] = mapped_column(String(30), nullable=False)
    entity_id: Mapped[str] = mapped_column(String(64), nullable=False)
    claim_id: Mapped[str | None] = mapped_column(String(64), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)

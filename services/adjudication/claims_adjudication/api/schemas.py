"""HTTP schemas of the adjudication service (``XWrite``/``XCreate`` in, ``XRead`` out)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from claims_contracts.events.adjudication import DecisionLine
from claims_contracts.values import (
    AdjustmentReason,
    Category,
    Currency,
    MemberId,
    Money,
    NonNegativeMoney,
    Outcome,
    PlanCode,
    PolicyNumber,
    Rate,
)

Icd10Prefix = Annotated[
    str,
    StringConstraints(min_length=1, max_length=8, pattern=r"^[A-Z]([0-9]{1,2}(\.?[0-9A-Z]{1,4})?)?$"),
]
"""An ICD-10 prefix: a chapter letter (``O``), a category (``K02``) or a longer code (``Z41.1``)."""

Text200 = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
ReasonText = Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]
LongText = Annotated[str, StringConstraints(min_length=1, max_length=4000, strip_whitespace=True)]


class _Write(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CategoryRuleWrite(_Write):
    """How the plan pays one expense category."""

    coinsurance: Rate = Field(description="Share the plan pays, 0 to 1.")
    annual_sublimit: NonNegativeMoney | None = None
    per_day_limit: NonNegativeMoney | None = None
    deductible_applies: bool = True


class PlanWrite(_Write):
    """A benefit plan as loaded by an admin (DOMAIN §4)."""

    name: Text200
    currency: Currency
    annual_deductible: NonNegativeMoney
    annual_limit: NonNegativeMoney
    per_claim_limit: NonNegativeMoney | None = None
    waiting_period_days: int = Field(default=0, ge=0, le=3650)
    excluded_diagnoses: list[Icd10Prefix] = Field(default_factory=list, max_length=1000)
    review_threshold: NonNegativeMoney | None = None
    categories: dict[Category, CategoryRuleWrite] = Field(min_length=1)


class CategoryRuleRead(BaseModel):
    """How the plan pays one expense category."""

    coinsurance: Rate
    annual_sublimit: NonNegativeMoney | None = None
    per_day_limit: NonNegativeMoney | None = None
    deductible_applies: bool = True


class PlanRead(BaseModel):
    """One version of a plan."""

    plan_code: PlanCode
    version: int
    name: str
    currency: str
    annual_deductible: NonNegativeMoney
    annual_limit: NonNegativeMoney
    per_claim_limit: NonNegativeMoney | None
    waiting_period_days: int
    excluded_diagnoses: list[str]
    review_threshold: NonNegativeMoney | None
    categories: dict[str, CategoryRuleRead]
    created_at: datetime
    created_by: str


class PolicyStatus(StrEnum):
    """A policy's status; only active (and, within the period, expired, cancelled, terminated) policies pay."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    LAPSED = "lapsed"
    CANCELLED = "cancelled"
    TERMINATED = "terminated"
    EXPIRED = "expired"


class PolicyMember(_Write):
    """A member insured under a policy."""

    member_id: MemberId
    name: Text200


class PolicyWrite(_Write):
    """A policy as loaded by an admin (DOMAIN §4)."""

    plan_code: PlanCode
    holder_name: Text200
    effective_date: date
    expiry_date: date
    status: PolicyStatus
    members: list[PolicyMember] = Field(min_length=1, max_length=1000)


class PolicyRead(BaseModel):
    """A policy."""

    policy_number: PolicyNumber
    plan_code: PlanCode
    holder_name: str
    effective_date: date
    expiry_date: date
    status: str
    members: list[dict[str, str]]
    version: int
    updated_at: datetime
    updated_by: str


class CalculatedDecision(BaseModel):
    """A decision as the calculation gives it, before or without a human."""

    outcome: Outcome
    currency: str
    charged: Money
    allowed: NonNegativeMoney
    payable: NonNegativeMoney
    member_responsibility: Money
    other_insurance: NonNegativeMoney
    denial_reasons: list[AdjustmentReason]
    lines: list[DecisionLine]


class DecisionRead(CalculatedDecision):
    """One version of the decision on a claim."""

    version: int
    plan_code: str | None
    plan_version: int | None
    policy_number: str
    policy_version: int | None
    member_id: str
    provider_id: str
    payee: str
    automatic: bool
    decided_by: str
    approved_by: str | None
    review_id: str | None
    decided_at: datetime


class AdjudicationRead(BaseModel):
    """A claim's decisions, every version, oldest first."""

    claim_id: str
    status: str
    member_id: str
    policy_number: str
    received_at: datetime
    open_review_id: str | None
    decisions: list[DecisionRead]


class AccumulatorRead(BaseModel):
    """What a member has used of one policy period."""

    policy_number: str
    period_start: date
    period_end: date
    plan_code: str | None
    annual_deductible: NonNegativeMoney | None
    deductible_used: NonNegativeMoney
    deductible_remaining: NonNegativeMoney | None
    annual_limit: NonNegativeMoney | None
    paid_total: NonNegativeMoney
    paid_by_category: dict[str, NonNegativeMoney]
    version: int
    updated_at: datetime


class MemberAccumulatorsRead(BaseModel):
    """A member's accumulators."""

    member_id: str
    accumulators: list[AccumulatorRead]


class LineDecision(_Write):
    """A reviewer's payable for one line."""

    line_no: int = Field(ge=1, le=99_999)
    payable: NonNegativeMoney


class ReviewDecisionCreate(_Write):
    """A reviewer's decision: approve as calculated, adjust lines down, or deny."""

    action: Literal["approve", "adjust", "deny"]
    lines: list[LineDecision] | None = Field(default=None, max_length=1000)
    reason: ReasonText | None = None


class SecondApprovalCreate(_Write):
    """A supervisor's approval of a decision above the reviewer's authority."""

    comment: ReasonText | None = None


class RejectCreate(_Write):
    """A supervisor's refusal of a decision above the reviewer's authority."""

    reason: ReasonText


class VerificationCreate(_Write):
    """A request to the provider to confirm the records and the bill."""

    message: LongText


class VerificationAnswerCreate(_Write):
    """The provider's answer to a verification request."""

    confirmed: bool
    answer: LongText


class NoteCreate(_Write):
    """A reviewer's finding."""

    note: LongText


class VerificationRead(BaseModel):
    """A verification request and its answer."""

    verification_id: str
    review_id: str
    claim_id: str
    provider_id: str
    message: str
    requested_by: str
    requested_at: datetime
    status: Literal["requested", "answered"]
    confirmed: bool | None
    answer: str | None
    answered_by: str | None
    answered_at: datetime | None


class PendingActionRead(BaseModel):
    """A decision waiting for a supervisor."""

    action: str
    lines: list[dict[str, Any]] | None
    reason: str | None
    payable: NonNegativeMoney
    proposed_by: str
    proposed_at: datetime


class ReviewRead(BaseModel):
    """A review queue item."""

    review_id: str
    claim_id: str
    kind: Literal["risk", "dispute"]
    reasons: list[str]
    status: Literal["open", "awaiting_second_approval", "decided", "closed"]
    member_id: str
    provider_id: str
    policy_number: str
    charged: Money
    calculated_decision: CalculatedDecision
    excluded_deciders: list[str]
    dispute: dict[str, Any] | None
    pending_action: PendingActionRead | None
    decided_by: str | None
    approved_by: str | None
    decision_version: int | None
    verifications: list[VerificationRead]
    created_at: datetime
    updated_at: datetime


class AuditRead(BaseModel):
    """One audited action."""

    id: int
    at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    claim_id: str | None
    reason: str | None
    details: dict[str, Any]


class ReviewDetailRead(ReviewRead):
    """A review with its audit trail (who did what, when, why)."""

    audit: list[AuditRead]


class ReviewOutcomeRead(BaseModel):
    """What a reviewer's or supervisor's action led to."""

    status: Literal["decided", "awaiting_second_approval", "open"]
    review_id: str
    claim_id: str
    decision: DecisionRead | None = None
    pending_action: PendingActionRead | None = None

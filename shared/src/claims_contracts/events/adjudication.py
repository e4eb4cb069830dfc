"""Events the adjudication service publishes on ``claims.adjudication.v1``."""

from __future__ import annotations

from typing import Annotated, ClassVar, Self

from pydantic import Field, StringConstraints, model_validator

from claims_contracts.envelope import EventPayload
from claims_contracts.events._base import Actor, ContractModel, LongText
from claims_contracts.topics import ADJUDICATION_TOPIC
from claims_contracts.values import (
    AdjustmentGroup,
    AdjustmentReason,
    Category,
    ClaimId,
    Currency,
    EntityId,
    MemberId,
    Money,
    NonNegativeMoney,
    Outcome,
    Payee,
    PlanCode,
    PolicyNumber,
    ProviderId,
    RiskReason,
    UtcDatetime,
)

__all__ = ["Adjustment", "ClaimAdjudicated", "ClaimPended", "DecisionLine", "VerificationRequested"]

_Explanation = Annotated[str, StringConstraints(min_length=1, max_length=1000)]
_PlanVersion = Annotated[int, Field(ge=1)]
_NO_POLICY = "None when the policy was not found."


class Adjustment(ContractModel):
    """An amount of a line not paid, and why (an explanation-of-benefits entry)."""

    reason: AdjustmentReason
    group: AdjustmentGroup
    carc: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{1,5}$")] = Field(
        description="X12 claim adjustment reason code."
    )
    amount: NonNegativeMoney
    explanation_zh: _Explanation
    explanation_en: _Explanation


class DecisionLine(ContractModel):
    """The decision on one bill line."""

    line_no: int = Field(ge=1, le=99_999)
    category: Category
    charged: Money
    allowed: NonNegativeMoney
    payable: NonNegativeMoney
    adjustments: list[Adjustment] = Field(default_factory=list)
    explanation_zh: LongText | None = Field(
        default=None, description="The whole line in plain words (zh-CN): charged, allowed, payable and why."
    )
    explanation_en: LongText | None = Field(
        default=None, description="The whole line in plain words (en): charged, allowed, payable and why."
    )


class ClaimPended(EventPayload):
    """Risk rules fired: the claim waits in the human review queue."""

    event_type: ClassVar[str] = "ClaimPended"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = ADJUDICATION_TOPIC

    claim_id: ClaimId
    review_id: EntityId
    reasons: list[RiskReason] = Field(min_length=1)
    currency: Currency
    charged: Money = Field(description="Charged total of the claim.")
    payable: NonNegativeMoney = Field(description="Payable as calculated, before the review decides.")


class VerificationRequested(EventPayload):
    """A reviewer asks the provider to confirm a claim's records and bill."""

    event_type: ClassVar[str] = "VerificationRequested"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = ADJUDICATION_TOPIC

    claim_id: ClaimId
    review_id: EntityId
    provider_id: ProviderId
    message: LongText
    requested_by: Actor


class ClaimAdjudicated(EventPayload):
    """A decision on a claim, automatic or by a reviewer; a later version supersedes an earlier one."""

    event_type: ClassVar[str] = "ClaimAdjudicated"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = ADJUDICATION_TOPIC

    claim_id: ClaimId
    decision_version: int = Field(ge=1, description="1 for the first decision, +1 for each re-decision.")
    outcome: Outcome
    plan_code: PlanCode | None = Field(description=_NO_POLICY)
    plan_version: _PlanVersion | None = Field(description=_NO_POLICY)
    policy_number: PolicyNumber
    member_id: MemberId
    provider_id: ProviderId
    payee: Payee
    currency: Currency
    charged: Money
    allowed: NonNegativeMoney
    payable: NonNegativeMoney
    member_responsibility: Money
    other_insurance: NonNegativeMoney
    lines: list[DecisionLine] = Field(min_length=1)
    denial_reasons: list[AdjustmentReason] = Field(default_factory=list)
    decided_by: Actor
    automatic: bool = Field(description="True when no human touched the decision.")
    review_id: EntityId | None = None
    approved_by: Actor | None = Field(
        default=None, description="The supervisor who approved a decision above the reviewer's authority."
    )
    decided_at: UtcDatetime

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.outcome is Outcome.DENIED and not self.denial_reasons:
            raise ValueError("a denial carries its reasons")
        if len({line.line_no for line in self.lines}) != len(self.lines):
            raise ValueError("line numbers must be unique")
        return self

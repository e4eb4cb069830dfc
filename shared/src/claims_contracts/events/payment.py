"""Events the payment service publishes on ``claims.payment.v1``."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints

from claims_contracts.envelope import EventPayload
from claims_contracts.events._base import Reason
from claims_contracts.topics import PAYMENT_TOPIC
from claims_contracts.values import ClaimId, Currency, EntityId, Payee, PositiveMoney, UtcDatetime

__all__ = [
    "OverpaymentRecorded",
    "PaymentCompleted",
    "PaymentEvent",
    "PaymentFailed",
    "PaymentReturned",
    "PaymentScheduled",
    "PaymentSent",
]


class PaymentEvent(EventPayload):
    """Fields every payment event carries; not an event type itself."""

    topic: ClassVar[str] = PAYMENT_TOPIC

    claim_id: ClaimId
    payment_id: EntityId
    decision_version: int = Field(ge=1, description="The decision this payment executes.")
    amount: PositiveMoney
    currency: Currency
    payee: Payee


class PaymentScheduled(PaymentEvent):
    """A decision's unpaid amount became a payment, waiting to go to the bank."""

    event_type: ClassVar[str] = "PaymentScheduled"
    event_version: ClassVar[int] = 1

    hold_reason: Literal["awaiting_member_account", "awaiting_provider_account"] | None = Field(
        default=None,
        description="Why the payment cannot go to the bank yet (the payee's account is not known); None when due.",
    )


class PaymentSent(PaymentEvent):
    """A payment went to the bank."""

    event_type: ClassVar[str] = "PaymentSent"
    event_version: ClassVar[int] = 1

    batch_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None


class PaymentCompleted(PaymentEvent):
    """The bank settled a payment."""

    event_type: ClassVar[str] = "PaymentCompleted"
    event_version: ClassVar[int] = 1

    settled_at: UtcDatetime


class PaymentFailed(PaymentEvent):
    """The bank did not take a payment; a retryable failure is tried again."""

    event_type: ClassVar[str] = "PaymentFailed"
    event_version: ClassVar[int] = 1

    reason: Reason
    retryable: bool


class PaymentReturned(PaymentEvent):
    """A settled payment came back from the payee's bank."""

    event_type: ClassVar[str] = "PaymentReturned"
    event_version: ClassVar[int] = 1

    reason: Reason


class OverpaymentRecorded(EventPayload):
    """A re-decision is lower than what was already paid; the difference is to recover."""

    event_type: ClassVar[str] = "OverpaymentRecorded"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = PAYMENT_TOPIC

    claim_id: ClaimId
    decision_version: int = Field(ge=1)
    amount: PositiveMoney = Field(description="Paid minus now payable: the amount to recover.")
    currency: Currency
    payee: Payee

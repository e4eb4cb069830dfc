"""Every event payload, grouped by the topic that carries it."""

from __future__ import annotations

from claims_contracts.envelope import EventPayload
from claims_contracts.events._base import ContractModel
from claims_contracts.events.adjudication import (
    Adjustment,
    ClaimAdjudicated,
    ClaimPended,
    DecisionLine,
    VerificationRequested,
)
from claims_contracts.events.intake import (
    BankAccount,
    ClaimDisputed,
    ClaimDocumentsRequested,
    ClaimExpired,
    ClaimLine,
    ClaimReceived,
    ClaimWithdrawn,
    Diagnosis,
    MemberContact,
    ProviderRef,
)
from claims_contracts.events.notification import FeedbackReceived, NotificationSent
from claims_contracts.events.payment import (
    OverpaymentRecorded,
    PaymentCompleted,
    PaymentEvent,
    PaymentFailed,
    PaymentReturned,
    PaymentScheduled,
    PaymentSent,
)

__all__ = [
    "ALL_EVENTS",
    "Adjustment",
    "BankAccount",
    "ClaimAdjudicated",
    "ClaimDisputed",
    "ClaimDocumentsRequested",
    "ClaimExpired",
    "ClaimLine",
    "ClaimPended",
    "ClaimReceived",
    "ClaimWithdrawn",
    "ContractModel",
    "DecisionLine",
    "Diagnosis",
    "FeedbackReceived",
    "MemberContact",
    "NotificationSent",
    "OverpaymentRecorded",
    "PaymentCompleted",
    "PaymentEvent",
    "PaymentFailed",
    "PaymentReturned",
    "PaymentScheduled",
    "PaymentSent",
    "ProviderRef",
    "VerificationRequested",
]

ALL_EVENTS: tuple[type[EventPayload], ...] = (
    ClaimReceived,
    ClaimDocumentsRequested,
    ClaimDisputed,
    ClaimWithdrawn,
    ClaimExpired,
    ClaimPended,
    VerificationRequested,
    ClaimAdjudicated,
    PaymentScheduled,
    PaymentSent,
    PaymentCompleted,
    PaymentFailed,
    PaymentReturned,
    OverpaymentRecorded,
    NotificationSent,
    FeedbackReceived,
)
"""Every event payload class, in the order the schemas and the AsyncAPI document list them."""

"""What a decision means in money: pay the difference, or record an overpayment to recover."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from claims_payment.domain.model import COMMITTED, PaymentStatus

ZERO = Decimal("0.00")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class PriorPayment:
    """A payment an earlier decision of the claim made."""

    amount: Decimal
    status: PaymentStatus
    superseded: bool = False


@dataclass(frozen=True)
class DecisionPlan:
    """The money consequences of one decision.

    ``pay`` is the new payment (0: none), ``overpayment`` the amount newly to recover,
    ``recovery_waived`` the part of an earlier open overpayment that this decision forgives
    (a higher re-decision first cancels what the claimant was asked to give back).
    """

    pay: Decimal
    overpayment: Decimal
    recovery_waived: Decimal


def committed_amount(payments: Iterable[PriorPayment]) -> Decimal:
    """What counts as paid for a claim: settled and in-flight payments; failed and returned ones do not."""
    return sum((p.amount for p in payments if p.status in COMMITTED and not p.superseded), ZERO)


def plan_decision(payable: Decimal, committed: Decimal, open_recovery: Decimal) -> DecisionPlan:
    """Pay only what the claim is still owed; never a negative payment.

    The claimant's position is what was paid or is in flight, less what they were already asked to
    give back. A decision above that position first waives open recovery, then pays the rest; a
    decision below it records the excess as an overpayment.
    """
    for name, value in (("payable", payable), ("committed", committed), ("open_recovery", open_recovery)):
        if value < 0:
            raise ValueError(f"{name} must not be negative")
    position = committed - open_recovery
    difference = (payable - position).quantize(CENT)
    if difference > 0:
        waived = min(difference, open_recovery)
        return DecisionPlan(pay=difference - waived, overpayment=ZERO, recovery_waived=waived)
    if difference < 0:
        return DecisionPlan(pay=ZERO, overpayment=-difference, recovery_waived=ZERO)
    return DecisionPlan(pay=ZERO, overpayment=ZERO, recovery_waived=ZERO)

"""Daily reconciliation: approved = settled + in flight + failed + returned, checked against the ledger."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from claims_payment.domain.model import PaymentStatus

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class DayPayment:
    """A payment created on the day being reconciled."""

    status: PaymentStatus
    amount: Decimal
    on_hold: bool = False


@dataclass(frozen=True)
class Bucket:
    """A count and an amount."""

    count: int = 0
    amount: Decimal = ZERO

    def add(self, amount: Decimal) -> Bucket:
        """This bucket with one more payment."""
        return Bucket(self.count + 1, self.amount + amount)


@dataclass(frozen=True)
class Reconciliation:
    """The buckets of one day and whether they add up."""

    approved: Bucket
    settled: Bucket
    in_flight: Bucket
    on_hold: Bucket
    failed: Bucket
    returned: Bucket
    discrepancies: list[str] = field(default_factory=list)

    @property
    def accounted(self) -> Decimal:
        """Settled + in flight + failed + returned."""
        return self.settled.amount + self.in_flight.amount + self.failed.amount + self.returned.amount

    @property
    def balanced(self) -> bool:
        """Whether every approved cent is accounted for and the ledger agrees."""
        return self.approved.amount == self.accounted and not self.discrepancies


def reconcile(
    payments: Iterable[DayPayment],
    ledger_settled: Decimal | None = None,
    ledger_in_clearing: Decimal | None = None,
) -> Reconciliation:
    """Sort the day's payments into buckets; compare settled and sent amounts with the ledger's."""
    approved = settled = in_flight = on_hold = failed = returned = sent = Bucket()
    for p in payments:
        approved = approved.add(p.amount)
        if p.status is PaymentStatus.SETTLED:
            settled = settled.add(p.amount)
        elif p.status in (PaymentStatus.SCHEDULED, PaymentStatus.SENT):
            in_flight = in_flight.add(p.amount)
            if p.on_hold:
                on_hold = on_hold.add(p.amount)
            if p.status is PaymentStatus.SENT:
                sent = sent.add(p.amount)
        elif p.status is PaymentStatus.FAILED:
            failed = failed.add(p.amount)
        else:
            returned = returned.add(p.amount)
    problems = []
    if ledger_settled is not None and ledger_settled != settled.amount:
        problems.append(f"ledger shows {ledger_settled:.2f} paid out, payments say {settled.amount:.2f} settled")
    if ledger_in_clearing is not None and ledger_in_clearing != sent.amount:
        problems.append(f"ledger shows {ledger_in_clearing:.2f} at the bank, payments say {sent.amount:.2f} sent")
    return Reconciliation(approved, settled, in_flight, on_hold, failed, returned, problems)

"""A day's reconciliation."""

from decimal import Decimal

from claims_payment.domain.model import PaymentStatus
from claims_payment.domain.reconciliation import DayPayment, reconcile

S = PaymentStatus
D = Decimal


def test_every_approved_cent_is_settled_in_flight_failed_or_returned():
    day = [
        DayPayment(S.SETTLED, D("450.00")),
        DayPayment(S.SENT, D("100.00")),
        DayPayment(S.SCHEDULED, D("20.00"), on_hold=True),
        DayPayment(S.FAILED, D("3.00")),
        DayPayment(S.RETURNED, D("0.50")),
    ]
    result = reconcile(day, ledger_settled=D("450.00"), ledger_in_clearing=D("100.00"))
    assert result.approved.amount == D("573.50")
    assert result.approved.count == 5
    assert (result.settled.amount, result.in_flight.amount, result.failed.amount, result.returned.amount) == (
        D("450.00"),
        D("120.00"),
        D("3.00"),
        D("0.50"),
    )
    assert result.on_hold.amount == D("20.00")
    assert result.balanced
    assert result.discrepancies == []


def test_ledger_disagreeing_with_the_payments_is_a_discrepancy():
    result = reconcile([DayPayment(S.SETTLED, D("450.00"))], ledger_settled=D("400.00"), ledger_in_clearing=D("0"))
    assert not result.balanced
    assert result.discrepancies == ["ledger shows 400.00 paid out, payments say 450.00 settled"]

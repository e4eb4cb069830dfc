"""Pure rules: the completeness checklist, amounts and dates, the status machine, expiry."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claims_intake.domain import amounts, completeness, status
from claims_intake.icd10 import icd10_exists


def test_checklist_per_claim_type():
    assert completeness.missing_documents("outpatient", ["claim_form"]) == [
        "id_proof",
        "itemized_bill",
        "invoice",
        "medical_record",
    ]
    assert completeness.missing_documents("inpatient", ["claim_form", "id_proof", "itemized_bill", "invoice"]) == [
        "medical_record",
        "discharge_summary",
    ]
    assert completeness.missing_documents("pharmacy", ["other"])[-1] == "prescription"
    assert completeness.missing_documents("emergency", completeness.required_documents("emergency")) == []
    with pytest.raises(ValueError, match="unknown claim type"):
        completeness.required_documents("dental")


def test_deadline_is_thirty_days_and_the_last_day_still_counts():
    deadline = completeness.documents_deadline(date(2026, 3, 1))
    assert deadline == date(2026, 3, 31)
    assert not completeness.is_overdue(deadline, date(2026, 3, 31))
    assert completeness.is_overdue(deadline, date(2026, 4, 1))


def test_icd10_classification():
    assert icd10_exists("J18.9")
    assert icd10_exists("K02")
    assert not icd10_exists("X99.9")
    assert not icd10_exists("A00-A09")


@given(
    quantity=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("9999"), places=4),
    price=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999"), places=2),
)
def test_line_amount_is_quantity_times_price_to_the_cent(quantity, price):
    amount = amounts.line_amount(quantity, price)
    assert amount == amount.quantize(Decimal("0.01"))
    assert abs(amount - quantity * price) <= Decimal("0.005")


def _claim(**kw):
    base = {
        "claim_type": "outpatient",
        "diagnoses": [("J18.9", True)],
        "lines": [amounts.LineFacts(1, date(2026, 3, 10), Decimal("1.5"), Decimal("33.33"), Decimal("50.00"))],
        "payee": "provider",
        "has_bank_account": False,
        "currency": "CNY",
    }
    base.update(kw)
    return amounts.ClaimFacts(**base)


def test_half_up_rounding_and_consistency_rules():
    today = date(2026, 11, 25)
    assert amounts.check_claim(_claim(), latest_date=today, code_exists=icd10_exists) == []
    bad = _claim(
        lines=[
            amounts.LineFacts(1, date(2026, 12, 1), Decimal("1"), Decimal("10.00"), Decimal("10.01")),
            amounts.LineFacts(1, date(2026, 3, 1), Decimal("1"), Decimal("10.00"), Decimal("10.00"), Decimal("11")),
        ],
        diagnoses=[("J18.9", False), ("J18.9", False)],
        payee="member",
        currency="USD",
    )
    fields = {i.field for i in amounts.check_claim(bad, latest_date=today, code_exists=icd10_exists)}
    assert fields == {
        "lines[0].service_date",
        "lines[0].amount",
        "lines[1].line_no",
        "lines[1].other_insurance_paid",
        "diagnoses",
        "diagnoses[1].code",
        "bank_account",
        "currency",
    }


def test_inpatient_stay():
    today = date(2026, 11, 25)
    stay = _claim(claim_type="inpatient", admission_date=date(2026, 3, 9), discharge_date=date(2026, 3, 8))
    assert [i.field for i in amounts.check_claim(stay, latest_date=today, code_exists=icd10_exists)] == [
        "discharge_date"
    ]


def test_status_follows_the_facts_in_any_order():
    assert status.derive_status(status.ClaimFacts("pending_documents")) == "pending_documents"
    assert status.derive_status(status.ClaimFacts("in_review", pended=True)) == "pended"
    decided = status.ClaimFacts("in_review", decision_version=1, outcome="partially_approved")
    assert status.derive_status(decided) == "partially_approved"
    paid = status.ClaimFacts(
        "in_review", decision_version=1, outcome="approved", payments=(status.PaymentFact(1, "settled"),)
    )
    assert status.derive_status(paid) == "paid"
    # a payment seen before its decision still shows
    early = status.ClaimFacts("in_review", payments=(status.PaymentFact(1, "scheduled"),))
    assert status.derive_status(early) == "payment_scheduled"
    disputed = status.ClaimFacts(
        "in_review", decision_version=1, outcome="approved", disputed_version=1, payments=paid.payments
    )
    assert status.derive_status(disputed) == "disputed"
    redecided = status.ClaimFacts(
        "in_review", decision_version=2, outcome="approved", disputed_version=1, payments=paid.payments
    )
    assert status.derive_status(redecided) == "approved"
    failed = status.ClaimFacts("in_review", 1, "approved", payments=(status.PaymentFact(1, "failed"),))
    assert status.derive_status(failed) == "payment_failed"
    assert status.derive_status(status.ClaimFacts("withdrawn", decision_version=None)) == "withdrawn"


def test_withdraw_and_dispute_guards():
    assert status.can_withdraw(status.ClaimFacts("pending_documents")) is None
    assert status.can_withdraw(status.ClaimFacts("in_review", decision_version=1, outcome="denied"))
    assert status.can_withdraw(status.ClaimFacts("expired"))
    assert status.can_dispute(status.ClaimFacts("in_review"))
    assert status.can_dispute(status.ClaimFacts("in_review", decision_version=1, outcome="denied")) is None
    assert status.can_dispute(status.ClaimFacts("in_review", 1, "denied", disputed_version=1))


def test_first_paid_at_keeps_the_earliest_settlement_until_none_is_left():
    early, late = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    assert status.first_paid_at(None, "settled", late, ["settled"]) == late
    assert status.first_paid_at(late, "settled", early, ["settled", "settled"]) == early
    assert status.first_paid_at(early, "settled", late, ["settled", "settled"]) == early
    assert status.first_paid_at(early, "sent", None, ["sent", "settled"]) == early
    assert status.first_paid_at(early, "returned", None, ["returned", "settled"]) == early
    assert status.first_paid_at(early, "returned", None, ["returned", "failed"]) is None

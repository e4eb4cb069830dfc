"""A claim billed in another currency than the plan's is denied line by line, nothing converted."""

from decimal import Decimal

from claims_adjudication.domain import Accumulators, AdjustmentReason, Outcome, deny_claim_in_other_currency
from claims_adjudication.domain.examples import outpatient_claim


def test_claim_in_another_currency_is_denied_not_covered_with_the_currencies_named() -> None:
    before = Accumulators(Decimal("100.00"), Decimal("50.00"), {"drugs": Decimal("50.00")})
    decision = deny_claim_in_other_currency(outpatient_claim(), before, "USD", "CNY")
    assert decision.outcome is Outcome.DENIED
    assert decision.payable == Decimal("0.00")
    assert decision.member_responsibility == decision.charged == Decimal("1100.00")
    assert decision.denial_reasons == (AdjustmentReason.NOT_COVERED,)
    assert decision.accumulators_after == before
    for line in decision.lines:
        (adjustment,) = line.adjustments
        assert (adjustment.reason, adjustment.carc, adjustment.amount) == (
            AdjustmentReason.NOT_COVERED,
            "96",
            line.charged,
        )
        assert "USD" in adjustment.explanation_en
        assert "CNY" in adjustment.explanation_zh

"""A reviewer's adjustment or denial applied to a calculated decision."""

import dataclasses
from datetime import date
from decimal import Decimal

import pytest

from claims_adjudication.domain import (
    ADJUSTMENT_CODES,
    Accumulators,
    AdjustmentGroup,
    AdjustmentReason,
    ClaimLine,
    Decision,
    Outcome,
    apply_reviewer_adjustment,
    deny_decision,
    price_claim,
)
from claims_adjudication.domain.examples import outpatient_claim, standard_plan, standard_policy

D = Decimal
R = AdjustmentReason
BEFORE = Accumulators(D("500.00"), D("1000.00"), {"drugs": D("700.00")})


def _calculated(start: Accumulators = BEFORE) -> Decision:
    # deductible met: consultation 160, examination 480, drugs 210
    return price_claim(outpatient_claim(), standard_plan(), standard_policy(), start)


def test_adjust_lowers_one_line_and_recomputes_everything() -> None:
    calculated = _calculated()
    reviewed = apply_reviewer_adjustment(calculated, {2: D("300.00")}, "CT not supported by the records")
    line = reviewed.line(2)
    assert line.payable == D("300.00")
    assert line.allowed == D("600.00")
    cut = line.adjustments[-1]
    assert (cut.reason, cut.group, cut.carc, cut.amount) == (
        R.REVIEWER_ADJUSTMENT,
        AdjustmentGroup.CO,
        "150",
        D("180.00"),
    )
    assert "480.00" in cut.explanation_en
    assert "CT not supported by the records" in cut.explanation_en
    assert "CT not supported by the records" in cut.explanation_zh
    assert line.charged == line.payable + sum((a.amount for a in line.adjustments), D(0))
    assert reviewed.line(1) == calculated.line(1)
    assert reviewed.payable == D("670.00")
    assert reviewed.member_responsibility == D("430.00")
    assert reviewed.outcome is Outcome.PARTIALLY_APPROVED
    assert reviewed.accumulators_before == BEFORE
    by_category = {"consultation": D("160.00"), "examination": D("300.00"), "drugs": D("910.00")}
    assert reviewed.accumulators_after == Accumulators(D("500.00"), D("1670.00"), by_category)


def test_adjust_keeping_the_payable_changes_nothing() -> None:
    calculated = _calculated()
    assert apply_reviewer_adjustment(calculated, {1: D("160.00"), 3: D("210")}, "checked") == calculated


def test_adjust_to_zero_keeps_the_deductible_used() -> None:
    calculated = _calculated(Accumulators())
    reviewed = apply_reviewer_adjustment(calculated, {2: D("0"), 3: D("0")}, "not medically necessary")
    assert reviewed.payable == D("0.00")
    assert reviewed.outcome is Outcome.PARTIALLY_APPROVED
    assert reviewed.accumulators_after == Accumulators(D("500.00"), D("0.00"))
    assert not any(line.denied for line in reviewed.lines)


@pytest.mark.parametrize(
    ("payables", "message"),
    [
        ({2: D("480.01")}, "may only lower"),
        ({2: D("-1.00")}, "may only lower"),
        ({2: D("100.001")}, "in cents"),
        ({9: D("1.00")}, "no such lines"),
    ],
)
def test_adjust_rejects_what_a_reviewer_may_not_do(payables: dict[int, Decimal], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        apply_reviewer_adjustment(_calculated(), payables, "x")


def test_adjust_frees_room_under_the_annual_limit_for_later_claims() -> None:
    start = Accumulators(D("500.00"), D("199800.00"))
    calculated = _calculated(start)
    assert [line.payable for line in calculated.lines] == [D("160.00"), D("40.00"), D("0.00")]
    reviewed = apply_reviewer_adjustment(calculated, {1: D("60.00")}, "partly duplicated visit")
    assert [line.payable for line in reviewed.lines] == [D("60.00"), D("40.00"), D("0.00")]
    assert reviewed.accumulators_after.paid_total == D("199900.00")


def test_adjust_twice_adds_a_second_cut() -> None:
    once = apply_reviewer_adjustment(_calculated(), {2: D("400.00")}, "first")
    twice = apply_reviewer_adjustment(once, {2: D("300.00")}, "second")
    cuts = [a.amount for a in twice.line(2).adjustments if a.reason is R.REVIEWER_ADJUSTMENT]
    assert cuts == [D("80.00"), D("100.00")]
    assert twice.payable == D("670.00")


def test_deny_denies_every_line_and_releases_the_accumulators() -> None:
    denied = deny_decision(_calculated(Accumulators()), "bill not confirmed by the hospital")
    assert denied.outcome is Outcome.DENIED
    assert denied.payable == D("0.00")
    assert denied.member_responsibility == D("1100.00")
    assert denied.denial_reasons == (R.REVIEWER_DENIAL,)
    assert denied.accumulators_after == denied.accumulators_before == Accumulators()
    for line in denied.lines:
        assert line.denied
        assert line.allowed == line.payable == D("0.00")
        (adjustment,) = line.adjustments
        assert (adjustment.reason, adjustment.amount) == (R.REVIEWER_DENIAL, line.charged)
        assert adjustment.carc == ADJUSTMENT_CODES[R.REVIEWER_DENIAL].carc
        assert "bill not confirmed by the hospital" in adjustment.explanation_en


def test_deny_keeps_other_insurance_and_earlier_denials() -> None:
    claim = outpatient_claim()
    lines = (
        dataclasses.replace(claim.lines[0], other_insurance_paid=D("50.00")),
        claim.lines[1],
        dataclasses.replace(claim.lines[2], category="other"),
        ClaimLine(
            line_no=4,
            service_date=date(2026, 3, 10),
            category="nursing",
            code="N-1",
            quantity=D("1"),
            unit_price=D("10.00"),
            amount=D("10.00"),
        ),
    )
    calculated = price_claim(
        dataclasses.replace(claim, lines=lines), standard_plan(), standard_policy(), Accumulators()
    )
    denied = deny_decision(calculated, "fraud confirmed")
    line1 = denied.line(1)
    assert [(a.reason, a.amount) for a in line1.adjustments] == [
        (R.OTHER_INSURANCE, D("50.00")),
        (R.REVIEWER_DENIAL, D("150.00")),
    ]
    assert denied.line(3) == calculated.line(3)
    assert denied.line(3).denial_reason is R.NOT_COVERED
    assert denied.denial_reasons == (R.REVIEWER_DENIAL, R.NOT_COVERED)
    assert denied.other_insurance == D("50.00")
    assert denied.member_responsibility == D("1060.00")

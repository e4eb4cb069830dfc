# ruff: noqa: RUF001  (full-width Chinese punctuation and the multiplication sign are meant)
"""DOMAIN.md §5 worked example: the claim of §3 under the plan and policy of §4, first claim of the year."""

from decimal import Decimal

from claims_adjudication.domain import (
    Accumulators,
    AdjustmentGroup,
    AdjustmentReason,
    Decision,
    Outcome,
    price_claim,
)
from claims_adjudication.domain.examples import outpatient_claim, standard_plan, standard_policy
from claims_adjudication.domain.explain import explain_line

D = Decimal
R = AdjustmentReason


def _decision() -> Decision:
    return price_claim(outpatient_claim(), standard_plan(), standard_policy(), Accumulators())


def test_totals_to_the_cent() -> None:
    decision = _decision()
    assert decision.outcome is Outcome.APPROVED
    assert decision.charged == D("1100.00")
    assert decision.allowed == D("1100.00")
    assert decision.payable == D("450.00")
    assert decision.member_responsibility == D("650.00")
    assert decision.other_insurance == D("0.00")
    assert decision.denial_reasons == ()
    assert str(decision.payable) == "450.00"
    assert str(decision.member_responsibility) == "650.00"


def test_every_line_to_the_cent() -> None:
    lines = _decision().lines
    assert [line.line_no for line in lines] == [1, 2, 3]
    rows = [
        (
            line.category,
            str(line.charged),
            str(line.allowed),
            str(line.payable),
            [(a.reason, a.group, a.carc, str(a.amount)) for a in line.adjustments],
            line.denied,
        )
        for line in lines
    ]
    assert rows == [
        (
            "consultation",
            "200.00",
            "200.00",
            "0.00",
            [(R.DEDUCTIBLE, AdjustmentGroup.PR, "1", "200.00")],
            False,
        ),
        (
            "examination",
            "600.00",
            "600.00",
            "240.00",
            [
                (R.DEDUCTIBLE, AdjustmentGroup.PR, "1", "300.00"),
                (R.COINSURANCE, AdjustmentGroup.PR, "2", "60.00"),
            ],
            False,
        ),
        ("drugs", "300.00", "300.00", "210.00", [(R.COINSURANCE, AdjustmentGroup.PR, "2", "90.00")], False),
    ]


def test_accumulators_after() -> None:
    after = _decision().accumulators_after
    assert after == Accumulators(D("500.00"), D("450.00"), {"examination": D("240.00"), "drugs": D("210.00")})
    assert _decision().accumulator_delta == after


def test_explanations_carry_the_numbers() -> None:
    line = _decision().line(2)
    deductible, coinsurance = line.adjustments
    state = "500.00 per year; 200.00 used before this line, 0.00 left after it"
    assert deductible.explanation_en == f"Applied to your annual deductible ({state})."
    zh = "计入年度免赔额（每年 500.00；本项之前已使用 200.00，本项之后剩余 0.00）。"
    assert deductible.explanation_zh == zh
    assert coinsurance.explanation_en == (
        "Your coinsurance for examination: the plan pays 80% of 300.00, which is 240.00; "
        "the remaining 60.00 is your share."
    )
    assert coinsurance.explanation_zh == "检查费按 80% 赔付：300.00 × 80% = 240.00，其余 60.00 由您自付。"
    assert explain_line(line, "en").startswith("Charged 600.00, allowed 600.00, payable 240.00.")
    assert explain_line(line).startswith("收费 600.00")


def test_second_identical_claim_pays_coinsurance_only() -> None:
    first = _decision()
    claim = outpatient_claim("CLM-2")
    second = price_claim(claim, standard_plan(), standard_policy(), first.accumulators_after)
    assert [line.payable for line in second.lines] == [D("160.00"), D("480.00"), D("210.00")]
    assert second.payable == D("850.00")
    assert second.accumulators_after.deductible_used == D("500.00")
    assert second.accumulators_after.paid_total == D("1300.00")

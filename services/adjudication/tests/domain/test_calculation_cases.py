"""Every step and reason of DOMAIN.md §5, one small claim at a time, under the plan and policy of §4.

Plan STD-2026: deductible 500, annual limit 200,000, waiting period 30 days (cover for illness from
2026-01-31), exclusions O / K02 / Z41; consultation, examination 80%, surgery 90%, drugs 70% (sublimit
20,000), room 100% (300 a day, no deductible), consumables 50%. Policy 2026-01-01 to 2026-12-31.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import pytest

from claims_adjudication.domain import (
    ADJUSTMENT_CODES,
    Accumulators,
    AdjustmentReason,
    ClaimLine,
    ClaimToPrice,
    Decision,
    Outcome,
    Plan,
    Policy,
    price_claim,
)
from claims_adjudication.domain.examples import standard_plan, standard_policy

D = Decimal
R = AdjustmentReason
PLAN = standard_plan()
POLICY = standard_policy()
DAY = "2026-03-10"


def ln(no: int, category: str, amount: str, *, day: str = DAY, qty: str = "1", oip: str = "0") -> ClaimLine:
    """A bill line; the unit price is amount / quantity."""
    return ClaimLine(
        line_no=no,
        service_date=date.fromisoformat(day),
        category=category,
        code=f"X-{no}",
        quantity=D(qty),
        unit_price=(D(amount) / D(qty)).quantize(D("0.01")),
        amount=D(amount),
        other_insurance_paid=D(oip),
    )


def acc(deductible: str = "0", paid: str = "0", **by_category: str) -> Accumulators:
    return Accumulators(D(deductible), D(paid), {k: D(v) for k, v in by_category.items()})


@dataclass(frozen=True)
class Case:
    id: str
    lines: tuple[ClaimLine, ...]
    # line_no -> (payable, {reason: amount}); amounts of one reason on a line are summed
    expect: dict[int, tuple[str, dict[R, str]]]
    outcome: Outcome
    accumulators: Accumulators = field(default_factory=Accumulators)
    plan: Plan | None = PLAN
    policy: Policy | None = POLICY
    accident: bool = False
    diagnosis: str = "J18.9"
    member: str = "M-1001"
    deductible_after: str | None = None


SPENT = acc("500")  # deductible already met

CASES = [
    # 5. deductible
    Case("all_to_deductible_is_approved", (ln(1, "consultation", "200.00"),),
         {1: ("0.00", {R.DEDUCTIBLE: "200.00"})}, Outcome.APPROVED, deductible_after="200.00"),
    Case("deductible_partly_used_before", (ln(1, "consultation", "200.00"),),
         {1: ("80.00", {R.DEDUCTIBLE: "100.00", R.COINSURANCE: "20.00"})}, Outcome.APPROVED,
         accumulators=acc("400"), deductible_after="500.00"),
    Case("deductible_met_before", (ln(1, "examination", "600.00"),),
         {1: ("480.00", {R.COINSURANCE: "120.00"})}, Outcome.APPROVED, accumulators=SPENT),
    Case("deductible_used_above_plan_amount", (ln(1, "examination", "600.00"),),
         {1: ("480.00", {R.COINSURANCE: "120.00"})}, Outcome.APPROVED, accumulators=acc("800"),
         deductible_after="800.00"),
    Case("deductible_applies_false", (ln(1, "room", "250.00"),),
         {1: ("250.00", {})}, Outcome.APPROVED, deductible_after="0.00"),
    Case("zero_deductible_plan", (ln(1, "consultation", "200.00"),),
         {1: ("160.00", {R.COINSURANCE: "40.00"})}, Outcome.APPROVED,
         plan=dataclasses.replace(PLAN, annual_deductible=D("0"))),
    # 4. per-day limit
    Case("per_day_cap_times_quantity", (ln(1, "room", "1200.00", qty="3"),),
         {1: ("900.00", {R.OVER_LIMIT: "300.00"})}, Outcome.PARTIALLY_APPROVED),
    Case("per_day_under_cap", (ln(1, "room", "840.00", qty="3"),),
         {1: ("840.00", {})}, Outcome.APPROVED),
    Case("per_day_cap_exactly_reached", (ln(1, "room", "900.00", qty="3"),),
         {1: ("900.00", {})}, Outcome.APPROVED),
    Case("per_day_cap_fractional_quantity", (ln(1, "room", "600.00", qty="1.5"),),
         {1: ("450.00", {R.OVER_LIMIT: "150.00"})}, Outcome.PARTIALLY_APPROVED),
    Case("per_day_cap_after_other_insurance", (ln(1, "room", "1000.00", qty="2", oip="300.00"),),
         {1: ("600.00", {R.OTHER_INSURANCE: "300.00", R.OVER_LIMIT: "100.00"})}, Outcome.PARTIALLY_APPROVED),
    # 6. coinsurance, half up on each line
    Case("coinsurance_half_up_half_cent", (ln(1, "consumables", "0.01"),),
         {1: ("0.01", {})}, Outcome.APPROVED, accumulators=SPENT),
    Case("coinsurance_half_up_x_xx5", (ln(1, "consumables", "10.05"),),
         {1: ("5.03", {R.COINSURANCE: "5.02"})}, Outcome.APPROVED, accumulators=SPENT),
    Case("coinsurance_rounds_down_below_half", (ln(1, "examination", "10.03"),),
         {1: ("8.02", {R.COINSURANCE: "2.01"})}, Outcome.APPROVED, accumulators=SPENT),
    Case("coinsurance_rounds_up_above_half", (ln(1, "examination", "10.01"),),
         {1: ("8.01", {R.COINSURANCE: "2.00"})}, Outcome.APPROVED, accumulators=SPENT),
    Case("coinsurance_rounded_to_whole_base", (ln(1, "surgery", "0.05"),),
         {1: ("0.05", {})}, Outcome.APPROVED, accumulators=SPENT),
    Case("coinsurance_each_line_rounded", (ln(1, "consumables", "0.03"), ln(2, "consumables", "0.03")),
         {1: ("0.02", {R.COINSURANCE: "0.01"}), 2: ("0.02", {R.COINSURANCE: "0.01"})}, Outcome.APPROVED,
         accumulators=SPENT),
    Case("coinsurance_after_partial_deductible", (ln(1, "consumables", "500.05"),),
         {1: ("0.03", {R.DEDUCTIBLE: "500.00", R.COINSURANCE: "0.02"})}, Outcome.APPROVED),
    # 7. benefit maximum
    Case("sublimit_partly_exhausted", (ln(1, "drugs", "300.00"),),
         {1: ("100.00", {R.COINSURANCE: "90.00", R.BENEFIT_MAXIMUM: "110.00"})}, Outcome.PARTIALLY_APPROVED,
         accumulators=acc("500", "19900", drugs="19900")),
    Case("sublimit_exhausted", (ln(1, "drugs", "300.00"),),
         {1: ("0.00", {R.COINSURANCE: "90.00", R.BENEFIT_MAXIMUM: "210.00"})}, Outcome.PARTIALLY_APPROVED,
         accumulators=acc("500", "20000", drugs="20000")),
    Case("sublimit_reached_within_claim", (ln(1, "drugs", "300.00"), ln(2, "drugs", "300.00")),
         {1: ("210.00", {R.COINSURANCE: "90.00"}),
          2: ("90.00", {R.COINSURANCE: "90.00", R.BENEFIT_MAXIMUM: "120.00"})},
         Outcome.PARTIALLY_APPROVED, accumulators=acc("500", "19700", drugs="19700")),
    Case("sublimit_leaves_other_categories_alone", (ln(1, "examination", "100.00"),),
         {1: ("80.00", {R.COINSURANCE: "20.00"})}, Outcome.APPROVED,
         accumulators=acc("500", "20000", drugs="20000")),
    Case("per_claim_limit", (ln(1, "examination", "600.00"), ln(2, "examination", "400.00")),
         {1: ("300.00", {R.COINSURANCE: "120.00", R.BENEFIT_MAXIMUM: "180.00"}),
          2: ("0.00", {R.COINSURANCE: "80.00", R.BENEFIT_MAXIMUM: "320.00"})},
         Outcome.PARTIALLY_APPROVED, accumulators=SPENT,
         plan=dataclasses.replace(PLAN, per_claim_limit=D("300.00"))),
    Case("annual_limit_partly_left", (ln(1, "examination", "600.00"),),
         {1: ("100.00", {R.COINSURANCE: "120.00", R.BENEFIT_MAXIMUM: "380.00"})}, Outcome.PARTIALLY_APPROVED,
         accumulators=acc("500", "199900")),
    Case("annual_limit_reached", (ln(1, "examination", "600.00"),),
         {1: ("0.00", {R.COINSURANCE: "120.00", R.BENEFIT_MAXIMUM: "480.00"})}, Outcome.PARTIALLY_APPROVED,
         accumulators=acc("500", "200000")),
    Case("sublimit_then_annual_limit_both_cut", (ln(1, "drugs", "1000.00"),),
         {1: ("50.00", {R.COINSURANCE: "300.00", R.BENEFIT_MAXIMUM: "650.00"})}, Outcome.PARTIALLY_APPROVED,
         accumulators=acc("500", "199950", drugs="19500")),
    # 2. line denials
    Case("waiting_period_illness", (ln(1, "consultation", "200.00", day="2026-01-30"),),
         {1: ("0.00", {R.WAITING_PERIOD: "200.00"})}, Outcome.DENIED, deductible_after="0.00"),
    Case("waiting_period_over_on_day_31", (ln(1, "consultation", "200.00", day="2026-01-31"),),
         {1: ("0.00", {R.DEDUCTIBLE: "200.00"})}, Outcome.APPROVED),
    Case("waiting_period_accident_covered", (ln(1, "consultation", "200.00", day="2026-01-15"),),
         {1: ("0.00", {R.DEDUCTIBLE: "200.00"})}, Outcome.APPROVED, accident=True),
    Case("waiting_period_one_line_of_two",
         (ln(1, "consultation", "200.00", day="2026-01-20"),
          ln(2, "examination", "600.00", day="2026-02-02")),
         {1: ("0.00", {R.WAITING_PERIOD: "200.00"}),
          2: ("80.00", {R.DEDUCTIBLE: "500.00", R.COINSURANCE: "20.00"})},
         Outcome.PARTIALLY_APPROVED),
    Case("coverage_inactive_before_period", (ln(1, "consultation", "200.00", day="2025-12-31"),),
         {1: ("0.00", {R.COVERAGE_INACTIVE: "200.00"})}, Outcome.DENIED, accident=True),
    Case("coverage_inactive_after_period", (ln(1, "consultation", "200.00", day="2027-01-01"),),
         {1: ("0.00", {R.COVERAGE_INACTIVE: "200.00"})}, Outcome.DENIED),
    Case("coverage_last_day_covered", (ln(1, "consultation", "200.00", day="2026-12-31"),),
         {1: ("0.00", {R.DEDUCTIBLE: "200.00"})}, Outcome.APPROVED),
    Case("coverage_inactive_one_line_of_two",
         (ln(1, "examination", "600.00", day="2025-12-31"), ln(2, "examination", "600.00")),
         {1: ("0.00", {R.COVERAGE_INACTIVE: "600.00"}),
          2: ("80.00", {R.DEDUCTIBLE: "500.00", R.COINSURANCE: "20.00"})},
         Outcome.PARTIALLY_APPROVED),
    Case("policy_suspended", (ln(1, "consultation", "200.00"),),
         {1: ("0.00", {R.COVERAGE_INACTIVE: "200.00"})}, Outcome.DENIED,
         policy=dataclasses.replace(POLICY, status="suspended")),
    Case("policy_expired_status_pays_services_in_period", (ln(1, "examination", "100.00"),),
         {1: ("80.00", {R.COINSURANCE: "20.00"})}, Outcome.APPROVED, accumulators=SPENT,
         policy=dataclasses.replace(POLICY, status="expired")),
    Case("category_not_in_plan", (ln(1, "other", "200.00"),),
         {1: ("0.00", {R.NOT_COVERED: "200.00"})}, Outcome.DENIED),
    Case("category_not_in_plan_one_line_of_two", (ln(1, "other", "200.00"), ln(2, "room", "300.00")),
         {1: ("0.00", {R.NOT_COVERED: "200.00"}), 2: ("300.00", {})}, Outcome.PARTIALLY_APPROVED),
    Case("denied_line_shows_other_insurance_first", (ln(1, "other", "300.00", oip="100.00"),),
         {1: ("0.00", {R.OTHER_INSURANCE: "100.00", R.NOT_COVERED: "200.00"})}, Outcome.DENIED),
    Case("denied_line_fully_paid_elsewhere_keeps_reason", (ln(1, "other", "300.00", oip="400.00"),),
         {1: ("0.00", {R.OTHER_INSURANCE: "300.00", R.NOT_COVERED: "0.00"})}, Outcome.DENIED),
    # 1. whole-claim denials
    Case("unknown_policy", (ln(1, "consultation", "200.00"), ln(2, "drugs", "300.00", oip="50.00")),
         {1: ("0.00", {R.POLICY_NOT_FOUND: "200.00"}),
          2: ("0.00", {R.OTHER_INSURANCE: "50.00", R.POLICY_NOT_FOUND: "250.00"})},
         Outcome.DENIED, plan=None, policy=None),
    Case("member_not_on_policy", (ln(1, "consultation", "200.00"),),
         {1: ("0.00", {R.MEMBER_NOT_COVERED: "200.00"})}, Outcome.DENIED, member="M-9999"),
    Case("excluded_prefix_O_matches_O80", (ln(1, "consultation", "200.00"), ln(2, "room", "300.00")),
         {1: ("0.00", {R.EXCLUDED_CONDITION: "200.00"}), 2: ("0.00", {R.EXCLUDED_CONDITION: "300.00"})},
         Outcome.DENIED, diagnosis="O80"),
    Case("excluded_prefix_K02_matches_K02_1", (ln(1, "consultation", "200.00"),),
         {1: ("0.00", {R.EXCLUDED_CONDITION: "200.00"})}, Outcome.DENIED, diagnosis="K02.1"),
    Case("excluded_prefix_ignores_dot_and_case", (ln(1, "consultation", "200.00"),),
         {1: ("0.00", {R.EXCLUDED_CONDITION: "200.00"})}, Outcome.DENIED, diagnosis="z411"),
    Case("excluded_prefix_beats_accident", (ln(1, "consultation", "200.00"),),
         {1: ("0.00", {R.EXCLUDED_CONDITION: "200.00"})}, Outcome.DENIED, diagnosis="K02", accident=True),
    Case("not_excluded_K03", (ln(1, "consultation", "200.00"),),
         {1: ("0.00", {R.DEDUCTIBLE: "200.00"})}, Outcome.APPROVED, diagnosis="K03.1"),
    Case("not_excluded_K0_shorter_than_prefix", (ln(1, "consultation", "200.00"),),
         {1: ("0.00", {R.DEDUCTIBLE: "200.00"})}, Outcome.APPROVED, diagnosis="K0"),
    # 3. other insurance
    Case("other_insurance_partial", (ln(1, "consultation", "200.00", oip="50.00"),),
         {1: ("0.00", {R.OTHER_INSURANCE: "50.00", R.DEDUCTIBLE: "150.00"})}, Outcome.APPROVED,
         deductible_after="150.00"),
    Case("other_insurance_equals_amount", (ln(1, "consultation", "200.00", oip="200.00"),),
         {1: ("0.00", {R.OTHER_INSURANCE: "200.00"})}, Outcome.APPROVED, deductible_after="0.00"),
    Case("other_insurance_above_amount", (ln(1, "consultation", "200.00", oip="250.00"),),
         {1: ("0.00", {R.OTHER_INSURANCE: "200.00"})}, Outcome.APPROVED, deductible_after="0.00"),
    # order of pricing: service date, then line number
    Case("earlier_service_date_takes_the_deductible",
         (ln(1, "consultation", "400.00", day="2026-03-12"), ln(2, "drugs", "400.00", day="2026-03-10")),
         {1: ("240.00", {R.DEDUCTIBLE: "100.00", R.COINSURANCE: "60.00"}),
          2: ("0.00", {R.DEDUCTIBLE: "400.00"})}, Outcome.APPROVED),
    Case("same_date_lower_line_no_takes_the_deductible",
         (ln(2, "consultation", "400.00"), ln(1, "drugs", "400.00")),
         {1: ("0.00", {R.DEDUCTIBLE: "400.00"}),
          2: ("240.00", {R.DEDUCTIBLE: "100.00", R.COINSURANCE: "60.00"})}, Outcome.APPROVED),
]  # fmt: skip


def _price(case: Case) -> Decision:
    claim = ClaimToPrice(
        claim_id=f"CLM-{case.id}",
        member_id=case.member,
        policy_number=POLICY.policy_number,
        provider_id="H-001",
        claim_type="outpatient",
        accident=case.accident,
        primary_diagnosis=case.diagnosis,
        lines=case.lines,
    )
    return price_claim(claim, case.plan, case.policy, case.accumulators)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_case(case: Case) -> None:
    decision = _price(case)
    assert [line.line_no for line in decision.lines] == sorted(case.expect)
    for line in decision.lines:
        payable, reasons = case.expect[line.line_no]
        got: dict[R, Decimal] = {}
        for adjustment in line.adjustments:
            got[adjustment.reason] = got.get(adjustment.reason, D(0)) + adjustment.amount
            code = ADJUSTMENT_CODES[adjustment.reason]
            assert (adjustment.group, adjustment.carc) == (code.group, code.carc)
            assert adjustment.explanation_zh
            assert adjustment.explanation_en
        assert (str(line.payable), {r: str(a) for r, a in got.items()}) == (payable, reasons), line.line_no
        assert line.charged == line.payable + sum((a.amount for a in line.adjustments), D(0))
    assert decision.outcome is case.outcome
    assert decision.charged == decision.payable + decision.member_responsibility + decision.other_insurance
    if case.deductible_after is not None:
        assert str(decision.accumulators_after.deductible_used) == case.deductible_after


def test_totals_with_other_insurance_above_amount() -> None:
    """What another insurer overpaid does not turn into a negative member responsibility."""
    decision = _price(next(c for c in CASES if c.id == "other_insurance_above_amount"))
    assert (decision.charged, decision.other_insurance, decision.payable, decision.member_responsibility) == (
        D("200.00"),
        D("200.00"),
        D("0.00"),
        D("0.00"),
    )


def test_totals_mixed_claim() -> None:
    decision = _price(next(c for c in CASES if c.id == "unknown_policy"))
    assert decision.charged == D("500.00")
    assert decision.other_insurance == D("50.00")
    assert decision.member_responsibility == D("450.00")
    assert decision.denial_reasons == (R.POLICY_NOT_FOUND,)
    assert decision.accumulators_after == decision.accumulators_before


def test_denial_reasons_in_line_order_without_repeats() -> None:
    lines = (
        ln(1, "other", "10.00"),
        ln(2, "consultation", "10.00", day="2025-06-01"),
        ln(3, "other", "10.00", day="2026-04-01"),
        ln(4, "consultation", "10.00"),
    )
    decision = _price(Case("x", lines, {}, Outcome.DENIED))
    assert decision.denial_reasons == (R.NOT_COVERED, R.COVERAGE_INACTIVE)
    assert decision.line(2).denial_reason is R.COVERAGE_INACTIVE
    assert decision.line(4).denial_reason is None
    assert decision.outcome is Outcome.PARTIALLY_APPROVED


def test_deductible_spans_two_claims() -> None:
    first = _price(Case("first", (ln(1, "consultation", "300.00"),), {}, Outcome.APPROVED))
    assert (first.payable, first.accumulators_after.deductible_used) == (D("0.00"), D("300.00"))
    second = _price(
        Case(
            "second",
            (ln(1, "examination", "450.00", day="2026-04-02"),),
            {},
            Outcome.APPROVED,
            accumulators=first.accumulators_after,
        )
    )
    line = second.line(1)
    assert (line.deductible, line.adjusted(R.COINSURANCE), line.payable) == (
        D("200.00"),
        D("50.00"),
        D("200.00"),
    )
    assert "300.00 used before this line" in line.adjustments[0].explanation_en
    assert second.accumulators_after == Accumulators(D("500.00"), D("200.00"), {"examination": D("200.00")})


def test_unsorted_input_lines_come_back_in_line_no_order() -> None:
    case = next(c for c in CASES if c.id == "same_date_lower_line_no_takes_the_deductible")
    assert [line.line_no for line in _price(case).lines] == [1, 2]


def test_policy_without_its_plan_is_an_error_not_a_denial() -> None:
    case = Case("no_plan", (ln(1, "consultation", "200.00"),), {}, Outcome.DENIED, plan=None)
    with pytest.raises(ValueError, match="plan STD-2026"):
        _price(case)
    other_plan = dataclasses.replace(PLAN, code="OTHER")
    with pytest.raises(ValueError, match="plan OTHER"):
        _price(dataclasses.replace(case, plan=other_plan))


def test_policy_of_another_number_is_an_error() -> None:
    claim = ClaimToPrice(
        claim_id="C",
        member_id="M-1001",
        policy_number="POL-OTHER",
        provider_id="H-001",
        claim_type="outpatient",
        accident=False,
        primary_diagnosis="J18.9",
        lines=(ln(1, "consultation", "1.00"),),
    )
    with pytest.raises(ValueError, match="POL-OTHER"):
        price_claim(claim, PLAN, POLICY, Accumulators())


def test_claim_without_lines_is_an_error() -> None:
    claim = ClaimToPrice(
        claim_id="C",
        member_id="M-1001",
        policy_number=POLICY.policy_number,
        provider_id="H-001",
        claim_type="outpatient",
        accident=False,
        primary_diagnosis="J18.9",
        lines=(),
    )
    with pytest.raises(ValueError, match="no lines"):
        price_claim(claim, PLAN, POLICY, Accumulators())


@pytest.mark.parametrize(
    ("reason", "fragment_en", "fragment_zh"),
    [
        ("waiting_period_illness", "30-day waiting period", "2026-01-31"),
        ("coverage_inactive_before_period", "2026-01-01 to 2026-12-31", "2025-12-31"),
        ("category_not_in_plan", "not covered by your plan Standard medical 2026", "其他费用"),
        ("per_day_cap_times_quantity", "300.00 × 3 = 900.00", "900.00"),  # noqa: RUF001 (the multiplication sign is meant)
        ("sublimit_partly_exhausted", "19,900.00 was already paid", "20,000.00"),
        ("annual_limit_partly_left", "200,000.00", "100.00"),
        ("excluded_prefix_O_matches_O80", "O80", "O80"),
        ("member_not_on_policy", "M-9999", "M-9999"),
        ("unknown_policy", "POL-2026-0001 could not be found", "POL-2026-0001"),
        ("other_insurance_above_amount", "250.00", "250.00"),
    ],
)
def test_explanations_are_specific(reason: str, fragment_en: str, fragment_zh: str) -> None:
    decision = _price(next(c for c in CASES if c.id == reason))
    texts_en = " ".join(a.explanation_en for line in decision.lines for a in line.adjustments)
    texts_zh = " ".join(a.explanation_zh for line in decision.lines for a in line.adjustments)
    assert fragment_en in texts_en
    assert fragment_zh in texts_zh

"""Value types: adjustment codes, validation of amounts, accumulator arithmetic."""

import dataclasses
from datetime import date
from decimal import Decimal

import pytest

from claims_adjudication.domain import (
    ADJUSTMENT_CODES,
    Accumulators,
    AdjustmentGroup,
    AdjustmentReason,
    CategoryRule,
    ClaimLine,
    ClaimToPrice,
    Plan,
    Policy,
    excluded_prefix,
)
from claims_adjudication.domain.examples import outpatient_claim, standard_plan, standard_policy

D = Decimal
R = AdjustmentReason
PR, CO = AdjustmentGroup.PR, AdjustmentGroup.CO


def test_every_reason_has_its_code() -> None:
    assert set(ADJUSTMENT_CODES) == set(AdjustmentReason)
    table = {reason: (code.group, code.carc) for reason, code in ADJUSTMENT_CODES.items()}
    assert table == {
        R.DEDUCTIBLE: (PR, "1"),
        R.COINSURANCE: (PR, "2"),
        R.OTHER_INSURANCE: (CO, "23"),
        R.COVERAGE_INACTIVE: (CO, "27"),
        R.NOT_COVERED: (CO, "96"),
        R.OVER_LIMIT: (CO, "45"),
        R.BENEFIT_MAXIMUM: (CO, "119"),
        R.WAITING_PERIOD: (CO, "96"),
        R.EXCLUDED_CONDITION: (CO, "96"),
        R.POLICY_NOT_FOUND: (CO, "31"),
        R.MEMBER_NOT_COVERED: (CO, "31"),
        R.REVIEWER_ADJUSTMENT: (CO, "150"),
        R.REVIEWER_DENIAL: (CO, "96"),
    }


def test_reasons_are_plain_strings() -> None:
    assert R.DEDUCTIBLE == "DEDUCTIBLE"
    assert f"{R.BENEFIT_MAXIMUM}" == "BENEFIT_MAXIMUM"
    assert AdjustmentGroup.PR == "PR"


@pytest.mark.parametrize(
    ("diagnosis", "prefix"),
    [
        ("O80", "O"),
        ("o80.1", "O"),
        ("K02.1", "K02"),
        ("K021", "K02"),
        ("K02", "K02"),
        ("Z41.1", "Z41"),
        ("K03.1", None),
        ("K0", None),
        ("J18.9", None),
    ],
)
def test_excluded_prefix(diagnosis: str, prefix: str | None) -> None:
    assert excluded_prefix(diagnosis, ("O", "K02", "Z41")) == prefix


def test_excluded_prefix_with_a_dot_and_an_empty_entry() -> None:
    assert excluded_prefix("K02.1", ("", "K02.")) == "K02."
    assert excluded_prefix("J18.9", ("", " ")) is None


def test_amounts_are_kept_with_two_decimals() -> None:
    line = ClaimLine(
        line_no=1,
        service_date=date(2026, 3, 10),
        category="drugs",
        code="D-1",
        quantity=D("2"),
        unit_price=D("5"),
        amount=D("10"),
    )
    assert str(line.amount) == "10.00"
    assert str(line.other_insurance_paid) == "0.00"
    assert str(Accumulators(D("5"), D("1E+2")).paid_total) == "100.00"
    assert str(standard_plan().annual_deductible) == "500.00"


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"amount": 10.0}, TypeError),
        ({"amount": D("10.001")}, ValueError),
        ({"amount": D("-1.00")}, ValueError),
        ({"amount": D("NaN")}, TypeError),
        ({"other_insurance_paid": D("-0.01")}, ValueError),
        ({"quantity": D("0")}, ValueError),
        ({"unit_price": D("-1")}, ValueError),
    ],
)
def test_bad_lines_are_refused(changes: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        dataclasses.replace(outpatient_claim().lines[0], **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [{"annual_deductible": D("-1")}, {"annual_limit": 1000}, {"waiting_period_days": -1}],
)
def test_bad_plans_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises((TypeError, ValueError)):
        dataclasses.replace(standard_plan(), **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("coinsurance", [D("1.01"), D("-0.01"), 0.8])
def test_coinsurance_between_0_and_1(coinsurance: object) -> None:
    with pytest.raises(ValueError, match="coinsurance"):
        CategoryRule(coinsurance)  # type: ignore[arg-type]


def test_policy_period_must_not_end_before_it_starts() -> None:
    with pytest.raises(ValueError, match="expiry_date"):
        dataclasses.replace(standard_policy(), expiry_date=date(2025, 12, 31))


def test_repeated_line_numbers_are_refused() -> None:
    claim = outpatient_claim()
    with pytest.raises(ValueError, match="repeat"):
        dataclasses.replace(claim, lines=(claim.lines[0], claim.lines[0]))


def test_plan_and_accumulator_mappings_are_read_only() -> None:
    plan: Plan = standard_plan()
    with pytest.raises(TypeError):
        plan.categories["other"] = CategoryRule(D("1"))  # type: ignore[index]
    accumulators = Accumulators(paid_by_category={"drugs": D("1.00")})
    with pytest.raises(TypeError):
        accumulators.paid_by_category["drugs"] = D("2.00")  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        accumulators.paid_total = D("1.00")  # type: ignore[misc]


def test_accumulators_plus_and_minus() -> None:
    a = Accumulators(D("100.00"), D("300.00"), {"drugs": D("200.00"), "room": D("100.00")})
    b = Accumulators(D("50.00"), D("120.00"), {"drugs": D("20.00"), "surgery": D("100.00")})
    total = a.plus(b)
    assert total == Accumulators(
        D("150.00"), D("420.00"), {"drugs": D("220.00"), "room": D("100.00"), "surgery": D("100.00")}
    )
    assert total.minus(b) == a
    assert a.minus(a) == Accumulators()
    assert Accumulators(paid_by_category={"drugs": D("0")}) == Accumulators()
    with pytest.raises(ValueError, match="negative"):
        b.minus(a)


def test_claim_charged_and_first_service_date() -> None:
    claim: ClaimToPrice = outpatient_claim()
    assert claim.charged == D("1100.00")
    assert claim.first_service_date == date(2026, 3, 10)
    policy: Policy = standard_policy()
    assert policy.member_ids == frozenset({"M-1001"})

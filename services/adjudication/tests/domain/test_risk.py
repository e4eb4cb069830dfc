"""Risk rules of DOMAIN.md §6, each firing just past its boundary and silent at it."""

import dataclasses
from datetime import date, timedelta
from decimal import Decimal

import pytest

from claims_adjudication.domain import (
    ClaimFacts,
    LineFacts,
    PriorClaim,
    RiskReason,
    RiskSettings,
    evaluate_risk,
)
from claims_adjudication.domain.examples import outpatient_claim, standard_plan, standard_policy

D = Decimal
PLAN = standard_plan()
POLICY = standard_policy()
RECEIVED = date(2026, 6, 20)
SERVED = date(2026, 6, 15)


def facts(
    charged: str = "1100.00",
    served: date = SERVED,
    provider: str = "H-001",
    lines: tuple[LineFacts, ...] = (),
) -> ClaimFacts:
    return ClaimFacts(
        claim_id="C-NEW",
        member_id="M-1001",
        provider_id=provider,
        received_on=RECEIVED,
        first_service_date=served,
        charged=D(charged),
        lines=lines,
    )


def prior(
    claim_id: str = "C-OLD",
    *,
    status: str = "approved",
    received: date = date(2026, 6, 16),
    served: date = SERVED,
    charged: str = "1100.00",
    provider: str = "H-001",
    member: str = "M-1001",
) -> PriorClaim:
    return PriorClaim(
        claim_id=claim_id,
        member_id=member,
        provider_id=provider,
        received_on=received,
        first_service_date=served,
        charged=D(charged),
        status=status,
    )


def risk(
    claim: ClaimFacts,
    history: tuple[PriorClaim, ...] = (),
    *,
    watchlist: frozenset[str] = frozenset(),
    usual_prices: dict[str, Decimal] | None = None,
    settings: RiskSettings = RiskSettings(),
) -> list[RiskReason]:
    return evaluate_risk(claim, history, PLAN, POLICY, watchlist, usual_prices, settings)


def test_an_ordinary_claim_raises_nothing() -> None:
    assert risk(facts()) == []


def test_claim_facts_of_a_claim_to_price() -> None:
    claim = ClaimFacts.of(outpatient_claim(), RECEIVED)
    assert (claim.charged, claim.first_service_date, claim.provider_id) == (
        D("1100.00"),
        date(2026, 3, 10),
        "H-001",
    )
    assert [line.code for line in claim.lines] == ["C-001", "E-100", "D-555"]


# HIGH_AMOUNT: charged above review_threshold (50,000)
@pytest.mark.parametrize(("charged", "fires"), [("50000.00", False), ("50000.01", True)])
def test_high_amount(charged: str, fires: bool) -> None:
    assert (RiskReason.HIGH_AMOUNT in risk(facts(charged))) is fires


def test_high_amount_needs_a_threshold() -> None:
    plan = dataclasses.replace(PLAN, review_threshold=None)
    assert evaluate_risk(facts("999999.00"), (), plan, POLICY) == []
    assert evaluate_risk(facts("999999.00"), (), None, None) == []


# DUPLICATE_SUSPECTED
@pytest.mark.parametrize(
    ("earlier", "fires"),
    [
        (prior(), True),
        (prior(status="paid"), True),
        (prior(status="pended"), True),
        (prior(received=RECEIVED), True),
        (prior(status="denied"), False),
        (prior(status="DENIED"), False),
        (prior(status="withdrawn"), False),
        (prior(provider="H-002"), False),
        (prior(served=SERVED - timedelta(days=1)), False),
        (prior(charged="1100.01"), False),
        (prior(member="M-2002"), False),
        (prior(claim_id="C-NEW"), False),
        (prior(received=RECEIVED + timedelta(days=1)), False),
    ],
)
def test_duplicate_suspected(earlier: PriorClaim, fires: bool) -> None:
    assert (RiskReason.DUPLICATE_SUSPECTED in risk(facts(), (earlier,))) is fires


# EARLY_CLAIM: first service within 60 days of the policy's start and charged above 10,000
@pytest.mark.parametrize(
    ("served", "charged", "fires"),
    [
        (date(2026, 3, 2), "10000.01", True),  # 60 days after 2026-01-01
        (date(2026, 3, 3), "10000.01", False),  # 61 days after
        (date(2026, 1, 1), "10000.01", True),
        (date(2025, 12, 20), "10000.01", True),  # before the policy even started
        (date(2026, 1, 10), "10000.00", False),
    ],
)
def test_early_claim(served: date, charged: str, fires: bool) -> None:
    assert (RiskReason.EARLY_CLAIM in risk(facts(charged, served))) is fires


def test_early_claim_needs_a_policy() -> None:
    assert evaluate_risk(facts("20000.00", date(2026, 1, 5)), (), PLAN, None) == []


# PROVIDER_WATCHLIST
def test_provider_watchlist() -> None:
    assert risk(facts(provider="H-666"), watchlist=frozenset({"H-666"})) == [RiskReason.PROVIDER_WATCHLIST]
    assert risk(facts(provider="H-001"), watchlist=frozenset({"H-666"})) == []


# HIGH_FREQUENCY: this claim is at least the 5th of the member in the 30 days ending on its receipt
def _earlier(count: int, *, days_back: int = 1, status: str = "approved") -> tuple[PriorClaim, ...]:
    return tuple(
        prior(f"C-{n}", status=status, received=RECEIVED - timedelta(days=days_back), charged=f"{n}.00")
        for n in range(count)
    )


@pytest.mark.parametrize(
    ("history", "fires"),
    [
        (_earlier(4), True),
        (_earlier(3), False),
        (_earlier(4, days_back=29), True),
        (_earlier(4, days_back=30), False),
        (_earlier(4, status="withdrawn"), False),
        (_earlier(4, status="denied"), True),
        (_earlier(3) + _earlier(1, days_back=31), False),
    ],
)
def test_high_frequency(history: tuple[PriorClaim, ...], fires: bool) -> None:
    assert (RiskReason.HIGH_FREQUENCY in risk(facts(), history)) is fires


def test_high_frequency_threshold_is_a_setting() -> None:
    settings = RiskSettings(frequency_claims=2, frequency_days=7)
    assert RiskReason.HIGH_FREQUENCY in risk(facts(), _earlier(1, days_back=6), settings=settings)
    assert RiskReason.HIGH_FREQUENCY not in risk(facts(), _earlier(1, days_back=7), settings=settings)


# UNIT_PRICE_OUTLIER: a unit price above 3 x the usual price of its code
USUAL = {"E-100": D("100.00")}


@pytest.mark.parametrize(
    ("code", "unit_price", "fires"),
    [("E-100", "300.00", False), ("E-100", "300.01", True), ("E-999", "99999.00", False)],
)
def test_unit_price_outlier(code: str, unit_price: str, fires: bool) -> None:
    lines = (
        LineFacts(line_no=1, code="C-001", unit_price=D("1.00")),
        LineFacts(line_no=2, code=code, unit_price=D(unit_price)),
    )
    reasons = risk(facts(lines=lines), usual_prices=USUAL)
    assert (RiskReason.UNIT_PRICE_OUTLIER in reasons) is fires


def test_unit_price_factor_is_a_setting() -> None:
    lines = (LineFacts(line_no=1, code="E-100", unit_price=D("250.00")),)
    assert risk(facts(lines=lines), usual_prices=USUAL) == []
    settings = RiskSettings(unit_price_factor=D(2))
    assert risk(facts(lines=lines), usual_prices=USUAL, settings=settings) == [RiskReason.UNIT_PRICE_OUTLIER]


def test_several_reasons_in_a_fixed_order() -> None:
    lines = (LineFacts(line_no=1, code="E-100", unit_price=D("5000.00")),)
    claim = facts("60000.00", date(2026, 1, 20), provider="H-666", lines=lines)
    history = (prior(served=date(2026, 1, 20), charged="60000.00", provider="H-666"), *_earlier(3))
    assert risk(claim, history, watchlist=frozenset({"H-666"}), usual_prices=USUAL) == list(RiskReason)

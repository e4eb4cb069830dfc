"""Properties of the calculation on random plans, policies, accumulators and claims."""

from __future__ import annotations

import dataclasses
import random
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from claims_adjudication.domain import (
    Accumulators,
    AdjustmentReason,
    CategoryRule,
    ClaimLine,
    ClaimToPrice,
    Decision,
    Outcome,
    Plan,
    Policy,
    apply_reviewer_adjustment,
    deny_decision,
    price_claim,
)

D = Decimal
R = AdjustmentReason
CATEGORIES = [
    "consultation",
    "examination",
    "imaging",
    "drugs",
    "surgery",
    "room",
    "nursing",
    "consumables",
    "other",
]
START = date(2026, 1, 1)
END = date(2026, 12, 31)


def money(low: int = 0, high: int = 100_000) -> st.SearchStrategy[Decimal]:
    """Amounts in cents between low and high units."""
    return st.integers(low * 100, high * 100).map(lambda c: D(c).scaleb(-2).quantize(D("0.01")))


rates = st.one_of(
    st.integers(0, 100).map(lambda p: D(p) / 100),
    st.integers(0, 1000).map(lambda p: D(p) / 1000),
)

rules = st.builds(
    CategoryRule,
    coinsurance=rates,
    annual_sublimit=st.none() | money(0, 5_000),
    per_day_limit=st.none() | money(0, 2_000),
    deductible_applies=st.booleans(),
)

plans = st.builds(
    Plan,
    code=st.just("P"),
    version=st.just(1),
    name=st.just("Test plan"),
    currency=st.just("CNY"),
    annual_deductible=money(0, 2_000),
    annual_limit=money(0, 30_000),
    per_claim_limit=st.none() | money(0, 10_000),
    waiting_period_days=st.integers(0, 90),
    excluded_diagnoses=st.lists(st.sampled_from(["O", "K02", "Z41", "A0"]), max_size=3).map(tuple),
    review_threshold=st.none(),
    categories=st.dictionaries(st.sampled_from(CATEGORIES), rules, max_size=9),
)

policies = st.builds(
    Policy,
    policy_number=st.just("POL-1"),
    plan_code=st.just("P"),
    holder_name=st.just("Holder"),
    effective_date=st.just(START),
    expiry_date=st.just(END),
    status=st.sampled_from(["active", "active", "active", "expired", "suspended"]),
    member_ids=st.sampled_from([frozenset({"M-1"}), frozenset({"M-1", "M-2"}), frozenset({"M-2"})]),
)

accumulators = st.builds(
    Accumulators,
    money(0, 2_500),
    money(0, 35_000),
    st.dictionaries(st.sampled_from(CATEGORIES), money(0, 6_000), max_size=4),
)


@st.composite
def line_lists(draw: st.DrawFn) -> tuple[ClaimLine, ...]:
    count = draw(st.integers(1, 12))
    numbers = draw(st.permutations(list(range(1, count + 1))))
    lines = []
    for number in numbers:
        quantity = D(draw(st.integers(1, 5)))
        unit_price = draw(money(0, 4_000).filter(lambda m: m > 0))
        amount = quantity * unit_price
        other = draw(st.one_of(st.just(D("0.00")), money(0, 5_000), st.just(amount)))
        lines.append(
            ClaimLine(
                line_no=number,
                service_date=START + timedelta(days=draw(st.integers(-20, 380))),
                category=draw(st.sampled_from(CATEGORIES)),
                code=f"X-{number}",
                quantity=quantity,
                unit_price=unit_price,
                amount=amount,
                other_insurance_paid=other,
            )
        )
    return tuple(lines)


@st.composite
def claims(draw: st.DrawFn, claim_id: str = "C-1") -> ClaimToPrice:
    return ClaimToPrice(
        claim_id=claim_id,
        member_id=draw(st.sampled_from(["M-1", "M-1", "M-2"])),
        policy_number="POL-1",
        provider_id="H-1",
        claim_type="outpatient",
        accident=draw(st.booleans()),
        primary_diagnosis=draw(st.sampled_from(["J18.9", "J18.9", "O80", "K02.1", "A01"])),
        lines=draw(line_lists()),
    )


optional_policies = st.one_of(policies, policies, policies, st.none())

# Pricing a dozen lines in Decimal can be slow on a busy CI machine: no deadline.
PROPERTY = settings(deadline=None)


def check_invariants(decision: Decision, plan: Plan, start: Accumulators) -> None:
    """What holds for every decision, priced or reviewed."""
    total_other = D(0)
    for line in decision.lines:
        amounts = [a.amount for a in line.adjustments]
        assert all(a >= 0 and a == a.quantize(D("0.01")) for a in amounts)
        assert D(0) <= line.payable <= line.allowed <= line.charged
        assert line.charged == line.payable + sum(amounts, D(0))
        if line.denied:
            assert line.payable == line.allowed == 0
            assert line.denial_reason is not None
        total_other += line.other_insurance
    assert [line.line_no for line in decision.lines] == sorted(line.line_no for line in decision.lines)
    assert decision.payable == sum((line.payable for line in decision.lines), D(0))
    assert decision.charged == decision.payable + decision.member_responsibility + decision.other_insurance
    assert decision.other_insurance == total_other
    assert decision.member_responsibility >= 0
    assert decision.accumulators_before == start
    assert decision.accumulators_after == start.plus(decision.accumulator_delta)
    assert decision.accumulator_delta.paid_total == decision.payable

    after = decision.accumulators_after
    assert after.deductible_used <= max(start.deductible_used, plan.annual_deductible)
    assert after.paid_total <= max(start.paid_total, plan.annual_limit)
    for category, rule in plan.categories.items():
        if rule.annual_sublimit is not None:
            assert after.paid_in(category) <= max(start.paid_in(category), rule.annual_sublimit)
    if plan.per_claim_limit is not None:
        assert decision.payable <= plan.per_claim_limit

    if all(line.denied for line in decision.lines):
        assert decision.outcome is Outcome.DENIED
    elif any(line.denied or line.cut for line in decision.lines):
        assert decision.outcome is Outcome.PARTIALLY_APPROVED
    else:
        assert decision.outcome is Outcome.APPROVED


@given(plans, optional_policies, accumulators, claims())
@settings(PROPERTY, max_examples=300)
def test_invariants(plan: Plan, policy: Policy | None, start: Accumulators, claim: ClaimToPrice) -> None:
    check_invariants(price_claim(claim, plan, policy, start), plan, start)


@given(plans, policies, accumulators, claims(), st.randoms(use_true_random=False))
@PROPERTY
def test_deterministic_and_independent_of_input_order(
    plan: Plan, policy: Policy, start: Accumulators, claim: ClaimToPrice, rnd: random.Random
) -> None:
    decision = price_claim(claim, plan, policy, start)
    assert price_claim(claim, plan, policy, start) == decision
    shuffled = list(claim.lines)
    rnd.shuffle(shuffled)
    assert price_claim(dataclasses.replace(claim, lines=tuple(shuffled)), plan, policy, start) == decision


@given(plans, policies, accumulators, claims("C-A"), claims("C-B"))
@PROPERTY
def test_two_claims_in_either_order(
    plan: Plan, policy: Policy, start: Accumulators, a: ClaimToPrice, b: ClaimToPrice
) -> None:
    """One after the other, in either order: the same deductible used, and no limit passed."""
    a_then_b = price_claim(b, plan, policy, price_claim(a, plan, policy, start).accumulators_after)
    b_then_a = price_claim(a, plan, policy, price_claim(b, plan, policy, start).accumulators_after)
    end_ab, end_ba = a_then_b.accumulators_after, b_then_a.accumulators_after
    assert end_ab.deductible_used == end_ba.deductible_used
    for end in (end_ab, end_ba):
        assert end.paid_total <= max(start.paid_total, plan.annual_limit)
        assert end.deductible_used <= max(start.deductible_used, plan.annual_deductible)


@given(plans, policies, st.lists(claims(), min_size=1, max_size=6))
@PROPERTY
def test_a_year_of_claims_never_pays_more_than_the_annual_limit(
    plan: Plan, policy: Policy, year: list[ClaimToPrice]
) -> None:
    running = Accumulators()
    paid = D(0)
    for claim in year:
        decision = price_claim(claim, plan, policy, running)
        check_invariants(decision, plan, running)
        paid += decision.payable
        running = decision.accumulators_after
    assert paid == running.paid_total <= plan.annual_limit
    assert running.deductible_used <= plan.annual_deductible
    for category, rule in plan.categories.items():
        if rule.annual_sublimit is not None:
            assert running.paid_in(category) <= rule.annual_sublimit


@given(plans, policies, accumulators, claims(), st.data())
@PROPERTY
def test_reviewer_adjustment_keeps_invariants(
    plan: Plan, policy: Policy, start: Accumulators, claim: ClaimToPrice, data: st.DataObject
) -> None:
    decision = price_claim(claim, plan, policy, start)
    cuts = {}
    for line in decision.lines:
        if data.draw(st.booleans()):
            cents = data.draw(st.integers(0, int(line.payable * 100)))
            cuts[line.line_no] = D(cents).scaleb(-2).quantize(D("0.01"))
    reviewed = apply_reviewer_adjustment(decision, cuts, "records do not support the bill")
    check_invariants(reviewed, plan, start)
    assert reviewed.payable <= decision.payable
    assert reviewed.accumulators_after.deductible_used == decision.accumulators_after.deductible_used
    for line in reviewed.lines:
        if line.line_no in cuts:
            assert line.payable == cuts[line.line_no]

    denied = deny_decision(decision, "fraud confirmed")
    check_invariants(denied, plan, start)
    assert denied.outcome is Outcome.DENIED
    assert denied.payable == 0
    assert denied.accumulators_after == start

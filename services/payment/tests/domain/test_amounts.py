"""The amount a decision pays, or the overpayment it records."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claims_payment.domain.amounts import DecisionPlan, PriorPayment, committed_amount, plan_decision
from claims_payment.domain.model import PaymentStatus

D = Decimal
money = st.decimals(min_value=0, max_value=1_000_000, places=2, allow_nan=False, allow_infinity=False)


def test_first_decision_pays_the_whole_payable():
    assert plan_decision(D("450.00"), D("0"), D("0")) == DecisionPlan(D("450.00"), D("0.00"), D("0.00"))


def test_higher_redecision_pays_only_the_difference():
    assert plan_decision(D("600.00"), D("450.00"), D("0")).pay == D("150.00")


def test_lower_redecision_records_overpayment_never_a_negative_payment():
    plan = plan_decision(D("300.00"), D("450.00"), D("0"))
    assert plan == DecisionPlan(D("0.00"), D("150.00"), D("0.00"))


def test_equal_redecision_does_nothing():
    assert plan_decision(D("450.00"), D("450.00"), D("0")) == DecisionPlan(D("0.00"), D("0.00"), D("0.00"))


def test_higher_redecision_first_waives_open_recovery():
    # 450 paid, a re-decision to 300 asked 150 back; a third decision of 400 forgives 100 of it and pays nothing.
    assert plan_decision(D("400.00"), D("450.00"), D("150.00")) == DecisionPlan(D("0.00"), D("0.00"), D("100.00"))
    # ... and one of 500 forgives all 150 and pays 50.
    assert plan_decision(D("500.00"), D("450.00"), D("150.00")) == DecisionPlan(D("50.00"), D("0.00"), D("150.00"))


def test_committed_counts_settled_and_in_flight_but_not_failed_returned_or_superseded():
    prior = [
        PriorPayment(D("100.00"), PaymentStatus.SETTLED),
        PriorPayment(D("20.00"), PaymentStatus.SCHEDULED),
        PriorPayment(D("3.00"), PaymentStatus.SENT),
        PriorPayment(D("4000.00"), PaymentStatus.FAILED),
        PriorPayment(D("50000.00"), PaymentStatus.RETURNED),
        PriorPayment(D("7.00"), PaymentStatus.SETTLED, superseded=True),
    ]
    assert committed_amount(prior) == D("123.00")


def test_negative_inputs_are_refused():
    with pytest.raises(ValueError, match="payable"):
        plan_decision(D("-1"), D("0"), D("0"))


@given(payable=money, committed=money, recovery=money)
def test_after_a_decision_the_claimant_position_equals_the_payable(payable, committed, recovery):
    recovery = min(recovery, committed)
    plan = plan_decision(payable, committed, recovery)
    assert plan.pay >= 0
    assert plan.overpayment >= 0
    assert plan.recovery_waived >= 0
    assert not (plan.pay and plan.overpayment)
    position_after = committed + plan.pay - (recovery - plan.recovery_waived + plan.overpayment)
    assert position_after == payable

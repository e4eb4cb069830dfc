"""The status machine and the double-entry postings of every status change."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claims_payment.domain import ledger
from claims_payment.domain.ledger import Account, Movement, Posting, balances, expected_balances
from claims_payment.domain.model import (
    InvalidTransition,
    PaymentStatus,
    backoff_seconds,
    mask_account,
    transition,
)

S = PaymentStatus
D = Decimal


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.SCHEDULED, S.SENT),
        (S.SCHEDULED, S.FAILED),
        (S.SENT, S.SETTLED),
        (S.SENT, S.FAILED),
        (S.SETTLED, S.RETURNED),
        (S.FAILED, S.SCHEDULED),
        (S.RETURNED, S.SCHEDULED),
    ],
)
def test_allowed_transitions(current, target):
    assert transition(current, target) is target


@pytest.mark.parametrize(
    ("current", "target"),
    [(S.SCHEDULED, S.SETTLED), (S.SETTLED, S.FAILED), (S.SETTLED, S.SCHEDULED), (S.SENT, S.RETURNED)],
)
def test_forbidden_transitions(current, target):
    with pytest.raises(InvalidTransition, match=f"a {current} payment cannot become {target}"):
        transition(current, target)


def test_backoff_grows_exponentially_up_to_the_cap():
    assert [backoff_seconds(n, 2.0, 10.0) for n in range(5)] == [0.0, 2.0, 4.0, 8.0, 10.0]


def test_account_numbers_are_masked_to_the_last_four():
    assert mask_account("6222020200001234567") == "****4567"
    assert mask_account("1234") == "****"


def test_unbalanced_movement_is_refused():
    with pytest.raises(ValueError, match="balance"):
        Movement(
            ledger.MovementKind.SENT, (Posting(Account.CASH, D("1.00")), Posting(Account.CLAIMS_PAYABLE, D("-0.99")))
        )


def test_settled_payment_leaves_only_expense_and_cash():
    postings = [
        *ledger.approved(D("450.00")).postings,
        *ledger.for_transition(S.SCHEDULED, S.SENT, D("450.00")).postings,  # type: ignore[union-attr]
        *ledger.for_transition(S.SENT, S.SETTLED, D("450.00")).postings,  # type: ignore[union-attr]
    ]
    b = balances(postings)
    assert b[Account.CLAIMS_EXPENSE] == D("450.00")
    assert b[Account.CASH] == D("-450.00")
    assert b[Account.CLAIMS_PAYABLE] == b[Account.BANK_CLEARING] == 0


def test_retry_and_rejection_before_sending_move_no_money():
    assert ledger.for_transition(S.FAILED, S.SCHEDULED, D("1.00")) is None
    assert ledger.for_transition(S.SCHEDULED, S.FAILED, D("1.00")) is None


# A payment's possible lives: each step a status change (None: superseded by a later decision).
LIVES = [
    [S.SENT, S.SETTLED],
    [S.SENT, S.FAILED],
    [S.SENT, S.FAILED, S.SCHEDULED, S.SENT, S.SETTLED, S.RETURNED],
    [S.FAILED, None],
    [S.SENT, S.SETTLED, S.RETURNED, None],
    [S.SENT],
    [],
]


@given(
    lives=st.lists(
        st.tuples(st.sampled_from(LIVES), st.decimals(min_value="0.01", max_value="99999", places=2)), max_size=8
    ),
    overpaid=st.lists(st.decimals(min_value="0.01", max_value="999", places=2), max_size=3),
)
def test_ledger_agrees_with_the_payments_whatever_happened(lives, overpaid):
    postings: list[Posting] = []
    final = []
    for life, amount in lives:
        postings += ledger.approved(amount).postings
        status, superseded = S.SCHEDULED, False
        for step in life:
            if step is None:
                postings += ledger.superseded(amount).postings
                superseded = True
                continue
            move = ledger.for_transition(status, transition(status, step), amount)
            postings += move.postings if move else ()
            status = step
        final.append((status, amount, superseded))
    for amount in overpaid:
        postings += ledger.overpayment(amount).postings
    actual = balances(postings)
    assert sum(actual.values()) == 0
    assert actual == expected_balances(final, sum(overpaid, D("0.00")))

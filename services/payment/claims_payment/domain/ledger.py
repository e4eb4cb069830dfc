"""Double-entry ledger: every movement of money is postings that sum to zero.

Debits are positive, credits negative. ``claims_expense`` and ``claims_payable`` are opened by an
approval; ``bank_clearing`` holds what the bank has taken but not yet settled; ``cash`` is the
insurer's account; ``overpayment_receivable`` what claimants are asked to give back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from claims_payment.domain.model import PaymentStatus

ZERO = Decimal("0.00")


class Account(StrEnum):
    """Ledger accounts."""

    CLAIMS_EXPENSE = "claims_expense"
    CLAIMS_PAYABLE = "claims_payable"
    BANK_CLEARING = "bank_clearing"
    CASH = "cash"
    OVERPAYMENT_RECEIVABLE = "overpayment_receivable"


class MovementKind(StrEnum):
    """What a movement records."""

    APPROVED = "approved"
    SENT = "sent"
    SETTLED = "settled"
    FAILED = "failed"
    RETURNED = "returned"
    SUPERSEDED = "superseded"
    OVERPAYMENT = "overpayment"
    RECOVERY_WAIVED = "recovery_waived"


@dataclass(frozen=True)
class Posting:
    """One side of a movement: a debit (positive) or a credit (negative) to an account."""

    account: Account
    amount: Decimal


@dataclass(frozen=True)
class Movement:
    """Postings that balance: their sum is zero."""

    kind: MovementKind
    postings: tuple[Posting, ...]

    def __post_init__(self) -> None:
        if len(self.postings) < 2:
            raise ValueError("a movement has at least two postings")
        if sum((p.amount for p in self.postings), ZERO) != ZERO:
            raise ValueError("a movement must balance")
        if any(p.amount == 0 or p.amount != p.amount.quantize(Decimal("0.01")) for p in self.postings):
            raise ValueError("postings are non-zero amounts in cents")


def _move(kind: MovementKind, amount: Decimal, debit: Account, credit: Account) -> Movement:
    if amount <= 0:
        raise ValueError("a movement moves a positive amount")
    return Movement(kind, (Posting(debit, amount), Posting(credit, -amount)))


def approved(amount: Decimal) -> Movement:
    """A payment is owed: the expense is recognised and the liability opened."""
    return _move(MovementKind.APPROVED, amount, Account.CLAIMS_EXPENSE, Account.CLAIMS_PAYABLE)


def superseded(amount: Decimal) -> Movement:
    """A failed or returned payment is replaced by a later decision: the liability is released."""
    return _move(MovementKind.SUPERSEDED, amount, Account.CLAIMS_PAYABLE, Account.CLAIMS_EXPENSE)


def overpayment(amount: Decimal) -> Movement:
    """A lower re-decision: the excess already paid becomes a receivable."""
    return _move(MovementKind.OVERPAYMENT, amount, Account.OVERPAYMENT_RECEIVABLE, Account.CLAIMS_EXPENSE)


def recovery_waived(amount: Decimal) -> Movement:
    """A higher re-decision forgives part of an open overpayment."""
    return _move(MovementKind.RECOVERY_WAIVED, amount, Account.CLAIMS_EXPENSE, Account.OVERPAYMENT_RECEIVABLE)


def for_transition(current: PaymentStatus, target: PaymentStatus, amount: Decimal) -> Movement | None:
    """The movement a status change causes (None when no money moves, e.g. a retry or a rejection before sending)."""
    s = PaymentStatus
    if (current, target) == (s.SCHEDULED, s.SENT):
        return _move(MovementKind.SENT, amount, Account.CLAIMS_PAYABLE, Account.BANK_CLEARING)
    if (current, target) == (s.SENT, s.SETTLED):
        return _move(MovementKind.SETTLED, amount, Account.BANK_CLEARING, Account.CASH)
    if (current, target) == (s.SENT, s.FAILED):
        return _move(MovementKind.FAILED, amount, Account.BANK_CLEARING, Account.CLAIMS_PAYABLE)
    if (current, target) == (s.SETTLED, s.RETURNED):
        return _move(MovementKind.RETURNED, amount, Account.CASH, Account.CLAIMS_PAYABLE)
    return None


def balances(postings: Iterable[Posting]) -> dict[Account, Decimal]:
    """The balance of every account (debit positive) after ``postings``."""
    out = {account: ZERO for account in Account}
    for p in postings:
        out[p.account] += p.amount
    return out


def expected_balances(
    payments: Iterable[tuple[PaymentStatus, Decimal, bool]], open_recovery: Decimal
) -> dict[Account, Decimal]:
    """What the ledger must hold for payments ``(status, amount, superseded)`` and open overpayments.

    Used by reconciliation to prove that the ledger and the payments tell the same story.
    """
    out = {account: ZERO for account in Account}
    for status, amount, was_superseded in payments:
        if was_superseded:
            continue
        out[Account.CLAIMS_EXPENSE] += amount
        if status in (PaymentStatus.SCHEDULED, PaymentStatus.FAILED, PaymentStatus.RETURNED):
            out[Account.CLAIMS_PAYABLE] -= amount
        elif status is PaymentStatus.SENT:
            out[Account.BANK_CLEARING] -= amount
        else:
            out[Account.CASH] -= amount
    out[Account.OVERPAYMENT_RECEIVABLE] += open_recovery
    out[Account.CLAIMS_EXPENSE] -= open_recovery
    return out

"""Payment status, hold reasons and the status machine."""

from __future__ import annotations

from enum import StrEnum


class PaymentStatus(StrEnum):
    """A payment's status as clients see it."""

    SCHEDULED = "scheduled"
    SENT = "sent"
    SETTLED = "settled"
    FAILED = "failed"
    RETURNED = "returned"


class HoldReason(StrEnum):
    """Why a scheduled payment cannot go to the bank yet."""

    AWAITING_MEMBER_ACCOUNT = "awaiting_member_account"
    """The claim's details (with the member's bank account) have not reached the payment service yet."""
    AWAITING_PROVIDER_ACCOUNT = "awaiting_provider_account"
    """Benefits are assigned to a hospital that has no registered bank account."""


class Payee(StrEnum):
    """Who is paid."""

    MEMBER = "member"
    PROVIDER = "provider"


class InvalidTransition(Exception):
    """A status change the payment lifecycle does not allow."""

    def __init__(self, current: PaymentStatus, target: PaymentStatus) -> None:
        super().__init__(f"a {current} payment cannot become {target}")
        self.current = current
        self.target = target


TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.SCHEDULED: frozenset({PaymentStatus.SENT, PaymentStatus.FAILED}),
    PaymentStatus.SENT: frozenset({PaymentStatus.SETTLED, PaymentStatus.FAILED}),
    PaymentStatus.SETTLED: frozenset({PaymentStatus.RETURNED}),
    PaymentStatus.FAILED: frozenset({PaymentStatus.SCHEDULED}),
    PaymentStatus.RETURNED: frozenset({PaymentStatus.SCHEDULED}),
}
"""Allowed changes: failed and returned payments go back to scheduled only through an operator's retry."""

COMMITTED = frozenset({PaymentStatus.SCHEDULED, PaymentStatus.SENT, PaymentStatus.SETTLED})
"""Statuses whose amount counts as paid for a claim: settled, or in flight (scheduled, sent)."""

IN_FLIGHT = frozenset({PaymentStatus.SCHEDULED, PaymentStatus.SENT})
"""Statuses of money on its way: not yet settled, not failed."""

RETRYABLE_BY_OPERATOR = frozenset({PaymentStatus.FAILED, PaymentStatus.RETURNED})
"""Statuses an operator may send again (unless a later decision superseded the payment)."""


def transition(current: PaymentStatus, target: PaymentStatus) -> PaymentStatus:
    """``target`` when the lifecycle allows ``current → target``; InvalidTransition otherwise."""
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(current, target)
    return target


def backoff_seconds(attempt: int, base: float, cap: float) -> float:
    """Delay before the next send after ``attempt`` transient failures: exponential, capped."""
    if attempt < 1:
        return 0.0
    return float(min(cap, base * 2 ** (attempt - 1)))


def mask_account(number: str) -> str:
    """An account number as it may be shown: only the last four characters."""
    return "****" + number[-4:] if len(number) > 4 else "****"

"""The claim's status as clients see it, derived from the facts the archive holds (pure).

Intake owns the early lifecycle (received, pending_documents, in_review, withdrawn, expired); after
that the status follows the other services' events. Events of different topics may arrive in any
order, so the status is derived from facts rather than moved step by step.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

RECEIVED = "received"
PENDING_DOCUMENTS = "pending_documents"
IN_REVIEW = "in_review"
PENDED = "pended"
PAYMENT_SCHEDULED = "payment_scheduled"
PAID = "paid"
PAYMENT_FAILED = "payment_failed"
DISPUTED = "disputed"
WITHDRAWN = "withdrawn"
EXPIRED = "expired"

OUTCOMES = frozenset({"approved", "partially_approved", "denied"})
CLOSED_EARLY = frozenset({WITHDRAWN, EXPIRED})
BEFORE_REVIEW = frozenset({RECEIVED, PENDING_DOCUMENTS})

_PAYMENT_STATUS = {
    "scheduled": PAYMENT_SCHEDULED,
    "sent": PAYMENT_SCHEDULED,
    "settled": PAID,
    "failed": PAYMENT_FAILED,
    "returned": PAYMENT_FAILED,
}


@dataclass(frozen=True)
class PaymentFact:
    """A payment as the archive knows it."""

    decision_version: int
    status: str


@dataclass(frozen=True)
class ClaimFacts:
    """What the status is derived from."""

    lifecycle: str
    """Intake's own stage: received, pending_documents, in_review, withdrawn or expired."""
    decision_version: int | None = None
    outcome: str | None = None
    pended: bool = False
    disputed_version: int | None = None
    payments: Sequence[PaymentFact] = field(default_factory=tuple)


def derive_status(facts: ClaimFacts) -> str:
    """The status a client sees."""
    if facts.lifecycle in CLOSED_EARLY or facts.lifecycle in BEFORE_REVIEW:
        return facts.lifecycle
    version = facts.decision_version or 0
    dispute_open = facts.disputed_version is not None and version <= facts.disputed_version
    if dispute_open:
        return PENDED if facts.pended else DISPUTED
    if facts.pended:
        return PENDED
    current = [p for p in facts.payments if p.decision_version >= version]
    if current:
        latest = max(current, key=lambda p: p.decision_version)
        return _PAYMENT_STATUS.get(latest.status, PAYMENT_SCHEDULED)
    if facts.outcome in OUTCOMES and facts.decision_version is not None:
        return facts.outcome
    return IN_REVIEW


def first_paid_at(
    current: datetime | None, payment_status: str, settled_at: datetime | None, statuses: Iterable[str]
) -> datetime | None:
    """When the claim's first payment settled, after one of its payments moved to ``payment_status``.

    ``current``: the time kept so far; ``settled_at``: when that payment settled (for ``settled``);
    ``statuses``: the claim's payments' statuses now. A settlement earlier than the time kept replaces
    it; a return leaving no settled payment clears it.
    """
    if payment_status == "settled" and settled_at is not None:
        return settled_at if current is None or settled_at < current else current
    if payment_status == "returned" and "settled" not in statuses:
        return None
    return current


def is_decided(facts: ClaimFacts) -> bool:
    """Whether the claim has a decision (so it may be disputed, no longer withdrawn)."""
    return facts.decision_version is not None and facts.lifecycle not in CLOSED_EARLY


def can_withdraw(facts: ClaimFacts) -> str | None:
    """None when the claim may be withdrawn, otherwise why not."""
    if facts.lifecycle in CLOSED_EARLY:
        return f"the claim is already {facts.lifecycle}"
    if facts.decision_version is not None:
        return "the claim is decided; contest the decision with a dispute instead"
    return None


def can_dispute(facts: ClaimFacts) -> str | None:
    """None when the latest decision may be disputed, otherwise why not."""
    if not is_decided(facts):
        return "only a decided claim can be disputed"
    if facts.disputed_version is not None and (facts.decision_version or 0) <= facts.disputed_version:
        return "the latest decision is already disputed"
    return None

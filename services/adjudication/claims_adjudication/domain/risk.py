"""Risk rules of DOMAIN.md §6: which reasons, if any, send a claim to human review.

Boundaries chosen where §6 is loose:

- ``HIGH_AMOUNT``: charged strictly above the plan's ``review_threshold`` (none: never).
- ``DUPLICATE_SUSPECTED``: another claim of the same member and provider, with the same first service date
  and charged total, received no later than this one, whose status is not in
  ``duplicate_ignored_statuses`` (denied, withdrawn).
- ``EARLY_CLAIM``: first service at most ``early_claim_days`` (60) days after the policy's effective date
  (or before it) and charged strictly above ``early_claim_amount`` (10,000).
- ``PROVIDER_WATCHLIST``: the provider is in the watch list.
- ``HIGH_FREQUENCY``: this claim is at least the ``frequency_claims``-th (5th) claim of the member
  received in the ``frequency_days`` (30) days ending on its receipt date (that day included, withdrawn
  claims not counted).
- ``UNIT_PRICE_OUTLIER``: a line's unit price strictly above ``unit_price_factor`` (3) times the usual price
  of its code; codes without a usual price are not judged.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from .model import ClaimToPrice, Plan, Policy


class RiskReason(StrEnum):
    """Why a claim goes to human review."""

    HIGH_AMOUNT = "HIGH_AMOUNT"
    DUPLICATE_SUSPECTED = "DUPLICATE_SUSPECTED"
    EARLY_CLAIM = "EARLY_CLAIM"
    PROVIDER_WATCHLIST = "PROVIDER_WATCHLIST"
    HIGH_FREQUENCY = "HIGH_FREQUENCY"
    UNIT_PRICE_OUTLIER = "UNIT_PRICE_OUTLIER"


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskSettings:
    """Thresholds of the risk rules."""

    early_claim_days: int = 60
    early_claim_amount: Decimal = Decimal("10000.00")
    frequency_claims: int = 5
    frequency_days: int = 30
    unit_price_factor: Decimal = Decimal(3)
    duplicate_ignored_statuses: frozenset[str] = frozenset({"denied", "withdrawn"})
    frequency_ignored_statuses: frozenset[str] = frozenset({"withdrawn"})


DEFAULT_RISK_SETTINGS = RiskSettings()


@dataclass(frozen=True, slots=True, kw_only=True)
class LineFacts:
    """What the rules look at on a bill line."""

    line_no: int
    code: str
    unit_price: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimFacts:
    """What the rules look at on the claim being judged."""

    claim_id: str
    member_id: str
    provider_id: str
    received_on: date
    first_service_date: date
    charged: Decimal
    lines: tuple[LineFacts, ...] = ()

    @classmethod
    def of(cls, claim: ClaimToPrice, received_on: date) -> ClaimFacts:
        """The facts of a claim to price, received on a given day."""
        lines = tuple(LineFacts(line_no=x.line_no, code=x.code, unit_price=x.unit_price) for x in claim.lines)
        return cls(
            claim_id=claim.claim_id,
            member_id=claim.member_id,
            provider_id=claim.provider_id,
            received_on=received_on,
            first_service_date=claim.first_service_date,
            charged=claim.charged,
            lines=lines,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PriorClaim:
    """Another claim of the member, as the history shows it."""

    claim_id: str
    member_id: str
    provider_id: str
    received_on: date
    first_service_date: date
    charged: Decimal
    status: str


def _others(claim: ClaimFacts, history: Sequence[PriorClaim]) -> list[PriorClaim]:
    return [
        prior
        for prior in history
        if prior.claim_id != claim.claim_id
        and prior.member_id == claim.member_id
        and prior.received_on <= claim.received_on
    ]


def is_duplicate(
    claim: ClaimFacts,
    prior: PriorClaim,
    settings: RiskSettings = DEFAULT_RISK_SETTINGS,
) -> bool:
    """Whether an earlier claim makes this one a suspected duplicate."""
    return (
        prior.status.lower() not in settings.duplicate_ignored_statuses
        and prior.provider_id == claim.provider_id
        and prior.first_service_date == claim.first_service_date
        and prior.charged == claim.charged
    )


def evaluate_risk(
    claim: ClaimFacts,
    history: Sequence[PriorClaim],
    plan: Plan | None,
    policy: Policy | None,
    watchlist: Collection[str] = frozenset(),
    usual_prices: Mapping[str, Decimal] | None = None,
    settings: RiskSettings = DEFAULT_RISK_SETTINGS,
) -> list[RiskReason]:
    """The reasons, in RiskReason order, that send this claim to human review; empty when none."""
    reasons: list[RiskReason] = []
    if plan is not None and plan.review_threshold is not None and claim.charged > plan.review_threshold:
        reasons.append(RiskReason.HIGH_AMOUNT)

    others = _others(claim, history)
    if any(is_duplicate(claim, prior, settings) for prior in others):
        reasons.append(RiskReason.DUPLICATE_SUSPECTED)

    if (
        policy is not None
        and (claim.first_service_date - policy.effective_date).days <= settings.early_claim_days
        and claim.charged > settings.early_claim_amount
    ):
        reasons.append(RiskReason.EARLY_CLAIM)

    if claim.provider_id in watchlist:
        reasons.append(RiskReason.PROVIDER_WATCHLIST)

    window_start = claim.received_on - timedelta(days=settings.frequency_days)
    ignored = settings.frequency_ignored_statuses
    recent = [p for p in others if p.received_on > window_start and p.status.lower() not in ignored]
    if len(recent) + 1 >= settings.frequency_claims:
        reasons.append(RiskReason.HIGH_FREQUENCY)

    prices = usual_prices or {}
    for line in claim.lines:
        usual = prices.get(line.code)
        if usual is not None and usual > 0 and line.unit_price > settings.unit_price_factor * usual:
            reasons.append(RiskReason.UNIT_PRICE_OUTLIER)
            break
    return reasons

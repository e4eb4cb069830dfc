"""Value types of adjudication: plans, policies, claims to price, accumulators and decisions.

Adjustment codes (group and X12 claim adjustment reason code, CARC) for every reason:

=====================  =====  ====  ====================================================================
reason                 group  CARC  why
=====================  =====  ====  ====================================================================
DEDUCTIBLE             PR     1     DOMAIN §5.
COINSURANCE            PR     2     DOMAIN §5.
OTHER_INSURANCE        CO     23    "Impact of prior payer(s) adjudication". X12 practice puts 23 under OA
                                    or CO; DOMAIN §5 allows only PR and CO, and the member does not owe
                                    what another insurer paid (it is left out of member_responsibility),
                                    so CO, never PR.
COVERAGE_INACTIVE      CO     27    DOMAIN §5 (also used for services before the effective date, where
                                    X12 would have 26, because the contract fixes 27).
NOT_COVERED            CO     96    DOMAIN §5.
OVER_LIMIT             CO     45    DOMAIN §5 (per-day limit).
BENEFIT_MAXIMUM        CO     119   DOMAIN §5 (category sublimit, per-claim limit, annual limit).
WAITING_PERIOD         CO     96    DOMAIN §5.
EXCLUDED_CONDITION     CO     96    DOMAIN §5.
POLICY_NOT_FOUND       CO     31    Our choice: "patient cannot be identified as our insured".
MEMBER_NOT_COVERED     CO     31    Our choice: the same meaning, for a member who is not on the policy
                                    named; 27 ("coverage terminated") would tell a member who was never
                                    insured that cover had ended.
REVIEWER_ADJUSTMENT    CO     150   Our choice: "payer deems the information submitted does not support
                                    this level of service", the usual code for a cut after a reviewer
                                    examined the records and the bill (45 is a fee-schedule cut).
REVIEWER_DENIAL        CO     96    Our choice: a non-covered charge, denied after review; the reviewer's
                                    reason is in the explanation.
=====================  =====  ====  ====================================================================

The group names the cause, not the debtor: PR is the member's cost sharing under the plan, CO a rule of
the insurer's (cover, limits, exclusions, review). In this reimbursement business the member has paid the
hospital, so every unpaid cent that another insurer did not pay is in ``member_responsibility`` (DOMAIN
§5.8), whichever group its adjustment has.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from types import MappingProxyType

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class AdjustmentReason(StrEnum):
    """Why an amount on a line was not paid."""

    DEDUCTIBLE = "DEDUCTIBLE"
    COINSURANCE = "COINSURANCE"
    OTHER_INSURANCE = "OTHER_INSURANCE"
    COVERAGE_INACTIVE = "COVERAGE_INACTIVE"
    NOT_COVERED = "NOT_COVERED"
    OVER_LIMIT = "OVER_LIMIT"
    BENEFIT_MAXIMUM = "BENEFIT_MAXIMUM"
    WAITING_PERIOD = "WAITING_PERIOD"
    EXCLUDED_CONDITION = "EXCLUDED_CONDITION"
    POLICY_NOT_FOUND = "POLICY_NOT_FOUND"
    MEMBER_NOT_COVERED = "MEMBER_NOT_COVERED"
    REVIEWER_ADJUSTMENT = "REVIEWER_ADJUSTMENT"
    REVIEWER_DENIAL = "REVIEWER_DENIAL"


class AdjustmentGroup(StrEnum):
    """X12 claim adjustment group: patient responsibility or contractual (insurer side)."""

    PR = "PR"
    CO = "CO"


class Outcome(StrEnum):
    """Outcome of a decision."""

    APPROVED = "approved"
    PARTIALLY_APPROVED = "partially_approved"
    DENIED = "denied"


@dataclass(frozen=True, slots=True)
class AdjustmentCode:
    """The group and CARC that an adjustment reason is reported with."""

    group: AdjustmentGroup
    carc: str


_PR = AdjustmentGroup.PR
_CO = AdjustmentGroup.CO
_R = AdjustmentReason

ADJUSTMENT_CODES: Mapping[AdjustmentReason, AdjustmentCode] = MappingProxyType(
    {
        _R.DEDUCTIBLE: AdjustmentCode(_PR, "1"),
        _R.COINSURANCE: AdjustmentCode(_PR, "2"),
        _R.OTHER_INSURANCE: AdjustmentCode(_CO, "23"),
        _R.COVERAGE_INACTIVE: AdjustmentCode(_CO, "27"),
        _R.NOT_COVERED: AdjustmentCode(_CO, "96"),
        _R.OVER_LIMIT: AdjustmentCode(_CO, "45"),
        _R.BENEFIT_MAXIMUM: AdjustmentCode(_CO, "119"),
        _R.WAITING_PERIOD: AdjustmentCode(_CO, "96"),
        _R.EXCLUDED_CONDITION: AdjustmentCode(_CO, "96"),
        _R.POLICY_NOT_FOUND: AdjustmentCode(_CO, "31"),
        _R.MEMBER_NOT_COVERED: AdjustmentCode(_CO, "31"),
        _R.REVIEWER_ADJUSTMENT: AdjustmentCode(_CO, "150"),
        _R.REVIEWER_DENIAL: AdjustmentCode(_CO, "96"),
    }
)

CLAIM_DENIAL_REASONS: frozenset[AdjustmentReason] = frozenset(
    {_R.POLICY_NOT_FOUND, _R.MEMBER_NOT_COVERED, _R.EXCLUDED_CONDITION}
)
"""Reasons that deny every line of a claim (DOMAIN §5.1)."""

LINE_DENIAL_REASONS: frozenset[AdjustmentReason] = frozenset(
    {
        _R.COVERAGE_INACTIVE,
        _R.WAITING_PERIOD,
        _R.NOT_COVERED,
    }
)
"""Reasons that deny one line (DOMAIN §5.2)."""

DENIAL_REASONS = CLAIM_DENIAL_REASONS | LINE_DENIAL_REASONS | {_R.REVIEWER_DENIAL}

CUT_REASONS: frozenset[AdjustmentReason] = frozenset(
    {
        _R.OVER_LIMIT,
        _R.BENEFIT_MAXIMUM,
        _R.REVIEWER_ADJUSTMENT,
    }
)
"""Reasons that make a paid line count as cut, so the decision is partially approved."""


def cents(value: Decimal) -> Decimal:
    """Round an amount to the cent, half up."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _money(name: str, value: object) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise TypeError(f"{name} must be a finite Decimal, not {value!r}")
    if value < 0:
        raise ValueError(f"{name} must not be negative: {value}")
    quantized = value.quantize(CENT)
    if value != quantized:
        raise ValueError(f"{name} has more than two decimals: {value}")
    return quantized


def _set_money(obj: object, *names: str, optional: bool = False) -> None:
    """Check amount fields of a frozen dataclass and store them with exactly two decimals."""
    for name in names:
        value = getattr(obj, name)
        if value is None and optional:
            continue
        object.__setattr__(obj, name, _money(name, value))


def _frozen_amounts(name: str, values: Mapping[str, Decimal]) -> Mapping[str, Decimal]:
    amounts = {key: _money(f"{name}[{key!r}]", value) for key, value in values.items()}
    return MappingProxyType({key: value for key, value in amounts.items() if value != 0})


@dataclass(frozen=True, slots=True)
class CategoryRule:
    """How a plan pays one expense category."""

    coinsurance: Decimal
    annual_sublimit: Decimal | None = None
    per_day_limit: Decimal | None = None
    deductible_applies: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.coinsurance, Decimal) or not Decimal(0) <= self.coinsurance <= Decimal(1):
            raise ValueError(f"coinsurance must be a Decimal between 0 and 1: {self.coinsurance!r}")
        _set_money(self, "annual_sublimit", "per_day_limit", optional=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """A benefit plan, one version of it."""

    code: str
    version: int
    name: str
    currency: str
    annual_deductible: Decimal
    annual_limit: Decimal
    per_claim_limit: Decimal | None = None
    waiting_period_days: int = 0
    excluded_diagnoses: tuple[str, ...] = ()
    review_threshold: Decimal | None = None
    categories: Mapping[str, CategoryRule] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _set_money(self, "annual_deductible", "annual_limit")
        _set_money(self, "per_claim_limit", "review_threshold", optional=True)
        if self.waiting_period_days < 0:
            raise ValueError(f"waiting_period_days must not be negative: {self.waiting_period_days}")
        object.__setattr__(self, "excluded_diagnoses", tuple(self.excluded_diagnoses))
        object.__setattr__(self, "categories", MappingProxyType(dict(self.categories)))


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """A policy: who is insured under which plan, from effective to expiry date (both included)."""

    policy_number: str
    plan_code: str
    holder_name: str
    effective_date: date
    expiry_date: date
    status: str
    member_ids: frozenset[str]

    def __post_init__(self) -> None:
        if self.expiry_date < self.effective_date:
            raise ValueError(f"expiry_date {self.expiry_date} is before effective_date {self.effective_date}")
        object.__setattr__(self, "member_ids", frozenset(self.member_ids))


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimLine:
    """One line of the itemized bill."""

    line_no: int
    service_date: date
    category: str
    code: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    other_insurance_paid: Decimal = ZERO

    def __post_init__(self) -> None:
        _set_money(self, "amount", "other_insurance_paid")
        if not isinstance(self.quantity, Decimal) or not self.quantity.is_finite() or self.quantity <= 0:
            raise ValueError(f"quantity must be a positive Decimal: {self.quantity!r}")
        if not isinstance(self.unit_price, Decimal) or not self.unit_price.is_finite() or self.unit_price < 0:
            raise ValueError(f"unit_price must be a non-negative Decimal: {self.unit_price!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimToPrice:
    """What the calculation needs to know of a claim."""

    claim_id: str
    member_id: str
    policy_number: str
    provider_id: str
    claim_type: str
    accident: bool
    primary_diagnosis: str
    lines: tuple[ClaimLine, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", tuple(self.lines))
        numbers = [line.line_no for line in self.lines]
        if len(set(numbers)) != len(numbers):
            raise ValueError(f"line numbers repeat in claim {self.claim_id}: {sorted(numbers)}")

    @property
    def charged(self) -> Decimal:
        """Sum of the line amounts."""
        return sum((line.amount for line in self.lines), ZERO)

    @property
    def first_service_date(self) -> date:
        """The earliest service date of the claim."""
        return min(line.service_date for line in self.lines)


@dataclass(frozen=True, slots=True)
class Accumulators:
    """What a member has used of a policy period: deductible, benefits paid, benefits paid per category.

    The same type carries the increments of one decision (``Decision.accumulator_delta``). Categories with
    nothing paid are left out of ``paid_by_category``, so equal accumulators compare equal.
    """

    deductible_used: Decimal = ZERO
    paid_total: Decimal = ZERO
    paid_by_category: Mapping[str, Decimal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _set_money(self, "deductible_used", "paid_total")
        by_category = _frozen_amounts("paid_by_category", self.paid_by_category)
        object.__setattr__(self, "paid_by_category", by_category)

    def paid_in(self, category: str) -> Decimal:
        """Benefits paid so far in one category."""
        return self.paid_by_category.get(category, ZERO)

    def plus(self, other: Accumulators) -> Accumulators:
        """These accumulators with ``other`` added."""
        categories = dict(self.paid_by_category)
        for category, amount in other.paid_by_category.items():
            categories[category] = categories.get(category, ZERO) + amount
        return Accumulators(
            self.deductible_used + other.deductible_used, self.paid_total + other.paid_total, categories
        )

    def minus(self, other: Accumulators) -> Accumulators:
        """These accumulators with ``other`` taken away, to reverse a decision; ValueError below zero."""
        categories = dict(self.paid_by_category)
        for category, amount in other.paid_by_category.items():
            categories[category] = categories.get(category, ZERO) - amount
        return Accumulators(
            self.deductible_used - other.deductible_used, self.paid_total - other.paid_total, categories
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Adjustment:
    """An amount of a line that is not paid, and why."""

    reason: AdjustmentReason
    group: AdjustmentGroup
    carc: str
    amount: Decimal
    explanation_zh: str
    explanation_en: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LineResult:
    """How one line was priced.

    Invariant: ``charged == payable + sum(adjustment amounts)``. A denied line has ``allowed == payable ==
    0`` and always carries its denial adjustment, with amount 0 when other insurance paid the whole line.
    """

    line_no: int
    category: str
    charged: Decimal
    allowed: Decimal
    payable: Decimal
    adjustments: tuple[Adjustment, ...]
    denied: bool

    def adjusted(self, reason: AdjustmentReason) -> Decimal:
        """Sum of this line's adjustments for one reason."""
        return sum((a.amount for a in self.adjustments if a.reason == reason), ZERO)

    @property
    def deductible(self) -> Decimal:
        """The part of this line applied to the deductible."""
        return self.adjusted(AdjustmentReason.DEDUCTIBLE)

    @property
    def other_insurance(self) -> Decimal:
        """The part of this line paid by another insurer."""
        return self.adjusted(AdjustmentReason.OTHER_INSURANCE)

    @property
    def denial_reason(self) -> AdjustmentReason | None:
        """The reason a denied line was denied, else None."""
        if not self.denied:
            return None
        return next((a.reason for a in self.adjustments if a.reason in DENIAL_REASONS), None)

    @property
    def cut(self) -> bool:
        """Whether a limit or a reviewer cut what this line would otherwise pay."""
        return any(a.reason in CUT_REASONS and a.amount > 0 for a in self.adjustments)


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """The priced claim.

    Invariants: ``charged == payable + member_responsibility + other_insurance``;
    ``accumulators_after == accumulators_before.plus(accumulator_delta)``, where the delta is computed
    from the lines alone. The service persists ``accumulators_after`` (or adds ``accumulator_delta`` to
    the member's row under its lock) in the decision's transaction.
    """

    claim_id: str
    outcome: Outcome
    charged: Decimal
    allowed: Decimal
    payable: Decimal
    member_responsibility: Decimal
    other_insurance: Decimal
    lines: tuple[LineResult, ...]
    denial_reasons: tuple[AdjustmentReason, ...]
    accumulators_before: Accumulators
    accumulators_after: Accumulators

    @property
    def accumulator_delta(self) -> Accumulators:
        """What this decision adds to the member's accumulators."""
        return accumulator_delta(self.lines)

    def line(self, line_no: int) -> LineResult:
        """The result of one line."""
        for line in self.lines:
            if line.line_no == line_no:
                return line
        raise KeyError(line_no)


def accumulator_delta(lines: tuple[LineResult, ...]) -> Accumulators:
    """The deductible, benefits and benefits per category that priced lines use."""
    by_category: dict[str, Decimal] = {}
    for line in lines:
        if line.payable:
            by_category[line.category] = by_category.get(line.category, ZERO) + line.payable
    return Accumulators(
        sum((line.deductible for line in lines), ZERO),
        sum((line.payable for line in lines), ZERO),
        by_category,
    )

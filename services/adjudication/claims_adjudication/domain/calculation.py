"""The calculation of DOMAIN.md §5: a claim, its plan and policy, and the member's accumulators in; a
decision out.

Choices where §5 is silent:

- Other insurance counts up to the line's amount: ``allowed = amount - min(other_insurance_paid,
  amount)``, ``Decision.other_insurance`` is the sum of those parts, and so ``member_responsibility =
  charged - other_insurance - payable`` is never negative (what another insurer overpaid is between the
  member and that insurer).
- A denied line shows the part paid by other insurance first (``OTHER_INSURANCE``) and the rest as one
  adjustment with the denial reason; this keeps ``amount == payable + Σ adjustments`` and makes the
  line's non-``OTHER_INSURANCE`` adjustments add up to what the member bears. The denial adjustment is
  kept even at amount 0 (other insurance paid the whole line) so that the line always names its reason.
  Zero amounts of any other reason are left out.
- A denied line has ``allowed == 0`` and uses no deductible or benefit.
- The policy period decides cover for statuses in ``COVERING_STATUSES`` (a cancellation is expected to
  move ``expiry_date`` to the last day of cover); under any other status (suspended, void, ...) every
  line is ``COVERAGE_INACTIVE``.
- A policy without its plan, or with another plan than the one given, is a data error of the insurer's
  and raises ``ValueError``: the member is not denied for it.
- Diagnosis codes compare upper-case without dots and spaces; an empty exclusion prefix is ignored.
- Per-day caps (``per_day_limit * quantity``) are rounded to the cent, half up.
- When several limits cut one line, each gets its own ``BENEFIT_MAXIMUM`` adjustment, in the order of
  §5.7, so the explanation names each limit.

What the service persists, in the decision's transaction: ``Decision.accumulators_after`` for the
member, policy and period, having priced under that accumulator row's lock (or with an optimistic version
checked against ``accumulators_before``), so that two claims decided at once are priced one after the
other. ``Decision.accumulator_delta`` is what the decision adds; a pended claim is priced again against
the accumulators as they stand when the reviewer decides, then ``apply_reviewer_adjustment`` or
``deny_decision`` applied to that; a re-decision after a dispute prices against
``current.minus(previous_decision.accumulator_delta)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from decimal import Decimal

from . import explain
from .model import (
    ADJUSTMENT_CODES,
    CENT,
    ZERO,
    Accumulators,
    Adjustment,
    AdjustmentReason,
    ClaimLine,
    ClaimToPrice,
    Decision,
    LineResult,
    Outcome,
    Plan,
    Policy,
    accumulator_delta,
    cents,
)

R = AdjustmentReason

COVERING_STATUSES: frozenset[str] = frozenset({"active", "expired", "cancelled", "canceled", "terminated"})
"""Policy statuses under which services inside the policy period are covered."""


def normalize_diagnosis(code: str) -> str:
    """An ICD-10 code for comparison: upper-case, without dots or spaces."""
    return code.replace(".", "").replace(" ", "").upper()


def excluded_prefix(diagnosis: str, excluded: Iterable[str]) -> str | None:
    """The first exclusion prefix that the diagnosis starts with, or None."""
    code = normalize_diagnosis(diagnosis)
    for prefix in excluded:
        normalized = normalize_diagnosis(prefix)
        if normalized and code.startswith(normalized):
            return prefix
    return None


def _adjustment(reason: AdjustmentReason, amount: Decimal, texts: explain.Texts) -> Adjustment:
    code = ADJUSTMENT_CODES[reason]
    return Adjustment(
        reason=reason,
        group=code.group,
        carc=code.carc,
        amount=amount,
        explanation_zh=texts[0],
        explanation_en=texts[1],
    )


def _denied_line(
    line_no: int, category: str, amount: Decimal, other: Adjustment | None, denial: Adjustment
) -> LineResult:
    """A denied line: other insurance first, the rest under the denial's reason."""
    return LineResult(
        line_no=line_no,
        category=category,
        charged=amount,
        allowed=ZERO,
        payable=ZERO,
        adjustments=(denial,) if other is None else (other, denial),
        denied=True,
    )


def _other_insurance(line: ClaimLine) -> Adjustment | None:
    other = min(line.other_insurance_paid, line.amount)
    if other == 0:
        return None
    texts = explain.other_insurance(line.other_insurance_paid, line.amount)
    return _adjustment(R.OTHER_INSURANCE, other, texts)


def _deny_line(line: ClaimLine, reason: AdjustmentReason, texts: explain.Texts) -> LineResult:
    other = _other_insurance(line)
    rest = line.amount - (ZERO if other is None else other.amount)
    return _denied_line(line.line_no, line.category, line.amount, other, _adjustment(reason, rest, texts))


def _outcome(lines: tuple[LineResult, ...]) -> Outcome:
    if all(line.denied for line in lines):
        return Outcome.DENIED
    if any(line.denied or line.cut for line in lines):
        return Outcome.PARTIALLY_APPROVED
    return Outcome.APPROVED


def _decide(claim_id: str, lines: Iterable[LineResult], before: Accumulators) -> Decision:
    ordered = tuple(sorted(lines, key=lambda line: line.line_no))
    charged = sum((line.charged for line in ordered), ZERO)
    payable = sum((line.payable for line in ordered), ZERO)
    other = sum((line.other_insurance for line in ordered), ZERO)
    reasons: list[AdjustmentReason] = []
    for line in ordered:
        reason = line.denial_reason
        if reason is not None and reason not in reasons:
            reasons.append(reason)
    return Decision(
        claim_id=claim_id,
        outcome=_outcome(ordered),
        charged=charged,
        allowed=sum((line.allowed for line in ordered), ZERO),
        payable=payable,
        member_responsibility=charged - other - payable,
        other_insurance=other,
        lines=ordered,
        denial_reasons=tuple(reasons),
        accumulators_before=before,
        accumulators_after=before.plus(accumulator_delta(ordered)),
    )


def _deny_claim(
    claim: ClaimToPrice, accumulators: Accumulators, reason: AdjustmentReason, texts: explain.Texts
) -> Decision:
    return _decide(claim.claim_id, (_deny_line(line, reason, texts) for line in claim.lines), accumulators)


class _Running:
    """The accumulators as they stand while one claim's lines are priced."""

    __slots__ = ("by_category", "deductible_used", "paid_in_claim", "paid_total")

    def __init__(self, start: Accumulators) -> None:
        self.deductible_used = start.deductible_used
        self.paid_total = start.paid_total
        self.by_category: dict[str, Decimal] = dict(start.paid_by_category)
        self.paid_in_claim = ZERO


def _line_denial(
    line: ClaimLine, claim: ClaimToPrice, plan: Plan, policy: Policy
) -> tuple[AdjustmentReason, explain.Texts] | None:
    if policy.status.strip().lower() not in COVERING_STATUSES:
        return R.COVERAGE_INACTIVE, explain.policy_not_in_force(policy.policy_number, policy.status)
    if not policy.effective_date <= line.service_date <= policy.expiry_date:
        texts = explain.coverage_inactive(line.service_date, policy.effective_date, policy.expiry_date)
        return R.COVERAGE_INACTIVE, texts
    first_covered = policy.effective_date + timedelta(days=plan.waiting_period_days)
    if not claim.accident and line.service_date < first_covered:
        texts = explain.waiting_period(line.service_date, plan.waiting_period_days, first_covered)
        return R.WAITING_PERIOD, texts
    if line.category not in plan.categories:
        return R.NOT_COVERED, explain.not_covered(line.category, plan.name)
    return None


def _price_line(
    line: ClaimLine,
    claim: ClaimToPrice,
    plan: Plan,
    policy: Policy,
    run: _Running,
) -> LineResult:
    denial = _line_denial(line, claim, plan, policy)
    if denial is not None:
        return _deny_line(line, *denial)

    amount = line.amount
    rule = plan.categories[line.category]
    adjustments: list[Adjustment] = []
    other = _other_insurance(line)
    if other is not None:
        adjustments.append(other)
    allowed = amount - (ZERO if other is None else other.amount)

    if rule.per_day_limit is not None:
        cap = cents(rule.per_day_limit * line.quantity)
        if allowed > cap:
            texts = explain.over_limit(line.category, rule.per_day_limit, line.quantity, cap)
            adjustments.append(_adjustment(R.OVER_LIMIT, allowed - cap, texts))
            allowed = cap

    deductible = ZERO
    if rule.deductible_applies:
        remaining = max(plan.annual_deductible - run.deductible_used, ZERO)
        deductible = min(allowed, remaining)
        if deductible > 0:
            texts = explain.deductible(plan.annual_deductible, run.deductible_used, deductible)
            adjustments.append(_adjustment(R.DEDUCTIBLE, deductible, texts))
            run.deductible_used += deductible

    base = allowed - deductible
    payable = cents(base * rule.coinsurance)
    if payable < base:
        texts = explain.coinsurance(line.category, rule.coinsurance, base, payable)
        adjustments.append(_adjustment(R.COINSURANCE, base - payable, texts))

    paid_in_category = run.by_category.get(line.category, ZERO)
    if rule.annual_sublimit is not None:
        remaining = max(rule.annual_sublimit - paid_in_category, ZERO)
        if payable > remaining:
            sublimit = rule.annual_sublimit
            texts = explain.category_sublimit(line.category, sublimit, paid_in_category, remaining)
            adjustments.append(_adjustment(R.BENEFIT_MAXIMUM, payable - remaining, texts))
            payable = remaining
    if plan.per_claim_limit is not None:
        remaining = max(plan.per_claim_limit - run.paid_in_claim, ZERO)
        if payable > remaining:
            texts = explain.per_claim_limit(plan.per_claim_limit, run.paid_in_claim, remaining)
            adjustments.append(_adjustment(R.BENEFIT_MAXIMUM, payable - remaining, texts))
            payable = remaining
    remaining = max(plan.annual_limit - run.paid_total, ZERO)
    if payable > remaining:
        texts = explain.annual_limit(plan.annual_limit, run.paid_total, remaining)
        adjustments.append(_adjustment(R.BENEFIT_MAXIMUM, payable - remaining, texts))
        payable = remaining

    run.paid_total += payable
    run.paid_in_claim += payable
    run.by_category[line.category] = paid_in_category + payable
    return LineResult(
        line_no=line.line_no,
        category=line.category,
        charged=amount,
        allowed=allowed,
        payable=payable,
        adjustments=tuple(adjustments),
        denied=False,
    )


def price_claim(
    claim: ClaimToPrice,
    plan: Plan | None,
    policy: Policy | None,
    accumulators: Accumulators,
) -> Decision:
    """Price a claim against the member's accumulators for the policy period (DOMAIN §5)."""
    if not claim.lines:
        raise ValueError(f"claim {claim.claim_id} has no lines")
    if policy is None:
        texts = explain.policy_not_found(claim.policy_number)
        return _deny_claim(claim, accumulators, R.POLICY_NOT_FOUND, texts)
    if policy.policy_number != claim.policy_number:
        raise ValueError(f"policy {policy.policy_number} given for a claim on {claim.policy_number}")
    if claim.member_id not in policy.member_ids:
        texts = explain.member_not_covered(claim.member_id, policy.policy_number)
        return _deny_claim(claim, accumulators, R.MEMBER_NOT_COVERED, texts)
    if plan is None:
        raise ValueError(f"plan {policy.plan_code} of policy {policy.policy_number} was not given")
    if plan.code != policy.plan_code:
        raise ValueError(f"plan {plan.code} given for policy {policy.policy_number} on {policy.plan_code}")
    prefix = excluded_prefix(claim.primary_diagnosis, plan.excluded_diagnoses)
    if prefix is not None:
        texts = explain.excluded_condition(claim.primary_diagnosis, prefix)
        return _deny_claim(claim, accumulators, R.EXCLUDED_CONDITION, texts)

    run = _Running(accumulators)
    ordered = sorted(claim.lines, key=lambda line: (line.service_date, line.line_no))
    results = [_price_line(line, claim, plan, policy, run) for line in ordered]
    return _decide(claim.claim_id, results, accumulators)


def deny_claim_in_other_currency(
    claim: ClaimToPrice, accumulators: Accumulators, claim_currency: str, plan_currency: str
) -> Decision:
    """Deny every line of a claim billed in another currency than the plan's (NOT_COVERED).

    DOMAIN §3 requires a claim's currency to be the plan's; intake cannot know the plan, so the check
    lands here. Nothing is converted: the claimant is told to resubmit in the plan's currency.
    """
    texts = explain.currency_mismatch(claim_currency, plan_currency)
    return _deny_claim(claim, accumulators, R.NOT_COVERED, texts)


def apply_reviewer_adjustment(decision: Decision, payables: Mapping[int, Decimal], reason: str) -> Decision:
    """Lower the payable of some lines to what a reviewer decided; the cut is a REVIEWER_ADJUSTMENT.

    A line's payable may only be lowered or kept (so it never exceeds the line's allowed); its deductible
    stays as priced. Totals, outcome and ``accumulators_after`` are recomputed from
    ``accumulators_before``: what the cut no longer pays is free again under every limit.
    """
    unknown = set(payables) - {line.line_no for line in decision.lines}
    if unknown:
        raise ValueError(f"no such lines in claim {decision.claim_id}: {sorted(unknown)}")
    lines: list[LineResult] = []
    for line in decision.lines:
        if line.line_no not in payables:
            lines.append(line)
            continue
        new = payables[line.line_no]
        if not isinstance(new, Decimal) or not new.is_finite() or new != new.quantize(CENT):
            raise ValueError(f"line {line.line_no}: payable must be a Decimal amount in cents, not {new!r}")
        new = new.quantize(CENT)
        if new < 0 or new > line.payable:
            raise ValueError(
                f"line {line.line_no}: a reviewer may only lower the payable {line.payable}, not set {new}"
            )
        if new == line.payable:
            lines.append(line)
            continue
        cut = _adjustment(
            R.REVIEWER_ADJUSTMENT, line.payable - new, explain.reviewer_adjustment(line.payable, new, reason)
        )
        lines.append(
            LineResult(
                line_no=line.line_no,
                category=line.category,
                charged=line.charged,
                allowed=line.allowed,
                payable=new,
                adjustments=(*line.adjustments, cut),
                denied=False,
            )
        )
    return _decide(decision.claim_id, lines, decision.accumulators_before)


def deny_decision(decision: Decision, reason: str) -> Decision:
    """Deny every line that is not denied yet, as REVIEWER_DENIAL; nothing is paid or accumulated.

    Lines already denied keep their own reason. A newly denied line shows other insurance first and the
    rest as one REVIEWER_DENIAL adjustment, like any denied line; its deductible is released.
    """
    texts = explain.reviewer_denial(reason)
    lines: list[LineResult] = []
    for line in decision.lines:
        if line.denied:
            lines.append(line)
            continue
        others = [a for a in line.adjustments if a.reason == R.OTHER_INSURANCE]
        other = others[0] if others else None
        denial = _adjustment(R.REVIEWER_DENIAL, line.charged - line.other_insurance, texts)
        lines.append(_denied_line(line.line_no, line.category, line.charged, other, denial))
    return _decide(decision.claim_id, lines, decision.accumulators_before)

"""The mapping between contracts (events), stored rows and the pure domain."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from claims_adjudication.db.models import DecisionRow, PolicyRow
from claims_adjudication.db.repositories import LockedAccumulators
from claims_adjudication.domain import (
    Accumulators,
    CategoryRule,
    ClaimLine,
    ClaimToPrice,
    Decision,
    Plan,
    Policy,
)
from claims_adjudication.domain.explain import explain_line
from claims_contracts.events import ClaimReceived
from claims_contracts.events.adjudication import Adjustment, DecisionLine
from claims_contracts.values import AdjustmentGroup, AdjustmentReason, Category


def claim_to_price(claim: ClaimReceived) -> ClaimToPrice:
    """What the calculation needs of a received claim."""
    primary = next(d.code for d in claim.diagnoses if d.primary)
    return ClaimToPrice(
        claim_id=claim.claim_id,
        member_id=claim.member.member_id,
        policy_number=claim.policy_number,
        provider_id=claim.provider.provider_id,
        claim_type=claim.claim_type.value,
        accident=claim.accident,
        primary_diagnosis=primary,
        lines=tuple(
            ClaimLine(
                line_no=line.line_no,
                service_date=line.service_date,
                category=line.category.value,
                code=line.code,
                quantity=line.quantity,
                unit_price=line.unit_price,
                amount=line.amount,
                other_insurance_paid=line.other_insurance_paid,
            )
            for line in claim.lines
        ),
    )


def _opt(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def plan_from_definition(code: str, version: int, definition: Mapping[str, Any]) -> Plan:
    """A stored plan version (the JSON of a validated ``PlanWrite``) as a domain plan."""
    categories = {
        name: CategoryRule(
            Decimal(str(rule["coinsurance"])),
            annual_sublimit=_opt(rule.get("annual_sublimit")),
            per_day_limit=_opt(rule.get("per_day_limit")),
            deductible_applies=bool(rule.get("deductible_applies", True)),
        )
        for name, rule in definition["categories"].items()
    }
    return Plan(
        code=code,
        version=version,
        name=definition["name"],
        currency=definition["currency"],
        annual_deductible=Decimal(str(definition["annual_deductible"])),
        annual_limit=Decimal(str(definition["annual_limit"])),
        per_claim_limit=_opt(definition.get("per_claim_limit")),
        waiting_period_days=int(definition.get("waiting_period_days", 0)),
        excluded_diagnoses=tuple(definition.get("excluded_diagnoses", ())),
        review_threshold=_opt(definition.get("review_threshold")),
        categories=categories,
    )


def policy_from_row(row: PolicyRow) -> Policy:
    """A stored policy as a domain policy."""
    return Policy(
        policy_number=row.policy_number,
        plan_code=row.plan_code,
        holder_name=row.holder_name,
        effective_date=row.effective_date,
        expiry_date=row.expiry_date,
        status=row.status,
        member_ids=frozenset(m["member_id"] for m in row.members),
    )


def amounts_json(amounts: Mapping[str, Decimal]) -> dict[str, str]:
    """Amounts per category as JSON (decimal strings)."""
    return {key: f"{value:.2f}" for key, value in sorted(amounts.items())}


def amounts_of(data: Mapping[str, Any]) -> dict[str, Decimal]:
    """Amounts per category from JSON."""
    return {key: Decimal(str(value)) for key, value in data.items()}


def accumulators_of(row: LockedAccumulators) -> Accumulators:
    """A stored accumulator row as domain accumulators."""
    return Accumulators(row.deductible_used, row.paid_total, amounts_of(row.paid_by_category))


def store_accumulators(row: LockedAccumulators, value: Accumulators) -> None:
    """Write accumulators into their (locked) row and bump its version."""
    row.deductible_used = value.deductible_used
    row.paid_total = value.paid_total
    row.paid_by_category = amounts_json(value.paid_by_category)
    row.version += 1


def delta_of(row: DecisionRow) -> Accumulators:
    """What a stored decision added to the member's accumulators."""
    return Accumulators(row.delta_deductible, row.delta_paid, amounts_of(row.delta_by_category))


def decision_lines(decision: Decision) -> list[DecisionLine]:
    """A decision's lines as the contract carries them, with explanations in zh-CN and en."""
    return [
        DecisionLine(
            line_no=line.line_no,
            category=Category(line.category),
            charged=line.charged,
            allowed=line.allowed,
            payable=line.payable,
            adjustments=[
                Adjustment(
                    reason=AdjustmentReason(a.reason.value),
                    group=AdjustmentGroup(a.group.value),
                    carc=a.carc,
                    amount=a.amount,
                    explanation_zh=a.explanation_zh,
                    explanation_en=a.explanation_en,
                )
                for a in line.adjustments
            ],
            explanation_zh=explain_line(line, "zh-CN")[:4000],
            explanation_en=explain_line(line, "en")[:4000],
        )
        for line in decision.lines
    ]


def decision_summary(decision: Decision, currency: str) -> dict[str, Any]:
    """A calculated decision as JSON (what a review shows before anyone decided)."""
    return {
        "outcome": decision.outcome.value,
        "currency": currency,
        "charged": f"{decision.charged:.2f}",
        "allowed": f"{decision.allowed:.2f}",
        "payable": f"{decision.payable:.2f}",
        "member_responsibility": f"{decision.member_responsibility:.2f}",
        "other_insurance": f"{decision.other_insurance:.2f}",
        "denial_reasons": [r.value for r in decision.denial_reasons],
        "lines": [line.model_dump(mode="json") for line in decision_lines(decision)],
    }

"""Pure domain of adjudication: the calculation of DOMAIN.md §5 and the risk rules of §6 (stdlib only)."""

from .calculation import (
    apply_reviewer_adjustment,
    deny_claim_in_other_currency,
    deny_decision,
    excluded_prefix,
    price_claim,
)
from .model import (
    ADJUSTMENT_CODES,
    Accumulators,
    Adjustment,
    AdjustmentCode,
    AdjustmentGroup,
    AdjustmentReason,
    CategoryRule,
    ClaimLine,
    ClaimToPrice,
    Decision,
    LineResult,
    Outcome,
    Plan,
    Policy,
)
from .risk import ClaimFacts, LineFacts, PriorClaim, RiskReason, RiskSettings, evaluate_risk

__all__ = [
    "ADJUSTMENT_CODES",
    "Accumulators",
    "Adjustment",
    "AdjustmentCode",
    "AdjustmentGroup",
    "AdjustmentReason",
    "CategoryRule",
    "ClaimFacts",
    "ClaimLine",
    "ClaimToPrice",
    "Decision",
    "LineFacts",
    "LineResult",
    "Outcome",
    "Plan",
    "Policy",
    "PriorClaim",
    "RiskReason",
    "RiskSettings",
    "apply_reviewer_adjustment",
    "deny_claim_in_other_currency",
    "deny_decision",
    "evaluate_risk",
    "excluded_prefix",
    "price_claim",
]

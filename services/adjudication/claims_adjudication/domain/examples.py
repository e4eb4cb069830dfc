"""The plan and policy of DOMAIN.md §4 and the claim of §3 as domain objects, for demos, tests, bench."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from .model import CategoryRule, ClaimLine, ClaimToPrice, Plan, Policy

D = Decimal


def standard_plan() -> Plan:
    """The plan "Standard medical 2026" (STD-2026, version 1)."""
    return Plan(
        code="STD-2026",
        version=1,
        name="Standard medical 2026",
        currency="CNY",
        annual_deductible=D("500.00"),
        annual_limit=D("200000.00"),
        per_claim_limit=None,
        waiting_period_days=30,
        excluded_diagnoses=("O", "K02", "Z41"),
        review_threshold=D("50000.00"),
        categories={
            "consultation": CategoryRule(D("0.80")),
            "examination": CategoryRule(D("0.80")),
            "imaging": CategoryRule(D("0.80")),
            "surgery": CategoryRule(D("0.90")),
            "drugs": CategoryRule(D("0.70"), annual_sublimit=D("20000.00")),
            "room": CategoryRule(D("1.00"), per_day_limit=D("300.00"), deductible_applies=False),
            "nursing": CategoryRule(D("0.80")),
            "consumables": CategoryRule(D("0.50")),
        },
    )


def standard_policy() -> Policy:
    """Policy POL-2026-0001 of 张三 (member M-1001) on STD-2026 for 2026."""
    return Policy(
        policy_number="POL-2026-0001",
        plan_code="STD-2026",
        holder_name="张三",
        effective_date=date(2026, 1, 1),
        expiry_date=date(2026, 12, 31),
        status="active",
        member_ids=frozenset({"M-1001"}),
    )


def outpatient_claim(claim_id: str = "CLM-EXAMPLE") -> ClaimToPrice:
    """The outpatient claim of §3: consultation 200, chest CT 600, amoxicillin 3 x 100."""
    day = date(2026, 3, 10)
    return ClaimToPrice(
        claim_id=claim_id,
        member_id="M-1001",
        policy_number="POL-2026-0001",
        provider_id="H-001",
        claim_type="outpatient",
        accident=False,
        primary_diagnosis="J18.9",
        lines=(
            ClaimLine(
                line_no=1,
                service_date=day,
                category="consultation",
                code="C-001",
                quantity=D("1"),
                unit_price=D("200.00"),
                amount=D("200.00"),
            ),
            ClaimLine(
                line_no=2,
                service_date=day,
                category="examination",
                code="E-100",
                quantity=D("1"),
                unit_price=D("600.00"),
                amount=D("600.00"),
            ),
            ClaimLine(
                line_no=3,
                service_date=day,
                category="drugs",
                code="D-555",
                quantity=D("3"),
                unit_price=D("100.00"),
                amount=D("300.00"),
                other_insurance_paid=D("0.00"),
            ),
        ),
    )

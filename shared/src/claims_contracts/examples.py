"""The public API examples of DOMAIN.md (§3 claim, §4 plan and policy), as fresh dictionaries.

Clients are written against these bodies; tests, fault runs and the benchmark use them so that one copy
says what the worked example is (charged 1100.00, payable 450.00, member responsibility 650.00).
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterable, Sequence
from typing import Any

TINY_PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
TINY_PDF_BASE64 = base64.b64encode(TINY_PDF).decode()
OUTPATIENT_DOCUMENTS: tuple[str, ...] = ("claim_form", "id_proof", "itemized_bill", "invoice", "medical_record")

_PLAN: dict[str, Any] = {
    "name": "Standard medical 2026",
    "currency": "CNY",
    "annual_deductible": "500.00",
    "annual_limit": "200000.00",
    "per_claim_limit": None,
    "waiting_period_days": 30,
    "excluded_diagnoses": ["O", "K02", "Z41"],
    "review_threshold": "50000.00",
    "categories": {
        "consultation": {"coinsurance": "0.80"},
        "examination": {"coinsurance": "0.80"},
        "imaging": {"coinsurance": "0.80"},
        "surgery": {"coinsurance": "0.90"},
        "drugs": {"coinsurance": "0.70", "annual_sublimit": "20000.00"},
        "room": {"coinsurance": "1.00", "per_day_limit": "300.00", "deductible_applies": False},
        "nursing": {"coinsurance": "0.80"},
        "consumables": {"coinsurance": "0.50"},
    },
}


def standard_plan(**changes: Any) -> dict[str, Any]:
    """The body of ``PUT /v1/plans/STD-2026`` (DOMAIN §4), with top-level ``changes`` applied."""
    return {**copy.deepcopy(_PLAN), **changes}


def standard_policy(members: Iterable[str], *, plan_code: str = "STD-2026", name: str = "张三") -> dict[str, Any]:
    """The body of ``PUT /v1/policies/{number}`` (DOMAIN §4) for the given member ids."""
    return {
        "plan_code": plan_code,
        "holder_name": name,
        "effective_date": "2026-01-01",
        "expiry_date": "2026-12-31",
        "status": "active",
        "members": [{"member_id": m, "name": name} for m in members],
    }


def line(
    no: int, category: str, code: str, description: str, quantity: str, unit_price: str, amount: str
) -> dict[str, Any]:
    """One bill line of service date 2026-03-10."""
    return {
        "line_no": no,
        "service_date": "2026-03-10",
        "category": category,
        "code": code,
        "description": description,
        "quantity": quantity,
        "unit_price": unit_price,
        "amount": amount,
    }


def worked_example_lines() -> list[dict[str, Any]]:
    """The three lines of the worked example: consultation 200, CT 600, drugs 300."""
    return [
        line(1, "consultation", "C-001", "门诊诊查", "1", "200.00", "200.00"),
        line(2, "examination", "E-100", "胸部CT", "1", "600.00", "600.00"),
        {**line(3, "drugs", "D-555", "阿莫西林", "3", "100.00", "300.00"), "other_insurance_paid": "0.00"},
    ]


def documents(types: Iterable[str]) -> list[dict[str, Any]]:
    """Inline documents (a tiny PDF each) of the given types."""
    return [
        {"type": t, "filename": f"{t}.pdf", "content_type": "application/pdf", "content_base64": TINY_PDF_BASE64}
        for t in types
    ]


def claim_submission(
    policy_number: str = "POL-2026-0001",
    member_id: str = "M-1001",
    *,
    provider_id: str = "H-001",
    document_types: Sequence[str] = OUTPATIENT_DOCUMENTS,
    lines: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The body of ``POST /v1/claims`` (DOMAIN §3); by default the worked example, complete."""
    return {
        "policy_number": policy_number,
        "member": {
            "member_id": member_id,
            "name": "张三",
            "id_type": "resident_id",
            "id_number": "110101199003071234",
            "phone": "+8613800000000",
            "email": "zhangsan@example.com",
        },
        "provider": {"provider_id": provider_id, "name": "北京协和医院"},
        "claim_type": "outpatient",
        "accident": False,
        "diagnoses": [{"code": "J18.9", "primary": True}],
        "lines": lines if lines is not None else worked_example_lines(),
        "currency": "CNY",
        "payee": "member",
        "bank_account": {"holder": "张三", "account_number": "6222020200001234567", "bank_code": "ICBC"},
        "documents": documents(document_types),
    }

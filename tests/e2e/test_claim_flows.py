"""Whole claims through the four services as processes, over real Kafka and PostgreSQL."""

from __future__ import annotations

import base64
import time
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest

from claims_platform.testing import bearer

PDF = base64.b64encode(b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n").decode()
OUTPATIENT_DOCS = ("claim_form", "id_proof", "itemized_bill", "invoice", "medical_record")

PLAN = {
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


def _claim(policy: str, member: str, docs: tuple[str, ...]) -> dict[str, Any]:
    return {
        "policy_number": policy,
        "member": {
            "member_id": member,
            "name": "张三",
            "id_type": "resident_id",
            "id_number": "110101199003071234",
            "phone": "+8613800000000",
            "email": "zhangsan@example.com",
        },
        "provider": {"provider_id": "H-001", "name": "北京协和医院"},
        "claim_type": "outpatient",
        "accident": False,
        "diagnoses": [{"code": "J18.9", "primary": True}],
        "lines": [
            {
                "line_no": 1,
                "service_date": "2026-03-10",
                "category": "consultation",
                "code": "C-001",
                "description": "门诊诊查",
                "quantity": "1",
                "unit_price": "200.00",
                "amount": "200.00",
            },
            {
                "line_no": 2,
                "service_date": "2026-03-10",
                "category": "examination",
                "code": "E-100",
                "description": "胸部CT",
                "quantity": "1",
                "unit_price": "600.00",
                "amount": "600.00",
            },
            {
                "line_no": 3,
                "service_date": "2026-03-10",
                "category": "drugs",
                "code": "D-555",
                "description": "阿莫西林",
                "quantity": "3",
                "unit_price": "100.00",
                "amount": "300.00",
                "other_insurance_paid": "0.00",
            },
        ],
        "currency": "CNY",
        "payee": "member",
        "bank_account": {"holder": "张三", "account_number": "6222020200001234567", "bank_code": "ICBC"},
        "documents": [
            {"type": d, "filename": f"{d}.pdf", "content_type": "application/pdf", "content_base64": PDF} for d in docs
        ],
    }


@pytest.fixture(scope="module")
def tokens(jwt_secret):
    return {
        "admin": bearer(jwt_secret, "admin", sub="admin-1"),
        "partner": bearer(jwt_secret, "partner", sub="his-h001", provider_id="H-001"),
        "auditor": bearer(jwt_secret, "auditor", sub="audit-1"),
    }


@pytest.fixture
def member_policy(suite, tokens):
    """A fresh member on a fresh policy of the standard plan: first claim of the year."""
    member, policy = f"M-{uuid.uuid4().hex[:6]}", f"POL-{uuid.uuid4().hex[:8].upper()}"
    adj = suite.urls["adjudication"]
    assert httpx.put(f"{adj}/v1/plans/STD-2026", json=PLAN, headers=tokens["admin"]).status_code in (200, 201)
    body = {
        "plan_code": "STD-2026",
        "holder_name": "张三",
        "effective_date": "2026-01-01",
        "expiry_date": "2026-12-31",
        "status": "active",
        "members": [{"member_id": member, "name": "张三"}],
    }
    resp = httpx.put(f"{adj}/v1/policies/{policy}", json=body, headers=tokens["admin"])
    assert resp.status_code in (200, 201), resp.text
    return member, policy


def _until(get, predicate, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = get()
        if predicate(last):
            return last
        time.sleep(0.2)
    raise AssertionError(f"not reached within {timeout}s; last seen: {last}")


def test_worked_example_ends_paid_once_and_notified(suite, tokens, member_policy):
    member, policy = member_policy
    intake = suite.urls["intake"]
    resp = httpx.post(
        f"{intake}/v1/claims",
        json=_claim(policy, member, OUTPATIENT_DOCS),
        headers={**tokens["partner"], "Idempotency-Key": str(uuid.uuid4())},
        timeout=10,
    )
    assert resp.status_code == 201, resp.text
    claim_id = resp.json()["claim_id"]
    assert resp.json()["missing_documents"] == []

    claim = _until(
        lambda: httpx.get(f"{intake}/v1/claims/{claim_id}", headers=tokens["partner"]).json(),
        lambda c: c["status"] == "paid",
    )
    decision = claim["decision"]
    assert decision["outcome"] == "approved"
    assert (decision["charged"], decision["payable"], decision["member_responsibility"]) == (
        "1100.00",
        "450.00",
        "650.00",
    )
    line2 = next(x for x in decision["lines"] if x["line_no"] == 2)
    assert line2["payable"] == "240.00"
    assert [(a["reason"], a["group"], a["carc"], a["amount"]) for a in line2["adjustments"]] == [
        ("DEDUCTIBLE", "PR", "1", "300.00"),
        ("COINSURANCE", "PR", "2", "60.00"),
    ]
    assert [(p["amount"], p["payee"], p["status"]) for p in claim["payments"]] == [("450.00", "member", "settled")]

    payments = httpx.get(
        f"{suite.urls['payment']}/v1/payments", params={"claim_id": claim_id}, headers=tokens["admin"]
    ).json()
    items = payments["items"] if isinstance(payments, dict) else payments
    assert [Decimal(p["amount"]) for p in items] == [Decimal("450.00")]

    def notes() -> list[dict[str, Any]]:
        r = httpx.get(
            f"{suite.urls['notification']}/v1/notifications", params={"claim_id": claim_id}, headers=tokens["admin"]
        )
        return r.json()["items"]

    messages = _until(notes, lambda ms: {"claim_decided", "payment_sent", "survey"} <= {m["event_type"] for m in ms})
    decided = [m for m in messages if m["event_type"] == "claim_decided" and m["channel"] == "in_app"]
    assert len(decided) == 1
    assert "450.00" in decided[0]["body"]
    assert decided[0]["locale"] == "zh-CN"
    assert decided[0]["source_event_type"] == "ClaimAdjudicated"
    survey = next(m for m in messages if m["event_type"] == "survey")
    assert "/v1/feedback?token=" in survey["body"]


def test_incomplete_claim_waits_for_documents_then_is_decided(suite, tokens, member_policy):
    member, policy = member_policy
    intake = suite.urls["intake"]
    resp = httpx.post(
        f"{intake}/v1/claims",
        json=_claim(policy, member, ("claim_form",)),
        headers={**tokens["partner"], "Idempotency-Key": str(uuid.uuid4())},
        timeout=10,
    )
    assert resp.status_code == 201, resp.text
    body = resp.json()
    claim_id = body["claim_id"]
    assert body["status"] == "pending_documents"
    assert sorted(body["missing_documents"]) == sorted(OUTPATIENT_DOCS[1:])

    for doc in OUTPATIENT_DOCS[1:]:
        r = httpx.post(
            f"{intake}/v1/claims/{claim_id}/documents",
            headers=tokens["partner"],
            data={"type": doc},
            files={"file": (f"{doc}.pdf", base64.b64decode(PDF), "application/pdf")},
        )
        assert r.status_code in (200, 201), r.text
    claim = _until(
        lambda: httpx.get(f"{intake}/v1/claims/{claim_id}", headers=tokens["partner"]).json(),
        lambda c: c["status"] == "paid",
    )
    assert claim["decision"]["payable"] == "450.00"
    timeline = httpx.get(f"{intake}/v1/claims/{claim_id}/timeline", headers=tokens["partner"]).json()
    statuses = [e["status_to"] for e in timeline["items"] if e["status_to"]]
    assert statuses[:2] == ["received", "pending_documents"]
    assert statuses[-1] == "paid"
    assert "in_review" in statuses


def test_no_id_number_or_bank_account_in_any_log_line_and_metrics_moved(suite, tokens):
    """Runs after the flows above, on the same processes."""
    for service in suite.urls:
        log = (suite.log_dir / f"{service}.log").read_text(errors="replace")
        assert "110101199003071234" not in log, f"{service} logged an ID number"
        assert "6222020200001234567" not in log, f"{service} logged a bank account"
    intake_metrics = httpx.get(f"{suite.urls['intake']}/metrics").text
    assert 'http_requests_total{method="POST",route="/v1/claims",status="201"}' in intake_metrics
    for service in ("adjudication", "payment", "notification"):
        text = httpx.get(f"{suite.urls[service]}/metrics").text
        consumed = [
            line
            for line in text.splitlines()
            if line.startswith("events_consumed_total{") and 'result="applied"' in line
        ]
        assert consumed, f"{service} consumed nothing"
        published = next(line for line in text.splitlines() if line.startswith("events_published_total "))
        assert float(published.split()[-1]) > 0

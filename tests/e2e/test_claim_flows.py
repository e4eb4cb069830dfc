"""Whole claims through the four services, over HTTP, in both ways to run the suite.

Each flow is a plain function of a :class:`conftest.Stack` (base URLs, tokens, a payment restart,
logs); the tests at the bottom run every flow against the processes on PostgreSQL and Kafka and
against the embedded mode (``make run``). Flows run in the order of this file on one suite per mode;
each uses a fresh member and policy, so they do not depend on each other.
"""

from __future__ import annotations

import base64
import time
import uuid
from decimal import Decimal
from typing import Any

import httpx

from claims_contracts import examples

PDF = examples.TINY_PDF_BASE64
OUTPATIENT_DOCS = examples.OUTPATIENT_DOCUMENTS
ID_NUMBER = "110101199003071234"
ACCOUNT_NUMBER = "6222020200001234567"

PLAN = examples.standard_plan()
# The same benefits, but every claim above 1,000.00 goes to a reviewer (HIGH_AMOUNT).
REVIEWED_PLAN = examples.standard_plan(name="Reviewed medical 2026", review_threshold="1000.00")

WORKED_EXAMPLE_LINES = examples.worked_example_lines()
SURGERY_LINES = [examples.line(1, "surgery", "S-900", "胸腔镜手术", "1", "60000.00", "60000.00")]


# --- helpers: what a client of the suite does ---------------------------------------------------


def _claim(policy: str, member: str, docs: tuple[str, ...], lines: list[dict[str, Any]] | None = None) -> dict:
    return examples.claim_submission(policy, member, document_types=docs, lines=lines)


def _until(get, predicate, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = get()
        if predicate(last):
            return last
        time.sleep(0.2)
    raise AssertionError(f"not reached within {timeout}s; last seen: {last}")


def _get(stack, service: str, path: str, who: str = "admin", **params: Any) -> Any:
    resp = httpx.get(f"{stack.urls[service]}{path}", params=params, headers=stack.tokens[who], timeout=10)
    assert resp.status_code == 200, f"GET {path}: {resp.status_code} {resp.text}"
    return resp.json()


def _post(stack, service: str, path: str, who: str, body: dict | None = None) -> httpx.Response:
    return httpx.post(f"{stack.urls[service]}{path}", json=body, headers=stack.tokens[who], timeout=10)


def _new_policy(stack, plan_code: str = "STD-2026", plan: dict = PLAN) -> tuple[str, str]:
    """A fresh member on a fresh policy of ``plan``: first claim of the year."""
    member, policy = f"M-{uuid.uuid4().hex[:6]}", f"POL-{uuid.uuid4().hex[:8].upper()}"
    adj, admin = stack.urls["adjudication"], stack.tokens["admin"]
    resp = httpx.put(f"{adj}/v1/plans/{plan_code}", json=plan, headers=admin, timeout=10)
    assert resp.status_code in (200, 201), resp.text
    body = examples.standard_policy([member], plan_code=plan_code)
    resp = httpx.put(f"{adj}/v1/policies/{policy}", json=body, headers=admin, timeout=10)
    assert resp.status_code in (200, 201), resp.text
    return member, policy


def _submit(stack, claim: dict) -> dict:
    resp = httpx.post(
        f"{stack.urls['intake']}/v1/claims",
        json=claim,
        headers={**stack.tokens["partner"], "Idempotency-Key": str(uuid.uuid4())},
        timeout=10,
    )
    assert resp.status_code == 201, resp.text
    return resp.json()


def _claim_when(stack, claim_id: str, status: str, timeout: float = 60.0) -> dict:
    return _until(
        lambda: _get(stack, "intake", f"/v1/claims/{claim_id}", who="partner"),
        lambda c: c["status"] == status,
        timeout,
    )


def _payments(stack, claim_id: str) -> list[dict]:
    return _get(stack, "payment", "/v1/payments", claim_id=claim_id)["items"]


def _messages(stack, claim_id: str, *expected: str, timeout: float = 60.0) -> list[dict]:
    """The claim's in-app messages, once each of ``expected`` (an event type, repeated for a count) is there."""

    def enough(ms: list[dict]) -> bool:
        kinds = [m["event_type"] for m in ms]
        return all(kinds.count(k) >= expected.count(k) for k in expected)

    return _until(lambda: _get(stack, "notification", "/v1/notifications", claim_id=claim_id)["items"], enough, timeout)


def _kinds(messages: list[dict]) -> list[str]:
    return sorted(m["event_type"] for m in messages if m["channel"] == "in_app")


def _review(stack, claim_id: str, kind: str, status: str = "open") -> dict:
    """The claim's review of ``kind`` in the queue with ``status``, once it is there."""

    def find() -> dict | None:
        items = _get(stack, "adjudication", "/v1/reviews", who="adjuster", status=status, limit=500)["items"]
        return next((r for r in items if r["claim_id"] == claim_id and r["kind"] == kind), None)

    return _until(find, lambda r: r is not None)


def _rows(payments: list[dict]) -> list[tuple[int, str, str]]:
    return [(p["decision_version"], p["amount"], p["status"]) for p in payments]


# --- the flows --------------------------------------------------------------------------------


def flow_worked_example_ends_paid_once_and_notified(stack) -> None:
    """DOMAIN §5: submitted complete over HTTP, decided automatically, 450.00 paid once, member told."""
    member, policy = _new_policy(stack)
    created = _submit(stack, _claim(policy, member, OUTPATIENT_DOCS))
    claim_id = created["claim_id"]
    assert created["missing_documents"] == []

    claim = _claim_when(stack, claim_id, "paid")
    decision = claim["decision"]
    assert decision["outcome"] == "approved"
    assert (decision["charged"], decision["payable"], decision["member_responsibility"]) == (
        "1100.00",
        "450.00",
        "650.00",
    )
    assert {x["line_no"]: x["payable"] for x in decision["lines"]} == {1: "0.00", 2: "240.00", 3: "210.00"}
    line2 = next(x for x in decision["lines"] if x["line_no"] == 2)
    assert [(a["reason"], a["group"], a["carc"], a["amount"]) for a in line2["adjustments"]] == [
        ("DEDUCTIBLE", "PR", "1", "300.00"),
        ("COINSURANCE", "PR", "2", "60.00"),
    ]
    assert [(p["amount"], p["payee"], p["status"]) for p in claim["payments"]] == [("450.00", "member", "settled")]
    assert _rows(_payments(stack, claim_id)) == [(1, "450.00", "settled")]

    messages = _messages(stack, claim_id, "claim_received", "claim_decided", "payment_sent", "survey")
    decided = [m for m in messages if m["event_type"] == "claim_decided" and m["channel"] == "in_app"]
    assert len(decided) == 1
    assert "450.00" in decided[0]["body"]
    assert decided[0]["locale"] == "zh-CN"
    assert decided[0]["source_event_type"] == "ClaimAdjudicated"
    survey = next(m for m in messages if m["event_type"] == "survey")
    assert "/v1/feedback?token=" in survey["body"]


def flow_incomplete_documents_then_supplemented(stack) -> None:
    """Only the claim form: the claim waits for the other four; supplied one by one, it is decided and paid."""
    member, policy = _new_policy(stack)
    created = _submit(stack, _claim(policy, member, ("claim_form",)))
    claim_id = created["claim_id"]
    assert created["status"] == "pending_documents"
    assert sorted(created["missing_documents"]) == sorted(OUTPATIENT_DOCS[1:])
    requested = _messages(stack, claim_id, "documents_requested")
    assert "documents_requested" in _kinds(requested)

    for doc in OUTPATIENT_DOCS[1:]:
        r = httpx.post(
            f"{stack.urls['intake']}/v1/claims/{claim_id}/documents",
            headers=stack.tokens["partner"],
            data={"type": doc},
            files={"file": (f"{doc}.pdf", base64.b64decode(PDF), "application/pdf")},
            timeout=10,
        )
        assert r.status_code in (200, 201), r.text
    assert r.json()["missing_documents"] == []

    claim = _claim_when(stack, claim_id, "paid")
    assert claim["decision"]["payable"] == "450.00"
    assert _rows(_payments(stack, claim_id)) == [(1, "450.00", "settled")]
    timeline = _get(stack, "intake", f"/v1/claims/{claim_id}/timeline", who="partner", limit=500)
    statuses = [e["status_to"] for e in timeline["items"] if e["status_to"]]
    assert statuses[:2] == ["received", "pending_documents"]
    assert "in_review" in statuses
    assert statuses[-1] == "paid"


def flow_pended_claim_approved_by_reviewer_and_supervisor(stack) -> None:
    """A 60,000.00 surgery is pended (HIGH_AMOUNT); the reviewer's approval of 53,550.00 is above their
    authority, so it waits for a supervisor; once approved, 53,550.00 is paid once."""
    member, policy = _new_policy(stack)
    claim_id = _submit(stack, _claim(policy, member, OUTPATIENT_DOCS, SURGERY_LINES))["claim_id"]
    _claim_when(stack, claim_id, "pended")
    # (60,000.00 - 500.00 deductible) * 0.90 = 53,550.00
    review = _review(stack, claim_id, "risk")
    assert "HIGH_AMOUNT" in review["reasons"]
    assert review["charged"] == "60000.00"
    assert review["calculated_decision"]["payable"] == "53550.00"
    assert "claim_pended" in _kinds(_messages(stack, claim_id, "claim_pended"))

    decide = f"/v1/reviews/{review['review_id']}/decision"
    resp = _post(stack, "adjudication", decide, "adjuster", {"action": "approve"})
    assert resp.status_code == 202, resp.text
    assert resp.json()["status"] == "awaiting_second_approval"
    assert resp.json()["pending_action"]["payable"] == "53550.00"
    assert resp.json()["pending_action"]["proposed_by"] == "u-adj1"
    waiting = _review(stack, claim_id, "risk", status="awaiting_second_approval")
    assert waiting["review_id"] == review["review_id"]
    # Nothing is decided or paid on the reviewer's word alone.
    assert _get(stack, "intake", f"/v1/claims/{claim_id}", who="partner")["status"] == "pended"
    assert _payments(stack, claim_id) == []

    resp = _post(
        stack, "adjudication", f"/v1/reviews/{review['review_id']}/approve", "supervisor", {"comment": "records ok"}
    )
    assert resp.status_code == 200, resp.text
    decision = resp.json()["decision"]
    assert resp.json()["status"] == "decided"
    assert (decision["version"], decision["outcome"], decision["payable"]) == (1, "approved", "53550.00")
    assert (decision["decided_by"], decision["approved_by"], decision["automatic"]) == ("u-adj1", "u-sup1", False)

    claim = _claim_when(stack, claim_id, "paid")
    assert (claim["decision"]["payable"], claim["decision"]["member_responsibility"]) == ("53550.00", "6450.00")
    assert [(p["amount"], p["status"]) for p in claim["payments"]] == [("53550.00", "settled")]
    assert _rows(_payments(stack, claim_id)) == [(1, "53550.00", "settled")]
    messages = _messages(stack, claim_id, "claim_pended", "claim_decided", "payment_sent")
    decided = [m for m in messages if m["event_type"] == "claim_decided" and m["channel"] == "in_app"]
    assert len(decided) == 1
    assert "53,550.00" in decided[0]["body"]


def flow_dispute_pays_the_difference(stack) -> None:
    """The worked example under a plan that reviews it: a reviewer cuts the drugs to 110.00 (350.00 paid);
    the hospital disputes; another reviewer approves as calculated (450.00); only 100.00 more is paid."""
    member, policy = _new_policy(stack, "REV-2026", REVIEWED_PLAN)
    claim_id = _submit(stack, _claim(policy, member, OUTPATIENT_DOCS))["claim_id"]
    _claim_when(stack, claim_id, "pended")
    review = _review(stack, claim_id, "risk")
    assert review["reasons"] == ["HIGH_AMOUNT"]
    assert review["calculated_decision"]["payable"] == "450.00"

    cut = {"action": "adjust", "lines": [{"line_no": 3, "payable": "110.00"}], "reason": "Dosage not supported"}
    resp = _post(stack, "adjudication", f"/v1/reviews/{review['review_id']}/decision", "adjuster", cut)
    assert resp.status_code == 200, resp.text
    first = resp.json()["decision"]
    assert (first["version"], first["outcome"], first["payable"]) == (1, "partially_approved", "350.00")
    claim = _claim_when(stack, claim_id, "paid")
    assert [(p["amount"], p["status"]) for p in claim["payments"]] == [("350.00", "settled")]

    resp = _post(stack, "intake", f"/v1/claims/{claim_id}/disputes", "partner", {"reason": "The drugs were prescribed"})
    assert resp.status_code == 201, resp.text
    dispute = _review(stack, claim_id, "dispute")
    assert dispute["reasons"] == ["DISPUTE"]
    assert "u-adj1" in dispute["excluded_deciders"]
    assert _get(stack, "intake", f"/v1/claims/{claim_id}", who="partner")["status"] in ("disputed", "pended")

    decide = f"/v1/reviews/{dispute['review_id']}/decision"
    again = _post(stack, "adjudication", decide, "adjuster", {"action": "approve"})
    assert again.status_code == 403, again.text  # who decided before may not decide the dispute
    resp = _post(stack, "adjudication", decide, "adjuster2", {"action": "approve"})
    assert resp.status_code == 200, resp.text
    second = resp.json()["decision"]
    assert (second["version"], second["outcome"], second["payable"]) == (2, "approved", "450.00")
    assert second["decided_by"] == "u-adj2"

    claim = _until(
        lambda: _get(stack, "intake", f"/v1/claims/{claim_id}", who="partner"),
        lambda c: c["status"] == "paid" and c["decision"]["version"] == 2,
    )
    assert claim["decision"]["payable"] == "450.00"
    assert sorted((p["amount"], p["status"]) for p in claim["payments"]) == [
        ("100.00", "settled"),
        ("350.00", "settled"),
    ]
    payments = _payments(stack, claim_id)
    assert sorted(_rows(payments)) == [(1, "350.00", "settled"), (2, "100.00", "settled")]
    assert sum(Decimal(p["amount"]) for p in payments) == Decimal("450.00")
    assert _get(stack, "payment", "/v1/overpayments", claim_id=claim_id)["items"] == []

    messages = _messages(
        stack, claim_id, "claim_pended", "claim_pended", "dispute_received", "claim_decided", "claim_decided"
    )
    decided = [m["body"] for m in messages if m["event_type"] == "claim_decided" and m["channel"] == "in_app"]
    assert len(decided) == 2
    assert "350.00" in decided[0]
    assert "450.00" in decided[1]


def flow_bank_failure_then_retry(stack) -> None:
    """The bank rejects every transfer: the claim ends payment_failed and the member is told; with the bank
    fixed, finance retries the payment and 450.00 is paid, once."""
    member, policy = _new_policy(stack)
    stack.restart_payment({"CLAIMS_PAYMENT_BANK_FAILURE_RATE": "1"})
    try:
        claim_id = _submit(stack, _claim(policy, member, OUTPATIENT_DOCS))["claim_id"]
        claim = _claim_when(stack, claim_id, "payment_failed")
        assert claim["decision"]["payable"] == "450.00"
        [failed] = _payments(stack, claim_id)
        assert (failed["amount"], failed["status"], failed["can_retry"]) == ("450.00", "failed", True)
        told = _messages(stack, claim_id, "payment_failed")
        assert [m for m in told if m["event_type"] == "payment_failed" and "450.00" in m["body"]]
    finally:
        stack.restart_payment({"CLAIMS_PAYMENT_BANK_FAILURE_RATE": "0"})

    resp = _post(stack, "payment", f"/v1/payments/{failed['payment_id']}/retry", "finance")
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "scheduled"

    claim = _claim_when(stack, claim_id, "paid")
    assert [(p["amount"], p["status"]) for p in claim["payments"]] == [("450.00", "settled")]
    [paid] = _payments(stack, claim_id)
    assert (paid["payment_id"], paid["amount"], paid["status"]) == (failed["payment_id"], "450.00", "settled")
    messages = _messages(stack, claim_id, "payment_failed", "payment_sent", "survey")
    assert _kinds(messages).count("payment_failed") == 1


def flow_no_id_number_or_bank_account_in_any_log_line(stack) -> None:
    """After the flows above, on the same suite."""
    for name, log in stack.logs().items():
        assert log.strip(), f"{name} logged nothing"
        assert ID_NUMBER not in log, f"{name} logged an ID number"
        assert ACCOUNT_NUMBER not in log, f"{name} logged a bank account"


def flow_metrics_moved(stack) -> None:
    """Each service counted the requests and events of the flows."""
    intake_metrics = httpx.get(f"{stack.urls['intake']}/metrics", timeout=10).text
    assert 'http_requests_total{method="POST",route="/v1/claims",status="201"}' in intake_metrics
    for service in ("adjudication", "payment", "notification"):
        text = httpx.get(f"{stack.urls[service]}/metrics", timeout=10).text
        consumed = [
            line
            for line in text.splitlines()
            if line.startswith("events_consumed_total{") and 'result="applied"' in line
        ]
        assert consumed, f"{service} consumed nothing"
        published = next(line for line in text.splitlines() if line.startswith("events_published_total "))
        assert float(published.split()[-1]) > 0


# --- the tests: every flow in both modes (``stack`` is parametrized in conftest.py) --------------


def modes(*names: str):
    """Run a test only in these modes (the rest of the file runs in both)."""

    def mark(test):
        test.modes = names
        return test

    return mark


def test_worked_example_ends_paid_once_and_notified(stack):
    flow_worked_example_ends_paid_once_and_notified(stack)


def test_incomplete_claim_waits_for_documents_then_is_decided(stack):
    flow_incomplete_documents_then_supplemented(stack)


def test_pended_claim_is_approved_by_a_reviewer_and_a_supervisor(stack):
    flow_pended_claim_approved_by_reviewer_and_supervisor(stack)


def test_dispute_pays_only_the_difference(stack):
    flow_dispute_pays_the_difference(stack)


def test_metrics_moved(stack):
    """Before the bank-failure flow, which restarts payment (the embedded mode: every service)."""
    flow_metrics_moved(stack)


def test_bank_failure_is_told_then_retried_and_paid_once(stack):
    flow_bank_failure_then_retry(stack)


def test_no_id_number_or_bank_account_in_any_log_line(stack):
    flow_no_id_number_or_bank_account_in_any_log_line(stack)

"""The case archive: adjudication, payment and notification events; disputes, withdrawals, complaints, expiry."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from claims_contracts.envelope import EventEnvelope
from claims_contracts.events import (
    Adjustment,
    ClaimAdjudicated,
    ClaimPended,
    DecisionLine,
    NotificationSent,
    PaymentCompleted,
    PaymentScheduled,
)
from claims_contracts.topics import ADJUDICATION_TOPIC, NOTIFICATION_TOPIC, PAYMENT_TOPIC
from claims_platform.testing import produce, statements_sent


def _adjudicated(claim_id: str, body: dict, version: int = 1, payable: str = "450.00", decided_by: str = "auto"):
    return ClaimAdjudicated(
        claim_id=claim_id,
        decision_version=version,
        outcome="approved",
        plan_code="STD-2026",
        plan_version=1,
        policy_number=body["policy_number"],
        member_id=body["member"]["member_id"],
        provider_id=body["provider"]["provider_id"],
        payee="member",
        currency="CNY",
        charged=Decimal("1100.00"),
        allowed=Decimal("1100.00"),
        payable=Decimal(payable),
        member_responsibility=Decimal("1100.00") - Decimal(payable),
        other_insurance=Decimal("0.00"),
        lines=[
            DecisionLine(
                line_no=2,
                category="examination",
                charged=Decimal("600.00"),
                allowed=Decimal("600.00"),
                payable=Decimal("240.00"),
                adjustments=[
                    Adjustment(
                        reason="DEDUCTIBLE",
                        group="PR",
                        carc="1",
                        amount=Decimal("300.00"),
                        explanation_zh="免赔额",
                        explanation_en="Deductible",
                    ),
                    Adjustment(
                        reason="COINSURANCE",
                        group="PR",
                        carc="2",
                        amount=Decimal("60.00"),
                        explanation_zh="自付比例",
                        explanation_en="Coinsurance",
                    ),
                ],
            )
        ],
        decided_by=decided_by,
        automatic=decided_by == "auto",
        decided_at=datetime.now(UTC),
    )


async def _complete_claim(intake, claim, kit):
    body = claim(docs=kit.ALL_OUTPATIENT_DOCS)
    resp = await intake.client.post("/v1/claims", json=body, headers=intake.partner())
    assert resp.status_code == 201, resp.text
    return resp.json()["claim_id"], body


async def test_decision_and_payment_reach_the_archive(intake, claim, kit):
    claim_id, body = await _complete_claim(intake, claim, kit)
    staff = intake.auth("adjuster")
    await intake.feed(
        ADJUDICATION_TOPIC,
        ClaimPended(
            claim_id=claim_id,
            review_id="R-1",
            reasons=["HIGH_AMOUNT"],
            currency="CNY",
            charged=Decimal("1100.00"),
            payable=Decimal("450.00"),
        ),
        claim_id,
        "adjudication",
    )
    await intake.wait_status(claim_id, "pended", staff)
    decision_envelope = await intake.feed(
        ADJUDICATION_TOPIC, _adjudicated(claim_id, body, decided_by="adj-1"), claim_id, "adjudication"
    )
    decided = await intake.wait_status(claim_id, "approved", staff)
    assert decided["decision"] == {
        "version": 1,
        "outcome": "approved",
        "charged": "1100.00",
        "payable": "450.00",
        "member_responsibility": "650.00",
        "lines": [
            {
                "line_no": 2,
                "allowed": "600.00",
                "payable": "240.00",
                "adjustments": [
                    {"reason": "DEDUCTIBLE", "group": "PR", "carc": "1", "amount": "300.00"},
                    {"reason": "COINSURANCE", "group": "PR", "carc": "2", "amount": "60.00"},
                ],
                "explanation": "免赔额 自付比例",
            }
        ],
        "denial_reasons": [],
        "decided_at": decided["decision"]["decided_at"],
    }
    payment = {"claim_id": claim_id, "payment_id": "P-1", "decision_version": 1, "amount": Decimal("450.00")}
    await intake.feed(PAYMENT_TOPIC, PaymentScheduled(**payment, currency="CNY", payee="member"), claim_id, "payment")
    await intake.wait_status(claim_id, "payment_scheduled", staff)
    completed = PaymentCompleted(**payment, currency="CNY", payee="member", settled_at=datetime.now(UTC))
    await intake.feed(PAYMENT_TOPIC, completed, claim_id, "payment")
    paid = await intake.wait_status(claim_id, "paid", staff)
    assert paid["payments"] == [
        {
            "payment_id": "P-1",
            "amount": "450.00",
            "payee": "member",
            "status": "settled",
            "decision_version": 1,
            "currency": "CNY",
        }
    ]
    sent = NotificationSent(
        claim_id=claim_id,
        notification_id="N-1",
        source_event_type="PaymentCompleted",
        channel="sms",
        locale="zh-CN",
        recipient="+86138****0000",
    )
    await intake.feed(NOTIFICATION_TOPIC, sent, claim_id, "notification")

    async def timeline_kinds():
        page = (await intake.client.get(f"/v1/claims/{claim_id}/timeline", headers=staff)).json()
        return [e["kind"] for e in page["items"]]

    # the same decision delivered again changes nothing (the inbox)
    await produce(
        intake.bootstrap,
        intake.prefix + ADJUDICATION_TOPIC,
        (claim_id.encode(), decision_envelope.model_dump_json().encode()),
    )
    await produce(intake.bootstrap, intake.prefix + NOTIFICATION_TOPIC, (claim_id.encode(), b"{not an envelope"))
    await intake.feed(NOTIFICATION_TOPIC, sent, claim_id, "notification")
    duplicate = 'events_consumed_total{consumer="intake-archive",event_type="ClaimAdjudicated",result="duplicate"} 1.0'
    for _ in range(300):
        metrics = (await intake.client.get("/metrics")).text
        if (await timeline_kinds()).count("notification_sent") == 2 and duplicate in metrics:
            break
        await asyncio.sleep(0.1)
    assert duplicate in metrics
    kinds = await timeline_kinds()
    assert kinds[:2] == ["submitted", "documents_complete"]
    assert kinds[2:] == [
        "pended",
        "decided",
        "payment_scheduled",
        "payment_settled",
        "notification_sent",
        "notification_sent",
    ]
    searched = await intake.client.get("/v1/claims", params={"status": "paid"}, headers=staff)
    assert claim_id in [c["claim_id"] for c in searched.json()["items"]]

    # a dispute of the paid decision goes to review with the previous deciders
    dispute = await intake.client.post(
        f"/v1/claims/{claim_id}/disputes", json={"reason": "the CT was necessary"}, headers=intake.partner()
    )
    assert dispute.status_code == 201, dispute.text
    assert dispute.json()["status"] == "disputed"
    again = await intake.client.post(
        f"/v1/claims/{claim_id}/disputes", json={"reason": "again"}, headers=intake.partner()
    )
    assert again.status_code == 409
    events = await intake.published(claim_id, expect=2)
    assert [e.event_type for e in events] == ["ClaimReceived", "ClaimDisputed"]
    assert events[1].payload["disputed_decision_version"] == 1
    assert events[1].payload["previous_deciders"] == ["adj-1"]
    # a re-decision with more to pay: the new payment for version 2 leads
    await intake.feed(ADJUDICATION_TOPIC, _adjudicated(claim_id, body, 2, "600.00", "adj-2"), claim_id, "adjudication")
    redecided = await intake.wait_status(claim_id, "approved", staff)
    assert redecided["decision"]["version"] == 2
    # a withdrawal after a decision is refused
    late = await intake.client.post(f"/v1/claims/{claim_id}/withdraw", json={"reason": "x"}, headers=intake.partner())
    assert late.status_code == 409


async def test_a_batch_of_several_claims_events_is_archived_as_one_by_one(intake, claim, kit):
    """A Kafka batch mixing two claims' events (and one of a claim intake does not know) is applied in one
    transaction, its claims read at once: each claim's story is as if its events had come one by one, a
    message's note carrying the status the claim had then."""
    staff = intake.auth("adjuster")
    first, first_body = await _complete_claim(intake, claim, kit)
    second, second_body = await _complete_claim(intake, claim, kit)
    unknown = "CLM-0000000000000000000000000000dead"

    def sent(claim_id: str, n: int) -> NotificationSent:
        return NotificationSent(
            claim_id=claim_id,
            notification_id=f"N-{claim_id}-{n}",
            source_event_type="ClaimAdjudicated",
            channel="in_app",
            locale="en",
            recipient="member",
        )

    def scheduled(claim_id: str) -> PaymentScheduled:
        return PaymentScheduled(
            claim_id=claim_id,
            payment_id=f"P-{claim_id}",
            decision_version=1,
            amount=Decimal("450.00"),
            currency="CNY",
            payee="member",
        )

    batch = [
        (sent(first, 1), "notification"),
        (_adjudicated(first, first_body), "adjudication"),
        (_adjudicated(second, second_body), "adjudication"),
        (scheduled(first), "payment"),
        (scheduled(second), "payment"),
        (sent(second, 1), "notification"),
        (sent(first, 2), "notification"),
        (sent(unknown, 1), "notification"),
    ]
    events = [
        (EventEnvelope.wrap(payload, claim_id=payload.claim_id, producer=producer), payload)
        for payload, producer in batch
    ]
    (consumer,) = intake.runtime.consumers
    with statements_sent(intake.runtime.db.engine) as statements:
        assert await consumer.handle_many(events) == [True] * len(events)
    # the inbox; the two claims, read at once; the two new payments looked for elsewhere, at once; the unknown
    # claim's note; the writes at commit (one by one, the first claim's first message would be a statement of
    # its own, each claim's read another, and each new payment's search)
    assert len(statements) == 5, statements

    async def story(claim_id: str) -> list[tuple[str, str | None]]:
        page = (await intake.client.get(f"/v1/claims/{claim_id}/timeline", headers=staff)).json()
        return [(e["kind"], e["status_to"]) for e in page["items"]][2:]  # after submitted, documents_complete

    assert (await intake.wait_status(first, "payment_scheduled", staff))["payments"][0]["amount"] == "450.00"
    assert await story(first) == [
        ("notification_sent", "in_review"),
        ("decided", "approved"),
        ("payment_scheduled", "payment_scheduled"),
        ("notification_sent", "payment_scheduled"),
    ]
    assert (await intake.wait_status(second, "payment_scheduled", staff))["decision"]["payable"] == "450.00"
    assert await story(second) == [
        ("decided", "approved"),
        ("payment_scheduled", "payment_scheduled"),
        ("notification_sent", "payment_scheduled"),
    ]
    assert await intake.sql("SELECT count(*) FROM timeline WHERE claim_id = :c", c=unknown) == [(0,)]


async def test_a_batch_naming_another_claims_payment_is_archived_as_one_by_one(intake, claim, kit):
    """A payment event of one claim that names a payment of another (read for the batch in one query with the
    batch's new payments) leaves the same rows as the same events handled one at a time."""
    (consumer,) = intake.runtime.consumers

    def scheduled(claim_id: str, payment_id: str) -> PaymentScheduled:
        return PaymentScheduled(
            claim_id=claim_id,
            payment_id=payment_id,
            decision_version=1,
            amount=Decimal("450.00"),
            currency="CNY",
            payee="member",
        )

    async def scenario(batched: bool) -> list[tuple[object, ...]]:
        (a, a_body), (b, b_body) = [await _complete_claim(intake, claim, kit) for _ in range(2)]
        before = [_adjudicated(a, a_body), scheduled(a, f"P-{a}"), _adjudicated(b, b_body)]
        batch = [scheduled(b, f"P-{a}"), scheduled(b, f"P-{b}"), scheduled(b, f"P-none-{b}")]
        wrap = [(EventEnvelope.wrap(p, claim_id=p.claim_id, producer="x"), p) for p in (*before, *batch)]
        for one in wrap[: len(before)]:
            assert await consumer.handle_many([one]) == [True]
        groups = [wrap[len(before) :]] if batched else [[one] for one in wrap[len(before) :]]
        for group in groups:
            assert await consumer.handle_many(group) == [True] * len(group)
        rows = await intake.sql(
            "SELECT claim_id, payment_id, status FROM payments WHERE claim_id IN (:a, :b)", a=a, b=b
        )
        kinds = await intake.sql(
            "SELECT claim_id, kind, status_to FROM timeline WHERE claim_id IN (:a, :b) ORDER BY id", a=a, b=b
        )

        def named(value: object) -> object:
            return value.replace(a, "A").replace(b, "B") if isinstance(value, str) else value

        return sorted(tuple(named(v) for v in row) for row in rows) + [tuple(named(v) for v in row) for row in kinds]

    one_by_one = await scenario(False)
    assert ("A", "P-A", "scheduled") in one_by_one
    assert ("B", "P-B", "scheduled") in one_by_one
    assert await scenario(True) == one_by_one


async def test_dispute_needs_a_decision_and_a_reason(intake, claim, kit):
    claim_id, _ = await _complete_claim(intake, claim, kit)
    no_reason = await intake.client.post(f"/v1/claims/{claim_id}/disputes", json={}, headers=intake.partner())
    assert no_reason.status_code == 422
    assert no_reason.json()["errors"][0]["field"] == "reason"
    undecided = await intake.client.post(
        f"/v1/claims/{claim_id}/disputes", json={"reason": "too low"}, headers=intake.partner()
    )
    assert undecided.status_code == 409
    assert undecided.headers["content-type"].startswith("application/problem+json")


async def test_withdraw_before_decision(intake, claim, kit):
    body = claim()
    claim_id = (await intake.client.post("/v1/claims", json=body, headers=intake.partner())).json()["claim_id"]
    member = intake.auth("member", sub="m", member_id=body["member"]["member_id"])
    resp = await intake.client.post(
        f"/v1/claims/{claim_id}/withdraw", json={"reason": "paid privately"}, headers=member
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "withdrawn"
    assert (await intake.client.post(f"/v1/claims/{claim_id}/withdraw", headers=member)).status_code == 409
    up = await intake.client.post(
        f"/v1/claims/{claim_id}/documents",
        data={"type": "invoice"},
        files={"file": ("i.pdf", kit.PDF, "application/pdf")},
        headers=member,
    )
    assert up.status_code == 409
    events = await intake.published(claim_id, expect=2)
    assert [e.event_type for e in events] == ["ClaimDocumentsRequested", "ClaimWithdrawn"]
    assert events[1].payload == {"claim_id": claim_id, "reason": "paid privately", "withdrawn_by": "m"}


async def test_complaints_and_answers_are_on_the_timeline(intake, claim, kit):
    claim_id, _ = await _complete_claim(intake, claim, kit)
    made = await intake.client.post(
        f"/v1/claims/{claim_id}/complaints", json={"message": "nobody answers the phone"}, headers=intake.partner()
    )
    assert made.status_code == 201, made.text
    complaint_id = made.json()["complaint_id"]
    # a hospital cannot answer; staff can, once
    answer = {"answer": "sorry, we called you back"}
    path = f"/v1/claims/{claim_id}/complaints/{complaint_id}/answer"
    assert (await intake.client.post(path, json=answer, headers=intake.partner())).status_code == 403
    done = await intake.client.post(path, json=answer, headers=intake.auth("supervisor", sub="sup-1"))
    assert done.status_code == 200
    assert done.json()["answered_by"] == "sup-1"
    assert (await intake.client.post(path, json=answer, headers=intake.admin())).status_code == 409
    page = (await intake.client.get(f"/v1/claims/{claim_id}/timeline", headers=intake.partner())).json()
    entries = [(e["kind"], e["actor"], e["reason"]) for e in page["items"][-2:]]
    assert entries == [
        ("complaint", "hospital-H-001", "nobody answers the phone"),
        ("complaint_answered", "sup-1", "sorry, we called you back"),
    ]
    assert page["items"][-1]["status_to"] == "in_review"
    listed = await intake.client.get(f"/v1/claims/{claim_id}/complaints", headers=intake.partner())
    assert listed.json()[0]["answer"] == "sorry, we called you back"


async def test_claims_expire_thirty_days_after_the_request(intake, claim, kit):
    body = claim()
    claim_id = (await intake.client.post("/v1/claims", json=body, headers=intake.partner())).json()["claim_id"]
    complete_id, _ = await _complete_claim(intake, claim, kit)
    intake.clock.offset = timedelta(days=30)
    run = await intake.client.post("/v1/jobs/expire", headers=intake.admin())
    assert run.status_code == 200
    assert claim_id not in run.json()["expired"]
    intake.clock.offset = timedelta(days=31)
    try:
        assert (await intake.client.post("/v1/jobs/expire", headers=intake.partner())).status_code == 403
        run = await intake.client.post("/v1/jobs/expire", headers=intake.admin())
        assert claim_id in run.json()["expired"]
        assert complete_id not in run.json()["expired"]
        got = (await intake.client.get(f"/v1/claims/{claim_id}", headers=intake.partner())).json()
        assert got["status"] == "expired"
        events = await intake.published(claim_id, expect=2)
        assert [e.event_type for e in events] == ["ClaimDocumentsRequested", "ClaimExpired"]
        assert events[1].payload["missing_documents"] == ["id_proof", "itemized_bill", "invoice", "medical_record"]
        # running again does nothing more
        assert claim_id not in (await intake.client.post("/v1/jobs/expire", headers=intake.admin())).json()["expired"]
    finally:
        intake.clock.offset = timedelta()


async def test_search_filters_and_pages(intake, claim, kit):
    member_id = f"M-{kit.unique()}"
    ids = []
    for _ in range(3):
        resp = await intake.client.post("/v1/claims", json=claim(member_id=member_id), headers=intake.partner())
        ids.append(resp.json()["claim_id"])
    staff = intake.auth("auditor")
    page1 = (await intake.client.get("/v1/claims", params={"member_id": member_id, "limit": 2}, headers=staff)).json()
    assert len(page1["items"]) == 2
    assert page1["next_cursor"]
    page2 = (
        await intake.client.get(
            "/v1/claims", params={"member_id": member_id, "limit": 2, "cursor": page1["next_cursor"]}, headers=staff
        )
    ).json()
    assert page2["next_cursor"] is None
    assert sorted(c["claim_id"] for c in page1["items"] + page2["items"]) == sorted(ids)
    today = kit.today().isoformat()
    tomorrow = (kit.today() + timedelta(days=1)).isoformat()
    params = {"member_id": member_id, "policy_number": "POL-2026-0001", "provider_id": "H-001"}
    hit = await intake.client.get(
        "/v1/claims", params={**params, "status": "pending_documents", "from": today, "to": today}, headers=staff
    )
    assert len(hit.json()["items"]) == 3
    miss = await intake.client.get("/v1/claims", params={**params, "from": tomorrow}, headers=staff)
    assert miss.json()["items"] == []
    bad = await intake.client.get("/v1/claims", params={"status": "lost"}, headers=staff)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "status"
    bad = await intake.client.get("/v1/claims", params={"cursor": "!!"}, headers=staff)
    assert bad.status_code == 400

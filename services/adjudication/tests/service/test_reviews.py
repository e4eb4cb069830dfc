"""The review queue of §6: decisions, the reviewer's authority and four eyes, verification, withdrawal,
disputes, and the audit trail of every human action."""

from __future__ import annotations

from claims_contracts.events import ClaimDisputed, ClaimWithdrawn
from claims_platform.testing import eventually

ADJ1 = {"sub": "u-adj1"}
ADJ2 = {"sub": "u-adj2"}


async def _decide(svc, review_id, body, *roles, sub):
    return await svc.client.post(
        f"/v1/reviews/{review_id}/decision", json=body, headers=svc.auth(*(roles or ("adjuster",)), sub=sub)
    )


async def test_decision_above_authority_needs_another_supervisor(service, samples):
    line, claim_event = samples.line, samples.claim_event
    policy = {**samples.POLICY, "members": [{"member_id": "M-1001", "name": "a"}, {"member_id": "M-2", "name": "b"}]}
    async with service() as svc:
        await svc.load_products(policy=policy)
        await svc.send(claim_event("C-BIG", lines=[line(1, "surgery", "50000.01")]))
        review_id = (await svc.adjudication("C-BIG", pended=True))["open_review_id"]

        r = await svc.client.get("/v1/reviews", params={"status": "open"}, headers=svc.auth("adjuster"))
        (item,) = r.json()["items"]
        assert (item["review_id"], item["claim_id"], item["reasons"]) == (review_id, "C-BIG", ["HIGH_AMOUNT"])
        assert item["calculated_decision"]["payable"] == "44550.01"

        assert (await svc.client.get("/v1/reviews")).status_code == 401
        assert (await svc.client.get("/v1/reviews", headers=svc.auth("member"))).status_code in (401, 403)
        assert (await _decide(svc, review_id, {"action": "approve"}, "supervisor", sub="u-sup1")).status_code == 403

        r = await _decide(svc, review_id, {"action": "approve"}, sub="u-adj1")
        assert r.status_code == 202, r.text
        assert r.json()["status"] == "awaiting_second_approval"
        assert r.json()["pending_action"]["payable"] == "44550.01"
        assert (await _decide(svc, review_id, {"action": "approve"}, sub="u-adj2")).status_code == 409
        assert (await svc.adjudication("C-BIG", pended=True))["decisions"] == []

        approve = f"/v1/reviews/{review_id}/approve"
        r = await svc.client.post(approve, headers=svc.auth("supervisor", "adjuster", sub="u-adj1"))
        assert r.status_code == 403, r.text
        assert (await svc.client.post(approve, headers=svc.auth("adjuster", sub="u-adj2"))).status_code == 403
        r = await svc.client.post(
            approve, json={"comment": "records checked"}, headers=svc.auth("supervisor", sub="u-sup1")
        )
        assert r.status_code == 200, r.text
        decision = r.json()["decision"]
        assert (decision["version"], decision["payable"], decision["automatic"]) == (1, "44550.01", False)
        assert (decision["decided_by"], decision["approved_by"]) == ("u-adj1", "u-sup1")
        assert (await svc.client.post(approve, headers=svc.auth("supervisor", sub="u-sup2"))).status_code == 409

        # A second big claim: the supervisor refuses, the reviewer then adjusts within the authority.
        await svc.send(
            claim_event(
                "C-BIG2",
                member={"member_id": "M-2", "name": "b"},
                lines=[line(1, "surgery", "50000.01"), line(2, "drugs", "100.00")],
            )
        )
        review2 = (await svc.adjudication("C-BIG2", pended=True))["open_review_id"]
        assert (await _decide(svc, review2, {"action": "approve"}, sub="u-adj1")).status_code == 202
        r = await svc.client.post(
            f"/v1/reviews/{review2}/reject", json={"reason": "too much"}, headers=svc.auth("supervisor", sub="u-sup1")
        )
        assert (r.status_code, r.json()["status"]) == (200, "open")

        bad = [
            ({"action": "adjust", "lines": [{"line_no": 1, "payable": "44550.02"}], "reason": "x"}, "lines[0].payable"),
            ({"action": "adjust", "lines": [{"line_no": 7, "payable": "1.00"}], "reason": "x"}, "lines[0].line_no"),
            ({"action": "adjust", "lines": [{"line_no": 1, "payable": "1.00"}]}, "reason"),
            ({"action": "adjust", "reason": "x"}, "lines"),
            ({"action": "approve", "lines": [{"line_no": 1, "payable": "1.00"}]}, "lines"),
            ({"action": "deny"}, "reason"),
            ({"action": "pay"}, "action"),
            ({"action": "adjust", "lines": [{"line_no": 1, "payable": "-1.00"}], "reason": "x"}, "lines[0].payable"),
        ]
        for body, field in bad:
            r = await _decide(svc, review2, body, sub="u-adj1")
            assert r.status_code == 422, (body, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert field in [e["field"] for e in r.json()["errors"]], (body, r.json())

        body = {"action": "adjust", "lines": [{"line_no": 1, "payable": "15000.00"}], "reason": "Bill not supported"}
        r = await _decide(svc, review2, body, sub="u-adj1")
        assert r.status_code == 200, r.text
        decision = r.json()["decision"]
        assert decision["outcome"] == "partially_approved"
        assert decision["payable"] == "15070.00"  # surgery 15,000 (cut), drugs 100 x 0.70
        surgery = next(x for x in decision["lines"] if x["line_no"] == 1)
        cut = surgery["adjustments"][-1]
        assert (cut["reason"], cut["group"], cut["carc"], cut["amount"]) == (
            "REVIEWER_ADJUSTMENT",
            "CO",
            "150",
            "29550.01",
        )
        assert "Bill not supported" in cut["explanation_en"]
        assert "Bill not supported" in cut["explanation_zh"]

        r = await svc.client.get("/v1/members/M-2/accumulators", headers=svc.auditor)
        assert r.json()["accumulators"][0]["paid_total"] == "15070.00"

        events = [e for e in await svc.published(expect=4)]
        adjudicated = {e["claim_id"]: e["payload"] for e in events if e["event_type"] == "ClaimAdjudicated"}
        assert adjudicated["C-BIG"]["decided_by"] == "u-adj1"
        assert adjudicated["C-BIG"]["approved_by"] == "u-sup1"
        assert adjudicated["C-BIG"]["automatic"] is False
        assert adjudicated["C-BIG"]["review_id"] == review_id
        assert adjudicated["C-BIG2"]["payable"] == "15070.00"

        assert (await svc.client.get("/v1/audit", headers=svc.auth("adjuster"))).status_code == 403
        r = await svc.client.get("/v1/audit", params={"claim_id": "C-BIG2"}, headers=svc.auditor)
        trail = [(a["actor"], a["action"], a["reason"]) for a in r.json()["items"]]
        assert trail == [
            ("u-adj1", "decision_proposed", None),
            ("u-sup1", "decision_rejected", "too much"),
            ("u-adj1", "decision_made", "Bill not supported"),
        ]
        assert all(a["at"] for a in r.json()["items"])
        assert svc.metric("adjudication_decisions_total", outcome="approved", automatic="false") == 1
        assert svc.metric("adjudication_auto_rate") == 0.0


async def test_verification_denial_and_withdrawal(service, samples):
    claim_event = samples.claim_event
    watched = {"provider_id": "H-WATCH", "name": "某医院"}
    async with service(provider_watchlist=["H-WATCH"], frequency_claims=1000) as svc:
        await svc.load_products()
        await svc.send(claim_event("C-W1", provider=watched))
        review_id = (await svc.adjudication("C-W1", pended=True))["open_review_id"]

        r = await svc.client.post(
            f"/v1/reviews/{review_id}/verifications",
            json={"message": "Please confirm the CT on 2026-03-10."},
            headers=svc.auth("adjuster", sub="u-adj1"),
        )
        assert r.status_code == 201, r.text
        verification = r.json()
        assert (verification["provider_id"], verification["status"]) == ("H-WATCH", "requested")
        answer = f"/v1/reviews/{review_id}/verifications/{verification['verification_id']}/answer"
        body = {"confirmed": False, "answer": "No CT was performed."}
        r = await svc.client.post(answer, json=body, headers=svc.auth("partner", provider_id="H-001", sub="h1"))
        assert r.status_code == 404
        r = await svc.client.post(answer, json=body, headers=svc.auth("partner", provider_id="H-WATCH", sub="h-w"))
        assert r.status_code == 200, r.text
        assert (r.json()["confirmed"], r.json()["answered_by"]) == (False, "h-w")
        r = await svc.client.post(answer, json=body, headers=svc.auth("adjuster", sub="u-adj1"))
        assert r.status_code == 409
        r = await svc.client.post(
            f"/v1/reviews/{review_id}/notes", json={"note": "Hospital denies the CT."}, headers=svc.auth("adjuster")
        )
        assert r.status_code == 204

        r = await _decide(svc, review_id, {"action": "deny", "reason": "Services not rendered"}, sub="u-adj1")
        assert r.status_code == 200, r.text
        decision = r.json()["decision"]
        assert (decision["outcome"], decision["payable"], decision["denial_reasons"]) == (
            "denied",
            "0.00",
            ["REVIEWER_DENIAL"],
        )
        adj = decision["lines"][0]["adjustments"][-1]
        assert (adj["reason"], adj["group"], adj["carc"]) == ("REVIEWER_DENIAL", "CO", "96")
        r = await svc.client.get("/v1/members/M-1001/accumulators", headers=svc.auditor)
        assert r.json()["accumulators"][0]["deductible_used"] == "0.00"

        detail = await svc.review(review_id)
        assert detail["status"] == "decided"
        assert detail["verifications"][0]["answer"] == "No CT was performed."
        assert [(a["actor"], a["action"]) for a in detail["audit"]] == [
            ("u-adj1", "verification_requested"),
            ("h-w", "verification_answered"),
            ("u-1", "finding_recorded"),
            ("u-adj1", "decision_made"),
        ]

        # A pended claim that is withdrawn closes its review.
        await svc.send(claim_event("C-W2", provider=watched, lines=[samples.line(1, "consultation", "90.00")]))
        review2 = (await svc.adjudication("C-W2", pended=True))["open_review_id"]
        await svc.send(ClaimWithdrawn(claim_id="C-W2", reason="Paid myself", withdrawn_by="M-1001"))

        async def closed() -> bool:
            return (await svc.review(review2))["status"] == "closed"

        await eventually(closed)
        assert (await svc.adjudication("C-W2", decisions=0))["status"] == "withdrawn"
        assert (await _decide(svc, review2, {"action": "approve"}, sub="u-adj1")).status_code == 409
        r = await svc.client.get("/v1/reviews", params={"status": "open"}, headers=svc.auditor)
        assert r.json()["items"] == []

        events = await svc.published(expect=4)
        (requested,) = [e["payload"] for e in events if e["event_type"] == "VerificationRequested"]
        assert (requested["provider_id"], requested["review_id"], requested["requested_by"]) == (
            "H-WATCH",
            review_id,
            "u-adj1",
        )


async def test_dispute_is_re_decided_by_someone_else_as_version_two(service, samples):
    claim_event = samples.claim_event
    async with service(provider_watchlist=["H-WATCH"], frequency_claims=1000) as svc:
        await svc.load_products()
        await svc.send(claim_event("C-D", provider={"provider_id": "H-WATCH", "name": "x"}))
        review_id = (await svc.adjudication("C-D", pended=True))["open_review_id"]
        body = {"action": "adjust", "lines": [{"line_no": 2, "payable": "100.00"}], "reason": "CT not indicated"}
        r = await _decide(svc, review_id, body, sub="u-adj1")
        assert r.json()["decision"]["payable"] == "310.00", r.text

        await svc.send(
            ClaimDisputed(
                claim_id="C-D",
                disputed_decision_version=1,
                reason="The CT was ordered by the doctor.",
                disputed_by="M-1001",
                previous_deciders=["u-adj1"],
            )
        )

        async def dispute_open() -> bool:
            r = await svc.client.get("/v1/reviews", params={"status": "open"}, headers=svc.auditor)
            return len(r.json()["items"]) == 1

        await eventually(dispute_open)
        r = await svc.client.get("/v1/reviews", params={"status": "open"}, headers=svc.auditor)
        (item,) = r.json()["items"]
        assert (item["kind"], item["reasons"], item["excluded_deciders"]) == ("dispute", ["DISPUTE"], ["u-adj1"])
        assert item["dispute"]["reason"] == "The CT was ordered by the doctor."
        # priced as if decision 1 had not been made: the worked example again
        assert item["calculated_decision"]["payable"] == "450.00"
        assert (await svc.adjudication("C-D"))["status"] == "disputed"

        r = await _decide(svc, item["review_id"], {"action": "approve"}, sub="u-adj1")
        assert r.status_code == 403, r.text
        r = await _decide(svc, item["review_id"], {"action": "approve"}, sub="u-adj2")
        assert r.status_code == 200, r.text
        assert (r.json()["decision"]["version"], r.json()["decision"]["payable"]) == (2, "450.00")

        result = await svc.adjudication("C-D", decisions=2)
        assert [(d["version"], d["payable"], d["decided_by"]) for d in result["decisions"]] == [
            (1, "310.00", "u-adj1"),
            (2, "450.00", "u-adj2"),
        ]
        assert result["status"] == "approved"
        # the re-decision replaced decision 1 in the accumulators instead of adding to it
        r = await svc.client.get("/v1/members/M-1001/accumulators", headers=svc.auditor)
        acc = r.json()["accumulators"][0]
        assert (acc["deductible_used"], acc["paid_total"]) == ("500.00", "450.00")
        assert acc["paid_by_category"] == {"examination": "240.00", "drugs": "210.00"}

        events = await svc.published(expect=4)
        assert [e["event_type"] for e in events] == [
            "ClaimPended",
            "ClaimAdjudicated",
            "ClaimPended",
            "ClaimAdjudicated",
        ]
        assert events[2]["payload"]["reasons"] == ["DISPUTE"]
        assert (events[3]["payload"]["decision_version"], events[3]["payload"]["decided_by"]) == (2, "u-adj2")

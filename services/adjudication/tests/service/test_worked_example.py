"""DOMAIN §5's worked example end to end: plan and policy over HTTP, the claim from Kafka, the decision out."""

from __future__ import annotations


async def test_worked_example_is_decided_automatically_and_published(service, samples):
    claim_event = samples.claim_event
    async with service() as svc:
        await svc.load_products()
        claim = claim_event("CLM-EX-1")
        await svc.send(claim)
        result = await svc.adjudication("CLM-EX-1")

        assert result["status"] == "approved"
        (decision,) = result["decisions"]
        assert decision["version"] == 1
        assert decision["outcome"] == "approved"
        assert (decision["charged"], decision["payable"], decision["member_responsibility"]) == (
            "1100.00",
            "450.00",
            "650.00",
        )
        assert decision["plan_code"] == "STD-2026"
        assert decision["plan_version"] == 1
        assert decision["automatic"] is True
        lines = {line["line_no"]: line for line in decision["lines"]}
        assert (lines[1]["allowed"], lines[1]["payable"]) == ("200.00", "0.00")
        assert [(a["reason"], a["group"], a["carc"], a["amount"]) for a in lines[1]["adjustments"]] == [
            ("DEDUCTIBLE", "PR", "1", "200.00")
        ]
        assert (lines[2]["allowed"], lines[2]["payable"]) == ("600.00", "240.00")
        assert [(a["reason"], a["group"], a["carc"], a["amount"]) for a in lines[2]["adjustments"]] == [
            ("DEDUCTIBLE", "PR", "1", "300.00"),
            ("COINSURANCE", "PR", "2", "60.00"),
        ]
        assert lines[3]["payable"] == "210.00"
        assert [(a["reason"], a["amount"]) for a in lines[3]["adjustments"]] == [("COINSURANCE", "90.00")]
        for line in decision["lines"]:
            for adjustment in line["adjustments"]:
                assert adjustment["explanation_zh"]
                assert adjustment["explanation_en"]
        assert "80%" in lines[2]["adjustments"][1]["explanation_en"]

        r = await svc.client.get(
            "/v1/members/M-1001/accumulators", params={"policy_number": "POL-2026-0001"}, headers=svc.auditor
        )
        assert r.status_code == 200, r.text
        (acc,) = r.json()["accumulators"]
        assert (acc["deductible_used"], acc["deductible_remaining"], acc["paid_total"]) == ("500.00", "0.00", "450.00")
        assert acc["paid_by_category"] == {"examination": "240.00", "drugs": "210.00"}
        assert (acc["period_start"], acc["period_end"]) == ("2026-01-01", "2026-12-31")

        (event,) = await svc.published(expect=1)
        assert event["event_type"] == "ClaimAdjudicated"
        assert event["claim_id"] == "CLM-EX-1"
        payload = event["payload"]
        assert payload["decision_version"] == 1
        assert payload["outcome"] == "approved"
        assert (payload["payable"], payload["currency"], payload["payee"]) == ("450.00", "CNY", "member")
        assert payload["automatic"] is True
        assert payload["decided_by"] == "adjudication"
        assert payload["plan_version"] == 1
        exam = next(line for line in payload["lines"] if line["line_no"] == 2)
        assert [a["reason"] for a in exam["adjustments"]] == ["DEDUCTIBLE", "COINSURANCE"]
        assert exam["adjustments"][0]["explanation_zh"].startswith("计入年度免赔额")
        assert exam["explanation_en"].startswith("Charged 600.00, allowed 600.00, payable 240.00.")

        # The same claim delivered again (another event id) is not decided twice.
        await svc.send(claim)
        # A new plan version applies to the next claim, and the decision says which version it used.
        changed = {**samples.PLAN, "name": "Standard medical 2026 (rev. 2)"}
        r = await svc.client.put("/v1/plans/STD-2026", json=changed, headers=svc.admin)
        assert (r.status_code, r.json()["version"]) == (200, 2)
        second = claim_event("CLM-EX-2", lines=[claim_event().lines[1].model_dump(mode="json")])
        await svc.send(second)
        result2 = await svc.adjudication("CLM-EX-2")
        (decision2,) = result2["decisions"]
        assert decision2["plan_version"] == 2
        # deductible already met: 600 x 0.80
        assert decision2["payable"] == "480.00"
        again = await svc.adjudication("CLM-EX-1")
        assert len(again["decisions"]) == 1

        assert svc.metric("adjudication_claims_total", path="automatic") == 2
        assert svc.metric("adjudication_auto_rate") == 1.0
        r = await svc.client.get("/metrics")
        assert "adjudication_auto_rate 1.0" in r.text

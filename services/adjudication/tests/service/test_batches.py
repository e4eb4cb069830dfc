"""Several events handled in one transaction (the kit's batches), and a changed policy seen by the next claim."""

from __future__ import annotations

from claims_contracts.envelope import EventEnvelope
from claims_contracts.events import ClaimDisputed, ClaimWithdrawn


async def test_events_of_one_batch_see_each_other(service, samples):
    claim_event = samples.claim_event
    async with service() as svc:
        await svc.load_products()
        first = claim_event("C-B1")
        # another provider: not a duplicate of the first, priced after it (deductible already met)
        second = claim_event("C-B2", provider={"provider_id": "H-002", "name": "x"})
        dispute = ClaimDisputed(
            claim_id="C-B1", disputed_decision_version=1, reason="why", disputed_by="M-1001", previous_deciders=[]
        )
        consumer = svc.app.state.runtime.consumers[0]
        envelopes = [
            EventEnvelope.wrap(p, claim_id=p.claim_id, producer="intake") for p in (first, second, first, dispute)
        ]
        applied = await consumer.handle_many([(e, consumer.parse(e)) for e in envelopes])
        assert applied == [True, True, True, True]  # the first claim again (another event id) is a no-op

        one = await svc.adjudication("C-B1")
        two = await svc.adjudication("C-B2")
        assert [d["payable"] for d in one["decisions"]] == ["450.00"]
        assert [d["payable"] for d in two["decisions"]] == ["850.00"]
        assert (one["status"], two["status"]) == ("disputed", "approved")
        r = await svc.client.get("/v1/members/M-1001/accumulators", headers=svc.auditor)
        (acc,) = r.json()["accumulators"]
        assert (acc["deductible_used"], acc["paid_total"]) == ("500.00", "1300.00")
        r = await svc.client.get("/v1/reviews", params={"status": "open"}, headers=svc.auditor)
        (item,) = r.json()["items"]
        # priced as if its decision had not been made, after the second claim: the deductible applies again
        assert (item["claim_id"], item["kind"], item["calculated_decision"]["payable"]) == ("C-B1", "dispute", "450.00")

        events = await svc.published(expect=3)
        by_claim: dict[str, list[str]] = {}
        for e in events:  # in order per claim (its partition), not across claims
            by_claim.setdefault(e["claim_id"], []).append(e["event_type"])
        assert by_claim == {"C-B1": ["ClaimAdjudicated", "ClaimPended"], "C-B2": ["ClaimAdjudicated"]}
        assert svc.metric("adjudication_claims_total", path="automatic") == 2


async def test_a_changed_policy_applies_to_the_next_claim(service, samples):
    claim_event = samples.claim_event
    async with service() as svc:
        await svc.load_products()
        newcomer = {"member_id": "M-2002", "name": "李四"}
        await svc.send(claim_event("C-P1", member=newcomer))
        decision = (await svc.adjudication("C-P1"))["decisions"][0]
        assert (decision["denial_reasons"], decision["policy_version"]) == (["MEMBER_NOT_COVERED"], 1)

        policy = {**samples.POLICY, "members": [*samples.POLICY["members"], newcomer]}
        r = await svc.client.put("/v1/policies/POL-2026-0001", json=policy, headers=svc.admin)
        assert (r.status_code, r.json()["version"]) == (200, 2), r.text
        await svc.send(claim_event("C-P2", member=newcomer))
        decision = (await svc.adjudication("C-P2"))["decisions"][0]
        assert (decision["outcome"], decision["payable"], decision["policy_version"]) == ("approved", "450.00", 2)

        r = await svc.client.put(
            "/v1/policies/POL-2026-0001", json={**policy, "status": "suspended"}, headers=svc.admin
        )
        assert (r.status_code, r.json()["version"]) == (200, 3), r.text
        await svc.send(claim_event("C-P3", member=newcomer, provider={"provider_id": "H-002", "name": "x"}))
        decision = (await svc.adjudication("C-P3"))["decisions"][0]
        assert (decision["outcome"], decision["payable"], decision["policy_version"]) == ("denied", "0.00", 3)


async def test_a_batch_sees_the_claims_it_received_in_history_and_when_withdrawn(service, samples):
    claim_event = samples.claim_event
    async with service() as svc:
        await svc.load_products()
        first = claim_event("C-D1")
        duplicate = claim_event("C-D2")  # same member, provider, service date and amount as the first
        withdrawal = ClaimWithdrawn(claim_id="C-D2", reason="sent twice", withdrawn_by="M-1001")
        consumer = svc.app.state.runtime.consumers[0]
        envelopes = [
            EventEnvelope.wrap(p, claim_id=p.claim_id, producer="intake") for p in (first, duplicate, withdrawal)
        ]
        applied = await consumer.handle_many([(e, consumer.parse(e)) for e in envelopes])
        assert applied == [True, True, True]

        one = await svc.adjudication("C-D1")
        assert (one["status"], [d["payable"] for d in one["decisions"]]) == ("approved", ["450.00"])
        r = await svc.client.get("/v1/adjudications/C-D2", headers=svc.auditor)
        two = r.json()
        assert (r.status_code, two["status"], two["decisions"], two["open_review_id"]) == (200, "withdrawn", [], None)
        r = await svc.client.get("/v1/reviews", params={"status": "closed"}, headers=svc.auditor)
        (item,) = r.json()["items"]
        assert (item["claim_id"], item["reasons"]) == ("C-D2", ["DUPLICATE_SUSPECTED"])

        events = await svc.published(expect=2)
        assert sorted((e["claim_id"], e["event_type"]) for e in events) == [
            ("C-D1", "ClaimAdjudicated"),
            ("C-D2", "ClaimPended"),
        ]

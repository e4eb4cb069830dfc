"""Whole-claim denials of DOMAIN §5.1 (and the currency check), decided automatically with their reasons."""

from __future__ import annotations


async def test_claims_that_cannot_be_covered_are_denied_with_reasons(service, samples):
    claim_event = samples.claim_event
    async with service() as svc:
        # A claim on a policy that is not loaded (yet) is denied POLICY_NOT_FOUND.
        await svc.send(claim_event("C-NOPOL"))
        result = await svc.adjudication("C-NOPOL")
        decision = result["decisions"][0]
        assert (decision["outcome"], decision["payable"], decision["denial_reasons"]) == (
            "denied",
            "0.00",
            ["POLICY_NOT_FOUND"],
        )
        assert decision["plan_code"] is None
        for line in decision["lines"]:
            (adj,) = line["adjustments"]
            assert (adj["reason"], adj["group"], adj["carc"], adj["amount"]) == (
                "POLICY_NOT_FOUND",
                "CO",
                "31",
                line["charged"],
            )

        await svc.load_products()
        await svc.send(
            claim_event("C-NOMEMBER", member={"member_id": "M-9999", "name": "x"}),
            claim_event("C-EXCL", diagnoses=[{"code": "O80", "primary": True}, {"code": "J18.9"}]),
            claim_event("C-USD", currency="USD"),
        )
        reasons = {}
        for claim_id in ("C-NOMEMBER", "C-EXCL", "C-USD"):
            decision = (await svc.adjudication(claim_id))["decisions"][0]
            assert decision["outcome"] == "denied"
            assert decision["payable"] == "0.00"
            assert decision["member_responsibility"] == "1100.00"
            reasons[claim_id] = decision["denial_reasons"]
        assert reasons == {
            "C-NOMEMBER": ["MEMBER_NOT_COVERED"],
            "C-EXCL": ["EXCLUDED_CONDITION"],
            "C-USD": ["NOT_COVERED"],
        }
        # Denials leave the member's accumulators untouched.
        r = await svc.client.get("/v1/members/M-1001/accumulators", headers=svc.auditor)
        assert [a["paid_total"] for a in r.json()["accumulators"]] == ["0.00"]

        events = {e["claim_id"]: e["payload"] for e in await svc.published(expect=4)}
        assert events["C-NOPOL"]["denial_reasons"] == ["POLICY_NOT_FOUND"]
        assert events["C-USD"]["lines"][0]["adjustments"][0]["explanation_en"].startswith("The claim is in USD")
        assert all(p["outcome"] == "denied" and p["payable"] == "0.00" for p in events.values())

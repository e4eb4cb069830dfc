"""Each risk rule of DOMAIN §6 pends a claim for review (ClaimPended with its reasons) instead of deciding it."""

from __future__ import annotations

MEMBERS = [{"member_id": f"M-{n}", "name": f"Member {n}"} for n in range(1, 9)]


async def test_each_risk_rule_pends_the_claim_with_its_reason(service, samples):
    line, claim_event = samples.line, samples.claim_event
    policy = {**samples.POLICY, "members": MEMBERS}
    async with service(
        provider_watchlist=["H-WATCH"], usual_prices={"E-200": "150.00"}, frequency_claims=3, frequency_days=30
    ) as svc:
        await svc.load_products(policy=policy)
        # Effective 2026-01-01, 30 days' waiting period: 2026-02-10 is covered and within 60 days of the start.
        claims = {
            "HIGH_AMOUNT": claim_event(
                "C-HIGH", member={"member_id": "M-1", "name": "a"}, lines=[line(1, "surgery", "50000.01")]
            ),
            "EARLY_CLAIM": claim_event(
                "C-EARLY",
                member={"member_id": "M-2", "name": "b"},
                lines=[line(1, "surgery", "10000.01", day="2026-02-10")],
            ),
            "NOT_EARLY": claim_event(
                "C-NOT-EARLY",
                member={"member_id": "M-2", "name": "b"},
                lines=[line(1, "surgery", "10000.00", day="2026-02-11")],
            ),
            "PROVIDER_WATCHLIST": claim_event(
                "C-WATCH", member={"member_id": "M-3", "name": "c"}, provider={"provider_id": "H-WATCH", "name": "x"}
            ),
            "UNIT_PRICE_OUTLIER": claim_event(
                "C-PRICE",
                member={"member_id": "M-4", "name": "d"},
                lines=[line(1, "examination", "451.00", code="E-200")],
            ),
            "UNIT_PRICE_USUAL": claim_event(
                "C-PRICE-OK",
                member={"member_id": "M-4", "name": "d"},
                lines=[line(1, "examination", "450.00", code="E-200", day="2026-03-12")],
            ),
        }
        await svc.send(*claims.values())
        expected = {
            "C-HIGH": ["HIGH_AMOUNT"],
            "C-EARLY": ["EARLY_CLAIM"],
            "C-WATCH": ["PROVIDER_WATCHLIST"],
            "C-PRICE": ["UNIT_PRICE_OUTLIER"],
        }
        for claim_id in expected:
            result = await svc.adjudication(claim_id, pended=True)
            assert result["status"] == "pended"
            assert result["decisions"] == []
        for claim_id in ("C-NOT-EARLY", "C-PRICE-OK"):
            result = await svc.adjudication(claim_id)
            assert result["decisions"][0]["automatic"] is True

        # Duplicates: same member, provider, first service date and charged total as an earlier claim.
        first = claim_event("C-DUP-1", member={"member_id": "M-5", "name": "e"})
        await svc.send(first)
        await svc.adjudication("C-DUP-1")
        await svc.send(claim_event("C-DUP-2", member={"member_id": "M-5", "name": "e"}))
        await svc.adjudication("C-DUP-2", pended=True)
        expected["C-DUP-2"] = ["DUPLICATE_SUSPECTED"]
        # ... but not of a claim that was denied (here: excluded diagnosis).
        denied = claim_event(
            "C-DEN-1", member={"member_id": "M-6", "name": "f"}, diagnoses=[{"code": "K02.1", "primary": True}]
        )
        await svc.send(denied)
        assert (await svc.adjudication("C-DEN-1"))["status"] == "denied"
        await svc.send(claim_event("C-DEN-2", member={"member_id": "M-6", "name": "f"}))
        assert (await svc.adjudication("C-DEN-2"))["decisions"][0]["automatic"] is True

        # Frequency (3 claims in 30 days with this setting): the third pends.
        for n, day in enumerate(("2026-03-01", "2026-03-05", "2026-03-09"), start=1):
            await svc.send(
                claim_event(
                    f"C-FREQ-{n}",
                    member={"member_id": "M-7", "name": "g"},
                    lines=[line(1, "consultation", f"{100 + n}.00", day=day)],
                )
            )
            await svc.adjudication(f"C-FREQ-{n}", pended=n == 3)
        expected["C-FREQ-3"] = ["HIGH_FREQUENCY"]

        r = await svc.client.get("/v1/reviews", params={"status": "open", "limit": 2}, headers=svc.auth("adjuster"))
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        cursor = r.json()["next_cursor"]
        while cursor:
            r = await svc.client.get(
                "/v1/reviews", params={"status": "open", "limit": 2, "cursor": cursor}, headers=svc.auth("adjuster")
            )
            items += r.json()["items"]
            cursor = r.json()["next_cursor"]
        assert {item["claim_id"]: item["reasons"] for item in items} == expected
        high = next(item for item in items if item["claim_id"] == "C-HIGH")
        # the calculated decision is shown: deductible 500, then 49,500.01 x 0.90
        assert high["calculated_decision"]["payable"] == "44550.01"
        assert high["kind"] == "risk"
        assert high["status"] == "open"

        pended = [e for e in await svc.published(expect=13) if e["event_type"] == "ClaimPended"]
        assert {e["claim_id"]: e["payload"]["reasons"] for e in pended} == expected
        assert next(e for e in pended if e["claim_id"] == "C-HIGH")["payload"]["payable"] == "44550.01"
        assert svc.metric("adjudication_pend_reasons_total", reason="HIGH_AMOUNT") == 1
        assert svc.metric("adjudication_claims_total", path="pended") == 6
        assert svc.metric("adjudication_claims_total", path="automatic") == 7
        assert svc.metric("adjudication_auto_rate") == 7 / 13

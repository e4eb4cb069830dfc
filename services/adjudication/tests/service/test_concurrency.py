"""Claims of one member decided at the same time give the same accumulators as one after the other (§5)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from claims_adjudication.domain import Accumulators, price_claim
from claims_adjudication.events.mapping import claim_to_price, plan_from_definition, policy_from_row
from claims_contracts.envelope import EventEnvelope


async def test_ten_claims_of_one_member_decided_concurrently_match_serial(service, samples):
    line, claim_event = samples.line, samples.claim_event
    plan = samples.PLAN
    plan["categories"]["drugs"]["annual_sublimit"] = "2000.00"
    # no risk rule may pend these: raise the frequency threshold
    async with service(frequency_claims=1000) as svc:
        await svc.load_products(plan=plan)
        claims = [
            claim_event(f"C-CONC-{i}", lines=[line(1, "drugs", f"{400 + 10 * i}.00", day=f"2026-03-{10 + i}")])
            for i in range(10)
        ]
        consumer = svc.app.state.runtime.consumers[0]
        envelopes = [EventEnvelope.wrap(c, claim_id=c.claim_id, producer="intake") for c in claims]
        # Ten handlers at once, each in its own transaction on its own connection, as ten consumers would.
        applied = await asyncio.gather(*(consumer.handle(env) for env in envelopes))
        assert applied == [True] * 10

        r = await svc.client.get("/v1/members/M-1001/accumulators", headers=svc.auditor)
        (acc,) = r.json()["accumulators"]
        # Serially: deductible 500 first, then 70% of the rest, capped by the drugs sublimit of 2,000.
        running = Accumulators()
        async with svc.app.state.runtime.db.uow() as uow:
            from claims_adjudication.db.repositories import PlanRepository, PolicyRepository

            policy = policy_from_row(await PolicyRepository(uow.session).get("POL-2026-0001"))
            version = await PlanRepository(uow.session).version("STD-2026")
            domain_plan = plan_from_definition("STD-2026", version.version, version.definition)
        for claim in claims:
            running = price_claim(claim_to_price(claim), domain_plan, policy, running).accumulators_after
        assert running == Accumulators(Decimal("500.00"), Decimal("2000.00"), {"drugs": Decimal("2000.00")})
        assert (acc["deductible_used"], acc["paid_total"], acc["paid_by_category"]) == (
            f"{running.deductible_used:.2f}",
            f"{running.paid_total:.2f}",
            {"drugs": "2000.00"},
        )

        payables = []
        for claim in claims:
            decision = (await svc.adjudication(claim.claim_id))["decisions"][0]
            payables.append(Decimal(decision["payable"]))
        assert sum(payables) == Decimal("2000.00")

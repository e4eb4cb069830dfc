"""Several events handled in one transaction (the kit's batches), and a changed policy seen by the next claim."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from claims_adjudication.db.models import AccumulatorRow, AuditRow, ClaimRow, DecisionRow, ReviewRow
from claims_contracts.envelope import EventEnvelope
from claims_contracts.events import ClaimDisputed, ClaimReceived, ClaimWithdrawn
from claims_contracts.topics import ADJUDICATION_TOPIC
from claims_platform.bus.base import Message
from claims_platform.testing import eventually, statements_sent


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


async def _rows(svc: Any) -> dict[str, list[Any]]:
    """What the service stored about claims, without generated ids and times."""
    tables = {
        "claims": (ClaimRow, ("updated_at",)),
        "decisions": (DecisionRow, ("decided_at",)),
        "accumulators": (AccumulatorRow, ("updated_at",)),
        "reviews": (ReviewRow, ("review_id", "created_at", "updated_at", "closed_at")),
        "audit_log": (AuditRow, ("id", "at", "entity_id")),
    }
    dump: dict[str, list[Any]] = {}
    async with svc.app.state.runtime.db.engine.connect() as conn:
        for name, (model, generated) in tables.items():
            table = model.__table__
            rows = (await conn.execute(select(table))).mappings().all()
            kept = [{k: v for k, v in row.items() if k not in generated} for row in rows]
            if name == "audit_log":
                kept = [row for row in kept if row["claim_id"] is not None]  # not the products' loads
            dump[name] = sorted(kept, key=repr)
    return dump


def _world(value: Any, world: str) -> Any:
    """``value`` with the ids of one world made plain (``C-1-batch`` -> ``C-1``)."""
    if isinstance(value, str):
        return value.replace(f"-{world}", "")
    if isinstance(value, dict):
        return {k: _world(v, world) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_world(v, world) for v in value]
    return value


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
async def test_a_batch_of_claims_is_decided_as_one_by_one_in_fewer_statements(service, samples, tmp_path, backend):
    """Claims handled in one transaction (a Kafka batch: several of one member and policy, a duplicate, a member
    not covered, an unknown policy, a claim again, a withdrawal) get the decisions, reviews, accumulators and
    events they get one at a time: each sees what the claims before it in the batch did. On PostgreSQL their
    policies, accumulator rows and histories are read for the whole batch at once, in three statements."""
    on_sqlite = backend == "sqlite"
    options: dict[str, Any] = {"frequency_claims": 3}  # a member's third claim is pended
    if on_sqlite:
        options |= {"database_url": f"sqlite+aiosqlite:///{tmp_path}/adjudication.db", "kafka_bootstrap_servers": None}
    published: list[Message] = []
    async with service(**options) as svc:
        runtime = svc.app.state.runtime
        if on_sqlite:

            async def keep(message: Message) -> None:
                published.append(message)

            runtime.bus.subscribe("probe", [ADJUDICATION_TOPIC], keep)
        worlds = ("solo", "batch")
        members = [{"member_id": f"M-{m}-{w}", "name": "x"} for w in worlds for m in "AB"]
        await svc.load_products(policy={**samples.POLICY, "members": members})
        second_policy = {**samples.POLICY, "members": [{"member_id": f"M-C-{w}", "name": "x"} for w in worlds]}
        await svc.load_products(policy=second_policy, number="POL-2026-0002")
        consumer = runtime.consumers[0]

        def received(claim: str, member: str, w: str, provider: str = "H-001", **more: Any) -> ClaimReceived:
            return samples.claim_event(
                f"C-{claim}-{w}",
                member={"member_id": f"M-{member}-{w}", "name": "x"},
                provider={"provider_id": provider, "name": "x"},
                **more,
            )

        def envelopes(*payloads: Any) -> list[tuple[EventEnvelope, Any]]:
            wrapped = [EventEnvelope.wrap(p, claim_id=p.claim_id, producer="intake") for p in payloads]
            return [(e, consumer.parse(e)) for e in wrapped]

        def events(w: str) -> list[tuple[EventEnvelope, Any]]:
            withdrawal = ClaimWithdrawn(claim_id=f"C-3-{w}", reason="sent twice", withdrawn_by="x")
            return envelopes(
                received("1", "A", w),
                received("8", "C", w, policy_number="POL-2026-0002"),
                received("2", "A", w, "H-002"),  # the deductible met by C-1
                received("3", "A", w, "H-003"),  # M-A's third claim
                received("10", "C", w, policy_number="POL-2026-0002"),  # a duplicate of C-8
                received("4", "B", w, "H-002"),  # the deductible met by C-PRE, written before
                received("5", "B", w),  # a duplicate of C-PRE, and M-B's third claim
                received("6", "X", w),  # not covered by the policy
                received("7", "A", w, policy_number="POL-NONE"),  # no such policy
                received("1", "A", w),  # C-1 again (another event id)
                received("PRE", "B", w),  # and a claim decided before
                withdrawal,  # writes what the batch did so far
                received("3", "A", w, "H-003"),  # C-3 again
                received("9", "A", w, "H-003"),  # as C-3, which is withdrawn: M-A's fourth claim, not a duplicate
            )

        statements: dict[str, list[str]] = {}
        for w in worlds:
            ((before, _),) = envelopes(received("PRE", "B", w))
            assert await consumer.handle(before)
            batch = events(w)
            with statements_sent(runtime.db.engine) as statements[w]:
                if w == "solo":
                    assert [await consumer.handle(e) for e, _ in batch] == [True] * len(batch)
                else:
                    assert await consumer.handle_many(batch) == [True] * len(batch)

        one = await svc.adjudication("C-1-batch")
        assert [d["payable"] for d in one["decisions"]] == ["450.00"]
        rows = await _rows(svc)
        expected = 2 * 11  # each world: the decisions of C-PRE, C-1, C-2, C-4, C-6, C-7, C-8; four ClaimPended
        if on_sqlite:

            async def all_sent() -> bool:
                return len(published) >= expected

            await eventually(all_sent)
            sent = [json.loads(m.value) for m in published]
        else:
            sent = await svc.published(expect=expected)

    def world(w: str) -> dict[str, Any]:
        def mine(row: dict[str, Any]) -> bool:
            return str(row.get("claim_id") or row["member_id"]).endswith(f"-{w}")

        stored = {name: [_world(row, w) for row in table if mine(row)] for name, table in rows.items()}
        out = [
            _world(
                {
                    "event_type": e["event_type"],
                    "claim_id": e["claim_id"],
                    "payload": {k: v for k, v in e["payload"].items() if k not in ("decided_at", "review_id")},
                },
                w,
            )
            for e in sent
            if e["claim_id"].endswith(f"-{w}")
        ]
        return {**stored, "events": sorted(out, key=repr)}

    solo, batch = world("solo"), world("batch")
    assert batch == solo
    decided = {(d["claim_id"], d["outcome"], str(d["payable"])) for d in batch["decisions"]}
    assert decided == {
        ("C-PRE", "approved", "450.00"),
        ("C-1", "approved", "450.00"),
        ("C-2", "approved", "850.00"),
        ("C-4", "approved", "850.00"),
        ("C-6", "denied", "0.00"),
        ("C-7", "denied", "0.00"),
        ("C-8", "approved", "450.00"),
    }
    pended = {(r["claim_id"], tuple(r["reasons"]), r["status"]) for r in batch["reviews"]}
    assert pended == {
        ("C-3", ("HIGH_FREQUENCY",), "closed"),
        ("C-10", ("DUPLICATE_SUSPECTED",), "open"),
        ("C-5", ("DUPLICATE_SUSPECTED", "HIGH_FREQUENCY"), "open"),
        ("C-9", ("HIGH_FREQUENCY",), "open"),
    }
    used = {(a["member_id"], a["policy_number"], str(a["paid_total"])) for a in batch["accumulators"]}
    assert used == {
        ("M-A", "POL-2026-0001", "1300.00"),
        ("M-B", "POL-2026-0001", "1300.00"),
        ("M-X", "POL-2026-0001", "0.00"),
        ("M-C", "POL-2026-0002", "450.00"),
    }
    if not on_sqlite:
        # the inbox; the batch's policy heads, accumulator rows and histories (three statements, not three per
        # claim); the withdrawal's claim and reviews, with what the batch did so far written first (four
        # statements); C-9's history, with the withdrawal's changes flushed first (four); at commit C-9's
        # review, the outbox and the rest of the pending writes
        assert len(statements["batch"]) == 15, statements["batch"]
    assert len(statements["batch"]) < len(statements["solo"])

"""A decision becomes exactly one payment, however often it is delivered and whoever races for it."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import text

from claims_contracts.envelope import EventEnvelope
from claims_contracts.topics import ADJUDICATION_TOPIC
from claims_platform.testing import eventually, produce

MEMBER_ACCOUNT = "6222020200001234567"


async def test_same_decision_delivered_twice_pays_once_and_settles(harness, capfd):
    app, client = await harness.start()
    claim = harness.new_claim_id()
    decision = harness.adjudicated(claim, 1, "450.00")
    await harness.send((harness.received(claim), claim))
    consumed = app.state.runtime.metrics.events_consumed.labels(
        app.state.runtime.consumers[0].name, "ClaimReceived", "applied"
    )

    async def details_known() -> bool:
        return consumed._value.get() == 1

    await eventually(details_known)  # the claim's details first, so the payment never waits
    # The very same envelope twice (a redelivery), then a copy under a new event id (a republish).
    envelope = EventEnvelope.wrap(decision, claim_id=claim, producer="adjudication").model_dump_json().encode()
    await produce(
        harness.bootstrap, harness.prefix + ADJUDICATION_TOPIC, (claim.encode(), envelope), (claim.encode(), envelope)
    )
    await harness.send((decision, claim))

    payment = harness.only(await harness.wait_payments(client, claim, harness.status_is("settled")))
    assert payment["amount"] == "450.00"
    assert payment["decision_version"] == 1
    assert payment["payee"] == "member"
    assert payment["account"] == {"holder": "张三", "account_number": "****4567", "bank_code": "ICBC"}
    assert payment["settled_at"] is not None
    assert payment["batch_id"] is not None

    one = await client.get(f"/v1/payments/{payment['payment_id']}", headers=harness.finance)
    assert one.status_code == 200
    assert one.json()["status"] == "settled"
    member = harness.auth("member", member_id="M-1001", sub="m1")
    assert (await client.get("/v1/payments", params={"claim_id": claim}, headers=member)).json()["items"][0][
        "payment_id"
    ] == payment["payment_id"]

    events = [e for e in await harness.payment_events(expect=3) if e["claim_id"] == claim]
    assert [e["event_type"] for e in events] == ["PaymentScheduled", "PaymentSent", "PaymentCompleted"]
    assert {e["payload"]["payment_id"] for e in events} == {payment["payment_id"]}
    assert all(e["payload"]["amount"] == "450.00" for e in events)
    assert events[0]["payload"]["hold_reason"] is None
    await harness.assert_ledger_balanced(client)

    runtime = app.state.runtime
    async with runtime.db.engine.connect() as conn:
        stored = (await conn.execute(text("SELECT account_number_enc FROM claim_payees"))).scalars().all()
        on_payment = (await conn.execute(text("SELECT account_number_enc FROM payments"))).scalars().all()
    assert stored
    assert all(MEMBER_ACCOUNT not in value and "4567" not in value for value in stored + on_payment)
    out, err = capfd.readouterr()
    assert "payment scheduled" in out + err  # the logs were captured ...
    assert MEMBER_ACCOUNT not in out + err  # ... and never carry the account number


async def test_two_instances_racing_on_one_decision_make_one_payment(harness):
    # Two replicas on one database, each its own consumer group: both receive and handle the event.
    first, client = await harness.start(consumer_group=f"payment-a-{harness.prefix.rstrip('.')}")
    second, _ = await harness.start(consumer_group=f"payment-b-{harness.prefix.rstrip('.')}")
    claims = [harness.new_claim_id() for _ in range(3)]
    for claim in claims:
        await harness.send((harness.received(claim), claim), (harness.adjudicated(claim, 1, "120.50"), claim))

    def handled(app) -> float:
        counter = app.state.runtime.metrics.events_consumed
        return counter.labels(app.state.runtime.consumers[0].name, "ClaimAdjudicated", "applied")._value.get()

    async def both_handled() -> bool:
        return handled(first) == len(claims) and handled(second) == len(claims)

    await eventually(both_handled)
    for claim in claims:
        payment = harness.only(await harness.wait_payments(client, claim, harness.status_is("settled")))
        assert payment["amount"] == "120.50"
    events = await harness.payment_events(expect=3 * len(claims))
    for claim in claims:
        assert sorted(e["event_type"] for e in events if e["claim_id"] == claim) == [
            "PaymentCompleted",
            "PaymentScheduled",
            "PaymentSent",
        ]
    balances = await harness.assert_ledger_balanced(client)
    assert balances["cash"] == Decimal("-361.50")

"""Payee details: a hospital without an account, a decision before the claim's details."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from claims_payment.db.repositories import DecisionRepository

HOSPITAL_ACCOUNT = "6222020200009876543"


async def test_hospital_without_account_waits_visibly_until_one_is_registered(harness):
    app, client = await harness.start()
    claim = harness.new_claim_id()
    await harness.send(
        (harness.received(claim, payee="provider"), claim),
        (harness.adjudicated(claim, 1, "450.00", payee="provider"), claim),
    )
    held = harness.only(await harness.wait_payments(client, claim, harness.status_is("scheduled")))
    assert held["hold_reason"] == "awaiting_provider_account"
    assert held["account"] is None
    await asyncio.sleep(0.5)  # several worker rounds: it must still wait
    assert harness.only(await harness.payments(client, claim))["status"] == "scheduled"

    hospital = harness.auth("partner", provider_id="H-001", sub="h1")
    other = harness.auth("partner", provider_id="H-002", sub="h2")
    assert (await client.get(f"/v1/payments/{held['payment_id']}", headers=hospital)).status_code == 200
    assert (await client.get(f"/v1/payments/{held['payment_id']}", headers=other)).status_code == 404
    assert (await client.get("/v1/payments", params={"claim_id": claim}, headers=other)).json()["items"] == []

    body = {"holder": "北京协和医院", "account_number": HOSPITAL_ACCOUNT, "bank_code": "ICBC"}
    url = "/v1/providers/H-001/bank-account"
    assert (await client.put(url, json=body, headers=hospital)).status_code == 403
    registered = await client.put(url, json=body, headers=harness.finance)
    assert registered.status_code == 200, registered.text
    assert registered.json()["account_number"] == "****6543"
    assert registered.json()["released_payments"] == 1
    assert HOSPITAL_ACCOUNT not in registered.text
    shown = await client.get(url, headers=harness.auth("auditor"))
    assert shown.json()["account_number"] == "****6543"
    assert HOSPITAL_ACCOUNT not in shown.text

    paid = harness.only(await harness.wait_payments(client, claim, harness.status_is("settled")))
    assert paid["hold_reason"] is None
    assert paid["account"] == {"holder": "北京协和医院", "account_number": "****6543", "bank_code": "ICBC"}
    events = await harness.payment_events(expect=3)
    assert events[0]["payload"]["hold_reason"] == "awaiting_provider_account"
    assert HOSPITAL_ACCOUNT.encode() not in b"".join(str(e).encode() for e in events)

    async with app.state.runtime.db.engine.connect() as conn:
        stored = (await conn.execute(text("SELECT account_number_enc FROM provider_accounts"))).scalar_one()
    assert HOSPITAL_ACCOUNT not in stored
    assert "6543" not in stored
    await harness.assert_ledger_balanced(client)


async def test_decision_before_the_claim_details_waits_for_the_member_account(harness):
    _, client = await harness.start()
    claim = harness.new_claim_id()
    await harness.send((harness.adjudicated(claim, 1, "300.00"), claim))
    held = harness.only(await harness.wait_payments(client, claim, harness.status_is("scheduled")))
    assert held["hold_reason"] == "awaiting_member_account"
    await harness.send((harness.received(claim), claim))
    paid = harness.only(await harness.wait_payments(client, claim, harness.status_is("settled")))
    assert paid["payment_id"] == held["payment_id"]
    assert paid["account"]["account_number"] == "****4567"
    await harness.assert_ledger_balanced(client)


async def test_one_hospitals_claims_do_not_wait_for_each_other_but_a_new_account_waits_for_them(harness):
    """Work on two claims of one hospital holds the hospital's lock at the same time (shared); registering
    the hospital's account (exclusive) waits until that work has committed, and work arriving meanwhile waits
    for the registration."""
    app, client = await harness.start()
    db = app.state.runtime.db
    first_holds, release_first = asyncio.Event(), asyncio.Event()

    async def claim_work(claim_id: str, hold: bool) -> None:
        async with db.uow() as uow:
            await DecisionRepository(uow.session).lock_claims([(claim_id, "H-LOCK")])
            if hold:
                first_holds.set()
                await release_first.wait()

    first = asyncio.create_task(claim_work(harness.new_claim_id(), hold=True))
    try:
        await asyncio.wait_for(first_holds.wait(), 5)
        await asyncio.wait_for(claim_work(harness.new_claim_id(), hold=False), 5)  # not blocked by the first

        registered = asyncio.create_task(
            client.put(
                "/v1/providers/H-LOCK/bank-account",
                json={"holder": "Hospital", "account_number": HOSPITAL_ACCOUNT, "bank_code": "ICBC"},
                headers=harness.finance,
            )
        )
        await asyncio.sleep(0.5)
        assert not registered.done(), "the registration waits for the work reading the old account"
    finally:
        release_first.set()
        await first
    resp = await asyncio.wait_for(registered, 5)
    assert resp.status_code == 200, resp.text

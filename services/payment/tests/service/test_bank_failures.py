"""The bank fails, times out: failures are reported, transient ones retried, and an operator can retry."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal


async def test_bank_failure_is_reported_and_an_operator_retry_pays(harness):
    app, client = await harness.start(bank_failure_rate=1.0)
    claim = harness.new_claim_id()
    await harness.send((harness.received(claim), claim), (harness.adjudicated(claim, 1, "450.00"), claim))
    failed = harness.only(await harness.wait_payments(client, claim, harness.status_is("failed")))
    assert "AC04" in failed["failure_reason"]
    assert failed["can_retry"] is True
    assert failed["failed_at"] is not None
    await harness.assert_ledger_balanced(client)

    today = datetime.now(UTC).date().isoformat()
    day = (await client.get("/v1/reconciliation", params={"date": today}, headers=harness.finance)).json()
    assert day["failed"] == {"count": 1, "amount": "450.00"}
    assert day["approved"]["amount"] == day["accounted"] == "450.00"
    assert day["balanced"] is True

    url = f"/v1/payments/{failed['payment_id']}/retry"
    assert (await client.post(url, headers=harness.auth("adjuster"))).status_code == 403
    assert (await client.post(url)).status_code == 401

    app.state.bank.failure_rate = 0.0  # the cause is fixed
    retried = await client.post(url, headers=harness.finance)
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "scheduled"
    settled = harness.only(await harness.wait_payments(client, claim, harness.status_is("settled")))
    assert settled["payment_id"] == failed["payment_id"]
    again = await client.post(url, headers=harness.finance)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"

    events = await harness.payment_events(expect=6)
    assert [e["event_type"] for e in events] == [
        "PaymentScheduled",
        "PaymentSent",
        "PaymentFailed",
        "PaymentScheduled",
        "PaymentSent",
        "PaymentCompleted",
    ]
    failure = events[2]["payload"]
    assert failure["retryable"] is False
    assert "AC04" in failure["reason"]
    balances = await harness.assert_ledger_balanced(client)
    assert balances["cash"] == Decimal("-450.00")


async def test_timeouts_are_retried_with_backoff_and_reported_when_they_persist(harness):
    app, client = await harness.start(bank_timeout_rate=1.0, send_max_attempts=3)
    stuck, recovering = harness.new_claim_id(), harness.new_claim_id()
    await harness.send((harness.received(stuck), stuck), (harness.adjudicated(stuck, 1, "80.00"), stuck))
    failed = harness.only(await harness.wait_payments(client, stuck, harness.status_is("failed")))
    assert failed["attempts"] == 3
    assert "bank unavailable after 3 attempts" in failed["failure_reason"]

    await harness.send((harness.received(recovering), recovering))
    await harness.send((harness.adjudicated(recovering, 1, "90.00"), recovering))
    waiting = harness.only(
        await harness.wait_payments(client, recovering, lambda ps: len(ps) == 1 and ps[0]["attempts"] >= 1)
    )
    assert waiting["status"] == "scheduled"
    assert "timed out" in waiting["last_error"]
    app.state.bank.timeout_rate = 0.0  # the bank is back: the transient failure heals by itself
    healed = harness.only(await harness.wait_payments(client, recovering, harness.status_is("settled")))
    assert healed["attempts"] >= 2
    assert harness.only(await harness.payments(client, stuck))["status"] == "failed"  # only an operator retries

    events = await harness.payment_events(expect=5)
    failures = [e["payload"] for e in events if e["event_type"] == "PaymentFailed"]
    assert [(f["claim_id"], f["retryable"]) for f in failures] == [(stuck, True)]
    await harness.assert_ledger_balanced(client)

"""Re-decisions: a higher one pays the difference, a lower one records an overpayment."""

from __future__ import annotations

from decimal import Decimal

from claims_platform.testing import eventually


async def test_redecision_after_dispute_pays_the_difference_and_a_lower_one_records_an_overpayment(harness):
    _, client = await harness.start()
    claim = harness.new_claim_id()
    await harness.send((harness.received(claim), claim), (harness.adjudicated(claim, 1, "450.00"), claim))
    await harness.wait_payments(client, claim, harness.status_is("settled"))

    # The member disputes; a second reviewer raises the payable to 600: only 150 more is paid.
    await harness.send((harness.adjudicated(claim, 2, "600.00"), claim))
    paid = await harness.wait_payments(client, claim, harness.status_is("settled", "settled"))
    assert [(p["decision_version"], p["amount"]) for p in paid] == [(1, "450.00"), (2, "150.00")]
    await harness.assert_ledger_balanced(client)

    # A third decision lowers it to 500: no negative payment, 100 to recover.
    await harness.send((harness.adjudicated(claim, 3, "500.00"), claim))

    async def recorded() -> bool:
        items = (await client.get("/v1/overpayments", params={"claim_id": claim}, headers=harness.finance)).json()
        return len(items["items"]) == 1

    await eventually(recorded)
    overpayments = (await client.get("/v1/overpayments", params={"claim_id": claim}, headers=harness.finance)).json()
    assert [(o["decision_version"], o["amount"]) for o in overpayments["items"]] == [(3, "100.00")]
    assert len(await harness.payments(client, claim)) == 2

    events = await harness.payment_events(expect=7)
    recovered = [e for e in events if e["event_type"] == "OverpaymentRecorded"]
    assert [(e["payload"]["decision_version"], e["payload"]["amount"]) for e in recovered] == [(3, "100.00")]
    assert sum(1 for e in events if e["event_type"] == "PaymentScheduled") == 2
    balances = await harness.assert_ledger_balanced(client)
    assert balances["cash"] == Decimal("-600.00")
    assert balances["overpayment_receivable"] == Decimal("100.00")
    assert balances["claims_expense"] == Decimal("500.00")  # what the claim finally costs


async def test_returned_payment_is_not_counted_as_paid_by_the_next_decision(harness):
    app, client = await harness.start(bank_return_rate=1.0)
    claim = harness.new_claim_id()
    await harness.send((harness.received(claim), claim), (harness.adjudicated(claim, 1, "450.00"), claim))
    returned = harness.only(await harness.wait_payments(client, claim, harness.status_is("returned")))
    assert returned["settled_at"] is not None
    assert returned["returned_at"] is not None
    assert "AC06" in returned["failure_reason"]
    assert returned["can_retry"] is True
    await harness.assert_ledger_balanced(client)

    events = await harness.payment_events(expect=4)
    assert [e["event_type"] for e in events] == [
        "PaymentScheduled",
        "PaymentSent",
        "PaymentCompleted",
        "PaymentReturned",
    ]

    # A re-decision (same payable) arrives: the money came back, so the whole 450 is owed again.
    app.state.bank.return_rate = 0.0
    await harness.send((harness.adjudicated(claim, 2, "450.00"), claim))
    both = await harness.wait_payments(client, claim, harness.status_is("returned", "settled"))
    assert both[1]["amount"] == "450.00"
    assert both[0]["superseded_by_decision"] == 2
    assert both[0]["can_retry"] is False
    retry = await client.post(f"/v1/payments/{both[0]['payment_id']}/retry", headers=harness.finance)
    assert retry.status_code == 409
    assert "decision 2" in retry.json()["detail"]
    balances = await harness.assert_ledger_balanced(client)
    assert balances["cash"] == Decimal("-450.00")
    assert balances["claims_expense"] == Decimal("450.00")

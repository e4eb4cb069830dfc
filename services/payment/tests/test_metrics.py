"""payments_by_status on /metrics follows the payments, counted from the database at each scrape."""

from __future__ import annotations

import re


def _by_status(text: str) -> dict[str, float]:
    return {m[1]: float(m[2]) for m in re.finditer(r'^payments_by_status\{status="(\w+)"\} (\S+)$', text, re.M)}


async def test_payments_by_status_moves_when_a_payment_is_made(harness):
    _, client = await harness.start(bank_settlement_delay_seconds=60)
    before = _by_status((await client.get("/metrics")).text)
    assert before == {"scheduled": 0, "sent": 0, "settled": 0, "failed": 0, "returned": 0}

    claim = harness.new_claim_id()
    await harness.send((harness.received(claim), claim), (harness.adjudicated(claim, 1, "450.00"), claim))
    await harness.wait_payments(client, claim, harness.status_is("sent"))
    assert _by_status((await client.get("/metrics")).text) == {**before, "sent": 1}


async def test_payments_by_status_follows_settlement(harness):
    _, client = await harness.start()
    claim = harness.new_claim_id()
    await harness.send((harness.received(claim), claim), (harness.adjudicated(claim, 1, "300.00"), claim))
    await harness.wait_payments(client, claim, harness.status_is("settled"))
    counts = _by_status((await client.get("/metrics")).text)
    assert counts["settled"] == 1
    assert sum(counts.values()) == 1

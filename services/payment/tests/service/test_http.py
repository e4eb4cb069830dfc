"""The HTTP contract: tokens, roles, validation without echo, problem+json."""

from __future__ import annotations

import uuid


async def test_requests_are_authenticated_validated_and_answered_as_problems(harness):
    _, client = await harness.start()
    assert (await client.get("/v1/payments")).status_code == 401
    assert (await client.get("/health/ready")).json()["status"] == "ok"

    missing = await client.get(f"/v1/payments/{uuid.uuid4()}", headers=harness.finance)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"

    bad = await client.put(
        "/v1/providers/H-001/bank-account",
        json={"holder": "", "account_number": "62220202-0000-secret", "bank_code": "I"},
        headers=harness.finance,
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"holder", "account_number", "bank_code"}
    assert "secret" not in bad.text
    not_registered = await client.get("/v1/providers/H-009/bank-account", headers=harness.finance)
    assert not_registered.status_code == 404
    assert (
        await client.get("/v1/ledger/balances", headers=harness.auth("partner", provider_id="H-1"))
    ).status_code == 403
    assert (await client.get("/v1/payments", params={"cursor": "nope"}, headers=harness.finance)).status_code == 400
    assert (
        await client.get("/v1/reconciliation", params={"date": "yesterday"}, headers=harness.finance)
    ).status_code == 422

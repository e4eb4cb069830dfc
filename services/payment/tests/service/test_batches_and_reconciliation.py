"""A day's batches as pain.001 files, and the day reconciled."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from decimal import Decimal

NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"}


async def test_pain001_files_match_the_payments_and_the_day_reconciles(harness):
    _app, client = await harness.start()
    amounts = {harness.new_claim_id(): a for a in ("450.00", "0.01", "1234.56", "99.99")}
    for claim, amount in amounts.items():
        await harness.send((harness.received(claim), claim), (harness.adjudicated(claim, 1, amount), claim))
    for claim in amounts:
        await harness.wait_payments(client, claim, harness.status_is("settled"))
    payments = {p["payment_id"]: p for p in await harness.payments(client)}

    listed = await client.get("/v1/batches", headers=harness.finance)
    assert listed.status_code == 200
    batches = listed.json()["items"]
    in_files: dict[str, Decimal] = {}
    for batch in batches:
        response = await client.get(batch["pain001_url"], headers=harness.auth("auditor"))
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/xml"
        assert "6222020200001234567" not in response.text
        root = ET.fromstring(response.content)
        assert root.tag == "{urn:iso:std:iso:20022:tech:xsd:pain.001.001.09}Document"
        header = root.find("p:CstmrCdtTrfInitn/p:GrpHdr", NS)
        assert header is not None
        txs = root.findall("p:CstmrCdtTrfInitn/p:PmtInf/p:CdtTrfTxInf", NS)
        assert header.findtext("p:NbOfTxs", namespaces=NS) == str(len(txs)) == str(batch["transaction_count"])
        file_sum = Decimal(header.findtext("p:CtrlSum", namespaces=NS) or "")
        assert file_sum == Decimal(batch["control_sum"])
        tx_sum = Decimal("0.00")
        for tx in txs:
            e2e = tx.findtext("p:PmtId/p:EndToEndId", namespaces=NS) or ""
            amount = Decimal(tx.findtext("p:Amt/p:InstdAmt", namespaces=NS) or "")
            in_files[e2e] = amount
            tx_sum += amount
            assert tx.findtext("p:CdtrAcct/p:Id/p:Othr/p:Id", namespaces=NS) == "****4567"
        assert tx_sum == file_sum
    expected = {p.replace("-", ""): Decimal(v["amount"]) for p, v in payments.items()}
    assert in_files == expected
    assert sum(in_files.values()) == Decimal("1784.56")

    today = datetime.now(UTC).date().isoformat()
    day = await client.get("/v1/reconciliation", params={"date": today}, headers=harness.finance)
    assert day.status_code == 200
    body = day.json()
    assert body["approved"] == {"count": 4, "amount": "1784.56"}
    assert body["settled"] == {"count": 4, "amount": "1784.56"}
    assert body["in_flight"]["amount"] == body["failed"]["amount"] == body["returned"]["amount"] == "0.00"
    assert body["balanced"] is True
    assert body["discrepancies"] == []
    other_day = (await client.get("/v1/reconciliation", params={"date": "2020-01-01"}, headers=harness.finance)).json()
    assert other_day["approved"] == {"count": 0, "amount": "0.00"}
    assert (
        await client.get("/v1/reconciliation", params={"date": today}, headers=harness.auth("member", member_id="M-1"))
    ).status_code == 403
    await harness.assert_ledger_balanced(client)


async def test_reconciliation_counts_money_in_flight_and_on_hold(harness):
    _, client = await harness.start(bank_settlement_delay_seconds=3600)
    sent, held = harness.new_claim_id(), harness.new_claim_id()
    await harness.send((harness.received(sent), sent), (harness.adjudicated(sent, 1, "200.00"), sent))
    await harness.send((harness.adjudicated(held, 1, "50.00", payee="provider", provider_id="H-404"), held))
    await harness.wait_payments(client, sent, harness.status_is("sent"))
    await harness.wait_payments(client, held, harness.status_is("scheduled"))
    today = datetime.now(UTC).date().isoformat()
    body = (await client.get("/v1/reconciliation", params={"date": today}, headers=harness.finance)).json()
    assert body["approved"] == {"count": 2, "amount": "250.00"}
    assert body["in_flight"] == {"count": 2, "amount": "250.00"}
    assert body["on_hold"] == {"count": 1, "amount": "50.00"}
    assert body["settled"]["amount"] == "0.00"
    assert body["balanced"] is True
    balances = await harness.assert_ledger_balanced(client)
    assert balances["bank_clearing"] == Decimal("-200.00")
    assert balances["claims_payable"] == Decimal("-50.00")

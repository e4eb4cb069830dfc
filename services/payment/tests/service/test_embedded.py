"""The embedded mode: SQLite and the in-process bus run the same payment code."""

from __future__ import annotations

from claims_contracts.envelope import EventEnvelope
from claims_payment.app import create_app
from claims_payment.config import PaymentSettings
from claims_platform.bus.base import Message
from claims_platform.testing import serve


async def test_embedded_mode_pays_a_decision_once_on_sqlite(harness, tmp_path):
    settings = PaymentSettings(
        data_dir=tmp_path / "data",
        jwt_secret=harness.jwt_secret,
        worker_poll_seconds=0.05,
        relay_poll_seconds=0.1,
        bank_settlement_delay_seconds=0.1,
    )
    assert settings.effective_database_url.startswith("sqlite")
    app = create_app(settings)  # development: the account key is generated under the data dir
    assert (tmp_path / "data" / "dev-payment-account-key").exists()
    async with serve(app) as client:
        claim = harness.new_claim_id()
        bus = app.state.runtime.bus
        for payload in (harness.received(claim), harness.adjudicated(claim, 1, "450.00")):
            envelope = EventEnvelope.wrap(payload, claim_id=claim, producer="test")
            message = Message(topic=payload.topic, key=claim.encode(), value=envelope.model_dump_json().encode())
            await bus.publish([message, message])  # delivered twice
        paid = harness.only(await harness.wait_payments(client, claim, harness.status_is("settled")))
        assert paid["amount"] == "450.00"
        await harness.assert_ledger_balanced(client)

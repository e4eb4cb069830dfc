"""The embedded mode: SQLite and the in-process bus run the same handlers, worker and surveys."""

from __future__ import annotations

import re

from claims_contracts.envelope import EventEnvelope
from claims_notification.app import create_app
from claims_notification.config import NotificationSettings
from claims_platform.bus.base import Message
from claims_platform.bus.memory import InMemoryBus
from claims_platform.outbox import envelope_headers
from claims_platform.testing import serve


def _message(payload, producer: str) -> Message:
    env = EventEnvelope.wrap(payload, claim_id=payload.claim_id, producer=producer)
    return Message(
        payload.topic,
        env.claim_id.encode(),
        env.model_dump_json().encode(),
        envelope_headers(env.event_type, env.correlation_id, str(env.event_id)),
    )


async def test_sqlite_and_in_process_bus_store_messages_and_take_survey_answers(
    tmp_path, jwt_secret, events, messages, auth_header, wait_for
):
    settings = NotificationSettings(environment="development", data_dir=tmp_path, jwt_secret=jwt_secret)
    bus = InMemoryBus()
    app = create_app(settings, bus=bus)
    admin = auth_header("admin")
    claim = events.new_claim_id()
    async with serve(app) as client:
        await bus.start()
        try:
            await bus.publish([_message(events.claim_received(claim, locale="en"), "intake")])
            await bus.publish([_message(events.payment_completed(claim), "payment")])

            async def stored() -> bool:
                return len(await messages(client, admin, claim_id=claim)) == 2

            await wait_for(stored, timeout=15)
            survey = (await messages(client, admin, claim_id=claim, event_type="survey"))[0]
            assert survey["locale"] == "en"
            token = re.search(r"/v1/feedback\?token=(\S+)", survey["body"]).group(1)
            first = await client.post("/v1/feedback", json={"token": token, "score": 5})
            assert first.status_code == 201, first.text
            assert (await client.post("/v1/feedback", json={"token": token, "score": 5})).status_code == 409
        finally:
            await bus.stop()
    assert (tmp_path / "notification-survey-secret").is_file()

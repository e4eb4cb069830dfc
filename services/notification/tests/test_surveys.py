"""Satisfaction surveys after a claim closes: a signed, expiring link answered once."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from claims_contracts.topics import NOTIFICATION_TOPIC
from claims_notification.domain.survey import sign_survey_token

EMAIL = "zhangsan@example.com"
LINK = re.compile(r"https://claims\.example\.com/v1/feedback\?token=(\S+)")


async def test_survey_after_payment_is_answered_once_and_forged_or_expired_tokens_are_refused(
    start_service,
    smtp_server,
    publisher,
    events,
    messages,
    auth_header,
    wait_for,
    kafka_records,
    kafka_bootstrap,
    topic_prefix,
):
    admin = auth_header("admin")
    claim = events.new_claim_id()
    secret = "another-survey-secret-0123456789abcdef"
    async with start_service(
        smtp_host="127.0.0.1", smtp_port=smtp_server.port, survey_secret=secret, survey_delay_seconds=2
    ) as svc:
        client = svc.client
        await publisher.send(events.claim_received(claim))
        await publisher.send(events.payment_completed(claim), producer="payment")

        async def completed() -> bool:
            return svc.consumed("PaymentCompleted") >= 1 and svc.consumed("ClaimReceived") >= 1

        await wait_for(completed)
        waiting = await messages(client, admin, claim_id=claim, event_type="survey", channel="all")
        assert {m["status"] for m in waiting} == {"pending"}  # the configured delay has not passed yet

        async def survey_mailed() -> bool:
            return any("评分" in m["Subject"] for m in smtp_server.to(EMAIL))

        await wait_for(survey_mailed)
        mail = next(m for m in smtp_server.to(EMAIL) if "评分" in m["Subject"])
        token = LINK.search(mail.get_content()).group(1)
        in_app = await messages(client, admin, claim_id=claim, event_type="survey")
        assert len(in_app) == 1
        assert in_app[0]["status"] == "sent"
        assert token in in_app[0]["body"]

        status = await client.get("/v1/feedback", params={"token": token})
        assert status.status_code == 200, status.text
        assert status.json()["answered"] is False

        answer = {"token": token, "score": 4, "comment": "理赔很快"}
        first = await client.post("/v1/feedback", json=answer)  # no bearer token: the survey token is the credential
        assert first.status_code == 201, first.text
        assert first.json()["claim_id"] == claim
        again = await client.post("/v1/feedback", json={**answer, "score": 1})
        assert again.status_code == 409
        assert (await client.get("/v1/feedback", params={"token": token})).json()["answered"] is True

        head, body, signature = token.split(".")
        tampered = f"{head}.{body}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
        assert (await client.post("/v1/feedback", json={**answer, "token": tampered})).status_code == 403
        survey_id = status.json()["survey_id"]
        now = datetime.now(UTC)
        forged = sign_survey_token("x" * 40, survey_id, claim, now, timedelta(days=1))
        assert (await client.post("/v1/feedback", json={**answer, "token": forged})).status_code == 403
        expired = sign_survey_token(secret, survey_id, claim, now - timedelta(days=31), timedelta(days=30))
        assert (await client.post("/v1/feedback", json={**answer, "token": expired})).status_code == 410
        other_claim = sign_survey_token(secret, survey_id, "C-other", now, timedelta(days=1))
        assert (await client.post("/v1/feedback", json={**answer, "token": other_claim})).status_code == 403
        bad = await client.post("/v1/feedback", json={**answer, "score": 6})
        assert bad.status_code == 422

        summary = (await client.get("/v1/feedback/summary", headers=admin)).json()
        assert summary["answers"] == 1
        assert summary["average_score"] == "4.00"
        assert summary["per_score"]["4"] == 1

        # a denial closes a claim too
        denied = events.new_claim_id()
        await publisher.send(events.claim_received(denied))
        await publisher.send(events.claim_adjudicated(denied, outcome="denied"), producer="adjudication")

        async def denial_surveyed() -> bool:
            items = await messages(client, admin, claim_id=denied, event_type="survey", channel="all")
            return len(items) == 2 and all(m["status"] == "sent" for m in items)

        await wait_for(denial_surveyed)
        decision = (await messages(client, admin, claim_id=denied, event_type="claim_decided"))[0]["body"]
        assert "拒赔" in decision
        assert "该疾病属于责任免除" in decision

    records = await kafka_records(kafka_bootstrap, topic_prefix + NOTIFICATION_TOPIC, expect=1, idle_s=1.0)
    feedback = [json.loads(r.value) for r in records if json.loads(r.value)["event_type"] == "FeedbackReceived"]
    assert len(feedback) == 1
    assert feedback[0]["payload"]["score"] == 4
    assert feedback[0]["payload"]["comment"] == "理赔很快"
    assert feedback[0]["claim_id"] == claim

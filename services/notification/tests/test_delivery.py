"""Delivery through a real SMTP server and a real HTTP SMS gateway, fed by real events on Kafka."""

from __future__ import annotations

import asyncio
import json

from claims_contracts.topics import NOTIFICATION_TOPIC

EMAIL = "zhangsan@example.com"
PHONE = "+8613800000000"


async def test_decision_arrives_once_on_every_channel_however_often_the_event_is_delivered(
    start_service,
    smtp_server,
    sms_gateway,
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
    async with start_service(smtp_host="127.0.0.1", smtp_port=smtp_server.port, sms_gateway_url=sms_gateway.url) as svc:
        await publisher.send(events.claim_received(claim))
        decided = events.claim_adjudicated(claim)
        raw = await publisher.send(decided, producer="adjudication")

        async def all_arrived() -> bool:
            return len(smtp_server.to(EMAIL)) >= 2 and len(sms_gateway.to(PHONE)) >= 2

        await wait_for(all_arrived)

        mail = next(m for m in smtp_server.to(EMAIL) if "审核结果" in m["Subject"])
        assert "已批准" in mail["Subject"]
        text = mail.get_content()
        assert "张三" in text
        assert "赔付金额 ¥450.00" in text
        assert "个人承担 ¥650.00" in text
        for line in decided.lines:
            for adjustment in line.adjustments:
                assert adjustment.explanation_zh in text
        assert mail["Message-ID"]
        sms = next(s for s in sms_gateway.to(PHONE) if "赔付" in s["text"])
        assert "¥450.00" in sms["text"]
        assert sms["reference"]
        assert sms_gateway.headers[0]["idempotency-key"]

        in_app = await messages(svc.client, admin, claim_id=claim)
        assert {m["event_type"] for m in in_app} == {"claim_received", "claim_decided"}
        for item in in_app:
            assert item["channel"] == "in_app"
            assert item["locale"] == "zh-CN"
            assert item["subject"]
            assert item["body"]
        assert "¥450.00" in next(m for m in in_app if m["event_type"] == "claim_decided")["body"]

        # the same event again, twice: nothing more is sent or stored
        await publisher.redeliver(decided, raw)
        await publisher.redeliver(decided, raw)

        async def seen_again() -> bool:
            return svc.consumed("ClaimAdjudicated", "duplicate") >= 2

        await wait_for(seen_again)
        await asyncio.sleep(0.5)  # several worker passes
        assert len(smtp_server.to(EMAIL)) == 2
        assert len(sms_gateway.to(PHONE)) == 2
        every = await messages(svc.client, admin, claim_id=claim, channel="all")
        assert len(every) == 6
        assert {m["status"] for m in every} == {"sent"}

        email_msg = next(m for m in every if m["channel"] == "email" and m["event_type"] == "claim_decided")
        assert email_msg["recipient"] == "z***@example.com"
        assert mail["Message-ID"] == f"<{email_msg['notification_id']}@claims-notification>"
        detail = (await svc.client.get(f"/v1/notifications/{email_msg['notification_id']}", headers=admin)).json()
        assert [d["outcome"] for d in detail["deliveries"]] == ["delivered"]

    records = await kafka_records(kafka_bootstrap, topic_prefix + NOTIFICATION_TOPIC, expect=6, idle_s=1.0)
    sent = [json.loads(r.value) for r in records]
    assert all(e["event_type"] == "NotificationSent" for e in sent)
    assert sorted(e["payload"]["notification_id"] for e in sent) == sorted(m["notification_id"] for m in every)
    assert all("zhangsan@" not in e["payload"]["recipient"] for e in sent)


async def test_servers_down_then_up_are_retried_and_the_log_shows_each_try(
    start_service, smtp_down, sms_down, publisher, events, messages, auth_header, wait_for
):
    admin = auth_header("admin")
    claim = events.new_claim_id()
    async with start_service(
        smtp_host="127.0.0.1", smtp_port=smtp_down.port, sms_gateway_url=sms_down.url, send_max_attempts=100
    ) as svc:
        await publisher.send(events.documents_requested(claim))

        async def tried_twice() -> bool:
            """Two failed tries logged for each outbound message (``attempts`` counts a try when it starts, so
            it may still be under way: the servers must not come up before its outcome is logged)."""
            items = await messages(svc.client, admin, claim_id=claim, channel="all")
            outbound = [m for m in items if m["channel"] != "in_app"]
            if len(outbound) != 2:
                return False
            for item in outbound:
                detail = (await svc.client.get(f"/v1/notifications/{item['notification_id']}", headers=admin)).json()
                if [d["outcome"] for d in detail["deliveries"]].count("retry") < 2:
                    return False
            return True

        await wait_for(tried_twice)
        assert smtp_down.mails == []
        smtp_down.start()
        await sms_down.start()

        async def delivered() -> bool:
            items = await messages(svc.client, admin, claim_id=claim, channel="all")
            return len(items) == 3 and all(m["status"] == "sent" for m in items)

        await wait_for(delivered)
        await asyncio.sleep(0.3)
        mails = smtp_down.to(EMAIL)
        assert len(mails) == 1
        body = mails[0].get_content()
        for document in ("身份证明", "费用明细清单", "医疗费用发票", "病历"):
            assert document in body
        assert "2026年4月10日" in body
        texts = sms_down.to(PHONE)
        assert len(texts) == 1
        assert "身份证明" in texts[0]["text"]

        items = await messages(svc.client, admin, claim_id=claim, channel="all")
        for item in items:
            if item["channel"] == "in_app":
                continue
            detail = (await svc.client.get(f"/v1/notifications/{item['notification_id']}", headers=admin)).json()
            outcomes = [d["outcome"] for d in detail["deliveries"]]
            assert outcomes[-1] == "delivered"
            assert len(outcomes) >= 3
            assert set(outcomes[:-1]) == {"retry"}
            assert all(d["error"] for d in detail["deliveries"][:-1])
            assert all("zhangsan@" not in d["error"] for d in detail["deliveries"][:-1])


async def test_a_number_the_gateway_refuses_fails_at_once_without_retries(
    start_service, sms_gateway, publisher, events, messages, auth_header, wait_for
):
    admin = auth_header("admin")
    claim = events.new_claim_id()
    sms_gateway.status = 400
    async with start_service(sms_gateway_url=sms_gateway.url) as svc:
        await publisher.send(events.claim_received(claim))

        async def failed() -> bool:
            items = await messages(svc.client, admin, claim_id=claim, channel="sms")
            return len(items) == 1 and items[0]["status"] == "failed"

        await wait_for(failed)
        await asyncio.sleep(0.5)  # longer than the backoff: a retry would show
        item = (await messages(svc.client, admin, claim_id=claim, channel="sms"))[0]
        assert item["attempts"] == 1
        detail = (await svc.client.get(f"/v1/notifications/{item['notification_id']}", headers=admin)).json()
        assert [d["outcome"] for d in detail["deliveries"]] == ["failed"]
        assert "400" in detail["last_error"]
        assert len(sms_gateway.received) == 1
        in_app = await messages(svc.client, admin, claim_id=claim)
        assert [m["status"] for m in in_app] == ["sent"]

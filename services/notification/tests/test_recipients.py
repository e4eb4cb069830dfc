"""Preferences and opt-outs, events that overtake the contact details, hospitals, and who sees what."""

from __future__ import annotations

import asyncio

from claims_contracts.events import VerificationRequested

EMAIL = "zhangsan@example.com"
PHONE = "+8613800000000"


async def test_opt_out_is_respected_and_a_decision_before_the_contact_waits_for_it(
    start_service, smtp_server, sms_gateway, publisher, events, messages, auth_header, wait_for
):
    admin = auth_header("admin")
    me = auth_header("member", sub="m1", member_id="M-1001")
    claim = events.new_claim_id()
    async with start_service(smtp_host="127.0.0.1", smtp_port=smtp_server.port, sms_gateway_url=sms_gateway.url) as svc:
        client = svc.client
        resp = await client.put(
            "/v1/recipients/M-1001/preferences", json={"email": False, "sms": True, "locale": "en"}, headers=me
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["email"] is False
        other = auth_header("member", sub="m2", member_id="M-2002")
        assert (await client.put("/v1/recipients/M-1001/preferences", json={}, headers=other)).status_code == 403

        await publisher.send(events.claim_adjudicated(claim), producer="adjudication")

        async def decision_consumed() -> bool:
            return svc.consumed("ClaimAdjudicated") >= 1

        await wait_for(decision_consumed)
        assert await messages(client, admin, claim_id=claim, channel="all") == []

        await publisher.send(events.claim_received(claim))

        async def texts_arrived() -> bool:
            return len(sms_gateway.to(PHONE)) >= 2

        await wait_for(texts_arrived)
        await asyncio.sleep(0.3)
        assert len(sms_gateway.to(PHONE)) == 2
        assert any("CN¥450.00" in s["text"] for s in sms_gateway.to(PHONE))
        assert smtp_server.mails == []
        every = await messages(client, admin, claim_id=claim, channel="all")
        assert sorted(m["channel"] for m in every) == ["in_app", "in_app", "sms", "sms"]
        assert {m["locale"] for m in every} == {"en"}

        # who sees what
        mine = await messages(client, me, claim_id=claim)
        assert {m["event_type"] for m in mine} == {"claim_received", "claim_decided"}
        assert await messages(client, other, claim_id=claim) == []
        assert (await client.get("/v1/notifications", params={"member_id": "M-1001"}, headers=other)).status_code == 403
        hospital = auth_header("partner", sub="h1", provider_id="H-001")
        assert await messages(client, hospital, claim_id=claim) == []  # the member submitted it, not the hospital
        assert (await client.get("/v1/notifications", params={"claim_id": claim})).status_code == 401
        detail = await client.get(f"/v1/notifications/{mine[0]['notification_id']}", headers=other)
        assert detail.status_code == 404


async def test_verification_request_goes_to_the_hospital(
    start_service, smtp_server, publisher, events, messages, auth_header, wait_for
):
    admin = auth_header("admin")
    hospital = auth_header("partner", sub="h1", provider_id="H-001")
    member = auth_header("member", sub="m1", member_id="M-1001")
    claim = events.new_claim_id()
    async with start_service(smtp_host="127.0.0.1", smtp_port=smtp_server.port) as svc:
        client = svc.client
        contact = {"name": "北京协和医院医保办", "email": "claims@pumch.example.cn", "locale": "zh-CN"}
        assert (await client.put("/v1/providers/H-001/contact", json=contact, headers=hospital)).status_code == 403
        resp = await client.put("/v1/providers/H-001/contact", json=contact, headers=admin)
        assert resp.status_code == 200, resp.text
        bad = await client.put("/v1/providers/H-001/contact", json={"email": "not-an-address"}, headers=admin)
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "email"

        await publisher.send(events.claim_received(claim))
        request = VerificationRequested(
            claim_id=claim,
            review_id="R-77",
            provider_id="H-001",
            message="请确认3月10日胸部CT检查的记录与收费。",
            requested_by="adjuster-1",
        )
        await publisher.send(request, producer="adjudication")

        async def mailed() -> bool:
            return len(smtp_server.to("claims@pumch.example.cn")) == 1

        await wait_for(mailed)
        mail = smtp_server.to("claims@pumch.example.cn")[0]
        assert claim in mail["Subject"]
        body = mail.get_content()
        assert "北京协和医院医保办" in body
        assert "请确认3月10日胸部CT检查的记录与收费。" in body
        assert "R-77" in body
        assert "adjuster-1" not in body

        seen = await messages(client, hospital, claim_id=claim)
        assert [m["event_type"] for m in seen] == ["verification_requested"]
        assert "verification_requested" not in {m["event_type"] for m in await messages(client, member, claim_id=claim)}

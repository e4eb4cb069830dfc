"""A consumer's batch: several claims' events in one transaction, their contacts stored or read at once, planned as
one by one (on PostgreSQL and on the embedded mode's SQLite); surveys recorded once per claim and decision."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from claims_contracts.envelope import EventEnvelope, EventPayload
from claims_contracts.events import PaymentSent, VerificationRequested
from claims_notification.app import create_app
from claims_notification.db.repositories import SurveyRepository
from claims_notification.events.handlers import CONSUMER, NotificationHandlers
from claims_platform.bus.memory import InMemoryBus
from claims_platform.inbox import IdempotentConsumer
from claims_platform.testing import apply_events, record_published, serve

# E-mail and SMS configured (preferences show), never sent: the worker is stopped before any event.
CHANNELS = {"smtp_host": "127.0.0.1", "smtp_port": 9, "sms_gateway_url": "http://127.0.0.1:9/send"}
ROLES = ("known", "fresh", "late", "changed", "orphan", "moved", "waited", "closed")


@dataclass
class Service:
    client: httpx.AsyncClient
    app: FastAPI


@pytest.fixture(params=["postgresql", "sqlite"])
async def service(request, make_settings, tmp_path, auth_header) -> AsyncIterator[Service]:
    """The service on PostgreSQL (and Kafka), or on SQLite and the in-process bus (the embedded mode's), with two
    members' preferences set and its delivery worker stopped."""
    if request.param == "postgresql":
        app = create_app(make_settings(**CHANNELS))
    else:
        settings = make_settings(**CHANNELS, database_url=f"sqlite+aiosqlite:///{tmp_path / 'notification.db'}")
        app = create_app(settings, bus=InMemoryBus())
    async with serve(app) as client:
        await app.state.worker.stop()
        admin = auth_header("admin")
        for member_id, preferences in (("M-A", {"email": False, "locale": "en"}), ("M-C", {"sms": False})):
            resp = await client.put(f"/v1/recipients/{member_id}/preferences", json=preferences, headers=admin)
            assert resp.status_code == 200, resp.text
        yield Service(client, app)


def _events(events: Any, claims: dict[str, str]) -> tuple[list[EventPayload], list[EventPayload]]:
    """What comes before the batch (each in its own transaction), and the batch, for one set of claims."""
    known, fresh, late, changed, orphan, moved, waited, closed = (claims[role] for role in ROLES)
    before: list[EventPayload] = [
        events.claim_received(known, member_id="M-A"),
        events.documents_requested(changed, member_id="M-B"),
        events.documents_requested(moved, member_id="M-B"),
        events.claim_adjudicated(waited),  # waits for its contact
        events.claim_received(closed, member_id="M-C"),
        events.payment_completed(closed),  # its survey of decision 1
    ]
    batch: list[EventPayload] = [
        events.claim_adjudicated(known),  # the stored contact, read with the batch's others
        events.claim_received(fresh, member_id="M-C"),  # the contact arrives in the batch, stored with the others ...
        events.documents_requested(moved, member_id="M-C", email="first@example.com"),  # a new contact, stored too,
        events.claim_adjudicated(late),  # (waits for its contact, later in the batch)
        events.claim_adjudicated(changed),  # the contact stored by the documents request
        events.claim_adjudicated(moved),  # ... which the decision goes to,
        VerificationRequested(claim_id=known, review_id="R-1", provider_id="H-001", message="请确认", requested_by="a"),
        events.claim_adjudicated(fresh, outcome="denied"),  # ... and serves its decision and survey
        events.claim_received(waited, member_id="M-B"),  # stored with the others: releases the stored decision
        events.claim_adjudicated(orphan),  # no contact: waits
        events.claim_received(changed, member_id="M-A", email="new@example.com", locale="en"),  # another member
        events.claim_received(moved, member_id="M-A", email="moved@example.com"),  # ... then another one, which wins
        PaymentSent(
            claim_id=known, payment_id=f"P-{known}", decision_version=1, amount="450.00", currency="CNY", payee="member"
        ),
        events.claim_received(late, member_id="M-B"),  # releases the waiting decision
        events.payment_completed(changed),  # to the new contact, with the new member's preferences
        events.payment_completed(orphan),
        events.payment_completed(known),
        events.payment_completed(moved),  # to the latest contact
        events.payment_completed(fresh),  # decision 1 has its survey already (earlier in the batch): none
        events.payment_completed(closed),  # decision 1 has its survey already (stored): none
        events.claim_adjudicated(closed, outcome="denied", version=2),  # a re-decision: a survey of its own
    ]
    return before, batch


_STORY = {
    "recipients": "SELECT claim_id, member_id, member_name, email, phone, locale, provider_id FROM claim_recipients r",
    "notices": "SELECT claim_id, source_event_type, kind, audience, provider_id, context,"
    " CASE WHEN planned_at IS NULL THEN 'waits' END FROM notices r",
    "messages": "SELECT r.claim_id, r.event_type, r.channel, r.locale, r.member_id, r.provider_id, r.recipient_type,"
    " r.recipient_key, r.source_event_type, r.subject, r.body, r.address, r.address_masked, r.status, r.attempts,"
    " CASE WHEN r.survey_id IS NULL THEN 'no survey' END, a.attempt_no, a.outcome, a.error"
    " FROM messages r LEFT JOIN delivery_attempts a ON a.message_id = r.id",
    "surveys": "SELECT claim_id, decision_version, member_id, closed_as FROM surveys r",
}
"""What a set of claims' events left (``r`` the table of the claims' rows), without generated ids and times."""


async def _story(svc: Service, claims: dict[str, str], published: list[EventEnvelope]) -> dict[str, list[Any]]:
    """Everything the events left for a set of claims, their ids replaced by their roles."""
    roles = {claim_id: role for role, claim_id in claims.items()}

    def plain(value: Any) -> str:
        value = str(value)
        for claim_id, role in roles.items():
            value = value.replace(claim_id, role)
        return re.sub(r"token=\S+", "token=...", value)  # a survey's token: signs its random id

    story: dict[str, list[Any]] = {}
    ids = ", ".join(f"'{claim_id}'" for claim_id in claims.values())
    async with svc.app.state.runtime.db.engine.connect() as conn:
        for name, sql in _STORY.items():
            rows = (await conn.execute(text(f"{sql} WHERE r.claim_id IN ({ids})"))).all()
            story[name] = sorted(tuple(plain(value) for value in row) for row in rows)
    fields = ("source_event_type", "message_type", "channel", "locale", "recipient")
    story["published"] = sorted(
        (plain(e.claim_id), e.event_type, *(plain(e.payload[f]) for f in fields))
        for e in published
        if e.claim_id in roles
    )
    return story


async def test_a_batch_of_several_claims_events_is_planned_as_one_by_one(service, events, monkeypatch):
    """One batch mixing eight claims' events: one with a stored contact, one whose contact arrives first in the
    batch, one whose contact comes after its decision, one whose contact changes member in the batch, one with no
    contact at all, one whose new contact comes first in the batch and changes again later, one whose contact
    arrives for a decision stored before, one whose decision 1 was surveyed before. Every notice, message,
    delivery-log entry, survey and published event is the same as with each event in a transaction of its own,
    and as with the same batch without the prepare step (contacts stored and read at once), which takes six
    statements more."""
    runtime = service.app.state.runtime
    (consumer,) = runtime.consumers
    unprepared = IdempotentConsumer(CONSUMER, runtime.db, NotificationHandlers(service.app.state.planner).handlers())
    published = record_published(monkeypatch)

    async def run(way: str) -> tuple[dict[str, list[Any]], int]:
        claims = {role: events.new_claim_id() for role in ROLES}
        before, batch = _events(events, claims)
        for payload in before:
            assert await consumer.handle(EventEnvelope.wrap(payload, claim_id=payload.claim_id, producer="intake"))
        envelopes = [(EventEnvelope.wrap(p, claim_id=p.claim_id, producer="test"), p) for p in batch]
        statements = await apply_events(way, consumer, envelopes, unprepared=unprepared)
        return await _story(service, claims, published), statements

    batched, in_batch = await run("batch")
    unprepared_story, without_prepare = await run("batch without the prepare step")
    alone, _ = await run("one by one")

    assert batched == alone
    assert unprepared_story == alone
    messages = batched["messages"]
    assert [m for m in messages if m[0] == "orphan"] == []
    assert {n[6] for n in batched["notices"] if n[0] == "orphan"} == {"waits"}
    survey = {(m[2], m[3]) for m in messages if m[0] == "changed" and m[1] == "survey"}
    assert survey == {("in_app", "en"), ("sms", "en")}  # M-A's: no e-mail, English
    assert {m[2] for m in messages if m[0] == "fresh"} == {"in_app", "email"}  # M-C's: no SMS
    assert {m[2] for m in messages if m[0] == "late"} == {"in_app", "email", "sms"}
    # moved: the decision to the contact its documents request brought in the batch, the survey to the latest
    assert {(m[1], m[4], m[2]) for m in messages if m[0] == "moved"} == {
        *(("documents_requested", "M-B", channel) for channel in ("in_app", "email", "sms")),  # before the batch
        *(("documents_requested", "M-C", channel) for channel in ("in_app", "email")),  # M-C's: no SMS
        *(("claim_decided", "M-C", channel) for channel in ("in_app", "email")),
        *(("claim_received", "M-A", channel) for channel in ("in_app", "sms")),  # M-A's: no e-mail
        *(("survey", "M-A", channel) for channel in ("in_app", "sms")),
    }
    decided = {m[11] for m in messages if m[0] == "moved" and m[1] == "claim_decided" and m[2] == "email"}
    assert decided == {"first@example.com"}
    assert {(m[1], m[2]) for m in messages if m[0] == "waited"} == {
        (kind, channel) for kind in ("claim_decided", "claim_received") for channel in ("in_app", "email", "sms")
    }
    # one survey per claim and decision: fresh's payment and closed's find theirs, closed's re-decision has its own
    assert [s[:2] for s in batched["surveys"]] == sorted(
        [("changed", "1"), ("closed", "1"), ("closed", "2"), ("fresh", "1"), ("known", "1"), ("moved", "1")]
    )
    surveyed = [(m[0], m[8]) for m in messages if m[1] == "survey" and m[2] == "in_app" and m[0] in ("fresh", "closed")]
    assert sorted(surveyed) == [
        ("closed", "ClaimAdjudicated"),
        ("closed", "PaymentCompleted"),
        ("fresh", "ClaimAdjudicated"),
    ]
    # the inbox; the contacts of fresh, moved and waited, which their first events bring, stored in one statement
    # instead of three, and those of known, late, changed, orphan and closed, which look theirs up first, read in
    # one instead of five; the recipient upserts of the contacts that come after an earlier event of their claim
    # (moved's second, changed's, late's); waited's stored notices; the hospital's contact; the outbox; the new
    # rows, surveys with them (one statement on PostgreSQL, one per table on SQLite); waited's notice planned
    writes = 4 if runtime.db.is_sqlite else 1
    assert (in_batch, without_prepare) == (10 + writes, 16 + writes)


async def test_a_survey_is_recorded_once_per_claim_and_decision(service):
    """Without planning's contact lookup, the repository looks the claim's surveys up itself (once per
    transaction); a survey of a claim's decision that has one, stored or added in the same transaction, is not
    recorded."""
    db = service.app.state.runtime.db
    claim = f"C-{uuid.uuid4().hex[:10]}"
    now = datetime.now(UTC)

    def survey(version: int) -> dict[str, Any]:
        return {
            "survey_id": str(uuid.uuid4()),
            "claim_id": claim,
            "decision_version": version,
            "member_id": "M-A",
            "closed_as": "paid",
            "source_event_id": uuid.uuid4(),
            "created_at": now,
            "expires_at": now + timedelta(days=30),
        }

    async with db.uow() as uow:
        surveys = SurveyRepository(uow.session)
        assert await surveys.add(**survey(1))
        assert not await surveys.add(**survey(1))
        assert await surveys.add(**survey(2))
    async with db.uow() as uow:
        surveys = SurveyRepository(uow.session)
        assert not await surveys.add(**survey(2))
        assert await surveys.add(**survey(3))
    async with db.engine.connect() as conn:
        stored = (await conn.execute(text(f"SELECT decision_version FROM surveys WHERE claim_id = '{claim}'"))).all()
    assert sorted(version for (version,) in stored) == [1, 2, 3]

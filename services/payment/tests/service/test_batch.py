"""A consumer's batch: several claims' events in one transaction, their payee details recorded and their decisions'
contexts read for all of them at once, and everything as one by one (on PostgreSQL and the embedded mode's SQLite)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from claims_contracts.envelope import EventEnvelope, EventPayload
from claims_payment.app import create_app
from claims_payment.events.handlers import handlers
from claims_platform.bus.memory import InMemoryBus
from claims_platform.inbox import IdempotentConsumer
from claims_platform.testing import apply_events, record_published, serve

ROLES = ("known", "fresh", "early", "waiting", "redecided", "returned", "stale", "hospital", "unregistered")
OTHER_ACCOUNT = "6222020200001111111"


@dataclass
class Service:
    app: FastAPI
    sqlite: bool


@pytest.fixture(params=["postgresql", "sqlite"])
async def service(request, harness, tmp_path) -> AsyncIterator[Service]:
    """The service on PostgreSQL (and Kafka), or on SQLite and the in-process bus (the embedded mode's), its bank
    worker off (nothing is sent: the payments stay as the events left them)."""
    if request.param == "postgresql":
        app = create_app(harness.settings(worker_enabled=False))
    else:
        settings = harness.settings(worker_enabled=False, database_url=f"sqlite+aiosqlite:///{tmp_path / 'pay.db'}")
        app = create_app(settings, bus=InMemoryBus())
    async with serve(app):
        yield Service(app, request.param == "sqlite")


def _events(h: Any, claims: dict[str, str]) -> tuple[list[EventPayload], list[EventPayload]]:
    """What comes before the batch (each in its own transaction), and the batch, for one set of claims."""
    known, fresh, early, waiting, redecided, returned, stale, hospital, unregistered = (claims[r] for r in ROLES)
    first = h.received(fresh)
    assert first.bank_account is not None
    other = first.model_copy(
        update={"bank_account": first.bank_account.model_copy(update={"account_number": OTHER_ACCOUNT})}
    )
    before: list[EventPayload] = [
        h.received(known),
        h.adjudicated(waiting, 1, "450.00"),  # waits for the member's account
        h.received(redecided),
        h.adjudicated(redecided, 1, "450.00"),
        h.received(returned),
        h.adjudicated(returned, 1, "450.00"),  # (then returned by the bank, below)
        h.received(stale),
        h.adjudicated(stale, 2, "450.00"),
        h.received(hospital, payee="provider", provider_id=f"H-{hospital}"),
    ]
    batch: list[EventPayload] = [
        h.adjudicated(known, 1, "450.00"),  # read ahead: pays the member's stored account
        first,  # recorded ahead ...
        h.adjudicated(redecided, 2, "600.00"),  # read ahead: pays 150.00 more
        h.adjudicated(early, 1, "450.00"),  # read ahead: no account yet, waits ...
        h.received(waiting),  # recorded ahead: releases the waiting payment
        other,  # ... the second details change nothing (first wins) ...
        h.adjudicated(fresh, 1, "450.00"),  # ... and the decision pays the first account (read as before)
        h.adjudicated(returned, 2, "450.00"),  # read ahead: supersedes the returned payment, pays it all again
        h.adjudicated(redecided, 3, "500.00"),  # the claim's second decision (read as before): 100.00 to recover
        h.adjudicated(stale, 1, "300.00"),  # read ahead: stale
        h.received(early),  # ... released by the details (read as before)
        h.adjudicated(hospital, 1, "450.00", payee="provider", provider_id=f"H-{hospital}"),  # registered account
        h.adjudicated(unregistered, 1, "450.00", payee="provider", provider_id=f"H-{unregistered}"),  # waits
        h.adjudicated(redecided, 2, "600.00"),  # delivered again (another event id): already applied
    ]
    return before, batch


_STORY = {
    "payees": "SELECT claim_id, member_id, provider_id, payee, currency, account_holder, account_number_enc,"
    " account_last4, bank_code FROM claim_payees r",
    "decisions": "SELECT claim_id, decision_version, outcome, payable, currency, action, amount, recovery_waived"
    " FROM decisions r",
    "payments": "SELECT claim_id, decision_version, member_id, provider_id, payee, currency, amount, status,"
    " hold_reason, creditor_name, account_number_enc, account_last4, bank_code, attempts, superseded_by_version,"
    " CASE WHEN next_attempt_at = created_at THEN 'at creation' END FROM payments r",
    "overpayments": "SELECT claim_id, decision_version, amount, currency, payee FROM overpayments r",
    "ledger": "SELECT r.claim_id, row_number() OVER (PARTITION BY r.claim_id ORDER BY r.id), r.kind, r.account,"
    " r.amount, p.decision_version FROM ledger_entries r LEFT JOIN payments p ON p.id = r.payment_id",
}
"""What a set of claims' events left (``r`` the table of the claims' rows), without generated ids and times;
account numbers decrypted."""


async def _story(svc: Service, claims: dict[str, str], published: list[EventEnvelope]) -> dict[str, list[Any]]:
    """Everything the events left for a set of claims, their ids replaced by their roles."""
    roles = {claim_id: role for role, claim_id in claims.items()}
    cipher = svc.app.state.payment_service.cipher

    def plain(value: Any) -> str:
        value = str(value)
        if value.startswith("gAAAA"):  # a Fernet token
            value = cipher.decrypt(value)
        for claim_id, role in roles.items():
            value = value.replace(claim_id, role)
        return value

    story: dict[str, list[Any]] = {}
    ids = ", ".join(f"'{claim_id}'" for claim_id in claims.values())
    async with svc.app.state.runtime.db.engine.connect() as conn:
        for name, sql in _STORY.items():
            rows = (await conn.execute(text(f"{sql} WHERE r.claim_id IN ({ids})"))).all()
            story[name] = sorted(tuple(plain(value) for value in row) for row in rows)
    story["published"] = sorted(
        (
            plain(e.claim_id),
            e.event_type,
            *(f"{k}={plain(v)}" for k, v in sorted(e.payload.items()) if k != "payment_id"),
        )
        for e in published
        if e.claim_id in roles
    )
    return story


async def test_a_batch_of_several_claims_events_is_applied_as_one_by_one(service, harness, monkeypatch):
    """One batch mixing nine claims' situations: decisions first in the batch (read ahead: a stored account, none
    yet, a hospital's account or none, a second decision, a returned payment superseded, a stale decision),
    details first in the batch (recorded ahead: with a payment waiting for them, or followed by other details and
    the decision), and a claim's later events (which read as before). Every payee, decision, payment,
    overpayment, ledger posting and published event is the same as with each event in a transaction of its own,
    and as with the same batch without its prepare step, which takes more statements."""
    runtime = service.app.state.runtime
    (consumer,) = runtime.consumers
    unprepared = IdempotentConsumer(consumer.name, runtime.db, handlers(service.app.state.payment_service))
    published = record_published(monkeypatch)

    async def run(way: str) -> tuple[dict[str, list[Any]], int]:
        claims = {role: harness.new_claim_id() for role in ROLES}
        before, batch = _events(harness, claims)
        for payload in before:
            assert await consumer.handle(EventEnvelope.wrap(payload, claim_id=payload.claim_id, producer="test"))
        async with runtime.db.uow() as uow:
            await service.app.state.payment_service.register_provider_account(
                uow,
                f"H-{claims['hospital']}",
                holder="北京协和医院",
                account_number="6222020200009876543",
                bank_code="ICBC",
                by="fin-1",
            )
            await uow.session.execute(
                text("UPDATE payments SET status = 'returned' WHERE claim_id = :c"), {"c": claims["returned"]}
            )
        envelopes = [(EventEnvelope.wrap(p, claim_id=p.claim_id, producer="test"), p) for p in batch]
        statements = await apply_events(way, consumer, envelopes, unprepared=unprepared)
        return await _story(service, claims, published), statements

    batched, in_batch = await run("batch")
    unprepared_story, without_prepare = await run("batch without its prepare step")
    alone, _ = await run("one by one")

    assert batched == alone
    assert unprepared_story == alone
    # (amount, hold, account, superseded by) of each payment; SQLite keeps 450.00 as 450
    payments = {(p[0], int(p[1])): (Decimal(p[6]), p[8], p[10], p[14]) for p in batched["payments"]}
    member = "6222020200001234567"
    assert payments == {
        ("known", 1): (Decimal("450.00"), "None", member, "None"),
        ("fresh", 1): (Decimal("450.00"), "None", member, "None"),  # the first details' account
        ("early", 1): (Decimal("450.00"), "None", member, "None"),  # released by the details
        ("waiting", 1): (Decimal("450.00"), "None", member, "None"),
        ("redecided", 1): (Decimal("450.00"), "None", member, "None"),
        ("redecided", 2): (Decimal("150.00"), "None", member, "None"),
        ("returned", 1): (Decimal("450.00"), "None", member, "2"),
        ("returned", 2): (Decimal("450.00"), "None", member, "None"),
        ("stale", 2): (Decimal("450.00"), "None", member, "None"),  # (version 1 pays nothing)
        ("hospital", 1): (Decimal("450.00"), "None", "6222020200009876543", "None"),
        ("unregistered", 1): (Decimal("450.00"), "awaiting_provider_account", "None", "None"),
    }
    assert [(o[0], o[1], Decimal(o[2])) for o in batched["overpayments"]] == [("redecided", "3", Decimal("100.00"))]
    # PostgreSQL: the inbox; the locks, the details of fresh and waiting recorded and the contexts of the seven
    # claims whose first event is a decision read, three statements for all; then what later events of a claim
    # read for themselves (fresh's second details and decision, early's details, redecided's two later decisions
    # and the pending rows written before those), the waiting payments loaded with their accounts, the supersede,
    # the released payments' UPDATEs and the outbox: 19 (26 with only the locks taken at once, as before). SQLite
    # reads contexts per event, and records the two claims' details with one INSERT and one SELECT instead of two.
    assert (in_batch, without_prepare) == ((32, 34) if service.sqlite else (19, 34))

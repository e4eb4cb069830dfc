"""Migration inta0003 fills the report facts of claims archived before it from what the archive held."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from claims_intake.app import MIGRATIONS
from claims_platform.migrations import upgrade

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(hour: int) -> datetime:
    return T0.replace(hour=hour)


async def test_existing_claims_are_backfilled(fresh_pg_url):
    await asyncio.to_thread(upgrade, MIGRATIONS, fresh_pg_url, "inta0002")
    data = {
        "diagnoses": [{"code": "K29.7", "primary": False}, {"code": "J18.9", "primary": True}],
        "lines": [
            {"line_no": 1, "category": "consultation", "amount": "200.00"},
            {"line_no": 2, "category": "drugs", "amount": "300.00"},
        ],
    }
    decision = {
        "version": 2,
        "payable": "100.00",
        "denial_reasons": ["NOT_COVERED"],
        "lines": [{"line_no": 1, "payable": "100.00"}, {"line_no": 2, "payable": "0.00"}],
    }
    engine = create_async_engine(fresh_pg_url)
    try:
        async with engine.begin() as conn:
            common = {
                "status": "payment_scheduled",
                "lifecycle": "in_review",
                "claim_type": "outpatient",
                "policy_number": "P",
                "member_id": "M",
                "provider_id": "H",
                "submitted_by": "u",
                "submitted_by_provider": False,
                "channel": "api",
                "submitted_at": T0,
                "updated_at": at(20),
                "received_at": T0,
                "currency": "CNY",
                "payee": "member",
                "charged": Decimal("500.00"),
                "missing": "[]",
                "deciders": "[]",
            }
            insert = text(
                "INSERT INTO claims (claim_id, status, lifecycle, claim_type, policy_number, member_id, provider_id,"
                " submitted_by, submitted_by_provider, channel, submitted_at, updated_at, received_at, currency,"
                " payee, charged, data, missing_documents, decision, deciders, pended) VALUES (:id, :status,"
                " :lifecycle, :claim_type, :policy_number, :member_id, :provider_id, :submitted_by,"
                " :submitted_by_provider, :channel, :submitted_at, :updated_at, :received_at, :currency, :payee,"
                " :charged, :data, :missing, :decision, :deciders, :pended)"
            )
            await conn.execute(
                insert,
                {**common, "id": "C-1", "data": json.dumps(data), "decision": json.dumps(decision), "pended": False},
            )
            await conn.execute(
                insert, {**common, "id": "C-2", "data": json.dumps(data), "decision": None, "pended": True}
            )
            timeline = text(
                "INSERT INTO timeline (claim_id, at, actor, kind, details) VALUES (:c, :at, 'x', :kind, :details)"
            )
            for claim_id, hour, kind, details in (
                ("C-1", 10, "decided", {"automatic": True}),
                ("C-1", 11, "payment_settled", {}),
                ("C-1", 12, "feedback_received", {"survey_id": "S-1", "score": 4}),
                ("C-1", 13, "pended", {}),
                ("C-1", 15, "decided", {"automatic": False}),
                ("C-2", 14, "pended", {}),
            ):
                await conn.execute(
                    timeline, {"c": claim_id, "at": at(hour), "kind": kind, "details": json.dumps(details)}
                )
        await asyncio.to_thread(upgrade, MIGRATIONS, fresh_pg_url, "head")
        async with engine.connect() as conn:
            claims = {
                r.claim_id: r
                for r in await conn.execute(
                    text(
                        "SELECT claim_id, primary_diagnosis, icd10_chapter, payable, decision_automatic,"
                        " first_decided_at, first_paid_at, pended_at FROM claims"
                    )
                )
            }
            lines = (
                await conn.execute(
                    text(
                        "SELECT claim_id, line_no, category, charged, payable FROM claim_lines"
                        " ORDER BY claim_id, line_no"
                    )
                )
            ).all()
            reasons = (await conn.execute(text("SELECT claim_id, reason FROM claim_denial_reasons"))).all()
            feedback = (await conn.execute(text("SELECT survey_id, claim_id, score, received_at FROM feedback"))).all()
    finally:
        await engine.dispose()
    one, two = claims["C-1"], claims["C-2"]
    assert (one.primary_diagnosis, one.icd10_chapter, one.payable) == ("J18.9", "X", Decimal("100.00"))
    assert one.decision_automatic is False  # the latest decision was a human's
    assert (one.first_decided_at, one.first_paid_at, one.pended_at) == (at(10), at(11), None)
    assert (two.payable, two.decision_automatic, two.first_decided_at, two.pended_at) == (None, None, None, at(14))
    assert [tuple(r) for r in lines] == [
        ("C-1", 1, "consultation", Decimal("200.00"), Decimal("100.00")),
        ("C-1", 2, "drugs", Decimal("300.00"), Decimal("0.00")),
        ("C-2", 1, "consultation", Decimal("200.00"), None),
        ("C-2", 2, "drugs", Decimal("300.00"), None),
    ]
    assert [tuple(r) for r in reasons] == [("C-1", "NOT_COVERED")]
    assert [tuple(r) for r in feedback] == [("S-1", "C-1", 4, at(12))]

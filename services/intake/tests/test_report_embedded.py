"""The reports in the embedded mode: SQLite and the in-process bus give the same figures."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from claims_contracts.envelope import EventEnvelope
from claims_contracts.events import ClaimAdjudicated, ClaimPended, DecisionLine, PaymentCompleted
from claims_intake.app import create_app
from claims_intake.config import IntakeSettings
from claims_platform.bus.base import Message
from claims_platform.bus.memory import InMemoryBus
from claims_platform.outbox import envelope_headers
from claims_platform.testing import bearer, serve


def _message(payload, occurred_at: datetime, producer: str) -> Message:
    env = EventEnvelope.wrap(payload, claim_id=payload.claim_id, producer=producer, occurred_at=occurred_at)
    headers = envelope_headers(env.event_type, env.correlation_id, str(env.event_id))
    return Message(payload.topic, env.claim_id.encode(), env.model_dump_json().encode(), headers)


async def test_sqlite_report_by_week_and_month(tmp_path, jwt_secret, kit, wait_for):
    now = {"t": datetime(2026, 3, 2, 9, 0, tzinfo=UTC)}
    settings = IntakeSettings(
        environment="development", data_dir=tmp_path, jwt_secret=jwt_secret, expiry_job_enabled=False
    )
    bus = InMemoryBus()
    app = create_app(settings, bus=bus, clock=lambda: now["t"])
    admin = bearer(jwt_secret, "admin", sub="admin-1")
    async with serve(app) as client:
        await bus.start()
        try:
            ids = []
            for when in (datetime(2026, 3, 1, 23, 30), datetime(2026, 3, 2, 9, 0), datetime(2026, 4, 1, 8, 0)):
                now["t"] = when.replace(tzinfo=UTC)
                body = kit.make_claim(docs=kit.ALL_OUTPATIENT_DOCS)
                for line in body["lines"]:
                    line["service_date"] = "2026-02-20"
                resp = await client.post("/v1/claims", json=body, headers=admin)
                assert resp.status_code == 201, resp.text
                ids.append((resp.json()["claim_id"], body))
            first, body = ids[1]
            decided = datetime(2026, 3, 2, 12, 30, tzinfo=UTC)
            decision = ClaimAdjudicated(
                claim_id=first,
                decision_version=1,
                outcome="approved",
                plan_code="STD-2026",
                plan_version=1,
                policy_number=body["policy_number"],
                member_id=body["member"]["member_id"],
                provider_id="H-001",
                payee="member",
                currency="CNY",
                charged=Decimal("1100.00"),
                allowed=Decimal("1100.00"),
                payable=Decimal("450.00"),
                member_responsibility=Decimal("650.00"),
                other_insurance=Decimal("0.00"),
                lines=[
                    DecisionLine(line_no=n, category=c, charged=Decimal(a), allowed=Decimal(a), payable=Decimal(p))
                    for n, c, a, p in (
                        (1, "consultation", "200", "0"),
                        (2, "examination", "600", "240"),
                        (3, "drugs", "300", "210"),
                    )
                ],
                decided_by="adjudication",
                automatic=True,
                decided_at=decided,
            )
            settled = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
            payment = PaymentCompleted(
                claim_id=first,
                payment_id="P-1",
                decision_version=1,
                amount=Decimal("450.00"),
                currency="CNY",
                payee="member",
                settled_at=settled,
            )
            pended = ClaimPended(
                claim_id=ids[2][0],
                review_id="R-1",
                reasons=["HIGH_AMOUNT"],
                currency="CNY",
                charged=Decimal("1100.00"),
                payable=Decimal("450.00"),
            )
            await bus.publish([_message(decision, decided, "adjudication")])
            await bus.publish([_message(payment, settled, "payment")])
            await bus.publish([_message(pended, datetime(2026, 4, 1, 9, 0, tzinfo=UTC), "adjudication")])

            async def settled_in() -> bool:
                got = await client.get(f"/v1/claims/{first}", headers=admin)
                pend = await client.get(f"/v1/claims/{ids[2][0]}", headers=admin)
                return got.json()["status"] == "paid" and pend.json()["status"] == "pended"

            await wait_for(settled_in, timeout=15)
            now["t"] = datetime(2026, 4, 5, 9, 0, tzinfo=UTC)
            params = {"from": "2026-03-01", "to": "2026-04-01", "group_by": "week"}
            report = (await client.get("/v1/reports/claims", params=params, headers=admin)).json()
            weeks = [(p["period"], p["total_claims"], p["payable"], p["paid"]) for p in report["series"]]
            assert weeks == [
                ("2026-02-23", 1, "0.00", "0.00"),
                ("2026-03-02", 1, "450.00", "450.00"),
                ("2026-03-09", 0, "0.00", "0.00"),
                ("2026-03-16", 0, "0.00", "0.00"),
                ("2026-03-23", 0, "0.00", "0.00"),
                ("2026-03-30", 1, "0.00", "0.00"),
            ]
            assert report["turnaround_hours"] == {
                "received_to_decided": {"claims": 1, "median": 3.5, "p90": 3.5},
                "received_to_paid": {"claims": 1, "median": 24.0, "p90": 24.0},
            }
            assert report["amounts"]["by_category"]["examination"] == {
                "claims": 3,
                "charged": "1800.00",
                "payable": "240.00",
            }
            assert report["review_backlog"]["3_to_7_days"] == 1
            months = {**params, "group_by": "month"}
            monthly = (await client.get("/v1/reports/claims", params=months, headers=admin)).json()
            assert [(p["period"], p["total_claims"]) for p in monthly["series"]] == [
                ("2026-03-01", 2),
                ("2026-04-01", 1),
            ]
            days = {**params, "group_by": "day"}
            daily = (await client.get("/v1/reports/claims", params=days, headers=admin)).json()
            assert {p["period"]: p["total_claims"] for p in daily["series"] if p["total_claims"]} == {
                "2026-03-01": 1,
                "2026-03-02": 1,
                "2026-04-01": 1,
            }
            assert 'intake_claims_by_status{status="paid"} 1.0' in (await client.get("/metrics")).text
        finally:
            await bus.stop()

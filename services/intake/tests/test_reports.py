"""Reports: an archive built from real events over Kafka, every figure checked against hand-computed values.

The claims (submitted with the clock pinned; complete claims are received when submitted). Lines are
consultation 200, examination 600, drugs 300, surgery 5000, room 1000; "full" is the first three.

- A 03-02 09:00, H-001, J18.9 (X), full: auto approved 450 (0/240/210) at 11:00, paid 03-03 09:00, score 5 → paid
- B 03-03 10:00, H-001, K29.7 (XI), consultation + drugs: pended 12:00; a human partially approves 100
  (100/0, NOT_COVERED) 03-05 10:00; payment scheduled → payment_scheduled
- C 03-10 08:00, H-002, J18.9 (X), examination: auto denied (WAITING_PERIOD) 14:00; score 2 → denied
- D 03-11 09:00, H-002, S72.0 (XIX), surgery + room: pended 10:00 → pended
- E 03-12 09:00, H-001, J18.9 (X), full, only the claim form → pending_documents
- F 03-13 09:00, H-001, J18.9 (X), consultation + drugs: auto approved 300 (100/200) 10:00, paid 21:00, score 4;
  disputed 03-14; a human approves 400 (150/250) 03-16; the difference scheduled → payment_scheduled
- G 03-31 23:00, H-003, J18.9 (X), full: pended 04-02 06:00 → pended
- X1 02-28 23:59 (outside the period), full: auto approved 450, paid, score 1 → paid
- X2 04-01 00:00 (outside the period, but in the backlog), full: pended at once → pended

The report runs at 2026-04-02 12:00 for 2026-03-01 .. 2026-03-31.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from claims_contracts.events import (
    Adjustment,
    ClaimAdjudicated,
    ClaimPended,
    DecisionLine,
    FeedbackReceived,
    PaymentCompleted,
    PaymentScheduled,
)
from claims_contracts.topics import ADJUDICATION_TOPIC, NOTIFICATION_TOPIC, PAYMENT_TOPIC

FROM, TO = "2026-03-01", "2026-03-31"
NOW = datetime(2026, 4, 2, 12, 0, tzinfo=UTC)
CONSULTATION = {"category": "consultation", "code": "C-001", "description": "门诊诊查", "unit_price": "200.00"}
EXAMINATION = {"category": "examination", "code": "E-100", "description": "胸部CT", "unit_price": "600.00"}
DRUGS = {"category": "drugs", "code": "D-555", "description": "阿莫西林", "unit_price": "300.00"}
SURGERY = {"category": "surgery", "code": "S-001", "description": "手术", "unit_price": "5000.00"}
ROOM = {"category": "room", "code": "R-001", "description": "床位", "unit_price": "1000.00"}


def at(text: str) -> datetime:
    """A UTC instant of 2026 written as MM-DD HH:MM."""
    return datetime.strptime(f"2026-{text}", "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def lines(*items: dict[str, str]) -> list[dict[str, str]]:
    return [
        {**item, "line_no": n, "service_date": "2026-02-20", "quantity": "1", "amount": item["unit_price"]}
        for n, item in enumerate(items, start=1)
    ]


class Archive:
    """Drives one claim's story into intake as the other services would."""

    def __init__(self, intake: Any, claim: Any, kit: Any) -> None:
        self.intake = intake
        self.claim = claim
        self.kit = kit
        self.staff = intake.auth("auditor", sub="auditor-1")
        self.bodies: dict[str, dict[str, Any]] = {}

    async def submit(self, when: str, provider: str, code: str, items: list[dict[str, str]], complete=True) -> str:
        self.intake.clock.pinned = at(when)
        docs = self.kit.ALL_OUTPATIENT_DOCS if complete else ("claim_form",)
        body = self.claim(provider_id=provider, docs=docs, diagnoses=[{"code": code, "primary": True}], lines=items)
        resp = await self.intake.client.post("/v1/claims", json=body, headers=self.intake.admin())
        assert resp.status_code == 201, resp.text
        claim_id = resp.json()["claim_id"]
        self.bodies[claim_id] = body
        return claim_id

    async def pend(self, claim_id: str, when: str, reason: str = "HIGH_AMOUNT") -> None:
        charged = sum(Decimal(line["amount"]) for line in self.bodies[claim_id]["lines"])
        event = ClaimPended(
            claim_id=claim_id, review_id=f"R-{claim_id}", reasons=[reason], currency="CNY", charged=charged, payable=0
        )
        await self.intake.feed(ADJUDICATION_TOPIC, event, claim_id, "adjudication", occurred_at=at(when))
        await self.intake.wait_status(claim_id, "pended", self.staff)

    async def decide(
        self,
        claim_id: str,
        when: str,
        outcome: str,
        payables: list[str],
        *,
        automatic: bool,
        version: int = 1,
        denial: str | None = None,
    ) -> None:
        body = self.bodies[claim_id]
        decision_lines = []
        for line, payable in zip(body["lines"], payables, strict=True):
            cut = Decimal(line["amount"]) - Decimal(payable)
            adjustments = (
                [
                    Adjustment(
                        reason=denial or "COINSURANCE",
                        group="PR",
                        carc="2",
                        amount=cut,
                        explanation_zh="说明",
                        explanation_en="why",
                    )
                ]
                if cut
                else []
            )
            decision_lines.append(
                DecisionLine(
                    line_no=line["line_no"],
                    category=line["category"],
                    charged=Decimal(line["amount"]),
                    allowed=Decimal(line["amount"]),
                    payable=Decimal(payable),
                    adjustments=adjustments,
                )
            )
        charged = sum(Decimal(line["amount"]) for line in body["lines"])
        payable = sum(Decimal(p) for p in payables)
        event = ClaimAdjudicated(
            claim_id=claim_id,
            decision_version=version,
            outcome=outcome,
            plan_code="STD-2026",
            plan_version=1,
            policy_number=body["policy_number"],
            member_id=body["member"]["member_id"],
            provider_id=body["provider"]["provider_id"],
            payee="member",
            currency="CNY",
            charged=charged,
            allowed=charged,
            payable=payable,
            member_responsibility=charged - payable,
            other_insurance=Decimal("0.00"),
            lines=decision_lines,
            denial_reasons=[denial] if denial else [],
            decided_by="adjudication" if automatic else "adj-1",
            automatic=automatic,
            decided_at=at(when),
        )
        await self.intake.feed(ADJUDICATION_TOPIC, event, claim_id, "adjudication", occurred_at=at(when))
        await self.wait(claim_id, lambda c: (c.get("decision") or {}).get("version") == version)

    async def pay(self, claim_id: str, amount: str, *, version: int = 1, settled: str | None = None) -> None:
        payment = {"claim_id": claim_id, "payment_id": f"P-{claim_id}-{version}", "decision_version": version}
        common = {**payment, "amount": Decimal(amount), "currency": "CNY", "payee": "member"}
        await self.intake.feed(PAYMENT_TOPIC, PaymentScheduled(**common), claim_id, "payment")
        if settled is None:
            await self.intake.wait_status(claim_id, "payment_scheduled", self.staff)
            return
        done = PaymentCompleted(**common, settled_at=at(settled))
        await self.intake.feed(PAYMENT_TOPIC, done, claim_id, "payment", occurred_at=at(settled))
        await self.intake.wait_status(claim_id, "paid", self.staff)

    async def feedback(self, claim_id: str, score: int) -> None:
        event = FeedbackReceived(claim_id=claim_id, survey_id=f"S-{claim_id}", score=score, comment=None)
        await self.intake.feed(NOTIFICATION_TOPIC, event, claim_id, "notification")

        async def answered() -> bool:
            page = await self.intake.client.get(f"/v1/claims/{claim_id}/timeline?limit=500", headers=self.staff)
            return "feedback_received" in [e["kind"] for e in page.json()["items"]]

        await self.until(answered)

    async def wait(self, claim_id: str, check: Any) -> None:
        async def ok() -> bool:
            got = await self.intake.client.get(f"/v1/claims/{claim_id}", headers=self.staff)
            return bool(check(got.json()))

        await self.until(ok)

    @staticmethod
    async def until(check: Any, within: float = 30.0) -> None:
        deadline = time.monotonic() + within
        while not await check():
            assert time.monotonic() < deadline, "the archive never caught up"
            await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
async def built(intake, kit) -> dict[str, str]:
    """The claims of the module docstring, in the archive; their ids by letter."""
    arc = Archive(intake, kit.make_claim, kit)
    ids: dict[str, str] = {}
    full = lines(CONSULTATION, EXAMINATION, DRUGS)
    ids["A"] = await arc.submit("03-02 09:00", "H-001", "J18.9", full)
    await arc.decide(ids["A"], "03-02 11:00", "approved", ["0.00", "240.00", "210.00"], automatic=True)
    await arc.pay(ids["A"], "450.00", settled="03-03 09:00")
    await arc.feedback(ids["A"], 5)

    ids["B"] = await arc.submit("03-03 10:00", "H-001", "K29.7", lines(CONSULTATION, DRUGS))
    await arc.pend(ids["B"], "03-03 12:00")
    await arc.decide(
        ids["B"], "03-05 10:00", "partially_approved", ["100.00", "0.00"], automatic=False, denial="NOT_COVERED"
    )
    await arc.pay(ids["B"], "100.00")

    ids["C"] = await arc.submit("03-10 08:00", "H-002", "J18.9", lines(EXAMINATION))
    await arc.decide(ids["C"], "03-10 14:00", "denied", ["0.00"], automatic=True, denial="WAITING_PERIOD")
    await arc.feedback(ids["C"], 2)

    ids["D"] = await arc.submit("03-11 09:00", "H-002", "S72.0", lines(SURGERY, ROOM))
    await arc.pend(ids["D"], "03-11 10:00")

    ids["E"] = await arc.submit("03-12 09:00", "H-001", "J18.9", full, complete=False)

    ids["F"] = await arc.submit("03-13 09:00", "H-001", "J18.9", lines(CONSULTATION, DRUGS))
    await arc.decide(ids["F"], "03-13 10:00", "approved", ["100.00", "200.00"], automatic=True)
    await arc.pay(ids["F"], "300.00", settled="03-13 21:00")
    await arc.feedback(ids["F"], 4)
    intake.clock.pinned = at("03-14 09:00")
    disputed = await intake.client.post(
        f"/v1/claims/{ids['F']}/disputes", json={"reason": "too little"}, headers=intake.admin()
    )
    assert disputed.status_code == 201, disputed.text
    await arc.pend(ids["F"], "03-14 09:05", "DISPUTE")
    await arc.decide(ids["F"], "03-16 09:00", "approved", ["150.00", "250.00"], automatic=False, version=2)
    await arc.pay(ids["F"], "100.00", version=2)

    ids["G"] = await arc.submit("03-31 23:00", "H-003", "J18.9", full)
    await arc.pend(ids["G"], "04-02 06:00")

    ids["X1"] = await arc.submit("02-28 23:59", "H-001", "J18.9", full)
    await arc.decide(ids["X1"], "03-01 01:00", "approved", ["0.00", "240.00", "210.00"], automatic=True)
    await arc.pay(ids["X1"], "450.00", settled="03-01 02:00")
    await arc.feedback(ids["X1"], 1)

    ids["X2"] = await arc.submit("04-01 00:00", "H-001", "J18.9", full)
    await arc.pend(ids["X2"], "04-01 00:00")

    intake.clock.pinned = NOW
    return ids


def _empty_turnaround() -> dict[str, Any]:
    empty = {"claims": 0, "median": None, "p90": None}
    return {"received_to_decided": empty, "received_to_paid": empty}


def _statuses(**counts: int) -> dict[str, int]:
    names = [
        "received",
        "pending_documents",
        "in_review",
        "pended",
        "approved",
        "partially_approved",
        "denied",
        "payment_scheduled",
        "paid",
        "payment_failed",
        "disputed",
        "withdrawn",
        "expired",
    ]
    return {name: counts.get(name, 0) for name in names}


async def test_every_figure_matches_the_claims(intake, built):
    resp = await intake.client.get(
        "/v1/reports/claims",
        params={"from": FROM, "to": TO, "group_by": "week"},
        headers=intake.auth("auditor", sub="aud-1"),
    )
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert (report["from"], report["to"], report["group_by"]) == (FROM, TO, "week")
    assert report["total_claims"] == 7
    assert report["by_status"] == _statuses(paid=1, payment_scheduled=2, denied=1, pended=2, pending_documents=1)
    assert report["decided_claims"] == 4
    assert report["outcomes"] == {"approved": 2, "partially_approved": 1, "denied": 1}
    assert report["auto_adjudicated_claims"] == 2  # A and C; F's latest decision is a human's
    assert report["auto_adjudication_rate"] == 0.5
    assert report["approval_rate"] == 0.75
    assert report["denial_rate"] == 0.25
    assert report["top_denial_reasons"] == [
        {"reason": "NOT_COVERED", "claims": 1},
        {"reason": "WAITING_PERIOD", "claims": 1},
    ]
    # received -> first decision: A 2 h, B 48 h, C 6 h, F 1 h; received -> first settled: A 24 h, F 12 h
    assert report["turnaround_hours"] == {
        "received_to_decided": {"claims": 4, "median": 4.0, "p90": 48.0},
        "received_to_paid": {"claims": 2, "median": 18.0, "p90": 24.0},
    }
    amounts = report["amounts"]
    assert (amounts["charged"], amounts["payable"], amounts["paid"]) == ("10900.00", "950.00", "750.00")
    zero = {"claims": 0, "charged": "0.00", "payable": "0.00"}
    assert amounts["by_category"] == {
        "consultation": {"claims": 5, "charged": "1000.00", "payable": "250.00"},
        "examination": {"claims": 4, "charged": "2400.00", "payable": "240.00"},
        "imaging": zero,
        "drugs": {"claims": 5, "charged": "1500.00", "payable": "460.00"},
        "surgery": {"claims": 1, "charged": "5000.00", "payable": "0.00"},
        "room": {"claims": 1, "charged": "1000.00", "payable": "0.00"},
        "nursing": zero,
        "consumables": zero,
        "other": zero,
    }
    assert amounts["by_provider"] == {
        "H-001": {"claims": 4, "charged": "3200.00", "payable": "950.00", "paid": "750.00"},
        "H-002": {"claims": 2, "charged": "6600.00", "payable": "0.00", "paid": "0.00"},
        "H-003": {"claims": 1, "charged": "1100.00", "payable": "0.00", "paid": "0.00"},
    }
    assert amounts["by_icd10_chapter"] == {
        "X": {
            "title": "Diseases of the respiratory system",
            "codes": "J00-J99",
            "claims": 5,
            "charged": "4400.00",
            "payable": "850.00",
            "paid": "750.00",
        },
        "XI": {
            "title": "Diseases of the digestive system",
            "codes": "K00-K93",
            "claims": 1,
            "charged": "500.00",
            "payable": "100.00",
            "paid": "0.00",
        },
        "XIX": {
            "title": "Injury, poisoning and certain other consequences of external causes",
            "codes": "S00-T98",
            "claims": 1,
            "charged": "6000.00",
            "payable": "0.00",
            "paid": "0.00",
        },
    }
    # every claim pended now, wherever it was submitted: G 6 h, X2 36 h, D 22 days
    assert report["review_backlog"] == {
        "as_of": "2026-04-02T12:00:00Z",
        "total": 3,
        "under_1_day": 1,
        "1_to_3_days": 1,
        "3_to_7_days": 0,
        "over_7_days": 1,
    }
    assert report["satisfaction"] == {
        "answers": 3,
        "mean_score": 3.67,
        "by_score": {"1": 0, "2": 1, "3": 0, "4": 1, "5": 1},
    }
    series = report["series"]
    assert [(p["period"], p["from"], p["to"], p["total_claims"]) for p in series] == [
        ("2026-02-23", "2026-03-01", "2026-03-01", 0),
        ("2026-03-02", "2026-03-02", "2026-03-08", 2),
        ("2026-03-09", "2026-03-09", "2026-03-15", 4),
        ("2026-03-16", "2026-03-16", "2026-03-22", 0),
        ("2026-03-23", "2026-03-23", "2026-03-29", 0),
        ("2026-03-30", "2026-03-30", "2026-03-31", 1),
    ]
    week1, week2, last = series[1], series[2], series[5]
    assert week1["by_status"] == _statuses(paid=1, payment_scheduled=1)
    assert week1["outcomes"] == {"approved": 1, "partially_approved": 1, "denied": 0}
    assert (week1["auto_adjudication_rate"], week1["approval_rate"], week1["denial_rate"]) == (0.5, 1.0, 0.0)
    assert (week1["charged"], week1["payable"], week1["paid"]) == ("1600.00", "550.00", "450.00")
    assert week1["turnaround_hours"] == {
        "received_to_decided": {"claims": 2, "median": 25.0, "p90": 48.0},
        "received_to_paid": {"claims": 1, "median": 24.0, "p90": 24.0},
    }
    assert week2["by_status"] == _statuses(denied=1, pended=1, pending_documents=1, payment_scheduled=1)
    assert week2["outcomes"] == {"approved": 1, "partially_approved": 0, "denied": 1}
    assert (week2["auto_adjudication_rate"], week2["approval_rate"], week2["denial_rate"]) == (0.5, 0.5, 0.5)
    assert (week2["charged"], week2["payable"], week2["paid"]) == ("8200.00", "400.00", "300.00")
    assert week2["turnaround_hours"] == {
        "received_to_decided": {"claims": 2, "median": 3.5, "p90": 6.0},
        "received_to_paid": {"claims": 1, "median": 12.0, "p90": 12.0},
    }
    assert last["by_status"] == _statuses(pended=1)
    assert last["decided_claims"] == 0
    assert (last["auto_adjudication_rate"], last["approval_rate"], last["denial_rate"]) == (None, None, None)
    assert (last["charged"], last["payable"], last["paid"]) == ("1100.00", "0.00", "0.00")
    assert last["turnaround_hours"] == _empty_turnaround()
    assert (series[0]["by_status"], series[0]["charged"]) == (_statuses(), "0.00")


async def test_ungrouped_and_monthly_reports(intake, built):
    staff = intake.auth("supervisor", sub="sup-1")
    plain = (await intake.client.get("/v1/reports/claims", params={"from": FROM, "to": TO}, headers=staff)).json()
    assert (plain["series"], plain["group_by"], plain["total_claims"]) == (None, None, 7)
    monthly = (
        await intake.client.get(
            "/v1/reports/claims", params={"from": "2026-02-28", "to": "2026-04-01", "group_by": "month"}, headers=staff
        )
    ).json()
    assert [(p["period"], p["total_claims"], p["paid"]) for p in monthly["series"]] == [
        ("2026-02-01", 1, "450.00"),
        ("2026-03-01", 7, "750.00"),
        ("2026-04-01", 1, "0.00"),
    ]
    assert (monthly["total_claims"], monthly["satisfaction"]["answers"]) == (9, 4)
    daily = (
        await intake.client.get(
            "/v1/reports/claims", params={"from": FROM, "to": TO, "group_by": "day"}, headers=intake.admin()
        )
    ).json()
    assert len(daily["series"]) == 31
    assert {p["period"]: p["total_claims"] for p in daily["series"] if p["total_claims"]} == {
        "2026-03-02": 1,
        "2026-03-03": 1,
        "2026-03-10": 1,
        "2026-03-11": 1,
        "2026-03-12": 1,
        "2026-03-13": 1,
        "2026-03-31": 1,
    }


async def test_csv_holds_the_same_numbers(intake, built):
    params = {"from": FROM, "to": TO, "group_by": "week"}
    staff = intake.auth("auditor", sub="aud-1")
    report = (await intake.client.get("/v1/reports/claims", params=params, headers=staff)).json()
    resp = await intake.client.get("/v1/reports/claims", params=params, headers={**staff, "Accept": "text/csv"})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert list(rows[0]) == ["section", "period", "key", "metric", "value"]
    cell = {(r["section"], r["period"], r["key"], r["metric"]): r["value"] for r in rows}
    assert len(cell) == len(rows)  # every figure once
    assert cell["summary", "", "", "total_claims"] == "7"
    assert cell["summary", "", "", "approval_rate"] == "0.75"
    assert cell["summary", "", "", "auto_adjudication_rate"] == "0.5"
    assert Decimal(cell["summary", "", "", "charged"]) == Decimal("10900.00")
    assert cell["summary", "", "", "paid"] == "750.00"
    assert cell["summary", "", "received_to_decided", "turnaround_p90"] == "48.0"
    assert cell["summary", "", "pended", "claims_by_status"] == "2"
    assert cell["denial_reasons", "", "NOT_COVERED", "claims"] == "1"
    assert cell["by_category", "", "drugs", "payable"] == "460.00"
    assert cell["by_provider", "", "H-001", "paid"] == "750.00"
    assert cell["by_icd10_chapter", "", "XIX", "charged"] == "6000.00"
    assert cell["by_icd10_chapter", "", "X", "title"] == "Diseases of the respiratory system"
    assert cell["review_backlog", "", "over_7_days", "claims"] == "1"
    assert cell["satisfaction", "", "", "mean_score"] == "3.67"
    assert cell["series", "2026-03-09", "", "payable"] == "400.00"
    assert cell["series", "2026-03-30", "", "approval_rate"] == ""
    # every number of the JSON is in the CSV, as the same number
    for status, n in report["by_status"].items():
        assert int(cell["summary", "", status, "claims_by_status"]) == n
    for period in report["series"]:
        for metric in ("total_claims", "decided_claims", "auto_adjudicated_claims"):
            assert int(cell["series", period["period"], "", metric]) == period[metric]
        for metric in ("charged", "payable", "paid"):
            assert Decimal(cell["series", period["period"], "", metric]) == Decimal(period[metric])
        for span, figures in period["turnaround_hours"].items():
            for metric, value in figures.items():
                text = cell["series", period["period"], span, f"turnaround_{metric}"]
                assert (float(text) if text else None) == value
    for key, figures in report["amounts"]["by_provider"].items():
        for metric, value in figures.items():
            assert cell["by_provider", "", key, metric] == str(value)
    # JSON is preferred unless CSV is asked for more strongly
    both = {**staff, "Accept": "application/json, text/csv;q=0.5"}
    assert (await intake.client.get("/v1/reports/claims", params=params, headers=both)).json()["total_claims"] == 7


async def test_chart_draws_volumes_and_amounts(intake, built):
    resp = await intake.client.get(
        "/v1/reports/claims/chart.svg",
        params={"from": FROM, "to": TO, "group_by": "week"},
        headers=intake.auth("auditor", sub="aud-1"),
    )
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(resp.content)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    # static: no script fetched from elsewhere
    assert not [e for e in root.iter() if any(k.endswith("href") and "//" in v for k, v in e.attrib.items())]
    series: dict[int, list[str | None]] = {}
    for group in root.iter("{http://www.w3.org/2000/svg}g"):
        numbers = [c.removeprefix("serie-") for c in (group.get("class") or "").split() if c.startswith("serie-")]
        values = [d.text for d in group.iter("{http://www.w3.org/2000/svg}desc") if d.get("class") == "value"]
        if numbers and values:
            series.setdefault(int(numbers[0]), values)
    assert series[0] == ["0", "2", "4", "0", "0", "1"]  # claims submitted per week
    assert series[1] == ["0", "2", "2", "0", "0", "0"]  # claims decided
    assert series[2] == ["0.00", "1600.00", "8200.00", "0.00", "0.00", "1100.00"]  # charged
    assert series[4] == ["0.00", "450.00", "300.00", "0.00", "0.00", "0.00"]  # paid
    labels = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "2026-03-09" in labels
    # without group_by the chart picks one (a month's range: by day)
    daily = await intake.client.get(
        "/v1/reports/claims/chart.svg", params={"from": FROM, "to": TO}, headers=intake.admin()
    )
    assert daily.status_code == 200
    assert "2026-03-31" in [t.text for t in ET.fromstring(daily.content).iter("{http://www.w3.org/2000/svg}text")]


async def test_claims_by_status_gauge(intake, built):
    metrics = (await intake.client.get("/metrics")).text
    # every claim of the archive, in the period or not
    assert 'intake_claims_by_status{status="pended"} 3.0' in metrics
    assert 'intake_claims_by_status{status="paid"} 2.0' in metrics
    assert 'intake_claims_by_status{status="payment_scheduled"} 2.0' in metrics
    assert 'intake_claims_by_status{status="withdrawn"} 0.0' in metrics


@pytest.mark.parametrize("role", ["adjuster", "finance", "partner", "member"])
async def test_only_admin_auditor_supervisor_see_reports(intake, role):
    headers = intake.auth(role, sub="someone", provider_id="H-001", member_id="M-1")
    for path in ("/v1/reports/claims", "/v1/reports/claims/chart.svg"):
        resp = await intake.client.get(path, headers=headers)
        assert resp.status_code == 403
        assert resp.headers["content-type"].startswith("application/problem+json")
    assert (await intake.client.get("/v1/reports/claims")).status_code == 401


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2026-03-10", "to": "2026-03-01"}, "to"),
        ({"group_by": "year"}, "group_by"),
        ({"from": "2020-01-01", "to": "2026-01-01", "group_by": "day"}, "group_by"),
        ({"from": "2000-01-01", "to": "2026-01-01"}, "from"),
    ],
)
async def test_bad_parameters_are_problems(intake, params, field):
    for path in ("/v1/reports/claims", "/v1/reports/claims/chart.svg"):
        resp = await intake.client.get(path, params=params, headers=intake.admin())
        assert resp.status_code == 422, resp.text
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert field in [e["field"] for e in resp.json()["errors"]]

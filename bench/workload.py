"""What the bench submits: the standard plan, policies for batches of members, and the worked-example claim.

Every claim is DOMAIN.md's worked example (outpatient, 1,100.00 charged, payable 450.00 on a fresh
year) with all five outpatient documents inline, for a member of its own: so each is complete, payable
without review, never a suspected duplicate and far from the HIGH_FREQUENCY threshold.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from claims_platform.auth import mint_token

PDF = base64.b64encode(b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n").decode()
OUTPATIENT_DOCS = ("claim_form", "id_proof", "itemized_bill", "invoice", "medical_record")
PAYABLE = "450.00"
MEMBERS_PER_POLICY = 500

PLAN = {
    "name": "Standard medical 2026",
    "currency": "CNY",
    "annual_deductible": "500.00",
    "annual_limit": "200000.00",
    "per_claim_limit": None,
    "waiting_period_days": 30,
    "excluded_diagnoses": ["O", "K02", "Z41"],
    "review_threshold": "50000.00",
    "categories": {
        "consultation": {"coinsurance": "0.80"},
        "examination": {"coinsurance": "0.80"},
        "imaging": {"coinsurance": "0.80"},
        "surgery": {"coinsurance": "0.90"},
        "drugs": {"coinsurance": "0.70", "annual_sublimit": "20000.00"},
        "room": {"coinsurance": "1.00", "per_day_limit": "300.00", "deductible_applies": False},
        "nursing": {"coinsurance": "0.80"},
        "consumables": {"coinsurance": "0.50"},
    },
}


def _line(no: int, category: str, code: str, desc: str, qty: str, price: str, amount: str) -> dict[str, Any]:
    return {
        "line_no": no,
        "service_date": "2026-03-10",
        "category": category,
        "code": code,
        "description": desc,
        "quantity": qty,
        "unit_price": price,
        "amount": amount,
    }


def claim_body(policy: str, member: str) -> dict[str, Any]:
    """The worked example of DOMAIN.md for one member: complete, payable 450.00."""
    drugs = _line(3, "drugs", "D-555", "阿莫西林", "3", "100.00", "300.00") | {"other_insurance_paid": "0.00"}
    return {
        "policy_number": policy,
        "member": {
            "member_id": member,
            "name": "张三",
            "id_type": "resident_id",
            "id_number": "110101199003071234",
            "phone": "+8613800000000",
            "email": "zhangsan@example.com",
        },
        "provider": {"provider_id": "H-001", "name": "北京协和医院"},
        "claim_type": "outpatient",
        "accident": False,
        "diagnoses": [{"code": "J18.9", "primary": True}],
        "lines": [
            _line(1, "consultation", "C-001", "门诊诊查", "1", "200.00", "200.00"),
            _line(2, "examination", "E-100", "胸部CT", "1", "600.00", "600.00"),
            drugs,
        ],
        "currency": "CNY",
        "payee": "member",
        "bank_account": {"holder": "张三", "account_number": "6222020200001234567", "bank_code": "ICBC"},
        "documents": [
            {"type": d, "filename": f"{d}.pdf", "content_type": "application/pdf", "content_base64": PDF}
            for d in OUTPATIENT_DOCS
        ],
    }


@dataclass(frozen=True)
class Work:
    """One claim to submit: its member, its policy and its body, serialised ahead of time."""

    member: str
    policy: str
    body: bytes


def plan_work(run: str, start: int, count: int) -> list[Work]:
    """``count`` claims for members ``start``…, ``MEMBERS_PER_POLICY`` members to a policy."""
    template = json.dumps(claim_body("@POLICY@", "@MEMBER@"), ensure_ascii=False)
    work = []
    for n in range(start, start + count):
        member = f"M-{run}-{n:07d}"
        policy = f"POL-{run.upper()}-{n // MEMBERS_PER_POLICY:05d}"
        body = template.replace("@POLICY@", policy).replace("@MEMBER@", member).encode()
        work.append(Work(member, policy, body))
    return work


async def load_reference_data(
    client: httpx.AsyncClient, adjudication: str, admin: dict[str, str], work: list[Work]
) -> None:
    """PUT the plan STD-2026 and one policy per batch of members (idempotent PUTs)."""
    resp = await client.put(f"{adjudication}/v1/plans/STD-2026", json=PLAN, headers=admin)
    if resp.status_code not in (200, 201):
        raise RuntimeError(f"plan STD-2026: {resp.status_code} {resp.text[:500]}")
    members: dict[str, list[str]] = {}
    for w in work:
        members.setdefault(w.policy, []).append(w.member)

    async def put_policy(policy: str, ids: list[str]) -> None:
        body = {
            "plan_code": "STD-2026",
            "holder_name": "张三",
            "effective_date": "2026-01-01",
            "expiry_date": "2026-12-31",
            "status": "active",
            "members": [{"member_id": m, "name": "张三"} for m in ids],
        }
        r = await client.put(f"{adjudication}/v1/policies/{policy}", json=body, headers=admin, timeout=60)
        if r.status_code not in (200, 201):
            raise RuntimeError(f"policy {policy}: {r.status_code} {r.text[:500]}")

    for policy, ids in members.items():
        await put_policy(policy, ids)


@dataclass
class Submitted:
    """What the bench saw of its submissions."""

    sent_at: dict[str, float] = field(default_factory=dict)  # claim id -> monotonic time the request began
    latency: list[float] = field(default_factory=list)  # seconds per acknowledged submission
    errors: dict[str, int] = field(default_factory=dict)  # status or exception name -> count
    first_error: str | None = None
    started: float = 0.0
    finished: float = 0.0

    @property
    def acked(self) -> int:
        """Claims acknowledged with a 201."""
        return len(self.sent_at)


class Submitter:
    """POSTs claims to intake over one pooled async client."""

    def __init__(self, client: httpx.AsyncClient, intake: str, secret: str) -> None:
        self.client = client
        self.url = f"{intake}/v1/claims"
        token = mint_token(secret, "bench-his", ["partner"], provider_id="H-001")
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def submit(self, work: Work, into: Submitted, scheduled: float | None = None) -> None:
        """One claim; latency from ``scheduled`` (open loop) or from the request's start."""
        began = time.monotonic() if scheduled is None else scheduled
        headers = {**self.headers, "Idempotency-Key": str(uuid.uuid4())}
        try:
            resp = await self.client.post(self.url, content=work.body, headers=headers)
        except httpx.HTTPError as exc:
            key = type(exc).__name__
            into.errors[key] = into.errors.get(key, 0) + 1
            into.first_error = into.first_error or f"{key}: {exc}"
            return
        done = time.monotonic()
        if resp.status_code != 201:
            key = str(resp.status_code)
            into.errors[key] = into.errors.get(key, 0) + 1
            into.first_error = into.first_error or f"{key}: {resp.text[:300]}"
            return
        into.sent_at[resp.json()["claim_id"]] = began
        into.latency.append(done - began)
        into.finished = max(into.finished, done)

    async def steady(self, work: list[Work], rate: float) -> Submitted:
        """Open loop: claim ``i`` starts at ``t0 + i / rate`` whatever the previous ones are doing."""
        out = Submitted(started=time.monotonic())
        tasks = []
        for i, w in enumerate(work):
            due = out.started + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.submit(w, out, scheduled=due)))
        await asyncio.gather(*tasks)
        return out

    async def full_speed(self, work: list[Work], concurrency: int) -> Submitted:
        """Closed loop: ``concurrency`` requests in flight until every claim is sent."""
        out = Submitted(started=time.monotonic())
        queue = iter(work)

        async def worker() -> None:
            for w in queue:
                await self.submit(w, out)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return out

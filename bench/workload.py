"""What the bench submits: the standard plan, policies for batches of members, and the worked-example claim.

Every claim is DOMAIN.md's worked example (outpatient, 1,100.00 charged, payable 450.00 on a fresh
year) with all five outpatient documents inline, for a member of its own: so each is complete, payable
without review, never a suspected duplicate and far from the HIGH_FREQUENCY threshold.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx

from claims_contracts import examples
from claims_platform.auth import mint_token

PAYABLE = "450.00"
MEMBERS_PER_POLICY = 500

PLAN = examples.standard_plan()


def claim_body(policy: str, member: str) -> dict[str, Any]:
    """The worked example of DOMAIN.md for one member: complete, payable 450.00."""
    return examples.claim_submission(policy, member)


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
        body = examples.standard_policy(ids)
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
    """POSTs claims to intake over one pooled aiohttp session.

    aiohttp rather than httpx (which the rest of the bench uses for its few calls): with 32 requests in
    flight httpx costs about 1.5 ms of CPU a request on this machine and aiohttp 0.1 ms, and the client runs
    on the machine it measures.
    """

    def __init__(self, session: aiohttp.ClientSession, intake: str, secret: str) -> None:
        self.session = session
        self.url = f"{intake}/v1/claims"
        token = mint_token(secret, "bench-his", ["partner"], provider_id="H-001")
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def submit(self, work: Work, into: Submitted, scheduled: float | None = None) -> None:
        """One claim; latency from ``scheduled`` (open loop) or from the request's start."""
        began = time.monotonic() if scheduled is None else scheduled
        headers = {**self.headers, "Idempotency-Key": str(uuid.uuid4())}
        for attempt in range(3):
            try:
                async with self.session.post(self.url, data=work.body, headers=headers) as resp:
                    status, text = resp.status, await resp.text()
                break
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
                # A connection the server closed as it was reused (keep-alive race) or reset under
                # overload: a careful client sends the same request again with the same Idempotency-Key.
                key = type(exc).__name__
                into.first_error = into.first_error or f"{key}: {exc}"
                if attempt == 2:
                    into.errors[key] = into.errors.get(key, 0) + 1
                    return
                into.errors[f"{key} (retried)"] = into.errors.get(f"{key} (retried)", 0) + 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                key = type(exc).__name__
                into.errors[key] = into.errors.get(key, 0) + 1
                into.first_error = into.first_error or f"{key}: {exc}"
                return
        done = time.monotonic()
        if status != 201:
            key = str(status)
            into.errors[key] = into.errors.get(key, 0) + 1
            into.first_error = into.first_error or f"{key}: {text[:300]}"
            return
        into.sent_at[json.loads(text)["claim_id"]] = began
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

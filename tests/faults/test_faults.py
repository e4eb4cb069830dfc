"""Fault tests (issue 9): claims in flight while the broker, each service and PostgreSQL fail in turn.

Modelled on Kafka's own system tests: what a client saw acknowledged must be delivered, and nothing may
take effect twice. N numbered claims (each the worked example, payable 450.00, each for its own member)
are submitted at a steady pace from a background thread while, in turn:

1. the Kafka broker is killed with SIGKILL and started again;
2. each service is killed with SIGKILL and started again, one after the other;
3. PostgreSQL is stopped and started again;
4. every record of the four topics is read from the beginning and produced once more (same partition,
   key, value and headers): every event is delivered twice;

and poison messages (garbage bytes, envelopes whose payload does not match their type) are put on every
topic, some of them while PostgreSQL is down. A submission that fails during an outage is retried with
the same ``Idempotency-Key``, as a client would; a 201 makes the claim *acknowledged*.

The module-scoped ``scenario`` runs all that once and waits (bounded) until the suite is quiet; each test
then checks one promise. See ``docs/faults.md``.
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from claims_contracts import examples
from claims_platform.localstack import LocalSuite
from claims_platform.testing import bearer

SERVICES = ("intake", "adjudication", "payment", "notification")
N_CLAIMS = 30
SUBMIT_INTERVAL_S = 2.2  # a claim every 2.2 s: the load lasts as long as the faults
ACK_BOUND_S = 60.0  # how long a client keeps retrying one submission
CONVERGE_BOUND_S = 120.0  # how long the suite has to settle once the faults are over
PAYABLE = Decimal("450.00")
POISON_HEADER = "fault.poison"

# Who reads each topic: the consumer name is the inbox key and the ``dlq.consumer`` header.
READERS: dict[str, tuple[str, ...]] = {
    "claims.intake.v1": ("adjudication", "notification", "payment"),
    "claims.adjudication.v1": ("intake-archive", "notification", "payment"),
    "claims.payment.v1": ("intake-archive", "notification"),
    "claims.notification.v1": ("intake-archive",),
}
GROUPS: dict[str, tuple[str, ...]] = {
    group: tuple(t for t, readers in READERS.items() if group in readers)
    for group in ("adjudication", "intake-archive", "notification", "payment")
}
# An event type of each topic that all its readers handle: with a payload that does not fit, it is poison.
MISMATCHED_TYPE = {
    "claims.intake.v1": "ClaimReceived",
    "claims.adjudication.v1": "ClaimAdjudicated",
    "claims.payment.v1": "PaymentCompleted",
    "claims.notification.v1": "NotificationSent",
}

PLAN = examples.standard_plan()


def claim_body(policy: str, member: str) -> dict[str, Any]:
    """The worked example (charged 1100.00, payable 450.00), complete with its documents."""
    return examples.claim_submission(policy, member)


# ---------------------------------------------------------------------------------------------------
# Kafka helpers (aiokafka, each run on its own event loop in a worker thread, bounded in time)

T = TypeVar("T")


def run_bounded(make: Callable[[], Awaitable[T]], timeout: float) -> T:
    """Run a coroutine on a fresh event loop in a worker thread; fail after ``timeout`` seconds."""

    async def bounded() -> T:
        return await asyncio.wait_for(make(), timeout)

    pool = ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(asyncio.run, bounded()).result(timeout=timeout + 15)
    finally:
        pool.shutdown(wait=False)


async def _partitions(consumer: AIOKafkaConsumer, topics: list[str]) -> list[TopicPartition]:
    cluster = await consumer._client.fetch_all_metadata()
    tps = []
    for topic in topics:
        parts = cluster.partitions_for_topic(topic)
        assert parts, f"topic {topic} does not exist"
        tps.extend(TopicPartition(topic, p) for p in sorted(parts))
    return tps


async def read_all(
    bootstrap: str, topics: list[str], since: dict[TopicPartition, int] | None = None
) -> tuple[list[Any], dict[TopicPartition, int]]:
    """Every record of ``topics`` (from ``since``, else the beginning) up to their end offsets as of now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = await _partitions(consumer, topics)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        for tp, offset in (since or {}).items():
            consumer.seek(tp, offset)
        ends = await consumer.end_offsets(tps)
        records: list[Any] = []
        pending = {tp for tp in tps if await consumer.position(tp) < ends[tp]}
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=500)
            for tp, recs in batches.items():
                records.extend(r for r in recs if r.offset < ends[tp])
            pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
        return records, ends
    finally:
        await consumer.stop()


async def duplicate_every_record(
    bootstrap: str, topics: list[str], since: dict[TopicPartition, int] | None = None
) -> tuple[int, dict[TopicPartition, int]]:
    """The duplicator: produce every record of ``topics`` once more, same partition, key, value, headers.

    Answers how many it produced and the end offsets it read up to (where a next pass starts).
    """
    records, ends = await read_all(bootstrap, topics, since)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        futures = [
            await producer.send(r.topic, r.value, key=r.key, headers=list(r.headers or ()), partition=r.partition)
            for r in sorted(records, key=lambda r: (r.topic, r.partition, r.offset))
        ]
        await asyncio.gather(*futures)
        return len(futures), ends
    finally:
        await producer.stop()


async def produce_raw(bootstrap: str, messages: list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]]) -> None:
    """Put raw ``(topic, key, value, headers)`` records on the broker."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for topic, key, value, headers in messages:
            await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()


async def consumer_lag(bootstrap: str, prefix: str) -> dict[str, int]:
    """Records not yet committed, per consumer group, against the topics' end offsets."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await consumer.start()
    await admin.start()
    try:
        tps = await _partitions(consumer, [prefix + t for t in READERS])
        ends = await consumer.end_offsets(tps)
        lag = {}
        for group, topics in GROUPS.items():
            committed = await admin.list_consumer_group_offsets(prefix + group)
            total = 0
            for tp in tps:
                if tp.topic[len(prefix) :] in topics:
                    meta = committed.get(tp)
                    total += ends[tp] - max(meta.offset if meta is not None else 0, 0)
            lag[group] = total
        return lag
    finally:
        await admin.close()
        await consumer.stop()


# ---------------------------------------------------------------------------------------------------
# The scenario


@dataclass
class Submission:
    """One numbered claim as its client sees it."""

    number: int
    member: str
    key: str
    claim_id: str | None = None
    attempts: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Poison:
    """A message no consumer can handle, and the consumers that must dead-letter it."""

    id: str
    topic: str
    kind: str

    @property
    def readers(self) -> tuple[str, ...]:
        """The consumers of its topic: each must put it on the dead-letter topic."""
        return READERS[self.topic]

    def record(self, prefix: str) -> tuple[str, bytes, bytes, list[tuple[str, bytes]]]:
        """The Kafka record: garbage bytes, or a valid envelope whose payload does not fit its type."""
        if self.kind == "garbage":
            value = b"\x00\xff\xfe not json at all " + self.id.encode()
        else:
            value = json.dumps(
                {
                    "event_id": str(uuid.uuid4()),
                    "event_type": MISMATCHED_TYPE[self.topic],
                    "event_version": 1,
                    "occurred_at": datetime.now(UTC).isoformat(),
                    "producer": "fault-test",
                    "claim_id": f"POISON-{self.id}",
                    "correlation_id": self.id,
                    "causation_id": None,
                    "payload": {"poison": self.id},
                }
            ).encode()
        headers = [(POISON_HEADER, self.id.encode()), ("event_type", MISMATCHED_TYPE[self.topic].encode())]
        return prefix + self.topic, f"POISON-{self.id}".encode(), value, headers


@dataclass
class Scenario:
    """What happened: the submissions, the poison, the faults' timeline and whether the suite settled."""

    suite: LocalSuite
    bootstrap: str
    prefix: str
    tokens: dict[str, dict[str, str]]
    submissions: list[Submission]
    poisons: list[Poison] = field(default_factory=list)
    timeline: list[str] = field(default_factory=list)
    duplicated: int = 0
    converged: bool = False
    last_state: str = ""
    started: float = field(default_factory=time.monotonic)

    def mark(self, what: str) -> None:
        """Note a step with its time since the start."""
        line = f"t+{time.monotonic() - self.started:6.1f}s {what}"
        self.timeline.append(line)
        print(f"[faults] {line}", flush=True)

    @property
    def acknowledged(self) -> list[Submission]:
        """Submissions a client got a 201 for."""
        return [s for s in self.submissions if s.claim_id is not None]

    def story(self) -> str:
        """The timeline, for a failure message."""
        return "\n".join(self.timeline)

    def logs(self, pattern: str, limit: int = 20) -> str:
        """Service log lines containing ``pattern`` (the last ``limit`` of each service)."""
        out = []
        for service in SERVICES:
            path = self.suite.log_dir / f"{service}.log"
            lines = [x for x in path.read_text(errors="replace").splitlines() if pattern in x]
            out.extend(f"{service}: {x[:400]}" for x in lines[-limit:])
        return "\n".join(out)


def submit_all(scenario: Scenario, policy: str, stop: threading.Event) -> None:
    """The client: submit each claim in turn at a steady pace, retrying one until it is acknowledged."""
    url = f"{scenario.suite.urls['intake']}/v1/claims"
    with httpx.Client(timeout=10) as client:
        for sub in scenario.submissions:
            began = time.monotonic()
            deadline = began + ACK_BOUND_S
            while not stop.is_set() and time.monotonic() < deadline:
                sub.attempts += 1
                try:
                    resp = client.post(
                        url,
                        json=claim_body(policy, sub.member),
                        headers={**scenario.tokens["partner"], "Idempotency-Key": sub.key},
                    )
                    if resp.status_code == 201:
                        sub.claim_id = resp.json()["claim_id"]
                        break
                    sub.errors.append(f"{resp.status_code} {resp.text[:300]}")
                    if 400 <= resp.status_code < 500 and resp.status_code not in (408, 409, 429):
                        break  # the request itself is wrong: retrying will not help
                except httpx.HTTPError as exc:
                    sub.errors.append(f"{type(exc).__name__}: {exc}")
                time.sleep(0.5)
            if sub.attempts > 1:
                scenario.mark(f"claim #{sub.number} acknowledged={sub.claim_id is not None} after {sub.attempts} tries")
            stop.wait(max(0.0, SUBMIT_INTERVAL_S - (time.monotonic() - began)))


def load_plan_and_policy(suite: LocalSuite, admin: dict[str, str], policy: str, members: list[str]) -> None:
    """The standard plan and one policy covering every member of the run."""
    adj = suite.urls["adjudication"]
    resp = httpx.put(f"{adj}/v1/plans/STD-2026", json=PLAN, headers=admin, timeout=10)
    assert resp.status_code in (200, 201), resp.text
    body = examples.standard_policy(members)
    resp = httpx.put(f"{adj}/v1/policies/{policy}", json=body, headers=admin, timeout=10)
    assert resp.status_code in (200, 201), resp.text


def engines(suite: LocalSuite) -> dict[str, Engine]:
    """A connection (as the service's own role) to each service's database."""
    return {
        s: create_engine(
            suite.env[f"CLAIMS_{s.upper()}_DATABASE_URL"].replace("+asyncpg", "+psycopg2"), poolclass=NullPool
        )
        for s in SERVICES
    }


def outbox_counts(dbs: dict[str, Engine]) -> dict[str, int]:
    """Rows left in each service's outbox."""
    counts = {}
    for service, engine in dbs.items():
        with engine.connect() as conn:
            counts[service] = conn.execute(text("SELECT count(*) FROM outbox")).scalar_one()
    return counts


def claim_statuses(scenario: Scenario) -> dict[str, str]:
    """Each acknowledged claim's status as intake answers it."""
    statuses = {}
    with httpx.Client(timeout=5, headers=scenario.tokens["partner"]) as client:
        for sub in scenario.acknowledged:
            resp = client.get(f"{scenario.suite.urls['intake']}/v1/claims/{sub.claim_id}")
            statuses[sub.claim_id] = resp.json()["status"] if resp.status_code == 200 else f"HTTP {resp.status_code}"
    return statuses


def wait_until_quiet(scenario: Scenario, dbs: dict[str, Engine]) -> None:
    """Wait (bounded) until every acknowledged claim is paid, the outboxes are empty and no group lags."""
    deadline = time.monotonic() + CONVERGE_BOUND_S
    while True:
        state: dict[str, Any] = {}
        try:
            statuses = claim_statuses(scenario)
            state["not paid"] = {c: s for c, s in statuses.items() if s != "paid"}
            state["outbox"] = {s: n for s, n in outbox_counts(dbs).items() if n}
            state["lag"] = {
                g: n for g, n in run_bounded(lambda: consumer_lag(scenario.bootstrap, scenario.prefix), 20).items() if n
            }
            state["dead"] = [s for s, p in scenario.suite.procs.items() if p.poll() is not None]
        except Exception as exc:  # an observation failed; the suite may still be recovering
            state["observation failed"] = f"{type(exc).__name__}: {exc}"
        scenario.last_state = repr(state)
        if not any(state.values()):
            scenario.converged = True
            scenario.mark("quiet: every acknowledged claim paid, outboxes empty, no consumer lag")
            return
        if time.monotonic() > deadline:
            scenario.mark(f"NOT quiet within {CONVERGE_BOUND_S:.0f}s: {scenario.last_state[:2000]}")
            return
        time.sleep(1.0)


def restart_service(scenario: Scenario, service: str) -> None:
    """SIGKILL one service and start it again; fail with its log tail if it does not come back."""
    scenario.suite.stop(service, signal.SIGKILL)
    scenario.mark(f"{service} killed (SIGKILL)")
    time.sleep(1.0)
    scenario.suite.start(service, timeout=90)
    scenario.mark(f"{service} restarted and ready")


@pytest.fixture(scope="module")
def scenario(private_infra, fault_suite: LocalSuite) -> Iterator[Scenario]:
    """Run the load and the faults once; the tests below check what is left."""
    run = uuid.uuid4().hex[:6]
    jwt = private_infra.jwt_secret
    tokens = {
        "admin": bearer(jwt, "admin", sub="admin-1"),
        "partner": bearer(jwt, "partner", sub="his-h001", provider_id="H-001"),
    }
    policy = f"POL-F{run.upper()}"
    subs = [Submission(i, f"M-{run}-{i:02d}", f"faults-{run}-{i:02d}") for i in range(1, N_CLAIMS + 1)]
    sc = Scenario(fault_suite, private_infra.bootstrap, fault_suite.env["CLAIMS_KAFKA_TOPIC_PREFIX"], tokens, subs)
    load_plan_and_policy(fault_suite, tokens["admin"], policy, [s.member for s in subs])
    dbs = engines(fault_suite)
    stop = threading.Event()
    client = threading.Thread(target=submit_all, args=(sc, policy, stop), name="faults-client", daemon=True)

    def poison(kind: str, tag: str) -> None:
        batch = [Poison(f"{tag}-{kind}-{i}", topic, kind) for i, topic in enumerate(READERS)]
        run_bounded(lambda: produce_raw(sc.bootstrap, [p.record(sc.prefix) for p in batch]), 30)
        sc.poisons.extend(batch)
        sc.mark(f"{len(batch)} poison messages ({kind}) produced")

    try:
        sc.mark(f"load starts: {N_CLAIMS} claims, one every {SUBMIT_INTERVAL_S}s")
        client.start()
        time.sleep(2.0)
        poison("garbage", "a")
        poison("mismatch", "a")
        time.sleep(2.0)

        # (1) the broker dies without a chance to flush anything, and comes back
        private_infra.kafka_kill()
        sc.mark("kafka killed (SIGKILL)")
        time.sleep(4.0)
        private_infra.kafka_start()
        sc.mark("kafka restarted")
        time.sleep(3.0)

        # (2) each service dies in turn, and comes back
        for service in SERVICES:
            restart_service(sc, service)
            time.sleep(2.0)

        # (3) PostgreSQL stops (connections cut) and comes back; poison arrives meanwhile
        private_infra.pg_stop()
        sc.mark("postgres stopped")
        poison("garbage", "b")
        poison("mismatch", "b")
        time.sleep(3.0)
        private_infra.pg_start()
        sc.mark("postgres restarted")
        time.sleep(2.0)

        # (4) every event delivered twice: once while the last claims are still coming in, then (from where
        # that pass ended) once more when all is done, so every record of the run is on its topic twice
        topics = [sc.prefix + t for t in READERS]
        sc.mark("duplicator starts")
        copied, upto = run_bounded(lambda: duplicate_every_record(sc.bootstrap, topics), 60)
        sc.duplicated += copied
        sc.mark(f"duplicator produced {copied} records again")

        client.join(timeout=N_CLAIMS * (SUBMIT_INTERVAL_S + 1) + ACK_BOUND_S)
        assert not client.is_alive(), "the client thread did not finish"
        sc.mark(f"load done: {len(sc.acknowledged)}/{N_CLAIMS} acknowledged")

        wait_until_quiet(sc, dbs)
        if sc.converged:
            copied, _ = run_bounded(lambda: duplicate_every_record(sc.bootstrap, topics, since=upto), 60)
            sc.duplicated += copied
            sc.mark(f"duplicator produced the {copied} records since its first pass again")
            wait_until_quiet(sc, dbs)
        yield sc
    finally:
        stop.set()
        # Whatever failed, leave the infrastructure up for the teardown (each is a no-op when running).
        for restore in (private_infra.kafka_start, private_infra.pg_start):
            try:
                restore()
            except AssertionError as exc:
                print(f"[faults] restoring the infrastructure failed: {exc}")
        for engine in dbs.values():
            engine.dispose()
        print("[faults] timeline:\n" + sc.story())


@pytest.fixture(scope="module")
def dbs(fault_suite: LocalSuite) -> Iterator[dict[str, Engine]]:
    """Each service's database, to look at its effects directly."""
    made = engines(fault_suite)
    yield made
    for engine in made.values():
        engine.dispose()


def rows(engine: Engine, sql: str) -> list[Any]:
    """The rows of one query."""
    with engine.connect() as conn:
        return list(conn.execute(text(sql)))


# ---------------------------------------------------------------------------------------------------
# The promises


def test_every_submission_is_acknowledged_within_its_bound(scenario: Scenario) -> None:
    lost = {s.number: s.errors[-3:] for s in scenario.submissions if s.claim_id is None}
    assert not lost, f"submissions never acknowledged within {ACK_BOUND_S}s: {lost}\n{scenario.story()}"
    ids = [s.claim_id for s in scenario.submissions]
    assert len(set(ids)) == len(ids), "two idempotency keys answered with the same claim"


def test_every_service_survived(scenario: Scenario) -> None:
    dead = {s: scenario.suite.tail(s) for s, p in scenario.suite.procs.items() if p.poll() is not None}
    assert not dead, f"services exited: {dead}"


def test_every_acknowledged_claim_is_paid_once(scenario: Scenario) -> None:
    """Acknowledged ⊆ delivered: each claim that got a 201 ends paid, its payment and 'paid' recorded once."""
    assert scenario.converged, (
        f"the suite did not settle within {CONVERGE_BOUND_S}s; last state: {scenario.last_state}\n"
        f"{scenario.story()}\n{scenario.logs('dead-lettered')}"
    )
    problems = {}
    with httpx.Client(timeout=10, headers=scenario.tokens["partner"]) as client:
        for sub in scenario.acknowledged:
            base = f"{scenario.suite.urls['intake']}/v1/claims/{sub.claim_id}"
            claim = client.get(base).json()
            timeline = client.get(base + "/timeline", params={"limit": 500}).json()["items"]
            kinds = Counter(e["kind"] for e in timeline if e["kind"] != "notification_sent")
            notes = Counter(e["details"].get("notification_id") for e in timeline if e["kind"] == "notification_sent")
            seen = {
                "status": claim["status"],
                "payable": claim["decision"]["payable"] if claim.get("decision") else None,
                "payments": [(p["amount"], p["status"]) for p in claim["payments"]],
                "turned paid": sum(1 for e in timeline if e["status_to"] == "paid" and e["status_from"] != "paid"),
                "repeated entries": sorted(k for k, n in kinds.items() if n > 1),
                "stale decisions": kinds.get("stale_decision_ignored", 0),
                "repeated notifications": sorted(str(k) for k, n in notes.items() if n > 1),
            }
            expected = {
                "status": "paid",
                "payable": "450.00",
                "payments": [("450.00", "settled")],
                "turned paid": 1,
                "repeated entries": [],
                "stale decisions": 0,
                "repeated notifications": [],
            }
            if seen != expected:
                problems[f"#{sub.number} {sub.claim_id}"] = {k: v for k, v in seen.items() if v != expected[k]}
    assert not problems, f"claims not paid exactly once: {problems}"


def test_exactly_one_payment_per_payable_decision(scenario: Scenario, dbs: dict[str, Engine]) -> None:
    claims = {s.claim_id for s in scenario.acknowledged}
    payments = rows(
        dbs["payment"], "SELECT claim_id, decision_version, amount, status FROM payments ORDER BY claim_id, created_at"
    )
    by_claim: dict[str, list[Any]] = defaultdict(list)
    for p in payments:
        by_claim[p.claim_id].append((p.decision_version, p.amount, p.status))
    wrong = {c: by_claim.get(c) for c in claims if by_claim.get(c) != [(1, PAYABLE, "settled")]}
    assert not wrong, f"claims without exactly one settled payment of 450.00 (version, amount, status): {wrong}"
    strangers = set(by_claim) - claims
    assert not strangers, f"payments for claims no client was acknowledged: {strangers}"
    ledger = rows(dbs["payment"], "SELECT claim_id, count(*) AS n FROM ledger_entries GROUP BY claim_id")
    shapes = Counter(r.n for r in ledger if r.claim_id in claims)
    assert len(shapes) == 1, f"ledger entries per claim differ between claims (a doubled posting?): {shapes}"
    # and through the API, as finance sees it
    with httpx.Client(timeout=10, headers=scenario.tokens["admin"]) as client:
        for sub in scenario.acknowledged:
            page = client.get(f"{scenario.suite.urls['payment']}/v1/payments", params={"claim_id": sub.claim_id})
            amounts = [Decimal(p["amount"]) for p in page.json()["items"]]
            assert amounts == [PAYABLE], f"claim #{sub.number} {sub.claim_id}: payments {amounts}"


def test_one_decision_per_claim_and_accumulators_charged_once(scenario: Scenario, dbs: dict[str, Engine]) -> None:
    claims = {s.claim_id for s in scenario.acknowledged}
    decisions = rows(dbs["adjudication"], "SELECT claim_id, version, outcome, payable FROM decisions")
    by_claim: dict[str, list[Any]] = defaultdict(list)
    for d in decisions:
        by_claim[d.claim_id].append((d.version, d.outcome, d.payable))
    wrong = {c: by_claim.get(c) for c in claims if by_claim.get(c) != [(1, "approved", PAYABLE)]}
    assert not wrong, f"claims without exactly one decision (version 1, approved, 450.00): {wrong}"
    members = {s.member for s in scenario.acknowledged}
    accumulators = rows(dbs["adjudication"], "SELECT member_id, deductible_used, paid_total FROM accumulators")
    charged = {a.member_id: (a.deductible_used, a.paid_total) for a in accumulators if a.member_id in members}
    wrong_acc = {m: charged.get(m) for m in members if charged.get(m) != (Decimal("500.00"), PAYABLE)}
    assert not wrong_acc, f"accumulators not charged exactly once (deductible used, paid total): {wrong_acc}"


def test_one_decision_message_per_claim_and_channel(scenario: Scenario, dbs: dict[str, Engine]) -> None:
    claims = {s.claim_id for s in scenario.acknowledged}
    messages = rows(
        dbs["notification"],
        "SELECT claim_id, channel, recipient_type, count(*) AS n FROM messages"
        " WHERE event_type = 'claim_decided' GROUP BY claim_id, channel, recipient_type",
    )
    doubled = [tuple(m) for m in messages if m.n != 1]
    assert not doubled, f"decision messages sent more than once (claim, channel, recipient, count): {doubled}"
    shape: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for m in messages:
        shape[m.claim_id].add((m.channel, m.recipient_type))
    missing = [c for c in claims if ("in_app", "member") not in shape.get(c, set())]
    assert not missing, f"claims whose member got no in-app decision message: {missing}"
    assert len({frozenset(shape[c]) for c in claims}) == 1, f"claims told on different channels: {dict(shape)}"
    delivered = rows(
        dbs["notification"],
        "SELECT m.claim_id, m.channel, m.recipient_type, m.status, count(a.id) AS n FROM messages m"
        " LEFT JOIN delivery_attempts a ON a.message_id = m.id AND a.outcome = 'delivered'"
        " WHERE m.event_type = 'claim_decided' GROUP BY m.id, m.claim_id, m.channel, m.recipient_type, m.status",
    )
    twice = [tuple(d) for d in delivered if d.n > 1]
    assert not twice, f"decision messages delivered more than once (claim, channel, recipient, status, count): {twice}"
    in_app = [d for d in delivered if (d.channel, d.recipient_type) == ("in_app", "member")]
    unsent = [tuple(d) for d in in_app if d.status != "sent"]
    assert not unsent, f"in-app decision messages not delivered: {unsent}"


def test_no_event_left_in_any_outbox(scenario: Scenario, dbs: dict[str, Engine]) -> None:
    left = {s: n for s, n in outbox_counts(dbs).items() if n}
    assert not left, f"events left unpublished: {left}"


def test_every_poison_message_is_dead_lettered_and_nothing_else(scenario: Scenario) -> None:
    dlq_topics = [f"{scenario.prefix}{t}.dlq" for t in READERS]
    records, _ = run_bounded(lambda: read_all(scenario.bootstrap, dlq_topics), 60)
    found: dict[str, set[str]] = defaultdict(set)
    genuine = []
    for rec in records:
        headers = {k: bytes(v).decode(errors="replace") for k, v in rec.headers or ()}
        poison_id = headers.get(POISON_HEADER)
        if poison_id is None:
            genuine.append((rec.topic, headers.get("event_type"), rec.key, headers.get("dlq.error", "")[:300]))
            continue
        poison = next(p for p in scenario.poisons if p.id == poison_id)
        assert rec.topic == f"{scenario.prefix}{poison.topic}.dlq", f"{poison_id} dead-lettered on {rec.topic}"
        assert headers.get("dlq.source_topic") == poison.topic
        assert headers.get("dlq.error"), f"{poison_id} dead-lettered without its error"
        if poison.kind == "garbage":
            assert headers["dlq.error"].startswith("invalid envelope"), headers["dlq.error"]
        found[poison_id].add(headers.get("dlq.consumer", "?"))
    missing = {p.id: sorted(set(p.readers) - found[p.id]) for p in scenario.poisons if set(p.readers) - found[p.id]}
    extra = {p.id: sorted(found[p.id] - set(p.readers)) for p in scenario.poisons if found[p.id] - set(p.readers)}
    assert not missing, f"poison not dead-lettered by these consumers: {missing}"
    assert not extra, f"poison dead-lettered by consumers that do not read its topic: {extra}"
    assert not genuine, f"genuine events dead-lettered (an outage is not the message's fault): {genuine}"

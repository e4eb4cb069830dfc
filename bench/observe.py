"""What the bench watches without asking intake: PaymentCompleted on Kafka, CPU, commits and messages."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field

import asyncpg
import psutil
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from claims_contracts.topics import ALL_TOPICS, PAYMENT_TOPIC, dlq_topic


@dataclass
class Paid:
    """A claim's PaymentCompleted events as seen on the payment topic."""

    first_at: float  # monotonic arrival of the first one
    payment_ids: set[str] = field(default_factory=set)
    amounts: list[str] = field(default_factory=list)
    events: int = 0


class PaymentWatcher:
    """Consumes ``<prefix>claims.payment.v1`` (no group) and timestamps each PaymentCompleted."""

    def __init__(self, bootstrap: str, prefix: str) -> None:
        self.topic = prefix + PAYMENT_TOPIC
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=50
        )
        self.paid: dict[str, Paid] = {}
        self.changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self, from_beginning: bool) -> None:
        """Assign every partition: from the start of a fresh topic, or from its end on a shared one."""
        await self.consumer.start()
        partitions = self.consumer.partitions_for_topic(self.topic)
        for _ in range(50):
            if partitions:
                break
            await self.consumer._client.force_metadata_update()
            partitions = self.consumer.partitions_for_topic(self.topic)
            await asyncio.sleep(0.1)
        if not partitions:
            raise RuntimeError(f"topic {self.topic} has no partitions")
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self.consumer.assign(tps)
        if from_beginning:
            await self.consumer.seek_to_beginning(*tps)
        else:
            ends = await self.consumer.end_offsets(tps)
            for tp in tps:
                self.consumer.seek(tp, ends[tp])
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=200, max_records=5000)
            now = time.monotonic()
            for records in batches.values():
                for rec in records:
                    headers = dict(rec.headers or ())
                    if headers.get("event_type") != b"PaymentCompleted":
                        continue
                    envelope = json.loads(rec.value)
                    payload = envelope["payload"]
                    paid = self.paid.get(envelope["claim_id"])
                    if paid is None:
                        paid = self.paid[envelope["claim_id"]] = Paid(first_at=now)
                    paid.events += 1
                    if payload["payment_id"] not in paid.payment_ids:
                        paid.payment_ids.add(payload["payment_id"])
                        paid.amounts.append(payload["amount"])
            if batches:
                self.changed.set()

    async def wait_paid(self, claims: set[str], stall: float) -> set[str]:
        """Wait until every claim is paid, or none got paid for ``stall`` seconds; return those unpaid."""
        missing = {c for c in claims if c not in self.paid}
        deadline = time.monotonic() + stall
        while missing and time.monotonic() < deadline:
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=max(0.01, deadline - time.monotonic()))
            still = {c for c in missing if c not in self.paid}
            if len(still) < len(missing):
                deadline = time.monotonic() + stall
            missing = still
        return missing

    async def stop(self) -> None:
        """Stop consuming."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.consumer.stop()


async def double_payment_rows(dsn: str) -> tuple[set[str], int]:
    """Claims with more than one payment row, and payment rows in all, in payment's database."""
    conn = await asyncpg.connect(dsn)
    try:
        doubles = await conn.fetch("SELECT claim_id FROM payments GROUP BY claim_id HAVING count(*) > 1")
        rows = await conn.fetchval("SELECT count(*) FROM payments")
        return {r["claim_id"] for r in doubles}, int(rows)
    finally:
        await conn.close()


async def topic_messages(bootstrap: str, topics: list[str]) -> dict[str, int]:
    """Messages ever written to each topic (the sum of its partitions' end offsets; 0 when absent)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        out = {}
        for topic in topics:
            tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            out[topic] = sum((await consumer.end_offsets(tps)).values()) if tps else 0
        return out
    finally:
        await consumer.stop()


async def delete_topics(bootstrap: str, topics: list[str]) -> None:
    """Delete the topics that exist among ``topics``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [t for t in topics if t in existing]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


def suite_topics(prefix: str) -> list[str]:
    """The suite's topics and their dead-letter companions under a prefix."""
    return [prefix + t for t in (*ALL_TOPICS, *(dlq_topic(t) for t in ALL_TOPICS))]


async def pg_commits(admin_dsn: str, databases: list[str]) -> int:
    """Committed transactions so far in the given databases (pg_stat_database)."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        value = await conn.fetchval(
            "SELECT coalesce(sum(xact_commit), 0) FROM pg_stat_database WHERE datname = any($1::text[])", databases
        )
        return int(value)
    finally:
        await conn.close()


def _cpu(proc: psutil.Process) -> float:
    try:
        t = proc.cpu_times()
        return t.user + t.system
    except psutil.Error:
        return 0.0


@dataclass
class CpuSample:
    """CPU seconds used so far by each watched process, by the bench itself, and by the machine."""

    at: float
    procs: dict[str, float]
    machine_busy: float


class CpuMeter:
    """CPU time of the services, PostgreSQL, Kafka and the bench itself, from /proc.

    PostgreSQL counts its auxiliary processes (WAL writer, checkpointer…, shared with whoever else uses
    the cluster) and the backends connected to databases whose name holds ``db_tag``. Backends come and
    go, so :meth:`run` samples them every half second and keeps the last reading of those that exited.
    """

    def __init__(self, services: dict[str, int], infra: dict[str, int], db_tag: str | None = None) -> None:
        self.watch: dict[str, psutil.Process] = {}
        for name, pid in {**services, **infra}.items():
            if name == "postgres":
                continue
            with contextlib.suppress(psutil.Error):
                self.watch[name] = psutil.Process(pid)
        self.watch["bench"] = psutil.Process()
        self.postmaster: psutil.Process | None = None
        if "postgres" in infra:
            with contextlib.suppress(psutil.Error):
                self.postmaster = psutil.Process(infra["postgres"])
        self.db_tag = db_tag
        self._pg_seen: dict[int, float] = {}

    def _postgres(self) -> float | None:
        if self.postmaster is None:
            return None
        self._pg_seen[self.postmaster.pid] = _cpu(self.postmaster)
        for child in self.postmaster.children():
            try:
                title = " ".join(child.cmdline())
            except psutil.Error:
                continue
            is_backend = "(" in title and ")" in title  # "postgres: role db 127.0.0.1(port) state"
            if not is_backend or (self.db_tag is not None and self.db_tag in title):
                self._pg_seen[child.pid] = _cpu(child)
        return sum(self._pg_seen.values())

    async def run(self) -> None:
        """Follow PostgreSQL's backends until cancelled."""
        while True:
            await asyncio.sleep(0.5)
            self._postgres()

    def sample(self) -> CpuSample:
        """A reading now."""
        t = psutil.cpu_times()
        busy = t.user + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0) + getattr(t, "steal", 0)
        busy += getattr(t, "nice", 0)
        procs = {n: _cpu(p) for n, p in self.watch.items()}
        pg = self._postgres()
        if pg is not None:
            procs["postgres"] = pg
        return CpuSample(time.monotonic(), procs, busy)


def cpu_delta(a: CpuSample, b: CpuSample) -> dict[str, float]:
    """CPU seconds each process used between two readings (``machine`` for the whole box)."""
    out = {name: b.procs[name] - a.procs.get(name, 0.0) for name in b.procs}
    out["machine"] = b.machine_busy - a.machine_busy
    return out

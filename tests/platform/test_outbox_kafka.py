"""The transactional outbox against real PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Sequence

import orjson
import pytest
from sqlalchemy import Connection, event, text

from claims_contracts.topics import INTAKE_TOPIC
from claims_platform.bus.base import Message
from claims_platform.bus.kafka import KafkaBus
from claims_platform.outbox import OutboxRelay


async def test_rolled_back_event_is_never_published_and_committed_one_once(
    fresh_pg_url, kafka_bootstrap, topic_prefix, make_runtime, make_event, kafka_records
):
    runtime = await make_runtime(fresh_pg_url, kafka=kafka_bootstrap, prefix=topic_prefix)
    committed_claim, rolled_back_claim = f"C-{uuid.uuid4().hex[:8]}", f"C-{uuid.uuid4().hex[:8]}"

    async def failing_change() -> None:
        async with runtime.db.uow() as uow:
            uow.publish(make_event(rolled_back_claim), claim_id=rolled_back_claim)
            raise RuntimeError("business rule failed")

    with pytest.raises(RuntimeError, match="business rule failed"):
        await failing_change()
    async with runtime.db.uow() as uow:
        sent = uow.publish(make_event(committed_claim), claim_id=committed_claim)

    records = await kafka_records(kafka_bootstrap, topic_prefix + INTAKE_TOPIC, expect=1)
    bodies = [orjson.loads(r.value) for r in records]
    assert [b["event_id"] for b in bodies] == [str(sent.event_id)]
    assert bodies[0]["claim_id"] == committed_claim
    assert records[0].key == committed_claim.encode()
    headers = dict(records[0].headers)
    assert headers["event_type"] == b"ClaimWithdrawn"
    assert headers["correlation_id"] == sent.correlation_id.encode()
    assert await runtime.relay.backlog() == 0


class _CrashingBus:
    """A bus that dies part-way through a batch, like a relay process killed mid-publish."""

    def __init__(self, inner: KafkaBus, crash_after: int) -> None:
        self.inner = inner
        self.crash_after = crash_after

    async def publish(self, messages: Sequence[Message]) -> None:
        await self.inner.publish(messages[: self.crash_after])
        raise SystemExit("relay killed mid-batch")


async def test_relay_killed_mid_batch_then_restarted_publishes_everything_in_order_per_claim(
    fresh_pg_url, kafka_bootstrap, topic_prefix, make_runtime, make_event, kafka_records
):
    runtime = await make_runtime(fresh_pg_url, kafka=kafka_bootstrap, prefix=topic_prefix, relay_batch_size=50)
    runtime.relay.stop()  # this test drives the relays by hand
    claims = [f"C-{i:03d}" for i in range(8)]
    expected: dict[str, list[str]] = defaultdict(list)
    for round_no in range(15):
        async with runtime.db.uow() as uow:
            for claim in claims:
                env = uow.publish(make_event(claim, reason=f"step {round_no}"), claim_id=claim)
                expected[claim].append(str(env.event_id))
    total = sum(len(v) for v in expected.values())

    crashing = OutboxRelay(runtime.db, _CrashingBus(runtime.bus, crash_after=23), batch_size=50)  # type: ignore[arg-type]
    with pytest.raises(SystemExit):
        await crashing.publish_batch()
    assert await runtime.relay.backlog() == total  # nothing was marked as sent

    restarted = OutboxRelay(runtime.db, runtime.bus, batch_size=50)
    while await restarted.publish_batch():
        pass
    assert await restarted.backlog() == 0

    records = await kafka_records(kafka_bootstrap, topic_prefix + INTAKE_TOPIC, expect=total + 23)
    seen: dict[str, list[str]] = defaultdict(list)
    for r in records:
        body = orjson.loads(r.value)
        seen[body["claim_id"]].append(body["event_id"])
    for claim in claims:
        first_seen = list(dict.fromkeys(seen[claim]))
        assert first_seen == expected[claim], f"events of {claim} out of order or missing"
    assert len(records) == total + 23  # the 23 sent before the crash are the only repeats


async def test_two_relays_of_one_service_never_interleave_or_duplicate(
    fresh_pg_url, kafka_bootstrap, topic_prefix, make_runtime, make_event, kafka_records
):
    runtime = await make_runtime(fresh_pg_url, kafka=kafka_bootstrap, prefix=topic_prefix)
    runtime.relay.stop()
    claims = [f"C-{i:03d}" for i in range(5)]
    expected: dict[str, list[str]] = defaultdict(list)
    for round_no in range(40):
        async with runtime.db.uow() as uow:
            for claim in claims:
                env = uow.publish(make_event(claim, reason=f"step {round_no}"), claim_id=claim)
                expected[claim].append(str(env.event_id))
    replicas = [OutboxRelay(runtime.db, runtime.bus, batch_size=7) for _ in range(2)]

    async def drain(relay: OutboxRelay) -> None:
        while await relay.backlog():
            await relay.publish_batch()

    await asyncio.gather(*(drain(r) for r in replicas))
    records = await kafka_records(kafka_bootstrap, topic_prefix + INTAKE_TOPIC, expect=200)
    seen: dict[str, list[str]] = defaultdict(list)
    for r in records:
        body = orjson.loads(r.value)
        seen[body["claim_id"]].append(body["event_id"])
    assert len(records) == 200
    for claim in claims:
        assert seen[claim] == expected[claim]


async def test_a_relay_round_alone_commits_without_waiting_for_the_disk(
    fresh_pg_url, kafka_bootstrap, topic_prefix, make_runtime, make_event, kafka_records
):
    """The relay's delete of what it published commits with ``synchronous_commit`` off (lost in a crash, the
    rows are published again, which inboxes absorb); the service's own commits, before and after it on the
    same pool, wait for the disk as always."""
    runtime = await make_runtime(fresh_pg_url, kafka=kafka_bootstrap, prefix=topic_prefix)
    runtime.relay.stop()
    await asyncio.wait_for(runtime._relay_task, 5)  # type: ignore[arg-type]
    engine = runtime.db.engine
    modes: list[str] = []

    def at_commit(conn: Connection) -> None:
        modes.append(conn.exec_driver_sql("SHOW synchronous_commit").scalar_one())

    event.listen(engine.sync_engine, "commit", at_commit)
    claim = f"C-{uuid.uuid4().hex[:8]}"
    async with runtime.db.uow() as uow:
        uow.publish(make_event(claim), claim_id=claim)
    assert await OutboxRelay(runtime.db, runtime.bus).publish_batch() == 1
    async with runtime.db.uow() as uow:
        uow.publish(make_event(claim, reason="again"), claim_id=claim)
    event.remove(engine.sync_engine, "commit", at_commit)
    assert modes == ["on", "off", "on"]

    async def mode_of_a_pooled_connection() -> str:
        async with engine.connect() as conn:
            await asyncio.sleep(0.05)  # hold it, so that the others take the other pooled connections
            return str((await conn.execute(text("SHOW synchronous_commit"))).scalar_one())

    assert set(await asyncio.gather(*(mode_of_a_pooled_connection() for _ in range(8)))) == {"on"}
    assert len(await kafka_records(kafka_bootstrap, topic_prefix + INTAKE_TOPIC, expect=1)) == 1

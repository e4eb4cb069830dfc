"""The idempotent consumer (inbox), offsets and dead letters against real PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaProducer

from claims_contracts.envelope import EventEnvelope
from claims_contracts.topics import INTAKE_TOPIC, dlq_topic
from claims_platform.bus.kafka import KafkaBus, replay_dead_letters


def _handled(runtime, *results: str, event_type: str = "ClaimWithdrawn") -> float:  # type: ignore[no-untyped-def]
    """How many of the probe consumer's events of ``event_type`` ended with one of ``results``."""
    consumed = runtime.metrics.events_consumed
    return sum(consumed.labels("probe", event_type, result)._value.get() for result in results)


def _envelope(make_event, claim_id: str) -> EventEnvelope:
    return EventEnvelope.wrap(make_event(claim_id), claim_id=claim_id, producer="test")


async def test_event_delivered_twice_changes_state_once(
    fresh_pg_url,
    kafka_bootstrap,
    topic_prefix,
    make_runtime,
    make_event,
    counting_handler,
    effects,
    wait_for,
    kafka_produce,
):
    runtime = await make_runtime(
        fresh_pg_url,
        kafka=kafka_bootstrap,
        prefix=topic_prefix,
        consumers={"probe": ([INTAKE_TOPIC], {"ClaimWithdrawn": counting_handler})},
    )
    claim = f"C-{uuid.uuid4().hex[:8]}"
    env = _envelope(make_event, claim)
    raw = env.model_dump_json().encode()
    await kafka_produce(kafka_bootstrap, topic_prefix + INTAKE_TOPIC, (claim.encode(), raw), (claim.encode(), raw))

    async def both_seen() -> bool:
        return _handled(runtime, "applied", "duplicate") >= 2

    await wait_for(both_seen)
    assert await effects(runtime, claim) == 1
    assert _handled(runtime, "duplicate") == 1


class _NoCommitBus(KafkaBus):
    """A consumer that dies after its transaction but before committing its offset."""

    @staticmethod
    async def _commit(consumer, offsets) -> None:  # type: ignore[no-untyped-def]
        return None


async def test_consumer_killed_before_offset_commit_does_not_apply_twice(
    fresh_pg_url,
    kafka_bootstrap,
    topic_prefix,
    make_runtime,
    make_event,
    counting_handler,
    effects,
    wait_for,
    kafka_produce,
):
    claims = [f"C-{uuid.uuid4().hex[:8]}" for _ in range(5)]
    handlers = {"probe": ([INTAKE_TOPIC], {"ClaimWithdrawn": counting_handler})}
    first_bus = _NoCommitBus(kafka_bootstrap, client_id="first", partitions=2, topic_prefix=topic_prefix)
    first = await make_runtime(
        fresh_pg_url, kafka=kafka_bootstrap, prefix=topic_prefix, bus=first_bus, consumers=handlers
    )
    await first_bus.start()
    await kafka_produce(
        kafka_bootstrap,
        topic_prefix + INTAKE_TOPIC,
        *((c.encode(), _envelope(make_event, c).model_dump_json().encode()) for c in claims),
    )

    async def all_applied() -> bool:
        return all([await effects(first, c) == 1 for c in claims])

    await wait_for(all_applied)
    await first_bus.stop()  # killed: effects committed, offsets not

    second = await make_runtime(fresh_pg_url, kafka=kafka_bootstrap, prefix=topic_prefix, consumers=handlers)
    duplicates = second.metrics.events_consumed.labels("probe", "ClaimWithdrawn", "duplicate")

    async def redelivered() -> bool:
        return duplicates._value.get() >= len(claims)

    await wait_for(redelivered)
    for c in claims:
        assert await effects(second, c) == 1


class _CountingCommitBus(KafkaBus):
    """Counts the offset-commit requests of its consumers."""

    commits = 0

    @staticmethod
    async def _commit(consumer, offsets) -> None:  # type: ignore[no-untyped-def]
        _CountingCommitBus.commits += 1
        await KafkaBus._commit(consumer, offsets)


@pytest.mark.parametrize(("interval", "most"), [(0.0, None), (1.0, 6)], ids=["every-poll", "every-second"])
async def test_offsets_of_a_trickle_are_committed_about_once_a_second_and_all_in_the_end(
    interval,
    most,
    fresh_pg_url,
    kafka_bootstrap,
    topic_prefix,
    make_runtime,
    make_event,
    counting_handler,
    wait_for,
    kafka_produce,
):
    """Events arriving one by one: with the default interval the group commits its offsets about once a
    second instead of once per event (each commit costs the broker about what an event costs), and once it
    has caught up nothing is left uncommitted."""
    _CountingCommitBus.commits = 0
    bus = _CountingCommitBus(
        kafka_bootstrap, client_id="trickle", partitions=2, topic_prefix=topic_prefix, commit_interval=interval
    )
    runtime = await make_runtime(
        fresh_pg_url,
        kafka=kafka_bootstrap,
        prefix=topic_prefix,
        bus=bus,
        consumers={"probe": ([INTAKE_TOPIC], {"ClaimWithdrawn": counting_handler})},
    )
    await bus.start()  # the runtime neither starts nor stops a bus it is given
    try:
        claims = [f"C-{uuid.uuid4().hex[:8]}" for _ in range(30)]
        warm_up = _envelope(make_event, "C-0").model_dump_json().encode()
        await kafka_produce(kafka_bootstrap, topic_prefix + INTAKE_TOPIC, (b"C-0", warm_up))

        async def warmed_up() -> bool:  # handled and committed: the group is assigned and caught up
            return _handled(runtime, "applied") >= 1 and _CountingCommitBus.commits >= 1

        await wait_for(warmed_up)
        _CountingCommitBus.commits = 0
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await producer.start()
        try:
            for claim in claims:  # one by one, 50 ms apart: each arrives alone
                raw = _envelope(make_event, claim).model_dump_json().encode()
                await producer.send_and_wait(topic_prefix + INTAKE_TOPIC, raw, key=claim.encode())
                await asyncio.sleep(0.05)
        finally:
            await producer.stop()

        async def all_handled_and_committed() -> bool:
            return _handled(runtime, "applied") >= 1 + len(claims) and (await bus.refresh_lag()).get("probe") == 0

        await wait_for(all_handled_and_committed)
        if most is None:
            assert _CountingCommitBus.commits >= len(claims) // 2
        else:
            assert _CountingCommitBus.commits <= most
    finally:
        await bus.stop()


async def test_poison_message_goes_to_dead_letter_topic_and_consumer_keeps_going(
    fresh_pg_url,
    kafka_bootstrap,
    topic_prefix,
    make_runtime,
    make_event,
    counting_handler,
    effects,
    kafka_records,
    wait_for,
    kafka_produce,
):
    failing_claim = f"C-{uuid.uuid4().hex[:8]}"

    async def picky(uow, envelope, payload) -> None:  # type: ignore[no-untyped-def]
        if envelope.claim_id == failing_claim:
            raise ValueError("cannot apply this claim")
        await counting_handler(uow, envelope, payload)

    runtime = await make_runtime(
        fresh_pg_url,
        kafka=kafka_bootstrap,
        prefix=topic_prefix,
        consumers={"probe": ([INTAKE_TOPIC], {"ClaimWithdrawn": picky})},
        consumer_max_attempts=3,
    )
    good = f"C-{uuid.uuid4().hex[:8]}"
    wrong_payload = EventEnvelope.wrap(make_event("C-x"), claim_id="C-x", producer="test").model_copy(
        update={"payload": {"claim_id": "C-x"}}
    )
    await kafka_produce(
        kafka_bootstrap,
        topic_prefix + INTAKE_TOPIC,
        (b"C-junk", b"{not json at all"),
        (b"C-x", wrong_payload.model_dump_json().encode()),
        (failing_claim.encode(), _envelope(make_event, failing_claim).model_dump_json().encode()),
        (good.encode(), _envelope(make_event, good).model_dump_json().encode()),
    )

    async def good_applied() -> bool:
        return await effects(runtime, good) == 1

    await wait_for(good_applied)
    dead = await kafka_records(kafka_bootstrap, topic_prefix + dlq_topic(INTAKE_TOPIC), expect=3)
    by_key = {r.key: dict(r.headers) for r in dead}
    assert set(by_key) == {b"C-junk", b"C-x", failing_claim.encode()}
    assert b"invalid envelope" in by_key[b"C-junk"]["dlq.error"]
    assert b"ValidationError" in by_key[b"C-x"]["dlq.error"]
    assert b"cannot apply this claim" in by_key[failing_claim.encode()]["dlq.error"]
    assert all(h["dlq.consumer"] == b"probe" for h in by_key.values())
    assert all(h["dlq.source_topic"] == INTAKE_TOPIC.encode() for h in by_key.values())
    assert await effects(runtime, failing_claim) == 0

    # The cause is fixed; the replay command brings the dead letters back and the event now applies.
    failing_claim_fixed = failing_claim
    failing_claim = "nobody"
    replayed = await replay_dead_letters(kafka_bootstrap, INTAKE_TOPIC, topic_prefix=topic_prefix, timeout_s=2)
    assert replayed == 3

    async def fixed_applied() -> bool:
        return await effects(runtime, failing_claim_fixed) == 1

    await wait_for(fixed_applied)


@pytest.mark.parametrize("batch_size", [1, 100], ids=["one-by-one", "batched"])
async def test_one_claims_events_from_two_topics_are_applied_one_at_a_time(
    fresh_pg_url, kafka_bootstrap, topic_prefix, make_runtime, make_event, effects, wait_for, kafka_produce, batch_size
):
    """A read-modify-write handler loses no update although the topics' partitions are handled side by side."""
    import asyncio

    from sqlalchemy import text

    from claims_contracts.events import VerificationRequested
    from claims_contracts.topics import ADJUDICATION_TOPIC

    async def slow_increment(uow, envelope, payload) -> None:  # type: ignore[no-untyped-def]
        seen = (
            await uow.session.execute(
                text("SELECT applied FROM probe_effects WHERE claim_id = :c"), {"c": envelope.claim_id}
            )
        ).scalar()
        await asyncio.sleep(0.05)
        if seen is None:
            await uow.session.execute(
                text("INSERT INTO probe_effects (claim_id, applied) VALUES (:c, 1)"), {"c": envelope.claim_id}
            )
        else:
            await uow.session.execute(
                text("UPDATE probe_effects SET applied = :n WHERE claim_id = :c"),
                {"n": seen + 1, "c": envelope.claim_id},
            )

    await make_runtime(fresh_pg_url, kafka=kafka_bootstrap, prefix=topic_prefix)  # creates the topics
    claim = f"C-{uuid.uuid4().hex[:8]}"
    asked = VerificationRequested(
        claim_id=claim, review_id="R-1", provider_id="H-001", message="please confirm", requested_by="adj-1"
    )
    intake_events = [(claim.encode(), _envelope(make_event, claim).model_dump_json().encode()) for _ in range(4)]
    adjudication_events = [
        (claim.encode(), EventEnvelope.wrap(asked, claim_id=claim, producer="test").model_dump_json().encode())
        for _ in range(4)
    ]
    await asyncio.gather(
        kafka_produce(kafka_bootstrap, topic_prefix + INTAKE_TOPIC, *intake_events),
        kafka_produce(kafka_bootstrap, topic_prefix + ADJUDICATION_TOPIC, *adjudication_events),
    )

    # Both topics hold the claim's events before the consumer starts, so its first polls take both.
    runtime = await make_runtime(
        fresh_pg_url,
        kafka=kafka_bootstrap,
        prefix=topic_prefix,
        consumers={
            "probe": (
                [INTAKE_TOPIC, ADJUDICATION_TOPIC],
                {"ClaimWithdrawn": slow_increment, "VerificationRequested": slow_increment},
            )
        },
        consumer_batch_size=batch_size,
    )

    async def all_applied() -> bool:
        applied = runtime.metrics.events_consumed
        return (
            applied.labels("probe", "ClaimWithdrawn", "applied")._value.get()
            + applied.labels("probe", "VerificationRequested", "applied")._value.get()
        ) >= 8

    await wait_for(all_applied)
    assert await effects(runtime, claim) == 8


async def test_a_partitions_backlog_is_applied_in_few_transactions_each_event_once(
    fresh_pg_url,
    kafka_bootstrap,
    topic_prefix,
    make_runtime,
    make_event,
    counting_handler,
    effects,
    kafka_produce,
    wait_for,
):
    """Events that wait together are applied together: one transaction for a run, not one per event."""
    from sqlalchemy import text

    transactions: list[int] = []

    async def counting_in_transaction(uow, envelope, payload) -> None:  # type: ignore[no-untyped-def]
        transactions.append(int((await uow.session.execute(text("SELECT txid_current()"))).scalar_one()))
        await counting_handler(uow, envelope, payload)

    await make_runtime(fresh_pg_url, kafka=kafka_bootstrap, prefix=topic_prefix)  # creates the topics
    claims = [f"C-{uuid.uuid4().hex[:8]}" for _ in range(40)]
    records = [(c.encode(), _envelope(make_event, c).model_dump_json().encode()) for c in claims]
    await kafka_produce(kafka_bootstrap, topic_prefix + INTAKE_TOPIC, *records, records[0], records[7])
    runtime = await make_runtime(
        fresh_pg_url,
        kafka=kafka_bootstrap,
        prefix=topic_prefix,
        consumers={"probe": ([INTAKE_TOPIC], {"ClaimWithdrawn": counting_in_transaction})},
    )

    async def all_seen() -> bool:
        return _handled(runtime, "applied", "duplicate") >= 42

    await wait_for(all_seen)
    assert [await effects(runtime, c) for c in claims] == [1] * 40
    assert _handled(runtime, "duplicate") == 2
    assert len(transactions) == 40  # the two redeliveries never reached the handler
    assert len(set(transactions)) <= 10, f"{len(set(transactions))} transactions for 40 events"


async def test_a_failing_event_in_a_batch_leaves_the_others_applied_once(
    fresh_pg_url,
    kafka_bootstrap,
    topic_prefix,
    make_runtime,
    make_event,
    counting_handler,
    effects,
    kafka_records,
    kafka_produce,
    wait_for,
):
    """The batch is rolled back and retried one event at a time: the good ones once, the bad one dead-lettered."""
    claims = [f"C-{uuid.uuid4().hex[:8]}" for _ in range(12)]
    failing = claims[5]

    async def picky(uow, envelope, payload) -> None:  # type: ignore[no-untyped-def]
        await counting_handler(uow, envelope, payload)
        if envelope.claim_id == failing:
            raise ValueError("cannot apply this claim")

    await make_runtime(fresh_pg_url, kafka=kafka_bootstrap, prefix=topic_prefix)  # creates the topics
    await kafka_produce(
        kafka_bootstrap,
        topic_prefix + INTAKE_TOPIC,
        *((c.encode(), _envelope(make_event, c).model_dump_json().encode()) for c in claims),
    )
    runtime = await make_runtime(
        fresh_pg_url,
        kafka=kafka_bootstrap,
        prefix=topic_prefix,
        consumers={"probe": ([INTAKE_TOPIC], {"ClaimWithdrawn": picky})},
        consumer_max_attempts=2,
    )
    dead = await kafka_records(kafka_bootstrap, topic_prefix + dlq_topic(INTAKE_TOPIC), expect=1)
    assert [r.key for r in dead] == [failing.encode()]

    async def others_applied() -> bool:
        return all([await effects(runtime, c) == 1 for c in claims if c != failing])

    await wait_for(others_applied)
    assert await effects(runtime, failing) == 0

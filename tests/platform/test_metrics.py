"""Metrics measured at the scrape: dead letters, consumer lag, outbox backlog, and services' own hooks."""

from __future__ import annotations

import asyncio
import uuid

from prometheus_client import Gauge
from sqlalchemy import text

from claims_contracts.envelope import EventEnvelope, EventPayload
from claims_contracts.topics import ADJUDICATION_TOPIC, INTAKE_TOPIC
from claims_platform import service as service_module
from claims_platform.bus.kafka import replay_dead_letters
from claims_platform.bus.memory import InMemoryBus
from claims_platform.db import UnitOfWork
from claims_platform.testing import serve


def _sample(runtime, name: str, **labels: str) -> float | None:  # type: ignore[no-untyped-def]
    return runtime.metrics.registry.get_sample_value(name, labels)


async def test_dlq_size_counts_a_poison_message_until_it_is_replayed(
    fresh_pg_url, kafka_bootstrap, topic_prefix, make_runtime, counting_handler, kafka_produce, wait_for
):
    runtime = await make_runtime(
        fresh_pg_url,
        kafka=kafka_bootstrap,
        prefix=topic_prefix,
        consumers={"probe": ([INTAKE_TOPIC], {"ClaimWithdrawn": counting_handler})},
    )
    await runtime.collect()
    assert _sample(runtime, "dlq_size", topic=INTAKE_TOPIC) == 0
    assert _sample(runtime, "dlq_size", topic=ADJUDICATION_TOPIC) is None  # not a topic this service reads

    await kafka_produce(kafka_bootstrap, topic_prefix + INTAKE_TOPIC, (b"C-poison", b"{not an envelope"))

    async def dead_lettered() -> bool:
        await runtime.collect()
        return _sample(runtime, "dlq_size", topic=INTAKE_TOPIC) == 1

    await wait_for(dead_lettered)
    replayed = await replay_dead_letters(kafka_bootstrap, INTAKE_TOPIC, topic_prefix=topic_prefix, timeout_s=5)
    assert replayed == 1

    async def dead_lettered_again() -> bool:  # still poison: back on the DLQ, once, and counted once
        await runtime.collect()
        return _sample(runtime, "dlq_size", topic=INTAKE_TOPIC) == 1 and (
            _sample(runtime, "events_consumed_total", consumer="probe", event_type="unknown", result="dead_lettered")
            == 2
        )

    await wait_for(dead_lettered_again)


async def test_consumer_lag_counts_what_a_stuck_handler_has_not_committed(
    fresh_pg_url, kafka_bootstrap, topic_prefix, make_runtime, make_event, kafka_produce, wait_for
):
    release = asyncio.Event()
    started = asyncio.Event()

    async def slow(uow: UnitOfWork, envelope: EventEnvelope, payload: EventPayload) -> None:
        started.set()
        await release.wait()

    runtime = await make_runtime(
        fresh_pg_url,
        kafka=kafka_bootstrap,
        prefix=topic_prefix,
        consumers={"probe": ([INTAKE_TOPIC], {"ClaimWithdrawn": slow})},
    )
    claim = f"C-{uuid.uuid4().hex[:8]}"  # one claim: one partition, handled in order
    messages = [
        (claim.encode(), EventEnvelope.wrap(make_event(claim), claim_id=claim, producer="t").model_dump_json().encode())
        for _ in range(4)
    ]
    await kafka_produce(kafka_bootstrap, topic_prefix + INTAKE_TOPIC, *messages)
    await asyncio.wait_for(started.wait(), 30)
    await runtime.collect()
    assert _sample(runtime, "consumer_lag", consumer="probe") == 4

    release.set()

    async def caught_up() -> bool:
        await runtime.collect()
        return _sample(runtime, "consumer_lag", consumer="probe") == 0

    await wait_for(caught_up)


class _UnreachableBus(InMemoryBus):
    """A bus whose broker is down: every publish fails."""

    async def publish(self, messages) -> None:  # type: ignore[no-untyped-def]
        raise ConnectionError("broker unreachable")


async def test_outbox_backlog_grows_while_the_bus_is_down(fresh_pg_url, make_runtime, make_event):
    bus = _UnreachableBus()
    runtime = await make_runtime(fresh_pg_url, bus=bus)
    for _ in range(3):
        claim = f"C-{uuid.uuid4().hex[:8]}"
        async with runtime.db.uow() as uow:
            uow.publish(make_event(claim), claim_id=claim)
    await asyncio.sleep(0.3)  # the relay tries, and fails
    await runtime.collect()
    assert _sample(runtime, "outbox_backlog") == 3


async def test_metrics_endpoint_awaits_scrape_hooks_and_bounds_them(
    fresh_pg_url, jwt_secret, make_event, monkeypatch, wait_for
):
    from claims_intake.app import MIGRATIONS
    from claims_intake.config import IntakeSettings

    monkeypatch.setattr(service_module, "SCRAPE_TIMEOUT_SECONDS", 0.2)
    bus = InMemoryBus()
    settings = IntakeSettings(
        environment="test", database_url=fresh_pg_url, jwt_secret=jwt_secret, consumer_max_attempts=1
    )
    runtime = service_module.ServiceRuntime(settings, migrations=MIGRATIONS, bus=bus)

    async def refuse(uow: UnitOfWork, envelope: EventEnvelope, payload: EventPayload) -> None:
        raise RuntimeError("never works")

    runtime.consume("probe", [INTAKE_TOPIC], {"ClaimWithdrawn": refuse})
    widgets = Gauge("probe_widgets", "Widgets", registry=runtime.metrics.registry)
    calls = 0

    async def count_widgets() -> None:
        nonlocal calls
        calls += 1
        widgets.set(calls * 10)

    async def hang() -> None:
        await asyncio.sleep(60)

    runtime.on_scrape(count_widgets)
    runtime.on_scrape(hang)
    app = runtime.create_app(title="probe", description="probe")
    async with serve(app) as client:
        await bus.start()
        claim = f"C-{uuid.uuid4().hex[:8]}"
        async with runtime.db.uow() as uow:
            uow.publish(make_event(claim), claim_id=claim)

        async def dead_lettered() -> bool:
            return len(bus.dead_letters) == 1

        await wait_for(dead_lettered)
        response = await client.get("/metrics")
        assert response.status_code == 200
        text = response.text
        assert "probe_widgets 10.0" in text  # the hook ran before rendering; the hanging one did not block it
        assert f'dlq_size{{topic="{INTAKE_TOPIC}"}} 1.0' in text
        assert 'consumer_lag{consumer="probe"} 0.0' in text
        assert "outbox_backlog 0.0" in text
        assert "probe_widgets 20.0" in (await client.get("/metrics")).text
        assert await bus.replay_dead_letters(INTAKE_TOPIC) == 1
        await bus.idle()
        assert f'dlq_size{{topic="{INTAKE_TOPIC}"}} 1.0' in (await client.get("/metrics")).text  # failed again


async def test_database_statements_and_transactions_are_counted(fresh_pg_url, make_runtime, make_event):
    """What a unit of work costs in round trips shows on /metrics: its statements and its commit."""
    runtime = await make_runtime(fresh_pg_url, bus=_UnreachableBus())
    runtime.relay.stop()  # the relay's own rounds would count too
    await asyncio.wait_for(runtime._relay_task, 5)  # type: ignore[arg-type]
    statements = _sample(runtime, "db_statements_total") or 0.0
    commits = _sample(runtime, "db_transactions_total", result="commit") or 0.0
    rollbacks = _sample(runtime, "db_transactions_total", result="rollback") or 0.0
    claim = f"C-{uuid.uuid4().hex[:8]}"
    async with runtime.db.uow() as uow:
        uow.publish(make_event(claim), claim_id=claim)  # one outbox insert
    try:
        async with runtime.db.uow() as uow:
            await uow.session.execute(text("SELECT 1"))
            raise RuntimeError("changed my mind")
    except RuntimeError:
        pass
    assert _sample(runtime, "db_statements_total") == statements + 2
    assert _sample(runtime, "db_transactions_total", result="commit") == commits + 1
    assert _sample(runtime, "db_transactions_total", result="rollback") == rollbacks + 1

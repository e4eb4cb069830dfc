"""Fixtures for the platform kit's tests: runtimes on real PostgreSQL and Kafka, and a Kafka reader."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

import pytest
from sqlalchemy import text

from claims_contracts.envelope import EventEnvelope, EventPayload
from claims_contracts.events import ClaimWithdrawn
from claims_intake.app import MIGRATIONS
from claims_intake.config import IntakeSettings
from claims_platform.bus.base import EventBus
from claims_platform.db import UnitOfWork
from claims_platform.inbox import EventHandler
from claims_platform.service import ServiceRuntime
from claims_platform.tracing import Tracing

PROBE_DDL = ("CREATE TABLE IF NOT EXISTS probe_effects (claim_id VARCHAR(64) PRIMARY KEY, applied INTEGER NOT NULL)",)


async def count_effect(uow: UnitOfWork, envelope: EventEnvelope, _: EventPayload) -> None:
    """A consumer's effect that shows double application: a counter per claim."""
    result = await uow.session.execute(
        text("UPDATE probe_effects SET applied = applied + 1 WHERE claim_id = :c"), {"c": envelope.claim_id}
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        await uow.session.execute(
            text("INSERT INTO probe_effects (claim_id, applied) VALUES (:c, 1)"), {"c": envelope.claim_id}
        )


def withdrawn(claim_id: str, reason: str = "changed my mind") -> ClaimWithdrawn:
    """A small real event to move around."""
    return ClaimWithdrawn(claim_id=claim_id, reason=reason, withdrawn_by="member-1")


RuntimeFactory = Callable[..., Awaitable[ServiceRuntime]]


@pytest.fixture
async def make_runtime(jwt_secret: str) -> AsyncIterator[RuntimeFactory]:
    """Build and start service runtimes (the intake service's migrations plus a probe table)."""
    started: list[ServiceRuntime] = []

    async def _make(
        database_url: str,
        *,
        kafka: str | None = None,
        prefix: str = "",
        bus: EventBus | None = None,
        consumers: Mapping[str, tuple[Sequence[str], Mapping[str, EventHandler]]] | None = None,
        tracing: Tracing | None = None,
        **overrides: Any,
    ) -> ServiceRuntime:
        settings = IntakeSettings(
            environment="test",
            database_url=database_url,
            kafka_bootstrap_servers=kafka,
            kafka_topic_prefix=prefix,
            kafka_topic_partitions=2,
            jwt_secret=jwt_secret,
            relay_poll_seconds=0.1,
            consumer_backoff_seconds=0.01,
            **overrides,
        )
        runtime = ServiceRuntime(settings, migrations=MIGRATIONS, bus=bus, tracing=tracing)
        await runtime.migrate()
        async with runtime.db.engine.begin() as conn:
            for ddl in PROBE_DDL:
                await conn.execute(text(ddl))
        for name, (topics, handlers) in (consumers or {}).items():
            runtime.consume(name, topics, handlers)
        runtime.settings.migrate_on_start = False
        await runtime.start()
        started.append(runtime)
        return runtime

    yield _make
    for runtime in reversed(started):
        await runtime.stop()


async def applied(runtime: ServiceRuntime, claim_id: str) -> int:
    """How often the probe effect ran for a claim."""
    async with runtime.db.engine.connect() as conn:
        value = (
            await conn.execute(text("SELECT applied FROM probe_effects WHERE claim_id = :c"), {"c": claim_id})
        ).scalar()
    return int(value or 0)


@pytest.fixture
def effects() -> Callable[[ServiceRuntime, str], Awaitable[int]]:
    """Reads the probe counter of a claim."""
    return applied


@pytest.fixture
def make_event() -> Callable[..., ClaimWithdrawn]:
    """``make_event(claim_id, reason=…)``: a small real event."""
    return withdrawn


@pytest.fixture
def counting_handler() -> EventHandler:
    """A handler whose effect counts applications per claim."""
    return count_effect

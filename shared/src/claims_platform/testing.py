"""Pytest fixtures for every service's tests: the real PostgreSQL and Kafka that `make test` starts.

Loaded for the whole repository by the root ``conftest.py``. A test that needs PostgreSQL or Kafka
fails (never skips) when they are not there.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi import FastAPI
from sqlalchemy import MetaData, event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from claims_contracts.envelope import EventEnvelope
from claims_platform.auth import mint_token
from claims_platform.db import UnitOfWork
from claims_platform.inbox import IdempotentConsumer
from claims_platform.tables import platform_metadata


def _need(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the tests with `make test`, which starts PostgreSQL and Kafka")
    return value


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """Superuser URL of the test PostgreSQL."""
    return _need("CLAIMS_TEST_PG_ADMIN_URL")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """Bootstrap servers of the test Kafka broker."""
    return _need("CLAIMS_TEST_KAFKA_BOOTSTRAP_SERVERS")


@pytest.fixture(scope="session")
def jwt_secret() -> str:
    """The JWT secret the tests sign with."""
    return _need("CLAIMS_TEST_JWT_SECRET")


@pytest.fixture
async def fresh_pg_url(pg_admin_url: str) -> AsyncIterator[str]:
    """A new, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = pg_admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


_PREFIXES: set[str] = set()
"""The topic prefixes this test session handed out; their topics are deleted when it ends."""


def new_topic_prefix(stem: str = "t") -> str:
    """A fresh topic prefix whose topics are deleted at the end of the test session.

    The broker of ``make test`` outlives a run: without the deletion every run would leave its few thousand
    topics behind, and after some runs the broker runs out of file descriptors (each partition holds
    several files open) and stops creating topics.
    """
    prefix = f"{stem}{uuid.uuid4().hex[:10]}."
    _PREFIXES.add(prefix)
    return prefix


@pytest.fixture
def topic_prefix() -> str:
    """A topic prefix of its own for one test, so tests never read each other's messages."""
    return new_topic_prefix()


async def _delete_topics(bootstrap: str, prefixes: Collection[str]) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(tuple(prefixes))]
        for start in range(0, len(mine), 500):
            await admin.delete_topics(mine[start : start + 500])
        return len(mine)
    finally:
        await admin.close()


def delete_topics(bootstrap: str, prefixes: Collection[str], timeout: float = 60.0) -> None:
    """Delete the topics under ``prefixes`` (best effort: a failure is printed, never raised)."""
    if not prefixes:
        return
    # on a loop of its own in a worker thread: pytest-asyncio's loop is none of this function's business
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        job = asyncio.wait_for(_delete_topics(bootstrap, prefixes), timeout)
        pool.submit(asyncio.run, job).result(timeout=timeout + 15)
    except Exception as exc:
        print(f"[tests] could not delete the topics {sorted(prefixes)[:3]}…: {exc!r}")
    finally:
        pool.shutdown(wait=False)


@pytest.fixture(scope="session", autouse=True)
def _delete_session_topics() -> Iterator[None]:
    """At the end of the session: delete the topics of every prefix it handed out."""
    yield
    bootstrap = os.environ.get("CLAIMS_TEST_KAFKA_BOOTSTRAP_SERVERS")
    if bootstrap and _PREFIXES:
        delete_topics(bootstrap, set(_PREFIXES))


def bearer(
    secret: str, *roles: str, sub: str = "u-1", provider_id: str | None = None, member_id: str | None = None
) -> dict[str, str]:
    """An Authorization header for a token with ``roles`` (and provider_id / member_id)."""
    token = mint_token(secret, sub, list(roles), provider_id=provider_id, member_id=member_id)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def auth_header(jwt_secret: str) -> Callable[..., dict[str, str]]:
    """``auth_header("admin")`` or ``auth_header("partner", provider_id="H-001", sub="h1")``."""

    def _make(
        *roles: str, sub: str = "u-1", provider_id: str | None = None, member_id: str | None = None
    ) -> dict[str, str]:
        return bearer(jwt_secret, *roles, sub=sub, provider_id=provider_id, member_id=member_id)

    return _make


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run an app's lifespan and give an HTTP client talking to it in-process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:  # noqa: ASYNC109
    """Wait until ``check`` holds, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout}s")


@pytest.fixture
def wait_for() -> Callable[..., Awaitable[None]]:
    """``await wait_for(async_check, timeout=…)``."""
    return eventually


async def read_topic(
    bootstrap: str, topic: str, *, expect: int, idle_s: float = 2.0, timeout_s: float = 60.0
) -> list[Any]:
    """Every record of a topic from the start, once ``expect`` are read and the topic stays idle."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout_s
        partitions = None
        while partitions is None and time.monotonic() < deadline:
            cluster = await consumer._client.fetch_all_metadata()
            partitions = cluster.partitions_for_topic(topic)
            if partitions is None:
                await asyncio.sleep(0.2)
        assert partitions is not None, f"topic {topic} does not exist"
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records: list[Any] = []
        last_new = time.monotonic()
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                records.extend(recs)
                last_new = time.monotonic()
            if len(records) >= expect and time.monotonic() - last_new > idle_s:
                break
        return records
    finally:
        await consumer.stop()


@pytest.fixture
def kafka_records() -> Callable[..., Awaitable[list[Any]]]:
    """``await kafka_records(bootstrap, topic, expect=n)``: what a topic holds."""
    return read_topic


async def produce(bootstrap: str, topic: str, *messages: tuple[bytes, bytes]) -> None:
    """Put raw ``(key, value)`` messages on a topic (to play another service, or a poison message)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


@pytest.fixture
def kafka_produce() -> Callable[..., Awaitable[None]]:
    """``await kafka_produce(bootstrap, topic, (key, value), …)``."""
    return produce


@contextmanager
def statements_sent(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL statements the current task sends through ``engine`` while the block runs (BEGIN and COMMIT are
    not statements here), to assert what a piece of work costs in round trips."""
    sent: list[str] = []
    mine = asyncio.current_task()

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if asyncio.current_task() is mine:
            sent.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


def record_published(monkeypatch: pytest.MonkeyPatch) -> list[EventEnvelope]:
    """Every event a unit of work writes to its outbox from now on in the test, in order."""
    published: list[EventEnvelope] = []
    flush_events = UnitOfWork.flush_events

    async def recording(uow: UnitOfWork) -> None:
        published.extend(uow.events)
        await flush_events(uow)

    monkeypatch.setattr(UnitOfWork, "flush_events", recording)
    return published


async def apply_events(
    way: str,
    consumer: IdempotentConsumer,
    envelopes: list[tuple[EventEnvelope, Any]],
    *,
    unprepared: IdempotentConsumer | None = None,
) -> int:
    """Apply ``envelopes`` "one by one" (a transaction each), as one "batch", or (any other ``way``) as one
    batch of ``unprepared``, the same consumer without its prepare step; checks that each was applied, and
    returns how many statements it took."""
    with statements_sent(consumer.db.engine) as statements:
        if way == "one by one":
            applied = [await consumer.handle(envelope) for envelope, _ in envelopes]
        else:
            applied = await (consumer if way == "batch" or unprepared is None else unprepared).handle_many(envelopes)
    assert applied == [True] * len(envelopes)
    return len(statements)


async def schema_drift(url: str, *metadata: MetaData) -> list[Any]:
    """What Alembic's autogenerate finds between the database at ``url`` and ``metadata`` with the platform's
    own tables (``alembic_version`` aside): empty when the migrations make exactly what the models describe."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:

            def diff(sync_conn: Any) -> list[Any]:
                context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
                # Several MetaData, as ``target_metadata`` takes them (the stub says one).
                return list(compare_metadata(context, [*metadata, platform_metadata]))  # type: ignore[arg-type]

            changes = await conn.run_sync(diff)
    finally:
        await engine.dispose()
    return [c for c in changes if not (c[0] == "remove_table" and c[1].name == "alembic_version")]

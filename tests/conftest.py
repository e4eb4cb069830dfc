"""Fixtures shared by the cross-service tests: the real PostgreSQL and Kafka that `make test` starts."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine


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


@pytest.fixture
def topic_prefix() -> str:
    """A topic prefix of its own for one test, so tests never read each other's messages."""
    return f"t{uuid.uuid4().hex[:10]}."

"""One database and one role per service, with no cross grants."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

SERVICES = ("intake", "adjudication", "payment", "notification")


def _url(service: str) -> str:
    value = os.environ.get(f"CLAIMS_TEST_{service.upper()}_DATABASE_URL")
    if not value:
        pytest.fail("run the tests with `make test`, which provisions PostgreSQL")
    return value


async def test_each_service_reaches_its_own_database():
    for service in SERVICES:
        engine = create_async_engine(_url(service))
        try:
            async with engine.connect() as conn:
                assert (await conn.execute(text("SELECT current_database()"))).scalar() == f"claims_{service}"
        finally:
            await engine.dispose()


async def test_no_service_role_can_open_another_services_database():
    own = _url("intake")
    other = own.rsplit("/", 1)[0] + "/claims_payment"
    engine = create_async_engine(other)
    try:
        with pytest.raises(Exception, match="permission denied"):
            async with engine.connect():
                pass
    finally:
        await engine.dispose()

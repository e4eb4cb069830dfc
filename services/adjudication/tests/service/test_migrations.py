"""The migrations create exactly the tables the models describe, and go down again."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from claims_adjudication.app import MIGRATIONS
from claims_adjudication.db.models import metadata
from claims_platform.migrations import alembic_config, upgrade
from claims_platform.testing import schema_drift


async def test_migrated_schema_matches_the_models_and_downgrades(fresh_pg_url):
    await asyncio.to_thread(upgrade, MIGRATIONS, fresh_pg_url)
    assert await schema_drift(fresh_pg_url, metadata) == []
    engine = create_async_engine(fresh_pg_url)
    try:
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            assert {"plans", "plan_versions", "policies", "claims", "accumulators", "decisions"} <= tables

        await asyncio.to_thread(command.downgrade, alembic_config(MIGRATIONS, fresh_pg_url), "adju0001")
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            assert "decisions" not in tables
            assert "outbox" in tables
    finally:
        await engine.dispose()

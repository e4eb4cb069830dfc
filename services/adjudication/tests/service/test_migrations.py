"""The migrations create exactly the tables the models describe, and go down again."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from claims_adjudication.app import MIGRATIONS
from claims_adjudication.db.models import metadata
from claims_platform.migrations import alembic_config, upgrade


async def test_migrated_schema_matches_the_models_and_downgrades(fresh_pg_url):
    await asyncio.to_thread(upgrade, MIGRATIONS, fresh_pg_url)
    engine = create_async_engine(fresh_pg_url)
    try:
        async with engine.connect() as conn:

            def diff(sync_conn):
                context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
                return compare_metadata(context, metadata)

            changes = await conn.run_sync(diff)
            # the platform's own tables (outbox, inbox) are not in the service's metadata
            changes = [c for c in changes if not (c[0] == "remove_table" and c[1].name in ("outbox", "inbox"))]
            changes = [c for c in changes if not (c[0] == "remove_table" and c[1].name == "alembic_version")]
            assert changes == []
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            assert {"plans", "plan_versions", "policies", "claims", "accumulators", "decisions"} <= tables

        await asyncio.to_thread(command.downgrade, alembic_config(MIGRATIONS, fresh_pg_url), "adju0001")
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            assert "decisions" not in tables
            assert "outbox" in tables
    finally:
        await engine.dispose()

"""The migrations create exactly the tables the models describe; inta0004 goes down only while
``document_contents`` holds no content (the only copy of those documents)."""

from __future__ import annotations

import asyncio

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from claims_intake.app import MIGRATIONS
from claims_intake.db.models import metadata
from claims_platform.migrations import alembic_config, upgrade
from claims_platform.testing import schema_drift


async def test_migrated_schema_matches_the_models_and_document_contents_go_down_only_empty(fresh_pg_url):
    await asyncio.to_thread(upgrade, MIGRATIONS, fresh_pg_url)
    assert await schema_drift(fresh_pg_url, metadata) == []
    engine = create_async_engine(fresh_pg_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO claims (claim_id, status, lifecycle, claim_type, policy_number, member_id,"
                    " provider_id, submitted_by, submitted_by_provider, channel, submitted_at, updated_at,"
                    " currency, payee, charged, data, missing_documents, deciders, pended) VALUES ('C-1', 'received',"
                    " 'received', 'outpatient', 'P', 'M', 'H', 'u', false, 'api', now(), now(), 'CNY', 'member', 1,"
                    " '{}', '[]', '[]', false)"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO documents (document_id, claim_id, type, filename, content_type, size_bytes, sha256,"
                    " storage_key, source, uploaded_by, uploaded_at) VALUES ('D-1', 'C-1', 'claim_form', 'a.pdf',"
                    " 'application/pdf', 4, 'x', 'C-1/D-1', 'inline', 'u', now())"
                )
            )
            await conn.execute(text("INSERT INTO document_contents VALUES ('D-1', '\\x25504446'::bytea)"))
        config = alembic_config(MIGRATIONS, fresh_pg_url)
        with pytest.raises(RuntimeError, match="only copy"):
            await asyncio.to_thread(command.downgrade, config, "inta0003")
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM document_contents"))
        await asyncio.to_thread(command.downgrade, config, "inta0003")
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            assert "document_contents" not in tables
            assert "documents" in tables
    finally:
        await engine.dispose()

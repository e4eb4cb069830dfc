"""Alembic helpers: one env.py body for every service, upgrades at start, and the readiness check."""

from __future__ import annotations

import asyncio
import threading
import zlib
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from claims_platform.tables import platform_metadata


def alembic_config(script_location: Path, url: str) -> Config:
    """An Alembic config for a service's migrations folder and database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


# Alembic's ``context`` is process-global: services sharing a process (embedded mode) migrate in turn.
_ALEMBIC_LOCK = threading.Lock()


def upgrade(script_location: Path, url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (blocking; run it in a thread from async code)."""
    with _ALEMBIC_LOCK:
        command.upgrade(alembic_config(script_location, url), revision)


def _run(connection: Connection, metadata: MetaData) -> None:
    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=[metadata, platform_metadata],
        render_as_batch=sqlite,
        compare_type=True,
    )
    with context.begin_transaction():
        if not sqlite:
            # Replicas starting together: one migrates, the others wait and find nothing left to do.
            key = zlib.crc32(str(context.config.get_main_option("script_location")).encode()) & 0x7FFFFFFF
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
        context.run_migrations()


async def _online(url: str, metadata: MetaData) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run, metadata)
            await conn.commit()
    finally:
        await engine.dispose()


def run_env(metadata: MetaData) -> None:
    """The body of a service's ``env.py``."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=[metadata, platform_metadata], literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_online(url, metadata))


async def is_up_to_date(engine: AsyncEngine, script_location: Path) -> bool:
    """Whether the database is at the head revision of the service's migrations."""
    heads = set(ScriptDirectory(str(script_location)).get_heads())

    def _current(conn: Connection) -> set[str]:
        return set(MigrationContext.configure(conn).get_current_heads())

    async with engine.connect() as conn:
        return await conn.run_sync(_current) == heads

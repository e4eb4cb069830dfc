"""The command line of one service: ``serve`` (the default) and ``migrate``."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from claims_platform.logging import configure_logging
from claims_platform.migrations import upgrade
from claims_platform.settings import ServiceSettings


def run_service(
    settings_factory: Callable[[], ServiceSettings],
    app_factory: Callable[[ServiceSettings], FastAPI],
    migrations: Path,
    argv: list[str] | None = None,
) -> None:
    """Entry point of ``python -m claims_<service> [serve|migrate]``."""
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "serve"
    settings = settings_factory()
    configure_logging(settings.log_format, settings.log_level)
    if command == "migrate":
        if settings.effective_database_url.startswith("sqlite"):
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        upgrade(migrations, settings.effective_database_url)
        return
    if command != "serve":
        raise SystemExit(f"unknown command {command!r}; use serve or migrate")
    app = app_factory(settings)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.listen_port, log_config=None, access_log=False, proxy_headers=True
    )
    # uvloop where it exists: ``Config(loop=...)`` only applies to ``Server.run``, not to a loop we start.
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(uvicorn.Server(config).serve())


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when it is installed (it is on Linux and macOS), else asyncio's default."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows
        return None
    return uvloop.new_event_loop

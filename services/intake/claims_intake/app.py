"""Composition root of the intake service: the one place where its parts are wired together."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI

from claims_intake import cases
from claims_intake.api.routes import router as claims_router
from claims_intake.config import IntakeSettings
from claims_intake.context import Clock, IntakeContext, system_clock
from claims_intake.events.handlers import ARCHIVE_CONSUMER, ARCHIVE_TOPICS, HANDLERS
from claims_intake.fhir.mapping import FhirError
from claims_intake.fhir.routes import fhir_error_handler
from claims_intake.fhir.routes import router as fhir_router
from claims_intake.pii import Vault, derive_key
from claims_intake.storage import DocumentStore, FilesystemDocumentStore
from claims_platform.bus.base import EventBus
from claims_platform.logging import get_logger
from claims_platform.service import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"

log = get_logger(__name__)


def build_runtime(settings: IntakeSettings | None = None, bus: EventBus | None = None) -> ServiceRuntime:
    """The service's runtime: database, bus, relay and the archive's consumer."""
    settings = settings or IntakeSettings()
    runtime = ServiceRuntime(settings, migrations=MIGRATIONS, bus=bus)
    runtime.consume(ARCHIVE_CONSUMER, ARCHIVE_TOPICS, HANDLERS)
    return runtime


def build_vault(settings: IntakeSettings) -> Vault:
    """The PII vault: the configured key, or one derived from the JWT secret."""
    if settings.pii_key is not None:
        return Vault(settings.pii_key.get_secret_value())
    secret = settings.resolved_jwt_secret()
    if secret is None:
        raise ValueError("CLAIMS_INTAKE_PII_KEY is needed when no JWT secret is configured")
    return Vault(derive_key(secret))


async def _expiry_loop(ctx: IntakeContext, runtime: ServiceRuntime) -> None:
    while True:
        await asyncio.sleep(ctx.settings.expiry_interval_seconds)
        try:
            expired = await cases.expire_overdue(ctx, runtime.db)
            if expired:
                log.info("claims expired", count=len(expired))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("expiry job failed; will retry", error_type=type(exc).__name__)


def create_app(
    settings: IntakeSettings | None = None,
    bus: EventBus | None = None,
    *,
    clock: Clock | None = None,
    store: DocumentStore | None = None,
) -> FastAPI:
    """The intake service's FastAPI app."""
    settings = settings or IntakeSettings()
    runtime = build_runtime(settings, bus)
    ctx = IntakeContext(
        settings=settings,
        store=store or FilesystemDocumentStore(settings.effective_documents_dir),
        vault=build_vault(settings),
        clock=clock or system_clock,
    )
    app = runtime.create_app(
        title="Claims intake service",
        description=(
            "The front door and the case archive: claims, documents, completeness, disputes, timeline. "
            "See docs/intake.md for hospital integrators."
        ),
        routers=[claims_router, fhir_router],
    )
    app.state.intake = ctx
    app.add_exception_handler(FhirError, fhir_error_handler)
    base_lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app_: FastAPI) -> AsyncIterator[None]:
        async with base_lifespan(app_):
            task = (
                asyncio.create_task(_expiry_loop(ctx, runtime), name="intake-expiry")
                if settings.expiry_job_enabled
                else None
            )
            try:
                yield
            finally:
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    app.router.lifespan_context = lifespan
    return app

"""Composition root of the intake service: the one place where its parts are wired together."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI
from prometheus_client import Gauge
from starlette.types import ASGIApp, Receive, Scope, Send

from claims_contracts.values import ClaimStatus
from claims_intake import cases
from claims_intake.api.reports import router as reports_router
from claims_intake.api.routes import router as claims_router
from claims_intake.config import IntakeSettings
from claims_intake.context import Clock, IntakeContext, system_clock
from claims_intake.db.repositories import ReportRepository
from claims_intake.events.handlers import ARCHIVE_CONSUMER, ARCHIVE_TOPICS, HANDLERS, lock_claims
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
    runtime.consume(ARCHIVE_CONSUMER, ARCHIVE_TOPICS, HANDLERS, prepare=lock_claims)
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


class ClaimsByStatus:
    """The gauge ``intake_claims_by_status{status}``, refreshed from the database on every scrape of /metrics.

    It counts every claim in the archive, so each replica reports the same figure: aggregate with
    ``max``, not ``sum``.
    """

    def __init__(self, runtime: ServiceRuntime, timeout_s: float = 5.0) -> None:
        self.runtime = runtime
        self.timeout_s = timeout_s
        self.gauge = Gauge(
            "intake_claims_by_status",
            "Claims in the archive by current status",
            ["status"],
            registry=runtime.metrics.registry,
        )
        for status in ClaimStatus:
            self.gauge.labels(status.value).set(0)

    async def refresh(self) -> None:
        """Set the gauge from the database; on failure keep the last figures and log."""
        try:
            async with asyncio.timeout(self.timeout_s), self.runtime.db.sessions() as session:
                counts = await ReportRepository(session).count_by_status()
        except Exception as exc:
            log.warning("claims by status not refreshed", error_type=type(exc).__name__)
            return
        for status in {*(s.value for s in ClaimStatus), *counts}:
            self.gauge.labels(status).set(counts.get(status, 0))


class RefreshOnScrape:
    """Refreshes the database-backed gauges before ``GET /metrics`` is answered."""

    def __init__(self, app: ASGIApp, gauge: ClaimsByStatus) -> None:
        self.app = app
        self.gauge = gauge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") == "/metrics" and scope.get("method") == "GET":
            await self.gauge.refresh()
        await self.app(scope, receive, send)


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
            "The front door and the case archive: claims, documents, completeness, disputes, timeline, reports. "
            "See docs/intake.md for hospital integrators."
        ),
        routers=[claims_router, reports_router, fhir_router],
    )
    app.state.intake = ctx
    app.add_middleware(RefreshOnScrape, gauge=ClaimsByStatus(runtime))
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

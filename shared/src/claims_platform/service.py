"""The runtime of one service: database, bus, relay and consumers, and the FastAPI app around them.

Each service's composition root (``app.py``) builds one ``ServiceRuntime`` and asks it for the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from claims_platform.auth import Authenticator
from claims_platform.bus.base import EventBus, ObservableBus
from claims_platform.bus.kafka import KafkaBus
from claims_platform.bus.memory import InMemoryBus
from claims_platform.context import correlation_id_var
from claims_platform.db import Database
from claims_platform.errors import BodyGuardMiddleware, install_error_handlers
from claims_platform.inbox import EventHandler, IdempotentConsumer, MessageProcessor, PrepareBatch, describe
from claims_platform.logging import configure_logging, get_logger
from claims_platform.metrics import MetricsMiddleware, ServiceMetrics, count_database_work
from claims_platform.migrations import is_up_to_date, upgrade
from claims_platform.outbox import OutboxRelay
from claims_platform.settings import ServiceSettings
from claims_platform.tracing import Tracing, TracingMiddleware

log = get_logger(__name__)

_CORRELATION = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")

ScrapeHook = Callable[[], Awaitable[None]]
SCRAPE_TIMEOUT_SECONDS = 2.0
"""How long ``/metrics`` waits for each collect-on-scrape hook; one that is late keeps its previous values."""


def build_bus(settings: ServiceSettings) -> EventBus:
    """Kafka when bootstrap servers are set, the in-process bus otherwise."""
    if settings.kafka_bootstrap_servers:
        return KafkaBus(
            settings.kafka_bootstrap_servers,
            client_id=f"claims-{settings.service_name}",
            partitions=settings.kafka_topic_partitions,
            replication_factor=settings.kafka_replication_factor,
            topic_prefix=settings.kafka_topic_prefix,
            batch_size=settings.consumer_batch_size,
            commit_interval=settings.consumer_commit_seconds,
        )
    return InMemoryBus()


class CorrelationMiddleware:
    """Takes ``X-Correlation-ID`` (or makes one), puts it in the log context and echoes it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = dict(scope.get("headers") or []).get(b"x-correlation-id", b"").decode(errors="replace")
        value = raw if _CORRELATION.match(raw) else str(uuid.uuid4())
        token = correlation_id_var.set(value)

        async def _send(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-correlation-id", value.encode())]
            await send(message)

        try:
            await self.app(scope, receive, _send)
        except Exception:
            # The handler of unexpected errors runs outside this middleware (Starlette's outermost one):
            # leave the id in this request's context so its log line still carries it.
            raise
        correlation_id_var.reset(token)


class ServiceRuntime:
    """Everything a service runs besides its own routes and handlers."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        migrations: Path,
        bus: EventBus | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.settings = settings
        self.name = settings.service_name
        self.migrations = migrations
        self.db = Database(
            settings.effective_database_url,
            producer=self.name,
            pool_size=settings.db_pool_size,
            pre_ping=settings.db_pool_pre_ping,
        )
        self.metrics = ServiceMetrics(self.name)
        count_database_work(self.db.engine, self.metrics)
        self.tracing = tracing if tracing is not None else Tracing.from_settings(settings)
        self.owns_bus = bus is None
        self.bus = bus if bus is not None else build_bus(settings)
        self.relay = OutboxRelay(
            self.db,
            self.bus,
            batch_size=settings.relay_batch_size,
            poll_seconds=settings.relay_poll_seconds,
            metrics=self.metrics,
        )
        self.db.on_outbox_commit(self.relay.wake)
        self.consumers: list[IdempotentConsumer] = []
        self._consumed_topics: set[str] = set()
        self._relay_task: asyncio.Task[None] | None = None
        self._migrated = False
        self._scrape_hooks: list[ScrapeHook] = [self._scrape_outbox, self._scrape_lag, self._scrape_dead_letters]

    def consume(
        self,
        name: str,
        topics: Sequence[str],
        handlers: Mapping[str, EventHandler],
        *,
        prepare: PrepareBatch | None = None,
    ) -> IdempotentConsumer:
        """Subscribe a consumer group ``name`` whose handlers run once per event, in the event's transaction.

        ``prepare`` runs first in each transaction, with the events about to be handled (``PrepareBatch``).
        """
        consumer = IdempotentConsumer(name, self.db, handlers, prepare=prepare)
        processor = MessageProcessor(
            consumer,
            partial(self.bus.dead_letter, name),
            max_attempts=self.settings.consumer_max_attempts,
            backoff_seconds=self.settings.consumer_backoff_seconds,
            metrics=self.metrics,
            tracing=self.tracing,
        )
        self.bus.subscribe(name, topics, processor)
        self.consumers.append(consumer)
        self._consumed_topics.update(topics)
        return consumer

    def on_scrape(self, hook: ScrapeHook) -> None:
        """Run ``hook`` (an async function setting gauges on ``metrics.registry``) before each ``/metrics``.

        Hooks run side by side, each bounded by ``SCRAPE_TIMEOUT_SECONDS``; one that fails or is late is
        logged and its gauges keep their previous values. Keep them cheap: a scrape comes every few seconds.
        """
        self._scrape_hooks.append(hook)

    async def collect(self) -> None:
        """Run every collect-on-scrape hook (what ``/metrics`` does before rendering)."""
        await asyncio.gather(*(self._run_hook(hook) for hook in self._scrape_hooks))

    async def _run_hook(self, hook: ScrapeHook) -> None:
        try:
            await asyncio.wait_for(hook(), SCRAPE_TIMEOUT_SECONDS)
        except Exception as exc:
            name = getattr(hook, "__qualname__", repr(hook))
            log.warning("metrics hook failed; its values are stale", hook=name, error=describe(exc))

    async def _scrape_outbox(self) -> None:
        self.metrics.outbox_backlog.set(await self.relay.backlog())

    async def _scrape_lag(self) -> None:
        if not self.consumers or not isinstance(self.bus, ObservableBus):
            return
        lags = await self.bus.refresh_lag()
        for consumer in self.consumers:
            self.metrics.consumer_lag.labels(consumer.name).set(lags.get(consumer.name, 0))

    async def _scrape_dead_letters(self) -> None:
        if not self._consumed_topics or not isinstance(self.bus, ObservableBus):
            return
        for topic, count in (await self.bus.dead_letter_counts(sorted(self._consumed_topics))).items():
            self.metrics.dlq_size.labels(topic).set(count)

    async def migrate(self) -> None:
        """Bring the database to the latest migration."""
        if self.db.is_sqlite:
            self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(upgrade, self.migrations, self.db.url)
        self._migrated = True

    async def start(self) -> None:
        """Migrate (where configured), connect the bus, start the relay."""
        if self.settings.migrate_on_start:
            await self.migrate()
        if self.owns_bus:
            await self._start_bus()
        self._relay_task = asyncio.create_task(self.relay.run(), name=f"relay:{self.name}")
        log.info("service started", service=self.name)

    async def _start_bus(self, attempts: int = 30) -> None:
        for attempt in range(1, attempts + 1):
            try:
                await self.bus.start()
                return
            except Exception as exc:
                if attempt == attempts:
                    raise
                log.warning("bus not reachable yet", attempt=attempt, error=str(exc))
                await asyncio.sleep(1.0)

    async def stop(self) -> None:
        """Stop the relay and the bus, close the database."""
        self.relay.stop()
        if self._relay_task is not None:
            self._relay_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._relay_task
        if self.owns_bus:
            await self.bus.stop()
        await self.db.dispose()
        await asyncio.to_thread(self.tracing.flush)

    async def readiness(self) -> dict[str, bool]:
        """Database reachable, migrations applied, bus reachable."""
        db_ok = await self.db.ping()
        migrated = self._migrated
        if db_ok and not migrated:
            try:
                migrated = self._migrated = await is_up_to_date(self.db.engine, self.migrations)
            except Exception:
                migrated = False
        return {"database": db_ok, "migrations": migrated, "bus": await self.bus.ready()}

    @contextlib.asynccontextmanager
    async def lifespan(self, _: FastAPI) -> AsyncIterator[None]:
        """FastAPI lifespan: start and stop the runtime with the app."""
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    def create_app(
        self,
        *,
        title: str,
        description: str,
        routers: Sequence[APIRouter] = (),
        openapi_tags: list[dict[str, Any]] | None = None,
    ) -> FastAPI:
        """The service's FastAPI app with errors, auth, health, metrics and the given routers."""
        configure_logging(self.settings.log_format, self.settings.log_level)
        app = FastAPI(
            title=title,
            description=description,
            version="1.0.0",
            lifespan=self.lifespan,
            openapi_tags=openapi_tags,
        )
        app.state.runtime = self
        app.state.authenticator = Authenticator(
            secret=self.settings.resolved_jwt_secret(),
            jwks_url=self.settings.jwt_jwks_url,
            issuer=self.settings.jwt_issuer,
        )
        install_error_handlers(app)
        app.add_middleware(
            BodyGuardMiddleware, max_bytes=self.settings.max_body_bytes, max_depth=self.settings.max_json_depth
        )
        app.add_middleware(MetricsMiddleware, metrics=self.metrics)
        app.add_middleware(TracingMiddleware, tracing=self.tracing)
        app.add_middleware(CorrelationMiddleware)
        app.include_router(self._ops_router())
        for router in routers:
            app.include_router(router)
        return app

    def _ops_router(self) -> APIRouter:
        router = APIRouter(tags=["operations"])

        @router.get("/health/live", summary="Liveness: the process answers")
        async def live() -> dict[str, str]:
            return {"status": "ok", "service": self.name}

        @router.get(
            "/health/ready",
            summary="Readiness: database reachable, migrations applied, bus reachable",
            responses={503: {"description": "Not ready; the body says which check failed"}},
        )
        async def ready() -> JSONResponse:
            checks = await self.readiness()
            ok = all(checks.values())
            return JSONResponse(
                {"status": "ok" if ok else "unavailable", "service": self.name, "checks": checks},
                status_code=200 if ok else 503,
            )

        @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
        async def metrics() -> Response:
            await self.collect()
            return Response(generate_latest(self.metrics.registry), media_type=CONTENT_TYPE_LATEST)

        return router

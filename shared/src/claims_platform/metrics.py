"""Prometheus metrics, one registry per service (the embedded mode runs four in one process)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ServiceMetrics:
    """The platform's metrics of one service; services add their own to ``registry``."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.request_seconds = Histogram(
            "http_request_duration_seconds", "HTTP request duration", ["method", "route"], registry=self.registry
        )
        self.events_published = Counter(
            "events_published_total", "Events published from the outbox", registry=self.registry
        )
        self.outbox_backlog = Gauge(
            "outbox_backlog", "Events waiting in the outbox, counted at the scrape", registry=self.registry
        )
        self.events_consumed = Counter(
            "events_consumed_total", "Events consumed", ["consumer", "event_type", "result"], registry=self.registry
        )
        self.consumer_lag = Gauge(
            "consumer_lag",
            "Messages of the group's topics not yet consumed and committed (whole group), as of the scrape",
            ["consumer"],
            registry=self.registry,
        )
        self.dlq_size = Gauge(
            "dlq_size",
            "Dead letters on <topic>.dlq not yet replayed, per source topic this service consumes",
            ["topic"],
            registry=self.registry,
        )
        self.db_statements = Counter(
            "db_statements_total",
            "SQL statements sent to the database (BEGIN and COMMIT not counted)",
            registry=self.registry,
        )
        self.db_transactions = Counter(
            "db_transactions_total", "Database transactions ended, by how", ["result"], registry=self.registry
        )
        self.info = Gauge("service_info", "Service identity", ["service"], registry=self.registry)
        self.info.labels(service).set(1)


def count_database_work(engine: AsyncEngine, metrics: ServiceMetrics) -> None:
    """Count the engine's statements and transactions into ``metrics`` (round trips are what cost here)."""
    statements = metrics.db_statements
    commits = metrics.db_transactions.labels("commit")
    rollbacks = metrics.db_transactions.labels("rollback")
    sync = engine.sync_engine
    event.listen(sync, "before_cursor_execute", lambda *_: statements.inc())
    event.listen(sync, "commit", lambda _: commits.inc())
    event.listen(sync, "rollback", lambda _: rollbacks.inc())


class MetricsMiddleware:
    """Counts and times requests by route template (not raw path, to keep cardinality bounded)."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        start = time.perf_counter()

        async def _send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            self.metrics.requests.labels(scope["method"], template, str(status)).inc()
            self.metrics.request_seconds.labels(scope["method"], template).observe(time.perf_counter() - start)

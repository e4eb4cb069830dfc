"""The payment service's own metrics: payments by status, counted from its database at each scrape."""

from __future__ import annotations

from prometheus_client import Gauge
from sqlalchemy import func, select

from claims_payment.db.models import PaymentRow
from claims_payment.domain.model import PaymentStatus
from claims_platform.service import ServiceRuntime


def register_metrics(runtime: ServiceRuntime) -> Gauge:
    """Add ``payments_by_status{status}`` to the runtime's registry, refreshed on every ``/metrics``."""
    gauge = Gauge(
        "payments_by_status", "Payments in each status, at the scrape", ["status"], registry=runtime.metrics.registry
    )
    for status in PaymentStatus:
        gauge.labels(status.value).set(0)

    async def collect() -> None:
        async with runtime.db.engine.connect() as conn:
            rows = (await conn.execute(select(PaymentRow.status, func.count()).group_by(PaymentRow.status))).all()
        counts = {str(status): int(count) for status, count in rows}
        for status in {*(s.value for s in PaymentStatus), *counts}:
            gauge.labels(status).set(counts.get(status, 0))

    runtime.on_scrape(collect)
    return gauge

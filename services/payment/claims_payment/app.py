"""Composition root of the payment service: the one place where its parts are wired together."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from claims_payment.config import PaymentSettings
from claims_platform.bus.base import EventBus
from claims_platform.service import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def build_runtime(settings: PaymentSettings | None = None, bus: EventBus | None = None) -> ServiceRuntime:
    """The service's runtime: database, bus, relay and consumers."""
    settings = settings or PaymentSettings()
    return ServiceRuntime(settings, migrations=MIGRATIONS, bus=bus)


def create_app(settings: PaymentSettings | None = None, bus: EventBus | None = None) -> FastAPI:
    """The payment service's FastAPI app."""
    runtime = build_runtime(settings, bus)
    return runtime.create_app(
        title="Claims payment service",
        description=(
            "Payments to members and hospitals, the bank adapter, ISO 20022 batches, the ledger and reconciliation."
        ),
    )

"""Composition root of the payment service: the one place where its parts are wired together."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI

from claims_payment.api.routes import router
from claims_payment.bank.simulated import SimulatedBank
from claims_payment.config import PaymentSettings
from claims_payment.crypto import AccountCipher, development_key
from claims_payment.domain.bank import Bank
from claims_payment.events.handlers import subscribe
from claims_payment.metrics import register_metrics
from claims_payment.payments import PaymentService
from claims_payment.worker import PaymentWorker
from claims_platform.bus.base import EventBus
from claims_platform.service import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def build_runtime(settings: PaymentSettings | None = None, bus: EventBus | None = None) -> ServiceRuntime:
    """The service's runtime: database, bus, relay and consumers."""
    settings = settings or PaymentSettings()
    return ServiceRuntime(settings, migrations=MIGRATIONS, bus=bus)


def build_bank(settings: PaymentSettings) -> Bank:
    """The bank adapter the settings choose (the simulated bank is the only one so far)."""
    return SimulatedBank(
        failure_rate=settings.bank_failure_rate,
        return_rate=settings.bank_return_rate,
        timeout_rate=settings.bank_timeout_rate,
        seed=settings.bank_seed,
        settlement_delay_seconds=settings.bank_settlement_delay_seconds,
        return_delay_seconds=settings.bank_return_delay_seconds,
    )


def build_cipher(settings: PaymentSettings) -> AccountCipher:
    """The account cipher: the configured key, or in development one generated under the data dir."""
    if settings.account_key is not None:
        return AccountCipher(settings.account_key.get_secret_value())
    return AccountCipher(development_key(settings.data_dir))


def create_app(
    settings: PaymentSettings | None = None, bus: EventBus | None = None, bank: Bank | None = None
) -> FastAPI:
    """The payment service's FastAPI app, with its consumer and its bank worker."""
    settings = settings or PaymentSettings()
    runtime = build_runtime(settings, bus)
    service = PaymentService(settings, build_cipher(settings))
    bank = bank or build_bank(settings)
    subscribe(runtime, service, settings.consumer_group)
    register_metrics(runtime)
    worker = PaymentWorker(
        runtime.db,
        service,
        bank,
        poll_seconds=settings.worker_poll_seconds,
        return_check_seconds=settings.return_check_seconds,
    )
    runtime.db.on_outbox_commit(worker.wake)
    app = runtime.create_app(
        title="Claims payment service",
        description=(
            "Payments to members and hospitals, the bank adapter, ISO 20022 batches, the ledger and reconciliation."
        ),
        routers=[router],
    )
    app.state.payment_service = service
    app.state.bank = bank
    app.state.worker = worker

    @contextlib.asynccontextmanager
    async def lifespan(app_: FastAPI) -> AsyncIterator[None]:
        async with runtime.lifespan(app_):
            if settings.worker_enabled:
                worker.start()
            try:
                yield
            finally:
                await worker.stop()

    app.router.lifespan_context = lifespan
    return app

"""The background worker: sends due payments to the bank and follows them until they settle or come back."""

from __future__ import annotations

import asyncio
import contextlib

from claims_payment.domain.bank import Bank
from claims_payment.payments import PaymentService
from claims_platform.db import Database
from claims_platform.inbox import describe
from claims_platform.logging import get_logger

log = get_logger(__name__)


class PaymentWorker:
    """One asyncio task per service instance; replicas share the work through ``SKIP LOCKED``."""

    def __init__(self, db: Database, service: PaymentService, bank: Bank, *, poll_seconds: float) -> None:
        self.db = db
        self.service = service
        self.bank = bank
        self.poll_seconds = poll_seconds
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def run_once(self) -> int:
        """One round: send what is due, then ask the bank about what it holds; returns how much happened."""
        async with self.db.uow() as uow:
            sent = await self.service.send_due(uow, self.bank)
        async with self.db.uow() as uow:
            changed = await self.service.poll_bank(uow, self.bank)
        return sent + changed

    async def run(self) -> None:
        """Rounds until stopped; an error is logged and the next round tries again."""
        while True:
            try:
                busy = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("payment worker round failed", error=describe(exc))
                busy = 0
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
                self._wake.clear()

    def wake(self) -> None:
        """Start the next round now (e.g. after a commit that scheduled a payment)."""
        self._wake.set()

    def start(self) -> None:
        """Start the worker task."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="payment-worker")

    async def stop(self) -> None:
        """Stop the worker task."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

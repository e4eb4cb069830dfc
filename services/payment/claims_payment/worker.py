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

    def __init__(
        self,
        db: Database,
        service: PaymentService,
        bank: Bank,
        *,
        poll_seconds: float,
        return_check_seconds: float = 0.0,
    ) -> None:
        self.db = db
        self.service = service
        self.bank = bank
        self.poll_seconds = poll_seconds
        self.return_check_seconds = return_check_seconds
        self._returns_checked_at = -float("inf")
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        # The look at the queues locks nothing: it runs outside a transaction (no BEGIN, no COMMIT).
        self._look = db.engine.execution_options(isolation_level="AUTOCOMMIT")

    async def run_once(self) -> int:
        """One round: send what is due, and apply what the bank says about what it holds; how much happened.

        An idle round is one statement. The bank is asked about the payments it holds before a
        transaction opens; one transaction then applies its news and sends the due payments. Settled
        payments (returns come days later at a real bank) are asked about every ``return_check_seconds``,
        sent ones every round.
        """
        now = asyncio.get_running_loop().time()
        returns = now - self._returns_checked_at >= self.return_check_seconds
        async with self._look.connect() as conn:
            work = await self.service.bank_work(conn, returns=returns)
        if returns:
            self._returns_checked_at = now
        news = await self.service.ask_bank(self.bank, work.at_bank)
        if not work.due and not news:
            return 0
        async with self.db.uow() as uow:
            return await self.service.bank_round(uow, self.bank, due=work.due, news=news)

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
        """Start the next round now (e.g. after a commit that scheduled a payment).

        The worker's own commits do not wake it: after a busy round it goes on at once anyway.
        """
        if self._task is not None and asyncio.current_task() is self._task:
            return
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

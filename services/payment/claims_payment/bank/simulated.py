"""A simulated bank: settles asynchronously; failures, timeouts and returns switched on by settings.

It keeps no state: a reference carries the transfer's end-to-end id, attempt and submission time, and
every outcome is a deterministic draw from ``seed`` and the reference, so any replica (or a restarted
service) gets the same answer for the same transfer.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from claims_payment.domain.bank import (
    BankUnavailable,
    Submission,
    TransferBatch,
    TransferState,
    TransferStatus,
)

FAILURE_REASON = "AC04 closed account number (simulated bank)"
RETURN_REASON = "AC06 blocked account (simulated bank)"


class SimulatedBank:
    """The default bank adapter. Its rates may be changed while it runs (an operator fixing the cause)."""

    def __init__(
        self,
        *,
        failure_rate: float = 0.0,
        return_rate: float = 0.0,
        timeout_rate: float = 0.0,
        seed: int = 0,
        settlement_delay_seconds: float = 2.0,
        return_delay_seconds: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.failure_rate = failure_rate
        self.return_rate = return_rate
        self.timeout_rate = timeout_rate
        self.seed = seed
        self.settlement_delay_seconds = settlement_delay_seconds
        self.return_delay_seconds = return_delay_seconds
        self.clock = clock

    def _draw(self, salt: str, key: str) -> float:
        digest = hashlib.sha256(f"{self.seed}:{salt}:{key}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    async def submit(self, batch: TransferBatch) -> Sequence[Submission]:
        """Accept every transfer, or time out for the whole batch."""
        key = ",".join(f"{t.end_to_end_id}#{batch.attempts.get(t.end_to_end_id, 1)}" for t in batch.transfers)
        if self.timeout_rate and self._draw("timeout", key) < self.timeout_rate:
            raise BankUnavailable("simulated bank timed out")
        now_ms = int(self.clock() * 1000)
        return [
            Submission(
                end_to_end_id=t.end_to_end_id,
                accepted=True,
                reference=f"SIM-{t.end_to_end_id}-{batch.attempts.get(t.end_to_end_id, 1)}-{now_ms}",
            )
            for t in batch.transfers
        ]

    async def status(self, reference: str) -> TransferStatus:
        """Pending until the settlement delay has passed; then settled, failed or (later) returned."""
        try:
            submitted_ms = int(reference.rsplit("-", 1)[1])
        except (IndexError, ValueError):
            raise ValueError(f"not a reference of the simulated bank: {reference!r}") from None
        now = self.clock()
        settles_at = submitted_ms / 1000 + self.settlement_delay_seconds
        if now < settles_at:
            return TransferStatus(TransferState.PENDING)
        if self.failure_rate and self._draw("failure", reference) < self.failure_rate:
            return TransferStatus(TransferState.FAILED, datetime.fromtimestamp(settles_at, UTC), FAILURE_REASON)
        returns_at = settles_at + self.return_delay_seconds
        if self.return_rate and self._draw("return", reference) < self.return_rate and now >= returns_at:
            return TransferStatus(TransferState.RETURNED, datetime.fromtimestamp(returns_at, UTC), RETURN_REASON)
        return TransferStatus(TransferState.SETTLED, datetime.fromtimestamp(settles_at, UTC))

"""The bank port: what the payment service needs from a bank, whatever the bank is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from claims_payment.domain.pain001 import CreditTransfer


class BankUnavailable(Exception):
    """A transient failure (timeout, bank down): nothing was taken, the same request may be sent again."""


@dataclass(frozen=True)
class TransferBatch:
    """A batch of credit transfers sent together (one ``pain.001`` message)."""

    message_id: str
    created_at: datetime
    transfers: Sequence[CreditTransfer]
    attempts: dict[str, int]
    """Per end-to-end id, which attempt this is (1 for the first send)."""


@dataclass(frozen=True)
class Submission:
    """The bank's answer for one transfer of a batch."""

    end_to_end_id: str
    accepted: bool
    reference: str | None = None
    reason: str | None = None


class TransferState(StrEnum):
    """Where a transfer the bank accepted stands."""

    PENDING = "pending"
    SETTLED = "settled"
    FAILED = "failed"
    RETURNED = "returned"


@dataclass(frozen=True)
class TransferStatus:
    """A transfer's state at the bank."""

    state: TransferState
    at: datetime | None = None
    reason: str | None = None


class Bank(Protocol):
    """A bank adapter. ``submit`` must be idempotent on the end-to-end id (a resend after a timeout)."""

    async def submit(self, batch: TransferBatch) -> Sequence[Submission]:
        """Hand over a batch; BankUnavailable when it could not be taken at all."""
        ...

    async def status(self, reference: str) -> TransferStatus:
        """The state of an accepted transfer; BankUnavailable when the bank cannot say now."""
        ...

"""The simulated bank: asynchronous settlement; failures, timeouts and returns by rate, deterministic."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from claims_payment.bank.simulated import SimulatedBank
from claims_payment.domain.bank import BankUnavailable, TransferBatch, TransferState
from claims_payment.domain.pain001 import CreditTransfer


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _batch(*ids: str) -> TransferBatch:
    transfers = [CreditTransfer(i, Decimal("10.00"), "CNY", "x", "12345678", "ICBC", "r") for i in ids]
    return TransferBatch("m" * 32, datetime.now(UTC), transfers, dict.fromkeys(ids, 1))


async def test_settles_only_after_the_delay():
    clock = Clock()
    bank = SimulatedBank(settlement_delay_seconds=2.0, clock=clock)
    (answer,) = await bank.submit(_batch("e1"))
    assert answer.accepted
    assert answer.reference
    assert (await bank.status(answer.reference)).state is TransferState.PENDING
    clock.now += 2.0
    status = await bank.status(answer.reference)
    assert status.state is TransferState.SETTLED
    assert status.at == datetime.fromtimestamp(1_000_002.0, UTC)


async def test_failures_returns_and_timeouts_switched_on_by_rate():
    clock = Clock()
    assert (await SimulatedBank(timeout_rate=0.0, clock=clock).submit(_batch("e1")))[0].accepted
    with pytest.raises(BankUnavailable):
        await SimulatedBank(timeout_rate=1.0, clock=clock).submit(_batch("e1"))
    failing = SimulatedBank(failure_rate=1.0, settlement_delay_seconds=0, clock=clock)
    ref = (await failing.submit(_batch("e2")))[0].reference or ""
    failed = await failing.status(ref)
    assert failed.state is TransferState.FAILED
    assert failed.reason
    assert "AC04" in failed.reason
    returning = SimulatedBank(return_rate=1.0, settlement_delay_seconds=1, return_delay_seconds=5, clock=clock)
    ref = (await returning.submit(_batch("e3")))[0].reference or ""
    clock.now += 1
    assert (await returning.status(ref)).state is TransferState.SETTLED
    clock.now += 5
    assert (await returning.status(ref)).state is TransferState.RETURNED


async def test_outcomes_are_deterministic_for_a_seed():
    clock = Clock()
    ids = [f"e{i}" for i in range(200)]

    async def outcomes(seed: int) -> list[TransferState]:
        bank = SimulatedBank(failure_rate=0.3, settlement_delay_seconds=0, seed=seed, clock=clock)
        answers = await bank.submit(_batch(*ids))
        return [(await bank.status(a.reference or "")).state for a in answers]

    first = await outcomes(7)
    assert first == await outcomes(7)
    assert first != await outcomes(8)
    assert 30 < first.count(TransferState.FAILED) < 90

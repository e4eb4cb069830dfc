"""Consumers of the payment service: claims' payee details and decisions."""

from __future__ import annotations

from collections.abc import Sequence

from claims_contracts.envelope import EventEnvelope, EventPayload
from claims_contracts.events import ClaimAdjudicated, ClaimReceived
from claims_contracts.topics import ADJUDICATION_TOPIC, INTAKE_TOPIC
from claims_payment.payments import PaymentService
from claims_platform.db import UnitOfWork
from claims_platform.inbox import EventHandler, PrepareBatch
from claims_platform.service import ServiceRuntime

TOPICS = (INTAKE_TOPIC, ADJUDICATION_TOPIC)


def handlers(service: PaymentService) -> dict[str, EventHandler]:
    """The handlers of the payment consumer, bound to the service's use cases."""

    async def on_claim_received(uow: UnitOfWork, _: EventEnvelope, payload: EventPayload) -> None:
        assert isinstance(payload, ClaimReceived)
        await service.record_claim(uow, payload)

    async def on_claim_adjudicated(uow: UnitOfWork, _: EventEnvelope, payload: EventPayload) -> None:
        assert isinstance(payload, ClaimAdjudicated)
        await service.apply_decision(uow, payload)

    return {"ClaimReceived": on_claim_received, "ClaimAdjudicated": on_claim_adjudicated}


def prepare_batch(service: PaymentService) -> PrepareBatch:
    """Before a transaction's events are handled: the locks of all their claims and hospitals at once, then
    what can be written and read for all their claims at once (``PaymentService.prepare_batch``)."""

    async def prepare(uow: UnitOfWork, events: Sequence[tuple[EventEnvelope, EventPayload]]) -> None:
        await service.prepare_batch(uow, [p for _, p in events if isinstance(p, ClaimReceived | ClaimAdjudicated)])

    return prepare


def subscribe(runtime: ServiceRuntime, service: PaymentService, group: str) -> None:
    """Subscribe the payment consumer (group ``group``, also its inbox key) to intake and adjudication."""
    runtime.consume(group, TOPICS, handlers(service), prepare=prepare_batch(service))

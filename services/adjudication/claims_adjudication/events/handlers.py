"""Consumers of intake's events: thin adapters from envelopes to the use cases."""

from __future__ import annotations

from claims_adjudication.application.claims import ClaimEvents
from claims_contracts.envelope import EventEnvelope, EventPayload
from claims_contracts.events import ClaimDisputed, ClaimReceived, ClaimWithdrawn
from claims_platform.db import UnitOfWork
from claims_platform.inbox import EventHandler

CONSUMER = "adjudication"


def handlers(events: ClaimEvents) -> dict[str, EventHandler]:
    """The handler of each intake event type this service consumes."""

    async def on_received(uow: UnitOfWork, _: EventEnvelope, payload: EventPayload) -> None:
        assert isinstance(payload, ClaimReceived)
        await events.received(uow, payload)

    async def on_disputed(uow: UnitOfWork, _: EventEnvelope, payload: EventPayload) -> None:
        assert isinstance(payload, ClaimDisputed)
        await events.disputed(uow, payload)

    async def on_withdrawn(uow: UnitOfWork, _: EventEnvelope, payload: EventPayload) -> None:
        assert isinstance(payload, ClaimWithdrawn)
        await events.withdrawn(uow, payload)

    return {"ClaimReceived": on_received, "ClaimDisputed": on_disputed, "ClaimWithdrawn": on_withdrawn}

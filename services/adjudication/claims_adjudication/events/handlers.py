"""Consumers of intake's events: thin adapters from envelopes to the use cases."""

from __future__ import annotations

from collections.abc import Sequence

from claims_adjudication.application.claims import ClaimEvents
from claims_contracts.envelope import EventEnvelope, EventPayload
from claims_contracts.events import ClaimDisputed, ClaimReceived, ClaimWithdrawn
from claims_platform.db import UnitOfWork
from claims_platform.inbox import EventHandler, PrepareBatch

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


def read_ahead(events: ClaimEvents) -> PrepareBatch:
    """Before a transaction's events are handled: what their ``ClaimReceived`` handlers would each read (policy
    heads, accumulator rows locked, members' histories), read for all of them at once. A claim alone reads for
    itself as its handler would anyway."""

    async def prepare(uow: UnitOfWork, batch: Sequence[tuple[EventEnvelope, EventPayload]]) -> None:
        claims = [payload for _, payload in batch if isinstance(payload, ClaimReceived)]
        if len(claims) > 1:
            await events.read_ahead(uow, claims)

    return prepare

"""Consumers: the events a claimant or hospital must hear about, mapped to notices."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from claims_contracts.envelope import EventEnvelope, EventPayload
from claims_contracts.events import (
    ClaimAdjudicated,
    ClaimDisputed,
    ClaimDocumentsRequested,
    ClaimPended,
    ClaimReceived,
    PaymentCompleted,
    PaymentFailed,
    PaymentSent,
    VerificationRequested,
)
from claims_contracts.topics import ADJUDICATION_TOPIC, INTAKE_TOPIC, PAYMENT_TOPIC
from claims_contracts.values import Outcome
from claims_notification.db.models import NoticeRow
from claims_notification.db.repositories import Notice, RecipientRepository
from claims_notification.domain.model import Audience, Kind
from claims_notification.planning import NoticeSpec, Planner
from claims_platform.db import UnitOfWork, transaction_state
from claims_platform.inbox import EventHandler

CONSUMER = "notification"
TOPICS = (INTAKE_TOPIC, ADJUDICATION_TOPIC, PAYMENT_TOPIC)
BRINGS_CONTACT = (ClaimReceived, ClaimDocumentsRequested)
"""The events that store their claim's contact (the recipient upsert) before planning looks it up; every other
handler's notices look up their claim's contact (``RecipientRepository.claim_contact``)."""
_STORED_AHEAD = "claims_notification.contacts_stored_ahead"


def _stored_ahead(uow: UnitOfWork) -> set[uuid.UUID]:
    """The events of the current transaction whose contact ``NotificationHandlers.prepare`` stored already."""
    stored: set[uuid.UUID] = transaction_state(uow.session, _STORED_AHEAD, set)
    return stored


def _json(payload: EventPayload, *fields: str) -> dict[str, Any]:
    data = payload.model_dump(mode="json", include=set(fields))
    return {f: data[f] for f in fields}


class NotificationHandlers:
    """One handler per consumed event type; each records notices in the event's transaction.

    A transaction may hold several events, handled in order: a handler never commits, and sees what the
    earlier ones recorded (and the claims' contacts ``prepare`` stored or read for all of them first).
    """

    def __init__(self, planner: Planner) -> None:
        self.planner = planner

    def handlers(self) -> dict[str, EventHandler]:
        """The handler table for ``runtime.consume``."""
        return {
            "ClaimReceived": self.on_claim_received,
            "ClaimDocumentsRequested": self.on_documents_requested,
            "ClaimDisputed": self.on_claim_disputed,
            "ClaimPended": self.on_claim_pended,
            "VerificationRequested": self.on_verification_requested,
            "ClaimAdjudicated": self.on_claim_adjudicated,
            "PaymentSent": self.on_payment_sent,
            "PaymentFailed": self.on_payment_failed,
            "PaymentCompleted": self.on_payment_completed,
        }

    async def prepare(self, uow: UnitOfWork, events: Sequence[tuple[EventEnvelope, EventPayload]]) -> None:
        """Before a transaction's events are handled (the kit's ``PrepareBatch``): what their handlers would
        each do first for their claim's contact, for all the claims at once. It goes by each claim's first
        event of the batch:

        * one that brings the contact (``BRINGS_CONTACT``): the contacts of all such events are stored with one
          statement (``RecipientRepository.upsert_claim_recipients``), and their handlers skip their own upsert.
          A later contact event of the same claim stores its own when it comes, so the claim's events in
          between see the contact as it was then, and the latest wins.
        * any other: the stored contacts of all such claims are read with one query
          (``RecipientRepository.read_claim_contacts``); a later contact event of the claim stores a new one.

        One claim alone of either kind is left to its handler, which needs one statement all the same.
        """
        first: dict[str, tuple[EventEnvelope, EventPayload]] = {}
        for envelope, payload in events:
            first.setdefault(envelope.claim_id, (envelope, payload))
        arriving = {e.event_id: payload for e, payload in first.values() if isinstance(payload, BRINGS_CONTACT)}
        wanted = [claim_id for claim_id, (_, payload) in first.items() if not isinstance(payload, BRINGS_CONTACT)]
        recipients = RecipientRepository(uow.session)
        if len(arriving) > 1:
            await recipients.upsert_claim_recipients([self._contact(payload) for payload in arriving.values()])
            _stored_ahead(uow).update(arriving)
        if len(wanted) > 1:
            await recipients.read_claim_contacts(wanted)

    async def _notice(
        self, uow: UnitOfWork, envelope: EventEnvelope, kind: Kind, context: dict[str, Any], **extra: Any
    ) -> None:
        spec = NoticeSpec(
            claim_id=envelope.claim_id,
            source_event_id=envelope.event_id,
            source_event_type=envelope.event_type,
            kind=kind,
            audience=extra.pop("audience", Audience.MEMBER),
            context={"claim_id": envelope.claim_id, **context},
            **extra,
        )
        await self.planner.submit(uow, spec, envelope.correlation_id)

    def _contact(self, payload: ClaimReceived | ClaimDocumentsRequested) -> dict[str, Any]:
        """The claim's recipient record an event brings (every column)."""
        member, provider = payload.member, payload.provider
        return {
            "claim_id": payload.claim_id,
            "member_id": member.member_id,
            "member_name": member.name,
            "email": member.email,
            "phone": member.phone,
            "locale": member.locale,
            "provider_id": provider.provider_id,
            "provider_name": provider.name,
            "submitted_by_provider": payload.submitted_by_provider,
            "updated_at": self.planner.clock(),
        }

    async def _remember(
        self, uow: UnitOfWork, envelope: EventEnvelope, payload: ClaimReceived | ClaimDocumentsRequested
    ) -> list[Notice | NoticeRow]:
        """Store the claim's contact details (unless ``prepare`` did); the claim's notices that waited for them
        (planned last)."""
        if envelope.event_id not in _stored_ahead(uow):
            await RecipientRepository(uow.session).upsert_claim_recipient(**self._contact(payload))
        return await self.planner.waiting(uow, payload.claim_id)

    async def on_claim_received(self, uow: UnitOfWork, envelope: EventEnvelope, payload: EventPayload) -> None:
        """Remember the claim's contact details; tell the member the claim arrived; release waiting notices."""
        assert isinstance(payload, ClaimReceived)
        waiting = await self._remember(uow, envelope, payload)
        context = _json(payload, "claim_type", "charged", "currency", "submitted_at")
        context["provider_name"] = payload.provider.name
        await self._notice(uow, envelope, Kind.CLAIM_RECEIVED, context)
        await self.planner.plan_waiting(uow, payload.claim_id, waiting, envelope.correlation_id)

    async def on_documents_requested(self, uow: UnitOfWork, envelope: EventEnvelope, payload: EventPayload) -> None:
        """Name each missing document to the claimant (and to the hospital that submitted for the member)."""
        assert isinstance(payload, ClaimDocumentsRequested)
        waiting = await self._remember(uow, envelope, payload)
        context = _json(payload, "claim_type", "missing_documents", "deadline")
        await self._notice(uow, envelope, Kind.DOCUMENTS_REQUESTED, context)
        if payload.submitted_by_provider:
            await self._notice(
                uow,
                envelope,
                Kind.DOCUMENTS_REQUESTED,
                context,
                audience=Audience.PROVIDER,
                provider_id=payload.provider.provider_id,
            )
        await self.planner.plan_waiting(uow, payload.claim_id, waiting, envelope.correlation_id)

    async def on_claim_disputed(self, uow: UnitOfWork, envelope: EventEnvelope, payload: EventPayload) -> None:
        """Confirm a dispute to the claimant."""
        assert isinstance(payload, ClaimDisputed)
        await self._notice(uow, envelope, Kind.DISPUTE_RECEIVED, _json(payload, "disputed_decision_version"))

    async def on_claim_pended(self, uow: UnitOfWork, envelope: EventEnvelope, payload: EventPayload) -> None:
        """Tell the member the claim is in human review (never which risk rules fired)."""
        assert isinstance(payload, ClaimPended)
        await self._notice(uow, envelope, Kind.CLAIM_PENDED, _json(payload, "charged", "currency"))

    async def on_verification_requested(self, uow: UnitOfWork, envelope: EventEnvelope, payload: EventPayload) -> None:
        """Ask the hospital to confirm records and bill."""
        assert isinstance(payload, VerificationRequested)
        await self._notice(
            uow,
            envelope,
            Kind.VERIFICATION_REQUESTED,
            _json(payload, "review_id", "message"),
            audience=Audience.PROVIDER,
            provider_id=payload.provider_id,
        )

    async def on_claim_adjudicated(self, uow: UnitOfWork, envelope: EventEnvelope, payload: EventPayload) -> None:
        """Tell the decision with every explanation line; a denial (or nothing to pay) closes the claim: survey."""
        assert isinstance(payload, ClaimAdjudicated)
        context = _json(
            payload,
            "decision_version",
            "outcome",
            "currency",
            "charged",
            "allowed",
            "payable",
            "member_responsibility",
            "payee",
            "lines",
            "denial_reasons",
        )
        context["pays"] = payload.payable > Decimal("0")
        await self._notice(uow, envelope, Kind.CLAIM_DECIDED, context)
        denied = payload.outcome is Outcome.DENIED
        if denied or payload.payable == Decimal("0"):
            closed_as = "denied" if denied else "closed"
            await self._survey(uow, envelope, payload.decision_version, closed_as)

    async def on_payment_sent(self, uow: UnitOfWork, envelope: EventEnvelope, payload: EventPayload) -> None:
        """Tell the member the payment went to the bank."""
        assert isinstance(payload, PaymentSent)
        context = _json(payload, "payment_id", "amount", "currency", "payee", "decision_version")
        await self._notice(uow, envelope, Kind.PAYMENT_SENT, context)

    async def on_payment_failed(self, uow: UnitOfWork, envelope: EventEnvelope, payload: EventPayload) -> None:
        """Tell the member a payment failed, and whether anything is needed from them."""
        assert isinstance(payload, PaymentFailed)
        context = _json(payload, "payment_id", "amount", "currency", "payee", "reason", "retryable")
        await self._notice(uow, envelope, Kind.PAYMENT_FAILED, context)

    async def on_payment_completed(self, uow: UnitOfWork, envelope: EventEnvelope, payload: EventPayload) -> None:
        """The claim is paid and closed: ask for a satisfaction score."""
        assert isinstance(payload, PaymentCompleted)
        await self._survey(uow, envelope, payload.decision_version, "paid")

    async def _survey(self, uow: UnitOfWork, envelope: EventEnvelope, decision_version: int, closed_as: str) -> None:
        context = {"decision_version": decision_version, "closed_as": closed_as}
        await self._notice(uow, envelope, Kind.SURVEY, context, delay=self.planner.survey_delay)

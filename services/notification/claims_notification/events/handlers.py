"""Consumers: the events a claimant or hospital must hear about, mapped to notices."""

from __future__ import annotations

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
    MemberContact,
    PaymentCompleted,
    PaymentFailed,
    PaymentSent,
    ProviderRef,
    VerificationRequested,
)
from claims_contracts.topics import ADJUDICATION_TOPIC, INTAKE_TOPIC, PAYMENT_TOPIC
from claims_contracts.values import Outcome
from claims_notification.db.models import NoticeRow
from claims_notification.db.repositories import Notice, RecipientRepository
from claims_notification.domain.model import Audience, Kind
from claims_notification.planning import NoticeSpec, Planner
from claims_platform.db import UnitOfWork
from claims_platform.inbox import EventHandler

CONSUMER = "notification"
TOPICS = (INTAKE_TOPIC, ADJUDICATION_TOPIC, PAYMENT_TOPIC)
BRINGS_CONTACT = frozenset({"ClaimReceived", "ClaimDocumentsRequested"})
"""The events that store their claim's contact (the recipient upsert) before planning looks it up; every other
handler's notices look up their claim's contact (``RecipientRepository.claim_contact``)."""


def _json(payload: EventPayload, *fields: str) -> dict[str, Any]:
    data = payload.model_dump(mode="json", include=set(fields))
    return {f: data[f] for f in fields}


class NotificationHandlers:
    """One handler per consumed event type; each records notices in the event's transaction.

    A transaction may hold several events, handled in order: a handler never commits, and sees what the
    earlier ones recorded (and the claims' contacts ``read_contacts`` read for all of them first).
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

    async def _remember(
        self, uow: UnitOfWork, claim_id: str, member: MemberContact, provider: ProviderRef, by_provider: bool
    ) -> list[Notice | NoticeRow]:
        """Store the claim's contact details; the claim's notices that waited for them (planned last)."""
        await RecipientRepository(uow.session).upsert_claim_recipient(
            claim_id=claim_id,
            member_id=member.member_id,
            member_name=member.name,
            email=member.email,
            phone=member.phone,
            locale=member.locale,
            provider_id=provider.provider_id,
            provider_name=provider.name,
            submitted_by_provider=by_provider,
            updated_at=self.planner.clock(),
        )
        return await self.planner.waiting(uow, claim_id)

    async def on_claim_received(self, uow: UnitOfWork, envelope: EventEnvelope, payload: EventPayload) -> None:
        """Remember the claim's contact details; tell the member the claim arrived; release waiting notices."""
        assert isinstance(payload, ClaimReceived)
        waiting = await self._remember(
            uow, payload.claim_id, payload.member, payload.provider, payload.submitted_by_provider
        )
        context = _json(payload, "claim_type", "charged", "currency", "submitted_at")
        context["provider_name"] = payload.provider.name
        await self._notice(uow, envelope, Kind.CLAIM_RECEIVED, context)
        await self.planner.plan_waiting(uow, payload.claim_id, waiting, envelope.correlation_id)

    async def on_documents_requested(self, uow: UnitOfWork, envelope: EventEnvelope, payload: EventPayload) -> None:
        """Name each missing document to the claimant (and to the hospital that submitted for the member)."""
        assert isinstance(payload, ClaimDocumentsRequested)
        waiting = await self._remember(
            uow, payload.claim_id, payload.member, payload.provider, payload.submitted_by_provider
        )
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


async def read_contacts(uow: UnitOfWork, events: Sequence[tuple[EventEnvelope, EventPayload]]) -> None:
    """Before a transaction's events are handled: their claims' contacts, read in one query instead of one per
    claim. Only the claims with an event that looks its contact up (any but ``BRINGS_CONTACT``) before an event
    of the batch stores it: from then on the recipient upsert's answer serves. One such claim alone is left to
    its handler, which reads it with one query all the same."""
    brought: set[str] = set()
    wanted: set[str] = set()
    for envelope, _ in events:
        if envelope.event_type in BRINGS_CONTACT:
            brought.add(envelope.claim_id)
        elif envelope.claim_id not in brought:
            wanted.add(envelope.claim_id)
    if len(wanted) > 1:
        await RecipientRepository(uow.session).read_claim_contacts(wanted)

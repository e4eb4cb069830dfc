"""The case archive: intake follows adjudication, payment and notification events to keep each claim's story.

The handlers work on plain rows (``ArchiveRepository``), not ORM objects: each claim an event changes is read
once per transaction, locked, with its payments (a Kafka batch is applied in one transaction, so a claim's
later events see what its earlier ones did; ``lock_claims`` reads all of a batch's claims at once before its
first event is handled); what they change is written when the transaction commits, in one statement on
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from claims_contracts.envelope import EventEnvelope, EventPayload
from claims_contracts.events import (
    ClaimAdjudicated,
    ClaimPended,
    FeedbackReceived,
    NotificationSent,
    OverpaymentRecorded,
    PaymentCompleted,
    PaymentEvent,
    PaymentFailed,
    PaymentReturned,
    PaymentScheduled,
    PaymentSent,
    VerificationRequested,
)
from claims_contracts.topics import ADJUDICATION_TOPIC, NOTIFICATION_TOPIC, PAYMENT_TOPIC
from claims_intake.cases import record_archived
from claims_intake.db.repositories import ArchivedClaim, ArchivedPayment, ArchiveRepository, ClaimRepository
from claims_intake.domain import status
from claims_platform.db import UnitOfWork
from claims_platform.logging import get_logger

log = get_logger(__name__)

ARCHIVE_CONSUMER = "intake-archive"
ARCHIVE_TOPICS = (ADJUDICATION_TOPIC, PAYMENT_TOPIC, NOTIFICATION_TOPIC)

Handler = Callable[[UnitOfWork, EventEnvelope, EventPayload], Awaitable[None]]

_PAYMENT_STATUS = {
    PaymentScheduled: "scheduled",
    PaymentSent: "sent",
    PaymentCompleted: "settled",
    PaymentFailed: "failed",
    PaymentReturned: "returned",
}


async def _claim(
    uow: UnitOfWork, envelope: EventEnvelope, *, payment_id: str | None = None
) -> tuple[ArchiveRepository, ArchivedClaim | None, ArchivedPayment | None]:
    """The event's claim, locked until the transaction ends, with its payments, as this transaction has it
    (read once; None, logged, when intake does not know it); and the payment ``payment_id`` when it is
    another claim's."""
    archive = ArchiveRepository(uow.session)
    claim, foreign = await archive.locked(envelope.claim_id, payment_id=payment_id)
    if claim is None:
        log.warning("event for a claim intake does not know", event_type=envelope.event_type)
    return archive, claim, foreign


def _explanation(adjustments: list[Any], locale: str) -> str:
    texts = [a.explanation_en if locale == "en" else a.explanation_zh for a in adjustments]
    if texts:
        return " ".join(texts)[:1000]
    return "Paid as billed." if locale == "en" else "按计划全额赔付。"


def _decision(payload: ClaimAdjudicated, locale: str) -> dict[str, Any]:
    """The decision as the claim keeps it, explained in the member's ``locale``."""
    return {
        "version": payload.decision_version,
        "outcome": payload.outcome.value,
        "charged": f"{payload.charged:.2f}",
        "payable": f"{payload.payable:.2f}",
        "member_responsibility": f"{payload.member_responsibility:.2f}",
        "denial_reasons": [r.value for r in payload.denial_reasons],
        "decided_at": payload.decided_at.isoformat(),
        "lines": [
            {
                "line_no": line.line_no,
                "allowed": f"{line.allowed:.2f}",
                "payable": f"{line.payable:.2f}",
                "adjustments": [
                    {"reason": a.reason.value, "group": a.group.value, "carc": a.carc, "amount": f"{a.amount:.2f}"}
                    for a in line.adjustments
                ],
                "explanation": _explanation(list(line.adjustments), locale),
            }
            for line in payload.lines
        ],
    }


async def on_adjudicated(uow: UnitOfWork, envelope: EventEnvelope, payload: EventPayload) -> None:
    """A decision: keep it when it is the latest, note who decided."""
    assert isinstance(payload, ClaimAdjudicated)
    archive, claim, _ = await _claim(uow, envelope)
    if claim is None:
        return
    denials = [r.value for r in payload.denial_reasons]
    details = {
        "decision_version": payload.decision_version,
        "outcome": payload.outcome.value,
        "payable": f"{payload.payable:.2f}",
        "automatic": payload.automatic,
        "denial_reasons": denials,
    }
    if claim.first_decided_at is None or payload.decided_at < claim.first_decided_at:
        claim.first_decided_at = payload.decided_at
    if claim.decision_version is not None and payload.decision_version <= claim.decision_version:
        record_archived(
            archive,
            claim,
            at=envelope.occurred_at,
            actor=payload.decided_by,
            kind="stale_decision_ignored",
            details=details,
        )
        return
    archive.set_decided_lines(claim.claim_id, {line.line_no: line.payable for line in payload.lines})
    archive.set_denial_reasons(claim.claim_id, denials)
    claim.decided = True
    claim.decision_version = payload.decision_version
    claim.outcome = payload.outcome.value
    claim.pended = False
    claim.pended_at = None
    claim.payable = payload.payable
    claim.decision_automatic = payload.automatic
    claim.deciders = [*claim.deciders, payload.decided_by]
    claim.decision = _decision(payload, claim.locale or "zh-CN")
    record_archived(
        archive,
        claim,
        at=envelope.occurred_at,
        actor=payload.decided_by,
        kind="decided",
        reason=payload.outcome.value + (": " + ", ".join(denials) if denials else ""),
        details=details,
    )


async def on_pended(uow: UnitOfWork, envelope: EventEnvelope, payload: EventPayload) -> None:
    """Risk rules sent the claim to human review."""
    assert isinstance(payload, ClaimPended)
    archive, claim, _ = await _claim(uow, envelope)
    if claim is None:
        return
    claim.pended = True
    claim.pended_at = envelope.occurred_at
    reasons = [r.value for r in payload.reasons]
    record_archived(
        archive,
        claim,
        at=envelope.occurred_at,
        actor=envelope.producer,
        kind="pended",
        reason=", ".join(reasons),
        details={"review_id": payload.review_id, "reasons": reasons},
    )


async def on_verification(uow: UnitOfWork, envelope: EventEnvelope, payload: EventPayload) -> None:
    """A reviewer asked the hospital to confirm records and bill."""
    assert isinstance(payload, VerificationRequested)
    archive, claim, _ = await _claim(uow, envelope)
    if claim is None:
        return
    record_archived(
        archive,
        claim,
        at=envelope.occurred_at,
        actor=payload.requested_by,
        kind="verification_requested",
        reason=payload.message,
        details={"review_id": payload.review_id, "provider_id": payload.provider_id},
    )


async def on_payment(uow: UnitOfWork, envelope: EventEnvelope, payload: EventPayload) -> None:
    """A payment's progress."""
    assert isinstance(payload, PaymentEvent)
    archive, claim, payment = await _claim(uow, envelope, payment_id=payload.payment_id)
    if claim is None:
        return
    new_status = _PAYMENT_STATUS[type(payload)]
    if payment is None:
        payment = next((p for p in claim.payments if p.payment_id == payload.payment_id), None)
    if payment is None:
        payment = ArchivedPayment(
            payload.payment_id, payload.claim_id, payload.decision_version, new_status, envelope.occurred_at
        )
        archive.add_payment(payment, amount=payload.amount, currency=payload.currency, payee=payload.payee.value)
        if payment.claim_id == claim.claim_id:
            claim.payments.append(payment)
    else:  # one claim's payment events arrive in order (same topic, same key)
        payment.status = new_status
        payment.updated_at = envelope.occurred_at
        archive.payment_changed(payment)
    settled_at = payload.settled_at if isinstance(payload, PaymentCompleted) else None
    claim.first_paid_at = status.first_paid_at(
        claim.first_paid_at, new_status, settled_at, (p.status for p in claim.payments)
    )
    details: dict[str, Any] = {
        "payment_id": payload.payment_id,
        "amount": f"{payload.amount:.2f}",
        "decision_version": payload.decision_version,
        "payment_status": new_status,
    }
    reason = getattr(payload, "reason", None)
    if isinstance(payload, PaymentFailed):
        details["retryable"] = payload.retryable
    record_archived(
        archive,
        claim,
        at=envelope.occurred_at,
        actor=envelope.producer,
        kind=f"payment_{new_status}",
        reason=reason,
        details=details,
    )


async def on_overpayment(uow: UnitOfWork, envelope: EventEnvelope, payload: EventPayload) -> None:
    """A lower re-decision left an amount to recover."""
    assert isinstance(payload, OverpaymentRecorded)
    archive, claim, _ = await _claim(uow, envelope)
    if claim is None:
        return
    record_archived(
        archive,
        claim,
        at=envelope.occurred_at,
        actor=envelope.producer,
        kind="overpayment_recorded",
        details={"amount": f"{payload.amount:.2f}", "decision_version": payload.decision_version},
    )


async def on_notification(uow: UnitOfWork, envelope: EventEnvelope, payload: EventPayload) -> None:
    """A message went to the claimant: a line on the timeline; the claim itself does not change.

    So the claim is neither locked nor read (four messages a claim, each was a read and an update): one
    INSERT … SELECT takes its current status, unless this transaction already holds the claim, whose status
    it then takes as it has it.
    """
    assert isinstance(payload, NotificationSent)
    note: dict[str, Any] = {
        "at": envelope.occurred_at,
        "actor": envelope.producer,
        "kind": "notification_sent",
        "reason": payload.source_event_type,
        "details": {
            "notification_id": payload.notification_id,
            "channel": payload.channel.value,
            "locale": payload.locale,
        },
    }
    archive = ArchiveRepository(uow.session)
    claim = archive.loaded(envelope.claim_id)
    if claim is not None:
        current = claim.status
        archive.add_timeline(
            {"claim_id": envelope.claim_id, "status_from": current or None, "status_to": current, **note}
        )
    elif not await ClaimRepository(uow.session).note(envelope.claim_id, **note):
        log.warning("event for a claim intake does not know", event_type=envelope.event_type)


async def on_feedback(uow: UnitOfWork, envelope: EventEnvelope, payload: EventPayload) -> None:
    """The claimant answered the satisfaction survey."""
    assert isinstance(payload, FeedbackReceived)
    archive, claim, _ = await _claim(uow, envelope)
    if claim is None:
        return
    await ClaimRepository(uow.session).add_feedback(
        payload.survey_id, claim.claim_id, payload.score, envelope.occurred_at
    )
    record_archived(
        archive,
        claim,
        at=envelope.occurred_at,
        actor=envelope.producer,
        kind="feedback_received",
        details={"survey_id": payload.survey_id, "score": payload.score},
    )


async def lock_claims(uow: UnitOfWork, events: Sequence[tuple[EventEnvelope, EventPayload]]) -> None:
    """Before a batch of events is handled: their claims locked and read at once (one query, not one per
    claim and per ``NotificationSent``), and the payments their payment events name that are not among those
    claims' (one more query, not one per new payment). An event alone reads its claim as its handler would
    anyway."""
    if len(events) > 1:
        await ArchiveRepository(uow.session).lock_claims(
            [envelope.claim_id for envelope, _ in events],
            [payload.payment_id for _, payload in events if isinstance(payload, PaymentEvent)],
        )


HANDLERS: dict[str, Handler] = {
    "ClaimAdjudicated": on_adjudicated,
    "ClaimPended": on_pended,
    "VerificationRequested": on_verification,
    "PaymentScheduled": on_payment,
    "PaymentSent": on_payment,
    "PaymentCompleted": on_payment,
    "PaymentFailed": on_payment,
    "PaymentReturned": on_payment,
    "OverpaymentRecorded": on_overpayment,
    "NotificationSent": on_notification,
    "FeedbackReceived": on_feedback,
}

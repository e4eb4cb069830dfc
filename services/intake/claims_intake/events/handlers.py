"""The case archive: intake follows adjudication, payment and notification events to keep each claim's story."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

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
from claims_intake.cases import record
from claims_intake.db.models import ClaimRow, PaymentRow, TimelineRow
from claims_intake.db.repositories import ClaimRepository
from claims_platform.db import UnitOfWork, transaction_state
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


@dataclass
class _Locked:
    """A claim this transaction has locked, with its payments as this session has them."""

    row: ClaimRow
    payments: list[PaymentRow]


_LOCKED = "claims_intake.locked_claims"
"""The claims the current transaction has locked and loaded, by claim_id (``transaction_state``)."""


def _locked(session: AsyncSession) -> dict[str, _Locked]:
    return transaction_state(session, _LOCKED, dict)


def _still_loaded(session: AsyncSession, locked: _Locked) -> bool:
    """Whether what was loaded is still as loaded (nothing expired or expunged any of it since)."""
    sync = session.sync_session
    for obj in (locked.row, *locked.payments):
        state = inspect(obj)
        if state.session is not sync or state.expired or state.expired_attributes or state.deleted:
            return False
    return True


async def _claim(
    uow: UnitOfWork, envelope: EventEnvelope, *, payment_id: str | None = None
) -> tuple[ClaimRepository, ClaimRow | None, list[PaymentRow], PaymentRow | None]:
    """The event's claim, locked until the transaction ends, with its payments (and the payment ``payment_id``).

    A transaction may apply several events (one Kafka batch): a claim an earlier one locked and loaded is
    taken as the session has it, changes not yet flushed included, so it is not read again. Otherwise one
    query reads claim and payments (flushing first what earlier events left pending).
    """
    repo = ClaimRepository(uow.session)
    locked = _locked(uow.session).get(envelope.claim_id)
    if locked is not None and _still_loaded(uow.session, locked):
        wanted = None
        if payment_id is not None:
            wanted = next((p for p in locked.payments if p.payment_id == payment_id), None)
            if wanted is None:  # a new payment, most likely; or, oddly, another claim's
                wanted = await repo.payment(payment_id)
        return repo, locked.row, locked.payments, wanted
    row, payments, wanted = await repo.locked_with_payments(envelope.claim_id, payment_id=payment_id)
    if row is None:
        _locked(uow.session).pop(envelope.claim_id, None)
        log.warning("event for a claim intake does not know", event_type=envelope.event_type)
        return repo, None, [], None
    _locked(uow.session)[envelope.claim_id] = _Locked(row, payments)
    return repo, row, payments, wanted


def _explanation(adjustments: list[Any], locale: str) -> str:
    texts = [a.explanation_en if locale == "en" else a.explanation_zh for a in adjustments]
    if texts:
        return " ".join(texts)[:1000]
    return "Paid as billed." if locale == "en" else "按计划全额赔付。"


async def on_adjudicated(uow: UnitOfWork, envelope: EventEnvelope, payload: EventPayload) -> None:
    """A decision: keep it when it is the latest, note who decided."""
    assert isinstance(payload, ClaimAdjudicated)
    repo, row, payments, _ = await _claim(uow, envelope)
    if row is None:
        return
    details = {
        "decision_version": payload.decision_version,
        "outcome": payload.outcome.value,
        "payable": f"{payload.payable:.2f}",
        "automatic": payload.automatic,
        "denial_reasons": [r.value for r in payload.denial_reasons],
    }
    first_decided_at = row.first_decided_at
    if first_decided_at is None or payload.decided_at < first_decided_at:
        first_decided_at = payload.decided_at
    if row.decision_version is not None and payload.decision_version <= row.decision_version:
        row.first_decided_at = first_decided_at
        await record(
            repo,
            row,
            at=envelope.occurred_at,
            actor=payload.decided_by,
            kind="stale_decision_ignored",
            details=details,
            payments=payments,
        )
        return
    # Lines and denial reasons are written now, by statements of their own (they flush nothing); the claim's
    # own changes below wait for the next flush, so they go in one UPDATE with those of any earlier event.
    await repo.set_decided_lines(row.claim_id, {line.line_no: line.payable for line in payload.lines})
    await repo.set_denial_reasons(row.claim_id, [r.value for r in payload.denial_reasons])
    row.first_decided_at = first_decided_at
    locale = (row.data.get("member") or {}).get("locale") or "zh-CN"
    row.decision_version = payload.decision_version
    row.outcome = payload.outcome.value
    row.pended = False
    row.pended_at = None
    row.payable = payload.payable
    row.decision_automatic = payload.automatic
    row.deciders = [*row.deciders, payload.decided_by]
    row.decision = {
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
    denials = [r.value for r in payload.denial_reasons]
    reason = payload.outcome.value + (": " + ", ".join(denials) if denials else "")
    await record(
        repo,
        row,
        at=envelope.occurred_at,
        actor=payload.decided_by,
        kind="decided",
        reason=reason,
        details=details,
        payments=payments,
    )


async def on_pended(uow: UnitOfWork, envelope: EventEnvelope, payload: EventPayload) -> None:
    """Risk rules sent the claim to human review."""
    assert isinstance(payload, ClaimPended)
    repo, row, payments, _ = await _claim(uow, envelope)
    if row is None:
        return
    row.pended = True
    row.pended_at = envelope.occurred_at
    reasons = [r.value for r in payload.reasons]
    await record(
        repo,
        row,
        at=envelope.occurred_at,
        actor=envelope.producer,
        kind="pended",
        reason=", ".join(reasons),
        details={"review_id": payload.review_id, "reasons": reasons},
        payments=payments,
    )


async def on_verification(uow: UnitOfWork, envelope: EventEnvelope, payload: EventPayload) -> None:
    """A reviewer asked the hospital to confirm records and bill."""
    assert isinstance(payload, VerificationRequested)
    repo, row, payments, _ = await _claim(uow, envelope)
    if row is None:
        return
    await record(
        repo,
        row,
        at=envelope.occurred_at,
        actor=payload.requested_by,
        kind="verification_requested",
        reason=payload.message,
        details={"review_id": payload.review_id, "provider_id": payload.provider_id},
        payments=payments,
    )


async def on_payment(uow: UnitOfWork, envelope: EventEnvelope, payload: EventPayload) -> None:
    """A payment's progress."""
    assert isinstance(payload, PaymentEvent)
    repo, row, payments, payment = await _claim(uow, envelope, payment_id=payload.payment_id)
    if row is None:
        return
    new_status = _PAYMENT_STATUS[type(payload)]
    if payment is None:
        payment = PaymentRow(
            payment_id=payload.payment_id,
            claim_id=payload.claim_id,
            decision_version=payload.decision_version,
            amount=payload.amount,
            currency=payload.currency,
            payee=payload.payee.value,
            status=new_status,
            updated_at=envelope.occurred_at,
        )
        repo.add(payment)
        if payment.claim_id == row.claim_id:
            payments.append(payment)
    else:  # one claim's payment events arrive in order (same topic, same key)
        payment.status = new_status
        payment.updated_at = envelope.occurred_at
    if isinstance(payload, PaymentCompleted):
        if row.first_paid_at is None or payload.settled_at < row.first_paid_at:
            row.first_paid_at = payload.settled_at
    elif isinstance(payload, PaymentReturned) and not any(p.status == "settled" for p in payments):
        row.first_paid_at = None
    details: dict[str, Any] = {
        "payment_id": payload.payment_id,
        "amount": f"{payload.amount:.2f}",
        "decision_version": payload.decision_version,
        "payment_status": new_status,
    }
    reason = getattr(payload, "reason", None)
    if isinstance(payload, PaymentFailed):
        details["retryable"] = payload.retryable
    await record(
        repo,
        row,
        at=envelope.occurred_at,
        actor=envelope.producer,
        kind=f"payment_{new_status}",
        reason=reason,
        details=details,
        payments=payments,
    )


async def on_overpayment(uow: UnitOfWork, envelope: EventEnvelope, payload: EventPayload) -> None:
    """A lower re-decision left an amount to recover."""
    assert isinstance(payload, OverpaymentRecorded)
    repo, row, payments, _ = await _claim(uow, envelope)
    if row is None:
        return
    await record(
        repo,
        row,
        at=envelope.occurred_at,
        actor=envelope.producer,
        kind="overpayment_recorded",
        details={"amount": f"{payload.amount:.2f}", "decision_version": payload.decision_version},
        payments=payments,
    )


async def on_notification(uow: UnitOfWork, envelope: EventEnvelope, payload: EventPayload) -> None:
    """A message went to the claimant: a line on the timeline; the claim itself does not change.

    So the claim is neither locked nor read (four messages a claim, each was a read and an update): one
    INSERT … SELECT takes its current status, unless this transaction already holds the claim.
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
    repo = ClaimRepository(uow.session)
    locked = _locked(uow.session).get(envelope.claim_id)
    if locked is not None and _still_loaded(uow.session, locked):
        current = locked.row.status
        repo.add(TimelineRow(claim_id=envelope.claim_id, status_from=current or None, status_to=current, **note))
    elif not await repo.note(envelope.claim_id, **note):
        log.warning("event for a claim intake does not know", event_type=envelope.event_type)


async def on_feedback(uow: UnitOfWork, envelope: EventEnvelope, payload: EventPayload) -> None:
    """The claimant answered the satisfaction survey."""
    assert isinstance(payload, FeedbackReceived)
    repo, row, payments, _ = await _claim(uow, envelope)
    if row is None:
        return
    await repo.add_feedback(payload.survey_id, row.claim_id, payload.score, envelope.occurred_at)
    await record(
        repo,
        row,
        at=envelope.occurred_at,
        actor=envelope.producer,
        kind="feedback_received",
        details={"survey_id": payload.survey_id, "score": payload.score},
        payments=payments,
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

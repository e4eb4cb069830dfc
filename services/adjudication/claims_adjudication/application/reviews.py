"""The human side of §6: reviewers decide pended and disputed claims, supervisors approve what exceeds a
reviewer's authority, hospitals are asked to verify, and every action is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from claims_adjudication.api.schemas import (
    NoteCreate,
    PendingActionRead,
    ReviewDecisionCreate,
    ReviewOutcomeRead,
    VerificationAnswerCreate,
    VerificationCreate,
    VerificationRead,
)
from claims_adjudication.application.catalog import invalid
from claims_adjudication.application.engine import (
    Pricing,
    ReviewerAction,
    load,
    new_id,
    now,
    record_decision,
)
from claims_adjudication.application.queries import decision_read, verification_read
from claims_adjudication.config import AdjudicationSettings
from claims_adjudication.db.models import ClaimRow, ReviewRow, VerificationRow
from claims_adjudication.db.repositories import AuditRepository, ClaimRepository, DecisionRepository, ReviewRepository
from claims_adjudication.domain import Decision
from claims_adjudication.metrics import AdjudicationMetrics
from claims_contracts.events import ClaimReceived, VerificationRequested
from claims_platform.auth import Principal
from claims_platform.db import UnitOfWork
from claims_platform.errors import ProblemError


def _conflict(detail: str) -> ProblemError:
    return ProblemError(409, "Conflict", detail)


def _forbidden(detail: str) -> ProblemError:
    return ProblemError(403, "Forbidden", detail)


async def _review(session: AsyncSession, review_id: str) -> ReviewRow:
    review = await ReviewRepository(session).get(review_id, lock=True)
    if review is None:
        raise ProblemError(404, "Not found", f"No review {review_id}.")
    return review


def _check_lines(body: ReviewDecisionCreate, calculated: Decision) -> list[dict[str, Any]]:
    """Field errors of a decision's body against the calculated decision."""
    errors: list[dict[str, Any]] = []
    if body.action == "adjust":
        if not body.lines:
            errors.append({"field": "lines", "message": "adjust needs at least one line"})
    elif body.lines is not None:
        errors.append({"field": "lines", "message": f"lines are only given with adjust, not {body.action}"})
    if body.action in ("adjust", "deny") and body.reason is None:
        errors.append({"field": "reason", "message": f"{body.action} needs a reason"})
    payables = {line.line_no: line.payable for line in calculated.lines}
    seen: set[int] = set()
    for i, line in enumerate(body.lines or []):
        if line.line_no in seen:
            errors.append({"field": f"lines[{i}].line_no", "message": "appears more than once"})
        seen.add(line.line_no)
        if line.line_no not in payables:
            errors.append({"field": f"lines[{i}].line_no", "message": "no such line in the claim"})
        elif line.payable > payables[line.line_no]:
            errors.append(
                {
                    "field": f"lines[{i}].payable",
                    "message": f"may only lower the calculated payable {payables[line.line_no]:.2f}",
                }
            )
    return errors


@dataclass
class Reviews:
    """Review use cases; each runs inside the request's unit of work."""

    settings: AdjudicationSettings
    metrics: AdjudicationMetrics

    async def _price(
        self, uow: UnitOfWork, review: ReviewRow, claim_row: ClaimRow, at: datetime
    ) -> tuple[Pricing, Decision]:
        claim = ClaimReceived.model_validate(claim_row.payload)
        previous = None
        if review.kind == "dispute":
            previous = await DecisionRepository(uow.session).get(claim_row.claim_id, claim_row.latest_version)
        pricing = await load(uow.session, claim, previous=previous, at=at)
        return pricing, pricing.calculate()

    async def decide(
        self, uow: UnitOfWork, principal: Principal, review_id: str, body: ReviewDecisionCreate
    ) -> tuple[ReviewOutcomeRead, bool]:
        """Apply a reviewer's decision, or park it for a supervisor when it pays above the authority."""
        at = now()
        review = await _review(uow.session, review_id)
        if review.status != "open":
            raise _conflict(f"Review {review_id} is {review.status}; only an open review can be decided.")
        if principal.sub in review.excluded_deciders:
            raise _forbidden("You decided this claim before; a dispute must be decided by someone else.")
        claim_row = await ClaimRepository(uow.session).get(review.claim_id, lock=True)
        assert claim_row is not None
        pricing, calculated = await self._price(uow, review, claim_row, at)
        errors = _check_lines(body, calculated)
        if errors:
            raise invalid(errors)
        lines = {line.line_no: line.payable for line in body.lines or []}
        action = ReviewerAction(body.action, lines or None, body.reason)
        decision = action.apply(calculated)
        audit = AuditRepository(uow.session)
        details = {
            "action": body.action,
            "lines": [{"line_no": n, "payable": f"{p:.2f}"} for n, p in sorted(lines.items())] or None,
            "payable": f"{decision.payable:.2f}",
        }
        if decision.payable > self.settings.authority_limit:
            review.status = "awaiting_second_approval"
            review.pending_action = {
                **details,
                "reason": body.reason,
                "proposed_by": principal.sub,
                "proposed_at": at.isoformat(),
            }
            review.updated_at = at
            audit.record(
                at=at,
                actor=principal.sub,
                action="decision_proposed",
                entity_type="review",
                entity_id=review_id,
                claim_id=review.claim_id,
                reason=body.reason,
                details={**details, "authority_limit": f"{self.settings.authority_limit:.2f}"},
            )
            return (
                ReviewOutcomeRead(
                    status="awaiting_second_approval",
                    review_id=review_id,
                    claim_id=review.claim_id,
                    pending_action=PendingActionRead.model_validate(review.pending_action),
                ),
                False,
            )
        row = record_decision(
            uow, pricing, decision, claim_row, decided_by=principal.sub, automatic=False, at=at, review_id=review_id
        )
        self._close(review, row.version, principal.sub, None, at)
        audit.record(
            at=at,
            actor=principal.sub,
            action="decision_made",
            entity_type="review",
            entity_id=review_id,
            claim_id=review.claim_id,
            reason=body.reason,
            details={**details, "decision_version": row.version, "outcome": row.outcome},
        )
        outcome = row.outcome
        uow.after_commit(lambda: self.metrics.manual(outcome))
        read = ReviewOutcomeRead(
            status="decided", review_id=review_id, claim_id=review.claim_id, decision=decision_read(row)
        )
        return read, True

    @staticmethod
    def _close(review: ReviewRow, version: int, decided_by: str, approved_by: str | None, at: datetime) -> None:
        review.status = "decided"
        review.decided_by = decided_by
        review.approved_by = approved_by
        review.decision_version = version
        review.pending_action = None
        review.updated_at = review.closed_at = at

    async def approve(
        self, uow: UnitOfWork, principal: Principal, review_id: str, comment: str | None
    ) -> ReviewOutcomeRead:
        """A supervisor other than the proposer lets a decision above the authority take effect."""
        at = now()
        review = await _review(uow.session, review_id)
        if review.status != "awaiting_second_approval" or review.pending_action is None:
            raise _conflict(f"Review {review_id} is {review.status}; nothing awaits a second approval.")
        pending = review.pending_action
        if principal.sub == pending["proposed_by"]:
            raise _forbidden("The second approval must come from another user than the one who decided.")
        if principal.sub in review.excluded_deciders:
            raise _forbidden("You decided this claim before; a dispute must be decided by someone else.")
        claim_row = await ClaimRepository(uow.session).get(review.claim_id, lock=True)
        assert claim_row is not None
        pricing, calculated = await self._price(uow, review, claim_row, at)
        lines = {int(x["line_no"]): Decimal(x["payable"]) for x in pending.get("lines") or []}
        action = ReviewerAction(pending["action"], lines or None, pending.get("reason"))
        try:
            decision = action.apply(calculated)
        except ValueError as exc:
            raise _conflict(
                "The claim prices differently now than when it was decided; the reviewer must decide again."
            ) from exc
        row = record_decision(
            uow,
            pricing,
            decision,
            claim_row,
            decided_by=pending["proposed_by"],
            approved_by=principal.sub,
            automatic=False,
            at=at,
            review_id=review_id,
        )
        self._close(review, row.version, pending["proposed_by"], principal.sub, at)
        AuditRepository(uow.session).record(
            at=at,
            actor=principal.sub,
            action="decision_approved",
            entity_type="review",
            entity_id=review_id,
            claim_id=review.claim_id,
            reason=comment,
            details={
                "proposed_by": pending["proposed_by"],
                "decision_version": row.version,
                "payable": f"{row.payable:.2f}",
                "outcome": row.outcome,
            },
        )
        outcome = row.outcome
        uow.after_commit(lambda: self.metrics.manual(outcome))
        return ReviewOutcomeRead(
            status="decided", review_id=review_id, claim_id=review.claim_id, decision=decision_read(row)
        )

    async def reject(self, uow: UnitOfWork, principal: Principal, review_id: str, reason: str) -> ReviewOutcomeRead:
        """A supervisor refuses a decision above the authority; the review is open again."""
        at = now()
        review = await _review(uow.session, review_id)
        if review.status != "awaiting_second_approval" or review.pending_action is None:
            raise _conflict(f"Review {review_id} is {review.status}; nothing awaits a second approval.")
        if principal.sub == review.pending_action["proposed_by"]:
            raise _forbidden("The second approval must come from another user than the one who decided.")
        rejected = review.pending_action
        review.status = "open"
        review.pending_action = None
        review.updated_at = at
        AuditRepository(uow.session).record(
            at=at,
            actor=principal.sub,
            action="decision_rejected",
            entity_type="review",
            entity_id=review_id,
            claim_id=review.claim_id,
            reason=reason,
            details={"rejected": rejected},
        )
        return ReviewOutcomeRead(status="open", review_id=review_id, claim_id=review.claim_id)

    async def request_verification(
        self, uow: UnitOfWork, principal: Principal, review_id: str, body: VerificationCreate
    ) -> VerificationRead:
        """Ask the hospital to confirm the records and the bill (VerificationRequested)."""
        at = now()
        review = await _review(uow.session, review_id)
        if review.status != "open":
            raise _conflict(f"Review {review_id} is {review.status}; verification is asked on an open review.")
        claim_row = await ClaimRepository(uow.session).get(review.claim_id)
        assert claim_row is not None
        row = VerificationRow(
            verification_id=new_id(),
            review_id=review_id,
            claim_id=review.claim_id,
            provider_id=claim_row.provider_id,
            message=body.message,
            requested_by=principal.sub,
            requested_at=at,
            status="requested",
        )
        ReviewRepository(uow.session).add(row)
        uow.publish(
            VerificationRequested(
                claim_id=review.claim_id,
                review_id=review_id,
                provider_id=claim_row.provider_id,
                message=body.message,
                requested_by=principal.sub,
            ),
            claim_id=review.claim_id,
        )
        AuditRepository(uow.session).record(
            at=at,
            actor=principal.sub,
            action="verification_requested",
            entity_type="verification",
            entity_id=row.verification_id,
            claim_id=review.claim_id,
            details={"review_id": review_id, "provider_id": claim_row.provider_id, "message": body.message},
        )
        return verification_read(row)

    async def answer_verification(
        self,
        uow: UnitOfWork,
        principal: Principal,
        review_id: str,
        verification_id: str,
        body: VerificationAnswerCreate,
    ) -> VerificationRead:
        """Record the hospital's answer (by the hospital itself, or an adjuster who received it)."""
        at = now()
        row = await ReviewRepository(uow.session).verification(verification_id, lock=True)
        hidden = row is None or row.review_id != review_id
        if row is not None and not principal.is_internal and principal.provider_id != row.provider_id:
            hidden = True
        if hidden or row is None:
            raise ProblemError(404, "Not found", f"No verification {verification_id} on review {review_id}.")
        if row.status != "requested":
            raise _conflict(f"Verification {verification_id} is already answered.")
        row.status = "answered"
        row.confirmed = body.confirmed
        row.answer = body.answer
        row.answered_by = principal.sub
        row.answered_at = at
        AuditRepository(uow.session).record(
            at=at,
            actor=principal.sub,
            action="verification_answered",
            entity_type="verification",
            entity_id=verification_id,
            claim_id=row.claim_id,
            details={"review_id": review_id, "confirmed": body.confirmed, "answer": body.answer},
        )
        return verification_read(row)

    async def add_note(self, uow: UnitOfWork, principal: Principal, review_id: str, body: NoteCreate) -> None:
        """Record a reviewer's finding on a review."""
        review = await _review(uow.session, review_id)
        AuditRepository(uow.session).record(
            at=now(),
            actor=principal.sub,
            action="finding_recorded",
            entity_type="review",
            entity_id=review_id,
            claim_id=review.claim_id,
            reason=body.note,
        )

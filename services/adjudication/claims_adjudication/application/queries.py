"""Read models: a claim's decisions, a member's accumulators, the review queue, the audit log."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from claims_adjudication.api.schemas import (
    AccumulatorRead,
    AdjudicationRead,
    AuditRead,
    CalculatedDecision,
    DecisionRead,
    MemberAccumulatorsRead,
    PendingActionRead,
    ReviewDetailRead,
    ReviewRead,
    VerificationRead,
)
from claims_adjudication.db.models import AuditRow, ClaimRow, DecisionRow, ReviewRow, VerificationRow
from claims_adjudication.db.repositories import (
    AccumulatorRepository,
    AuditRepository,
    ClaimRepository,
    DecisionRepository,
    NewDecision,
    PlanRepository,
    PolicyRepository,
    ReviewRepository,
)
from claims_adjudication.events.mapping import amounts_of
from claims_platform.errors import ProblemError
from claims_platform.pagination import Page, decode_cursor, encode_cursor

ZERO = Decimal("0.00")


def decision_read(row: DecisionRow | NewDecision) -> DecisionRead:
    """A decision (stored, or made in this transaction) as the API shows it."""
    return DecisionRead.model_validate(
        {
            "version": row.version,
            "outcome": row.outcome,
            "currency": row.currency,
            "charged": row.charged,
            "allowed": row.allowed,
            "payable": row.payable,
            "member_responsibility": row.member_responsibility,
            "other_insurance": row.other_insurance,
            "denial_reasons": row.denial_reasons,
            "lines": row.lines,
            "plan_code": row.plan_code,
            "plan_version": row.plan_version,
            "policy_number": row.policy_number,
            "policy_version": row.policy_version,
            "member_id": row.member_id,
            "provider_id": row.provider_id,
            "payee": row.payee,
            "automatic": row.automatic,
            "decided_by": row.decided_by,
            "approved_by": row.approved_by,
            "review_id": row.review_id,
            "decided_at": row.decided_at,
        }
    )


def verification_read(row: VerificationRow) -> VerificationRead:
    """A verification request as the API shows it."""
    return VerificationRead.model_validate(row, from_attributes=True)


def audit_read(row: AuditRow) -> AuditRead:
    """An audit entry as the API shows it."""
    return AuditRead.model_validate(row, from_attributes=True)


def review_read(row: ReviewRow, claim: ClaimRow, verifications: list[VerificationRow]) -> ReviewRead:
    """A review queue item."""
    pending = PendingActionRead.model_validate(row.pending_action) if row.pending_action else None
    return ReviewRead(
        review_id=row.review_id,
        claim_id=row.claim_id,
        kind=row.kind,
        reasons=row.reasons,
        status=row.status,
        member_id=claim.member_id,
        provider_id=claim.provider_id,
        policy_number=claim.policy_number,
        charged=claim.charged,
        calculated_decision=CalculatedDecision.model_validate(row.calculated),
        excluded_deciders=row.excluded_deciders,
        dispute=row.dispute,
        pending_action=pending,
        decided_by=row.decided_by,
        approved_by=row.approved_by,
        decision_version=row.decision_version,
        verifications=[verification_read(v) for v in verifications],
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def adjudications(session: AsyncSession, claim_id: str) -> AdjudicationRead:
    """Every decision on a claim; 404 when the claim never reached adjudication."""
    claim = await ClaimRepository(session).get(claim_id)
    if claim is None:
        raise ProblemError(404, "Not found", f"No claim {claim_id} in adjudication.")
    decisions = await DecisionRepository(session).of_claim(claim_id)
    active = await ReviewRepository(session).active_of_claim(claim_id)
    return AdjudicationRead(
        claim_id=claim_id,
        status=claim.status,
        member_id=claim.member_id,
        policy_number=claim.policy_number,
        received_at=claim.received_at,
        open_review_id=active[0].review_id if active else None,
        decisions=[decision_read(d) for d in decisions],
    )


async def member_accumulators(
    session: AsyncSession, member_id: str, policy_number: str | None
) -> MemberAccumulatorsRead:
    """A member's accumulators per policy period, with what is left under the policy's current plan."""
    out: list[AccumulatorRead] = []
    for row in await AccumulatorRepository(session).of_member(member_id, policy_number):
        policy = await PolicyRepository(session).get(row.policy_number)
        plan = await PlanRepository(session).version(policy.plan_code) if policy is not None else None
        deductible = Decimal(str(plan.definition["annual_deductible"])) if plan is not None else None
        limit = Decimal(str(plan.definition["annual_limit"])) if plan is not None else None
        out.append(
            AccumulatorRead(
                policy_number=row.policy_number,
                period_start=row.period_start,
                period_end=row.period_end,
                plan_code=plan.plan_code if plan is not None else None,
                annual_deductible=deductible,
                deductible_used=row.deductible_used,
                deductible_remaining=max(deductible - row.deductible_used, Decimal(0))
                if deductible is not None
                else None,
                annual_limit=limit,
                paid_total=row.paid_total,
                paid_by_category=amounts_of(row.paid_by_category),
                version=row.version,
                updated_at=row.updated_at,
            )
        )
    return MemberAccumulatorsRead(member_id=member_id, accumulators=out)


async def review_page(session: AsyncSession, status: str | None, limit: int, cursor: str | None) -> Page[ReviewRead]:
    """The review queue, oldest first."""
    position = decode_cursor(cursor)
    after = None
    if position is not None:
        try:
            after = (datetime.fromisoformat(position["t"]), str(position["id"]))
        except (KeyError, TypeError, ValueError):
            raise ProblemError(
                400, "Bad request", "The cursor is not valid.", errors=[{"field": "cursor", "message": "bad cursor"}]
            ) from None
    reviews = ReviewRepository(session)
    rows = list(await reviews.page(status, after, limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    verifications = await reviews.verifications_of([r.review_id for r in rows])
    by_review: dict[str, list[VerificationRow]] = {}
    for v in verifications:
        by_review.setdefault(v.review_id, []).append(v)
    claims = ClaimRepository(session)
    items = []
    for row in rows:
        claim = await claims.get(row.claim_id)
        assert claim is not None
        items.append(review_read(row, claim, by_review.get(row.review_id, [])))
    next_cursor = None
    if more and rows:
        next_cursor = encode_cursor({"t": rows[-1].created_at.isoformat(), "id": rows[-1].review_id})
    return Page[ReviewRead](items=items, next_cursor=next_cursor)


async def review_detail(session: AsyncSession, review_id: str) -> ReviewDetailRead:
    """One review with its verifications and the claim's audit trail."""
    reviews = ReviewRepository(session)
    row = await reviews.get(review_id)
    if row is None:
        raise ProblemError(404, "Not found", f"No review {review_id}.")
    claim = await ClaimRepository(session).get(row.claim_id)
    assert claim is not None
    base = review_read(row, claim, list(await reviews.verifications(review_id)))
    trail = await AuditRepository(session).page(
        claim_id=row.claim_id, entity_id=None, actor=None, after_id=None, limit=500
    )
    return ReviewDetailRead(**base.model_dump(), audit=[audit_read(a) for a in trail])


async def audit_page(
    session: AsyncSession,
    *,
    claim_id: str | None,
    entity_id: str | None,
    actor: str | None,
    limit: int,
    cursor: str | None,
) -> Page[AuditRead]:
    """The audit log, in the order it was written."""
    position = decode_cursor(cursor)
    after_id = None
    if position is not None:
        raw = position.get("id")
        if not isinstance(raw, int):
            raise ProblemError(
                400, "Bad request", "The cursor is not valid.", errors=[{"field": "cursor", "message": "bad cursor"}]
            )
        after_id = raw
    rows = list(
        await AuditRepository(session).page(
            claim_id=claim_id, entity_id=entity_id, actor=actor, after_id=after_id, limit=limit + 1
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor({"id": rows[-1].id}) if more and rows else None
    return Page[AuditRead](items=[audit_read(r) for r in rows], next_cursor=next_cursor)

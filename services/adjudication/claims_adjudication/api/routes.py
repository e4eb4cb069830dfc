"""Routers of the adjudication service: thin, they authorise and hand over to the use cases."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from claims_adjudication.api.schemas import (
    AdjudicationRead,
    AuditRead,
    MemberAccumulatorsRead,
    NoteCreate,
    PlanRead,
    PlanWrite,
    PolicyRead,
    PolicyWrite,
    RejectCreate,
    ReviewDecisionCreate,
    ReviewDetailRead,
    ReviewOutcomeRead,
    ReviewRead,
    SecondApprovalCreate,
    VerificationAnswerCreate,
    VerificationCreate,
    VerificationRead,
)
from claims_adjudication.application import catalog, queries
from claims_adjudication.application.reviews import Reviews
from claims_platform.auth import Principal, require_roles
from claims_platform.deps import UnitOfWorkDep
from claims_platform.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page

_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
_CODE = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"

PlanCodePath = Annotated[str, Path(min_length=1, max_length=32, pattern=_CODE)]
PolicyNumberPath = Annotated[str, Path(min_length=1, max_length=64, pattern=_CODE)]
IdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=_ID)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=500)]

Admin = Annotated[Principal, Depends(require_roles("admin"))]
Reader = Annotated[Principal, Depends(require_roles("auditor", "admin", "adjuster", "supervisor"))]
Adjuster = Annotated[Principal, Depends(require_roles("adjuster"))]
Supervisor = Annotated[Principal, Depends(require_roles("supervisor"))]
Auditor = Annotated[Principal, Depends(require_roles("auditor", "admin", "supervisor"))]
Reviewer = Annotated[Principal, Depends(require_roles("adjuster", "supervisor"))]
Verifier = Annotated[Principal, Depends(require_roles("adjuster", "partner"))]


def _reviews(request: Request) -> Reviews:
    reviews: Reviews = request.app.state.reviews
    return reviews


ReviewsDep = Annotated[Reviews, Depends(_reviews)]

catalog_router = APIRouter(prefix="/v1", tags=["plans and policies"])


@catalog_router.put(
    "/plans/{plan_code}",
    summary="Load a benefit plan (a change becomes its next version)",
    responses={200: {"description": "Updated (or unchanged)"}, 201: {"description": "Created"}},
)
async def put_plan(
    plan_code: PlanCodePath, body: PlanWrite, principal: Admin, uow: UnitOfWorkDep, response: Response
) -> PlanRead:
    plan, created = await catalog.put_plan(uow.session, plan_code, body, principal.sub)
    response.status_code = 201 if created else 200
    return plan


@catalog_router.get("/plans/{plan_code}", summary="A plan's current version, or a given one")
async def get_plan(
    plan_code: PlanCodePath,
    _: Reader,
    uow: UnitOfWorkDep,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> PlanRead:
    return await catalog.get_plan(uow.session, plan_code, version)


@catalog_router.put(
    "/policies/{policy_number}",
    summary="Load a policy",
    responses={200: {"description": "Updated (or unchanged)"}, 201: {"description": "Created"}},
)
async def put_policy(
    policy_number: PolicyNumberPath, body: PolicyWrite, principal: Admin, uow: UnitOfWorkDep, response: Response
) -> PolicyRead:
    policy, created = await catalog.put_policy(uow.session, policy_number, body, principal.sub)
    response.status_code = 201 if created else 200
    return policy


@catalog_router.get("/policies/{policy_number}", summary="A policy")
async def get_policy(policy_number: PolicyNumberPath, _: Reader, uow: UnitOfWorkDep) -> PolicyRead:
    return await catalog.get_policy(uow.session, policy_number)


decisions_router = APIRouter(prefix="/v1", tags=["decisions"])


@decisions_router.get("/adjudications/{claim_id}", summary="Every decision on a claim, oldest first")
async def get_adjudications(claim_id: IdPath, _: Reader, uow: UnitOfWorkDep) -> AdjudicationRead:
    return await queries.adjudications(uow.session, claim_id)


@decisions_router.get(
    "/members/{member_id}/accumulators", summary="What a member has used, per policy and policy period"
)
async def get_accumulators(
    member_id: IdPath,
    _: Reader,
    uow: UnitOfWorkDep,
    policy_number: Annotated[str | None, Query(min_length=1, max_length=64, pattern=_CODE)] = None,
) -> MemberAccumulatorsRead:
    return await queries.member_accumulators(uow.session, member_id, policy_number)


@decisions_router.get("/audit", summary="The audit log: who did what, when and why")
async def get_audit(
    _: Auditor,
    uow: UnitOfWorkDep,
    claim_id: Annotated[str | None, Query(max_length=64)] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[AuditRead]:
    return await queries.audit_page(
        uow.session, claim_id=claim_id, entity_id=entity_id, actor=actor, limit=limit, cursor=cursor
    )


reviews_router = APIRouter(prefix="/v1/reviews", tags=["review queue"])


@reviews_router.get("", summary="The review queue, oldest first")
async def list_reviews(
    _: Reader,
    uow: UnitOfWorkDep,
    status: Literal["open", "awaiting_second_approval", "decided", "closed"] | None = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[ReviewRead]:
    return await queries.review_page(uow.session, status, limit, cursor)


@reviews_router.get("/{review_id}", summary="A review, its verifications and the claim's audit trail")
async def get_review(review_id: IdPath, _: Reader, uow: UnitOfWorkDep) -> ReviewDetailRead:
    return await queries.review_detail(uow.session, review_id)


@reviews_router.post(
    "/{review_id}/decision",
    summary="Decide a review: approve as calculated, adjust lines down, or deny",
    responses={202: {"description": "Above the reviewer's authority: awaiting a supervisor's approval"}},
)
async def decide(
    review_id: IdPath,
    body: ReviewDecisionCreate,
    principal: Adjuster,
    uow: UnitOfWorkDep,
    reviews: ReviewsDep,
    response: Response,
) -> ReviewOutcomeRead:
    outcome, decided = await reviews.decide(uow, principal, review_id, body)
    response.status_code = 200 if decided else 202
    return outcome


@reviews_router.post("/{review_id}/approve", summary="A supervisor's second approval (four eyes)")
async def approve(
    review_id: IdPath,
    principal: Supervisor,
    uow: UnitOfWorkDep,
    reviews: ReviewsDep,
    body: SecondApprovalCreate | None = None,
) -> ReviewOutcomeRead:
    return await reviews.approve(uow, principal, review_id, body.comment if body else None)


@reviews_router.post("/{review_id}/reject", summary="A supervisor refuses a decision; the review is open again")
async def reject(
    review_id: IdPath, body: RejectCreate, principal: Supervisor, uow: UnitOfWorkDep, reviews: ReviewsDep
) -> ReviewOutcomeRead:
    return await reviews.reject(uow, principal, review_id, body.reason)


@reviews_router.post(
    "/{review_id}/verifications", status_code=201, summary="Ask the hospital to verify the records and the bill"
)
async def request_verification(
    review_id: IdPath, body: VerificationCreate, principal: Adjuster, uow: UnitOfWorkDep, reviews: ReviewsDep
) -> VerificationRead:
    return await reviews.request_verification(uow, principal, review_id, body)


@reviews_router.post(
    "/{review_id}/verifications/{verification_id}/answer", summary="Record the hospital's answer to a verification"
)
async def answer_verification(
    review_id: IdPath,
    verification_id: IdPath,
    body: VerificationAnswerCreate,
    principal: Verifier,
    uow: UnitOfWorkDep,
    reviews: ReviewsDep,
) -> VerificationRead:
    return await reviews.answer_verification(uow, principal, review_id, verification_id, body)


@reviews_router.post("/{review_id}/notes", status_code=204, summary="Record a finding on a review")
async def add_note(
    review_id: IdPath, body: NoteCreate, principal: Reviewer, uow: UnitOfWorkDep, reviews: ReviewsDep
) -> Response:
    await reviews.add_note(uow, principal, review_id, body)
    return Response(status_code=204)


ROUTERS = (catalog_router, decisions_router, reviews_router)

"""The intake API: submission, supplements, the archive, disputes, withdrawals and complaints."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, Response, UploadFile, status

from claims_contracts.values import ClaimStatus, DocumentType, MemberId, PolicyNumber, ProviderId
from claims_intake import cases
from claims_intake.api.schemas import (
    ActionResult,
    ClaimCreate,
    ClaimRead,
    ClaimSubmitted,
    ClaimSummary,
    ComplaintAnswerCreate,
    ComplaintCreate,
    ComplaintRead,
    DisputeCreate,
    DocumentsUploaded,
    ExpiryRun,
    TimelineEntryRead,
    WithdrawCreate,
)
from claims_intake.context import IntakeContext
from claims_intake.db.repositories import ClaimFilter, ClaimRepository
from claims_platform.auth import Principal, require_roles
from claims_platform.deps import UnitOfWorkDep, runtime_of
from claims_platform.errors import ProblemError
from claims_platform.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, decode_cursor, encode_cursor

router = APIRouter(prefix="/v1", tags=["claims"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="A retry with the same key and body returns the same claim; another body is a 409.",
    ),
]
Submitter = Annotated[Principal, Depends(require_roles(*cases.SUBMIT_ROLES))]
Reader = Annotated[Principal, Depends(require_roles(*cases.READ_ROLES))]
DocumentSender = Annotated[Principal, Depends(require_roles(*cases.DOCUMENT_ROLES))]
Claimant = Annotated[Principal, Depends(require_roles(*cases.CLAIMANT_ROLES))]
Answerer = Annotated[Principal, Depends(require_roles(*cases.ANSWER_ROLES))]
Admin = Annotated[Principal, Depends(require_roles("admin"))]


async def context_of(request: Request) -> IntakeContext:
    """The intake context of the app (a coroutine: FastAPI would run a plain function in a worker thread)."""
    return cast(IntakeContext, request.app.state.intake)


Ctx = Annotated[IntakeContext, Depends(context_of)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed request"},
    401: {"description": "No valid token"},
    403: {"description": "Wrong role or another hospital's claim"},
    404: {"description": "No such claim visible to the caller"},
    409: {"description": "Conflict with the claim's state or an idempotency key"},
    413: {"description": "Body too large"},
    422: {"description": "Invalid fields, each listed"},
}


@router.post(
    "/claims",
    status_code=status.HTTP_201_CREATED,
    response_model=ClaimSubmitted,
    responses=_ERRORS,
    summary="Submit a claim",
)
async def submit_claim(
    body: ClaimCreate,
    principal: Submitter,
    uow: UnitOfWorkDep,
    ctx: Ctx,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> ClaimSubmitted:
    """Validate and store a claim; complete ones go to review, others wait for the documents listed."""
    answer, created = await cases.submit_claim(uow, ctx, body, principal, idempotency_key=idempotency_key)
    response.headers["Location"] = f"/v1/claims/{answer.claim_id}"
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return answer


@router.post(
    "/claims/{claim_id}/documents",
    status_code=status.HTTP_201_CREATED,
    response_model=DocumentsUploaded,
    responses=_ERRORS,
    summary="Supply a document (multipart: type, file)",
)
async def upload_document(
    claim_id: str,
    principal: DocumentSender,
    uow: UnitOfWorkDep,
    ctx: Ctx,
    type: Annotated[DocumentType, Form(description="The kind of document.")],
    file: Annotated[UploadFile, File(description="PDF, JPEG, PNG or TIFF, at most 10 MiB.")],
) -> DocumentsUploaded:
    """A supplement: the completeness review runs again."""
    limit = ctx.settings.document_max_bytes
    content = await file.read(limit + 1)
    filename = (file.filename or "document").replace("\\", "/").rsplit("/", 1)[-1][:255] or "document"
    if len(content) > limit:
        raise ProblemError(
            413,
            "Payload too large",
            f"A document is at most {limit} bytes.",
            errors=[{"field": "file", "message": f"exceeds {limit} bytes"}],
        )
    row, doc = await cases.add_document(
        uow,
        ctx,
        claim_id,
        principal,
        doc_type=type.value,
        filename=filename,
        declared=file.content_type,
        content=content,
    )
    return DocumentsUploaded(
        claim_id=claim_id,
        document=cases.document_read(doc),
        status=row.status,
        missing_documents=row.missing_documents,
    )


@router.get("/claims/{claim_id}", response_model=ClaimRead, responses=_ERRORS, summary="A claim and where it stands")
async def get_claim(claim_id: str, principal: Reader, uow: UnitOfWorkDep) -> ClaimRead:
    """The claim as submitted (documents as metadata, ID number and bank account masked), decision, payments."""
    repo = ClaimRepository(uow.session)
    row = await cases.visible_claim(repo, claim_id, principal)
    return await cases.claim_read(repo, row)


@router.get(
    "/claims/{claim_id}/timeline",
    response_model=Page[TimelineEntryRead],
    responses=_ERRORS,
    summary="A claim's history",
)
async def get_timeline(
    claim_id: str,
    principal: Reader,
    uow: UnitOfWorkDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[TimelineEntryRead]:
    """Every change with its time, actor and reason, oldest first."""
    repo = ClaimRepository(uow.session)
    await cases.visible_claim(repo, claim_id, principal)
    position = decode_cursor(cursor)
    after = _int_cursor(position)
    rows = await repo.timeline(claim_id, limit=limit + 1, after_id=after)
    more = len(rows) > limit
    rows = rows[:limit]
    return Page[TimelineEntryRead](
        items=[cases.timeline_read(r) for r in rows],
        next_cursor=encode_cursor({"id": rows[-1].id}) if more else None,
    )


def _int_cursor(position: dict[str, object] | None) -> int | None:
    if position is None:
        return None
    value = position.get("id")
    if not isinstance(value, int):
        raise ProblemError(
            400, "Bad request", "The cursor is not valid.", errors=[{"field": "cursor", "message": "bad"}]
        )
    return value


@router.get("/claims", response_model=Page[ClaimSummary], responses=_ERRORS, summary="Search the archive")
async def search_claims(
    principal: Reader,
    uow: UnitOfWorkDep,
    member_id: MemberId | None = None,
    policy_number: PolicyNumber | None = None,
    provider_id: ProviderId | None = None,
    claim_status: Annotated[ClaimStatus | None, Query(alias="status")] = None,
    from_: Annotated[date | None, Query(alias="from", description="Submitted on or after (UTC date).")] = None,
    to: Annotated[date | None, Query(description="Submitted on or before (UTC date).")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[ClaimSummary]:
    """Claims by member, policy, provider, status and submission date, newest first."""
    if from_ is not None and to is not None and to < from_:
        raise ProblemError(
            422, "Validation failed", "`to` is before `from`.", errors=[{"field": "to", "message": "before from"}]
        )
    criteria = ClaimFilter(
        member_id=member_id,
        policy_number=policy_number,
        provider_id=provider_id,
        status=claim_status.value if claim_status else None,
        submitted_from=datetime.combine(from_, time.min, UTC) if from_ else None,
        submitted_before=datetime.combine(to + timedelta(days=1), time.min, UTC) if to else None,
    )
    if not principal.is_internal:
        if principal.has("partner"):
            criteria = ClaimFilter(**{**criteria.__dict__, "partner_provider_id": principal.provider_id})
        elif principal.has("member"):
            criteria = ClaimFilter(**{**criteria.__dict__, "member_id": principal.member_id})
            if member_id is not None and member_id != principal.member_id:
                return Page[ClaimSummary](items=[])
    position = decode_cursor(cursor)
    after = None
    if position is not None:
        try:
            after = (datetime.fromisoformat(str(position["t"])), str(position["id"]))
        except (KeyError, ValueError):
            raise ProblemError(
                400, "Bad request", "The cursor is not valid.", errors=[{"field": "cursor", "message": "bad"}]
            ) from None
    repo = ClaimRepository(uow.session)
    rows = await repo.search(criteria, limit=limit + 1, after=after)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor({"t": rows[-1].submitted_at.isoformat(), "id": rows[-1].claim_id}) if more else None
    return Page[ClaimSummary](items=[cases.claim_summary(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/claims/{claim_id}/disputes",
    status_code=status.HTTP_201_CREATED,
    response_model=ActionResult,
    responses=_ERRORS,
    summary="Contest the latest decision",
)
async def dispute_claim(
    claim_id: str, body: DisputeCreate, principal: Claimant, uow: UnitOfWorkDep, ctx: Ctx
) -> ActionResult:
    """Only a decided claim; a different reviewer re-decides."""
    row = await cases.dispute(uow, ctx, claim_id, principal, body.reason)
    return ActionResult(claim_id=claim_id, status=row.status)


@router.post(
    "/claims/{claim_id}/withdraw", response_model=ActionResult, responses=_ERRORS, summary="Withdraw before a decision"
)
async def withdraw_claim(
    claim_id: str, principal: Claimant, uow: UnitOfWorkDep, ctx: Ctx, body: WithdrawCreate | None = None
) -> ActionResult:
    """End the claim before it is decided."""
    reason = body.reason if body is not None else WithdrawCreate().reason
    row = await cases.withdraw(uow, ctx, claim_id, principal, reason)
    return ActionResult(claim_id=claim_id, status=row.status)


@router.post(
    "/claims/{claim_id}/complaints",
    status_code=status.HTTP_201_CREATED,
    response_model=ComplaintRead,
    responses=_ERRORS,
    summary="Complain about the service",
)
async def add_complaint(
    claim_id: str, body: ComplaintCreate, principal: Claimant, uow: UnitOfWorkDep, ctx: Ctx
) -> ComplaintRead:
    """A complaint about how the claim is handled (not about the decision: that is a dispute)."""
    return cases.complaint_read(await cases.complain(uow, ctx, claim_id, principal, body.message))


@router.get(
    "/claims/{claim_id}/complaints",
    response_model=list[ComplaintRead],
    responses=_ERRORS,
    summary="A claim's complaints",
)
async def list_complaints(claim_id: str, principal: Reader, uow: UnitOfWorkDep) -> list[ComplaintRead]:
    """Complaints and their answers."""
    repo = ClaimRepository(uow.session)
    await cases.visible_claim(repo, claim_id, principal)
    return [cases.complaint_read(c) for c in await repo.complaints(claim_id)]


@router.post(
    "/claims/{claim_id}/complaints/{complaint_id}/answer",
    response_model=ComplaintRead,
    responses=_ERRORS,
    summary="Answer a complaint (staff)",
)
async def answer_complaint(
    claim_id: str, complaint_id: str, body: ComplaintAnswerCreate, principal: Answerer, uow: UnitOfWorkDep, ctx: Ctx
) -> ComplaintRead:
    """Staff's answer, recorded on the timeline."""
    return cases.complaint_read(await cases.answer_complaint(uow, ctx, claim_id, complaint_id, principal, body.answer))


@router.post("/jobs/expire", response_model=ExpiryRun, responses=_ERRORS, summary="Run the expiry job now (admin)")
async def run_expiry(request: Request, _: Admin, ctx: Ctx) -> ExpiryRun:
    """Close claims whose requested documents are overdue (the scheduled job, on demand)."""
    return ExpiryRun(expired=await cases.expire_overdue(ctx, runtime_of(request).db))

"""Routes of the notification service: in-app messages, preferences, provider contacts, surveys."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy import ColumnElement, and_, or_

from claims_contracts.events import FeedbackReceived
from claims_notification.api.schemas import (
    DeliveryRead,
    FeedbackCreate,
    FeedbackRead,
    FeedbackSummary,
    NotificationDetail,
    NotificationRead,
    PreferencesRead,
    PreferencesUpdate,
    ProviderContactRead,
    ProviderContactUpdate,
    SurveyRead,
)
from claims_notification.db.models import MessageRow, SurveyRow
from claims_notification.db.repositories import MessageRepository, RecipientRepository, SurveyRepository
from claims_notification.domain.survey import TokenExpired, TokenInvalid, verify_survey_token
from claims_notification.planning import Planner
from claims_platform.auth import INTERNAL_ROLES, CurrentPrincipal, Principal, require_roles
from claims_platform.deps import UnitOfWorkDep
from claims_platform.errors import ProblemError
from claims_platform.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, decode_cursor, encode_cursor

router = APIRouter(prefix="/v1")

_Internal = Annotated[Principal, Depends(require_roles(*INTERNAL_ROLES))]
_Admin = Annotated[Principal, Depends(require_roles("admin"))]
_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
_IdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=_ID)]


def _planner(request: Request) -> Planner:
    planner: Planner = request.app.state.planner
    return planner


def _not_found(what: str) -> ProblemError:
    return ProblemError(404, "Not found", f"No such {what}.")


def _scope(principal: Principal) -> ColumnElement[bool] | None:
    """What a caller may see: staff everything, a member their own, a hospital its own."""
    if principal.is_internal:
        return None
    if principal.has("partner") and principal.provider_id:
        return and_(
            MessageRow.provider_id == principal.provider_id,
            or_(MessageRow.recipient_type == "provider", MessageRow.submitted_by_provider.is_(True)),
        )
    if principal.has("member") and principal.member_id:
        return and_(MessageRow.member_id == principal.member_id, MessageRow.recipient_type == "member")
    raise ProblemError(403, "Forbidden", "This needs a staff, partner or member role.")


def _read(row: MessageRow) -> NotificationRead:
    return NotificationRead(
        notification_id=row.id,
        claim_id=row.claim_id,
        event_type=row.event_type,
        source_event_type=row.source_event_type,
        source_event_id=row.source_event_id,
        channel=row.channel,
        locale=row.locale,
        subject=row.subject,
        body=row.body,
        recipient=row.address_masked,
        recipient_type=row.recipient_type,
        status=row.status,
        attempts=row.attempts,
        created_at=row.created_at,
        sent_at=row.sent_at,
    )


@router.get(
    "/notifications",
    tags=["notifications"],
    summary="List messages (in-app by default) of a claim or member",
)
async def list_notifications(
    uow: UnitOfWorkDep,
    principal: CurrentPrincipal,
    claim_id: Annotated[str | None, Query(max_length=64, pattern=_ID)] = None,
    member_id: Annotated[str | None, Query(max_length=64, pattern=_ID)] = None,
    channel: Annotated[str, Query(pattern=r"^(email|sms|in_app|all)$")] = "in_app",
    event_type: Annotated[str | None, Query(max_length=40, pattern=r"^[a-z_]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[NotificationRead]:
    """Messages oldest first; a member sees their own, a hospital those of the claims it submitted."""
    if principal.has("member") and not principal.is_internal and member_id not in (None, principal.member_id):
        raise ProblemError(403, "Forbidden", "A member sees only their own messages.")
    position = decode_cursor(cursor)
    after = None
    if position is not None:
        try:
            after = (datetime.fromisoformat(str(position["t"])), str(position["id"]))
        except (KeyError, ValueError):
            raise ProblemError(400, "Bad request", "The cursor is not valid.") from None
    rows = await MessageRepository(uow.session).search(
        scope=_scope(principal),
        claim_id=claim_id,
        member_id=member_id,
        channel=None if channel == "all" else channel,
        event_type=event_type,
        after=after,
        limit=limit + 1,
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor({"t": rows[-1].created_at.isoformat(), "id": rows[-1].id})
    return Page[NotificationRead](items=[_read(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/notifications/{notification_id}",
    tags=["notifications"],
    summary="One message with its delivery log",
    responses={404: {"description": "No such message, or not yours"}},
)
async def get_notification(uow: UnitOfWorkDep, principal: CurrentPrincipal, notification_id: str) -> NotificationDetail:
    """A message and every try to deliver it."""
    scope = _scope(principal)
    rows = await MessageRepository(uow.session).search(
        scope=and_(MessageRow.id == notification_id, scope) if scope is not None else MessageRow.id == notification_id,
        claim_id=None,
        member_id=None,
        channel=None,
        event_type=None,
        after=None,
        limit=1,
    )
    if not rows:
        raise _not_found("notification")
    row = rows[0]
    log = (await MessageRepository(uow.session).attempts([row.id]))[row.id]
    return NotificationDetail(
        **_read(row).model_dump(),
        last_error=row.last_error,
        deliveries=[
            DeliveryRead(attempt_no=a.attempt_no, attempted_at=a.attempted_at, outcome=a.outcome, error=a.error)
            for a in log
        ],
    )


def _may_manage(principal: Principal, member_id: str) -> None:
    if principal.has("admin") or (principal.has("member") and principal.member_id == member_id):
        return
    raise ProblemError(403, "Forbidden", "Only the member or an administrator may change these preferences.")


@router.get("/recipients/{member_id}/preferences", tags=["preferences"], summary="A member's preferences")
async def get_preferences(uow: UnitOfWorkDep, principal: CurrentPrincipal, member_id: _IdPath) -> PreferencesRead:
    """The member's channel choices and language (defaults when never set)."""
    if not principal.is_internal:
        _may_manage(principal, member_id)
    row = await RecipientRepository(uow.session).preferences(member_id)
    if row is None:
        return PreferencesRead(member_id=member_id)
    return PreferencesRead(
        member_id=row.member_id,
        email=row.email,
        sms=row.sms,
        surveys=row.surveys,
        locale=row.locale,
        updated_at=row.updated_at,
    )


@router.put(
    "/recipients/{member_id}/preferences",
    tags=["preferences"],
    summary="Set a member's preferences and opt-outs",
)
async def put_preferences(
    uow: UnitOfWorkDep, request: Request, principal: CurrentPrincipal, member_id: _IdPath, body: PreferencesUpdate
) -> PreferencesRead:
    """Opt out of e-mail, SMS or surveys, or choose the language; applies to messages not yet sent."""
    _may_manage(principal, member_id)
    row = await RecipientRepository(uow.session).put_preferences(
        member_id=member_id,
        email=body.email,
        sms=body.sms,
        surveys=body.surveys,
        locale=body.locale,
        updated_at=_planner(request).clock(),
        updated_by=principal.sub,
    )
    return PreferencesRead(member_id=member_id, **body.model_dump(), updated_at=row.updated_at)


@router.put(
    "/providers/{provider_id}/contact",
    tags=["providers"],
    summary="Set how to reach a hospital (admin)",
)
async def put_provider_contact(
    uow: UnitOfWorkDep, request: Request, principal: _Admin, provider_id: _IdPath, body: ProviderContactUpdate
) -> ProviderContactRead:
    """E-mail, phone, name and language for the hospital's messages (verification requests)."""
    row = await RecipientRepository(uow.session).put_provider_contact(
        provider_id=provider_id,
        **body.model_dump(),
        updated_at=_planner(request).clock(),
        updated_by=principal.sub,
    )
    return ProviderContactRead(provider_id=provider_id, **body.model_dump(), updated_at=row.updated_at)


@router.get("/providers/{provider_id}/contact", tags=["providers"], summary="How to reach a hospital")
async def get_provider_contact(uow: UnitOfWorkDep, _: _Internal, provider_id: _IdPath) -> ProviderContactRead:
    """The hospital's stored contact."""
    row = await RecipientRepository(uow.session).provider_contact(provider_id)
    if row is None:
        raise _not_found("provider contact")
    return ProviderContactRead(
        provider_id=row.provider_id,
        name=row.name,
        email=row.email,
        phone=row.phone,
        locale=row.locale,
        updated_at=row.updated_at,
    )


async def _survey_of(uow: UnitOfWorkDep, request: Request, token: str) -> SurveyRow:
    planner = _planner(request)
    try:
        claims = verify_survey_token(planner.survey_secret, token, planner.clock())
    except TokenExpired:
        raise ProblemError(410, "Survey expired", "This survey link has expired.") from None
    except TokenInvalid:
        raise ProblemError(403, "Invalid survey token", "This survey link is not valid.") from None
    survey = await SurveyRepository(uow.session).get(claims.survey_id)
    if survey is None or survey.claim_id != claims.claim_id:
        raise ProblemError(403, "Invalid survey token", "This survey link is not valid.")
    return survey


@router.get(
    "/feedback",
    tags=["feedback"],
    summary="The survey a link points at (authenticated by its token, no bearer token)",
    responses={403: {"description": "Forged token"}, 410: {"description": "Expired token"}},
)
async def get_survey(
    uow: UnitOfWorkDep, request: Request, token: Annotated[str, Query(min_length=10, max_length=2000)]
) -> SurveyRead:
    """Whether the survey is still open."""
    survey = await _survey_of(uow, request, token)
    answered = await SurveyRepository(uow.session).answer(survey.survey_id) is not None
    return SurveyRead(
        survey_id=survey.survey_id, claim_id=survey.claim_id, expires_at=survey.expires_at, answered=answered
    )


@router.post(
    "/feedback",
    status_code=201,
    tags=["feedback"],
    summary="Answer a satisfaction survey (authenticated by its token, no bearer token)",
    responses={
        403: {"description": "Forged token"},
        409: {"description": "Already answered"},
        410: {"description": "Expired token"},
    },
)
async def post_feedback(uow: UnitOfWorkDep, request: Request, body: FeedbackCreate) -> FeedbackRead:
    """Record the one answer of a survey and publish FeedbackReceived."""
    survey = await _survey_of(uow, request, body.token)
    now = _planner(request).clock()
    comment = body.comment or None
    surveys = SurveyRepository(uow.session)
    if not await surveys.add_answer(
        survey_id=survey.survey_id, claim_id=survey.claim_id, score=body.score, comment=comment, received_at=now
    ):
        raise ProblemError(409, "Already answered", "This survey has already been answered.")
    uow.publish(
        FeedbackReceived(claim_id=survey.claim_id, survey_id=survey.survey_id, score=body.score, comment=comment),
        claim_id=survey.claim_id,
    )
    return FeedbackRead(
        survey_id=survey.survey_id, claim_id=survey.claim_id, score=body.score, comment=comment, received_at=now
    )


@router.get("/feedback/summary", tags=["feedback"], summary="Satisfaction scores for the reports")
async def feedback_summary(uow: UnitOfWorkDep, _: _Internal) -> FeedbackSummary:
    """Surveys sent, answers, average and distribution of scores."""
    per_score, surveys = await SurveyRepository(uow.session).summary()
    answers = sum(per_score.values())
    total = sum(score * n for score, n in per_score.items())
    avg = None if not answers else str((Decimal(total) / answers).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    return FeedbackSummary(
        surveys_sent=surveys,
        answers=answers,
        average_score=avg,
        per_score={str(s): per_score.get(s, 0) for s in range(1, 6)},
    )

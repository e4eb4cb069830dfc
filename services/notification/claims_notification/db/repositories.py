"""Every query of the notification service; repositories never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from claims_notification.db.models import (
    ClaimRecipientRow,
    DeliveryAttemptRow,
    FeedbackRow,
    MessageRow,
    NoticeRow,
    PreferencesRow,
    ProviderContactRow,
    SurveyRow,
)


def _insert(session: AsyncSession, model: type[Any]) -> Any:
    """A dialect-specific INSERT that knows ON CONFLICT."""
    name = session.bind.dialect.name if session.bind is not None else "postgresql"
    dialect = sqlite if name == "sqlite" else postgresql
    return dialect.insert(model)


class RecipientRepository:
    """Claim recipients, member preferences and provider contacts."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert_claim_recipient(self, **values: Any) -> None:
        """Create or refresh a claim's recipient record (the latest contact details win)."""
        stmt = _insert(self.session, ClaimRecipientRow).values(**values)
        updates = {k: stmt.excluded[k] for k in values if k != "claim_id"}
        await self.session.execute(stmt.on_conflict_do_update(index_elements=["claim_id"], set_=updates))

    async def claim_recipient(self, claim_id: str) -> ClaimRecipientRow | None:
        """The recipient record of a claim, if intake's contact details arrived."""
        return await self.session.get(ClaimRecipientRow, claim_id)

    async def preferences(self, member_id: str) -> PreferencesRow | None:
        """A member's preferences, if they set any."""
        return await self.session.get(PreferencesRow, member_id)

    async def preferences_of(self, member_ids: Sequence[str]) -> dict[str, PreferencesRow]:
        """Preferences of several members at once."""
        if not member_ids:
            return {}
        rows = await self.session.scalars(select(PreferencesRow).where(PreferencesRow.member_id.in_(set(member_ids))))
        return {row.member_id: row for row in rows}

    async def put_preferences(self, **values: Any) -> PreferencesRow:
        """Set a member's preferences (whole replacement)."""
        stmt = _insert(self.session, PreferencesRow).values(**values)
        updates = {k: stmt.excluded[k] for k in values if k != "member_id"}
        await self.session.execute(stmt.on_conflict_do_update(index_elements=["member_id"], set_=updates))
        row = await self.session.get(PreferencesRow, values["member_id"], populate_existing=True)
        assert row is not None
        return row

    async def provider_contact(self, provider_id: str) -> ProviderContactRow | None:
        """How to reach a provider, if an administrator set it."""
        return await self.session.get(ProviderContactRow, provider_id)

    async def put_provider_contact(self, **values: Any) -> ProviderContactRow:
        """Set a provider's contact (whole replacement)."""
        stmt = _insert(self.session, ProviderContactRow).values(**values)
        updates = {k: stmt.excluded[k] for k in values if k != "provider_id"}
        await self.session.execute(stmt.on_conflict_do_update(index_elements=["provider_id"], set_=updates))
        row = await self.session.get(ProviderContactRow, values["provider_id"], populate_existing=True)
        assert row is not None
        return row


class NoticeRepository:
    """Notices: what an event says someone must be told."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, **values: Any) -> NoticeRow | None:
        """Record a notice; None when this event already gave one to this audience."""
        stmt = (
            _insert(self.session, NoticeRow)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["source_event_id", "kind", "audience"])
            .returning(NoticeRow.id)
        )
        if (await self.session.execute(stmt)).scalar_one_or_none() is None:
            return None
        return await self.session.get(NoticeRow, values["id"])

    async def waiting(self, claim_id: str) -> list[NoticeRow]:
        """A claim's notices not yet turned into messages, oldest first, locked."""
        stmt = (
            select(NoticeRow)
            .where(NoticeRow.claim_id == claim_id, NoticeRow.planned_at.is_(None))
            .order_by(NoticeRow.created_at, NoticeRow.id)
            .with_for_update()
        )
        return list(await self.session.scalars(stmt))


class MessageRepository:
    """Messages and their delivery log."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, **values: Any) -> bool:
        """Record a message; False when (source event, kind, channel, recipient) already has one."""
        stmt = (
            _insert(self.session, MessageRow)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["source_event_id", "event_type", "channel", "recipient_key"])
            .returning(MessageRow.id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    async def due(self, now: datetime, limit: int) -> list[MessageRow]:
        """Pending messages whose time has come, locked and skipped by other workers."""
        stmt = (
            select(MessageRow)
            .where(MessageRow.status == "pending", MessageRow.next_attempt_at <= now)
            .order_by(MessageRow.next_attempt_at, MessageRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(await self.session.scalars(stmt))

    async def pending_for_update(self, message_id: str) -> MessageRow | None:
        """A message still pending, locked."""
        stmt = (
            select(MessageRow)
            .where(MessageRow.id == message_id, MessageRow.status == "pending")
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.scalars(stmt)).one_or_none()

    async def get(self, message_id: str) -> MessageRow | None:
        """A message by id."""
        return await self.session.get(MessageRow, message_id)

    def log_attempt(self, message_id: str, attempt_no: int, at: datetime, outcome: str, error: str | None) -> None:
        """Add an entry to the delivery log."""
        self.session.add(
            DeliveryAttemptRow(
                message_id=message_id, attempt_no=attempt_no, attempted_at=at, outcome=outcome, error=error
            )
        )

    async def attempts(self, message_ids: Sequence[str]) -> dict[str, list[DeliveryAttemptRow]]:
        """The delivery log of messages, oldest first."""
        out: dict[str, list[DeliveryAttemptRow]] = {m: [] for m in message_ids}
        if not message_ids:
            return out
        stmt = (
            select(DeliveryAttemptRow)
            .where(DeliveryAttemptRow.message_id.in_(list(message_ids)))
            .order_by(DeliveryAttemptRow.id)
        )
        for row in await self.session.scalars(stmt):
            out[row.message_id].append(row)
        return out

    async def search(
        self,
        *,
        scope: ColumnElement[bool] | None,
        claim_id: str | None,
        member_id: str | None,
        channel: str | None,
        event_type: str | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[MessageRow]:
        """Messages matching the filters, oldest first, from after a cursor position."""
        conditions: list[ColumnElement[bool]] = []
        if scope is not None:
            conditions.append(scope)
        if claim_id is not None:
            conditions.append(MessageRow.claim_id == claim_id)
        if member_id is not None:
            conditions.append(MessageRow.member_id == member_id)
        if channel is not None:
            conditions.append(MessageRow.channel == channel)
        if event_type is not None:
            conditions.append(MessageRow.event_type == event_type)
        if after is not None:
            at, last_id = after
            conditions.append(
                or_(MessageRow.created_at > at, and_(MessageRow.created_at == at, MessageRow.id > last_id))
            )
        stmt = select(MessageRow).where(*conditions).order_by(MessageRow.created_at, MessageRow.id).limit(limit)
        return list(await self.session.scalars(stmt))

    async def set_status(self, message_id: str, **values: Any) -> None:
        """Update a message's delivery state."""
        await self.session.execute(update(MessageRow).where(MessageRow.id == message_id).values(**values))


class SurveyRepository:
    """Surveys and their answers."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, **values: Any) -> bool:
        """Record a survey; False when the claim's decision already has one."""
        stmt = (
            _insert(self.session, SurveyRow)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["claim_id", "decision_version"])
            .returning(SurveyRow.survey_id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    async def get(self, survey_id: str) -> SurveyRow | None:
        """A survey by id."""
        return await self.session.get(SurveyRow, survey_id)

    async def answer(self, survey_id: str) -> FeedbackRow | None:
        """The answer to a survey, if given."""
        return await self.session.get(FeedbackRow, survey_id)

    async def add_answer(self, **values: Any) -> bool:
        """Record the answer; False when the survey was answered before."""
        stmt = (
            _insert(self.session, FeedbackRow)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["survey_id"])
            .returning(FeedbackRow.survey_id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    async def summary(self) -> tuple[dict[int, int], int]:
        """Answers per score, and surveys sent."""
        rows = (await self.session.execute(select(FeedbackRow.score, func.count()).group_by(FeedbackRow.score))).all()
        per_score = {int(score): int(n) for score, n in rows}
        surveys = int((await self.session.execute(select(func.count()).select_from(SurveyRow))).scalar_one())
        return per_score, surveys

"""Every query of the notification service; repositories never commit.

The event handlers may run several events in one transaction, so lookups made while planning are kept for
the rest of that transaction (see ``_lookups``), and the rows planning creates are only added to the session:
one flush at commit writes each table's new rows with one statement. Planning's queries do not autoflush,
so that flush is not split: they read tables planning never writes through the session, except the
waiting notices, which also take the notices this transaction added.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Row, Table, and_, case, func, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

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

_NO_AUTOFLUSH = {"autoflush": False}
_LOOKUPS = "claims_notification.lookups"

MESSAGES = cast(Table, MessageRow.__table__)
ATTEMPTS = cast(Table, DeliveryAttemptRow.__table__)


def _insert(session: AsyncSession, model: type[Any]) -> Any:
    """A dialect-specific INSERT that knows ON CONFLICT."""
    name = session.bind.dialect.name if session.bind is not None else "postgresql"
    dialect = sqlite if name == "sqlite" else postgresql
    return dialect.insert(model)


def _lookups(session: AsyncSession) -> dict[tuple[str, str], Any]:
    """What planning looked up (or upserted) in the session's current transaction.

    Kept per transaction, a savepoint counting as a transaction of its own: whatever ends or rolls back
    forgets it, so nothing outlives the writes it reflects.
    """
    sync = session.sync_session
    transaction = sync.get_nested_transaction() or sync.get_transaction()
    entry = session.info.get(_LOOKUPS)
    if entry is None or entry[0] is not transaction:
        entry = (transaction, {})
        session.info[_LOOKUPS] = entry
    lookups: dict[tuple[str, str], Any] = entry[1]
    return lookups


class RecipientRepository:
    """Claim recipients, member preferences and provider contacts."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert_claim_recipient(self, **values: Any) -> ClaimRecipientRow:
        """Create or refresh a claim's recipient record (the latest contact details win); the record."""
        stmt = _insert(self.session, ClaimRecipientRow).values(**values)
        updates = {k: stmt.excluded[k] for k in values if k != "claim_id"}
        stmt = stmt.on_conflict_do_update(index_elements=["claim_id"], set_=updates).returning(ClaimRecipientRow)
        options = {"populate_existing": True, **_NO_AUTOFLUSH}
        row: ClaimRecipientRow = (await self.session.scalars(stmt, execution_options=options)).one()
        _lookups(self.session)[("recipient", row.claim_id)] = row
        return row

    async def claim_contact(self, claim_id: str) -> tuple[ClaimRecipientRow | None, PreferencesRow | None]:
        """A claim's recipient record (if intake's contact details arrived) and the member's preferences."""
        lookups = _lookups(self.session)
        key = ("recipient", claim_id)
        if key in lookups:
            recipient: ClaimRecipientRow | None = lookups[key]
            if recipient is None:
                return None, None
            return recipient, await self.member_preferences(recipient.member_id)
        stmt = (
            select(ClaimRecipientRow, PreferencesRow)
            .outerjoin(PreferencesRow, PreferencesRow.member_id == ClaimRecipientRow.member_id)
            .where(ClaimRecipientRow.claim_id == claim_id)
        )
        found = (await self.session.execute(stmt, execution_options=_NO_AUTOFLUSH)).one_or_none()
        if found is None:
            lookups[key] = None
            return None, None
        recipient, preferences = found
        lookups[key] = recipient
        lookups[("preferences", recipient.member_id)] = preferences
        return recipient, preferences

    async def member_preferences(self, member_id: str) -> PreferencesRow | None:
        """A member's preferences, if they set any (looked up once per transaction)."""
        lookups = _lookups(self.session)
        key = ("preferences", member_id)
        if key not in lookups:
            stmt = select(PreferencesRow).where(PreferencesRow.member_id == member_id)
            lookups[key] = (await self.session.scalars(stmt, execution_options=_NO_AUTOFLUSH)).one_or_none()
        row: PreferencesRow | None = lookups[key]
        return row

    async def preferences(self, member_id: str) -> PreferencesRow | None:
        """A member's preferences, if they set any."""
        return await self.session.get(PreferencesRow, member_id)

    async def put_preferences(self, **values: Any) -> PreferencesRow:
        """Set a member's preferences (whole replacement)."""
        stmt = _insert(self.session, PreferencesRow).values(**values)
        updates = {k: stmt.excluded[k] for k in values if k != "member_id"}
        await self.session.execute(stmt.on_conflict_do_update(index_elements=["member_id"], set_=updates))
        row = await self.session.get(PreferencesRow, values["member_id"], populate_existing=True)
        assert row is not None
        _lookups(self.session)[("preferences", row.member_id)] = row
        return row

    async def provider_contact(self, provider_id: str) -> ProviderContactRow | None:
        """How to reach a provider, if an administrator set it (looked up once per transaction)."""
        lookups = _lookups(self.session)
        key = ("provider", provider_id)
        if key not in lookups:
            stmt = select(ProviderContactRow).where(ProviderContactRow.provider_id == provider_id)
            lookups[key] = (await self.session.scalars(stmt, execution_options=_NO_AUTOFLUSH)).one_or_none()
        row: ProviderContactRow | None = lookups[key]
        return row

    async def put_provider_contact(self, **values: Any) -> ProviderContactRow:
        """Set a provider's contact (whole replacement)."""
        stmt = _insert(self.session, ProviderContactRow).values(**values)
        updates = {k: stmt.excluded[k] for k in values if k != "provider_id"}
        await self.session.execute(stmt.on_conflict_do_update(index_elements=["provider_id"], set_=updates))
        row = await self.session.get(ProviderContactRow, values["provider_id"], populate_existing=True)
        assert row is not None
        _lookups(self.session)[("provider", row.provider_id)] = row
        return row


class NoticeRepository:
    """Notices: what an event says someone must be told."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, **values: Any) -> NoticeRow:
        """Record a notice (written by the next flush; the inbox makes one event give one per audience)."""
        row = NoticeRow(**values)
        self.session.add(row)
        _lookups(self.session).setdefault(("notices", row.claim_id), []).append(row)
        return row

    async def waiting(self, claim_id: str) -> list[NoticeRow]:
        """A claim's notices not yet turned into messages, oldest first, locked.

        Those recorded earlier in this transaction count too, flushed or not (the query does not flush,
        so the transaction's new rows are still written together).
        """
        stmt = (
            select(NoticeRow)
            .where(NoticeRow.claim_id == claim_id, NoticeRow.planned_at.is_(None))
            .order_by(NoticeRow.created_at, NoticeRow.id)
            .with_for_update()
        )
        stored = list(await self.session.scalars(stmt, execution_options=_NO_AUTOFLUSH))
        added: list[NoticeRow] = _lookups(self.session).get(("notices", claim_id), [])
        unplanned = {row.id: row for row in (*stored, *added) if row.planned_at is None}
        return sorted(unplanned.values(), key=lambda row: (row.created_at, row.id))


class MessageRepository:
    """Messages and their delivery log."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, **values: Any) -> MessageRow:
        """Record a message (written by the next flush; one notice gives one message per channel)."""
        row = MessageRow(**values)
        self.session.add(row)
        return row

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

    async def settle(self, outcomes: Sequence[Settlement], at: datetime) -> dict[str, int]:
        """Write the outcome of tries, in one statement, to the messages still pending; their attempt counts.

        Each message gets its status and error; a sent one ``sent_at``; one to try again its next time.
        """
        ids = [o.message_id for o in outcomes]
        if not ids:
            return {}
        sent = {o.message_id for o in outcomes if o.status == "sent"}
        values: dict[str, Any] = {
            "status": _per_message(MESSAGES.c.status, {o.message_id: o.status for o in outcomes}),
            "last_error": _per_message(MESSAGES.c.last_error, {o.message_id: o.error for o in outcomes}),
            "sent_at": _per_message(MESSAGES.c.sent_at, {i: at if i in sent else None for i in ids}),
        }
        retries = {o.message_id: o.next_attempt_at for o in outcomes if o.next_attempt_at is not None}
        if retries:
            values["next_attempt_at"] = _per_message(MESSAGES.c.next_attempt_at, retries, keep_others=True)
        stmt = (
            update(MESSAGES)
            .where(MESSAGES.c.id.in_(ids), MESSAGES.c.status == "pending")
            .values(**values)
            .returning(MESSAGES.c.id, MESSAGES.c.attempts)
        )
        return {row.id: row.attempts for row in await self.session.execute(stmt)}

    async def log_attempts(self, entries: Sequence[Mapping[str, Any]]) -> None:
        """Add entries to the delivery log, in one statement."""
        if entries:
            await self.session.execute(ATTEMPTS.insert(), list(entries))


@dataclass(frozen=True)
class Settlement:
    """How one try of one message ended: its new status and error, and when to try again (retries only)."""

    message_id: str
    status: str
    error: str | None = None
    next_attempt_at: datetime | None = None


def _per_message(
    column: ColumnElement[Any], values: Mapping[str, Any], *, keep_others: bool = False
) -> ColumnElement[Any]:
    """One value for every message in ``values``, or a CASE on the message id when they differ."""
    distinct = set(values.values())
    if len(distinct) == 1 and not keep_others:
        return literal(distinct.pop(), type_=column.type)
    whens = {message_id: literal(value, type_=column.type) for message_id, value in values.items()}
    return case(whens, value=MESSAGES.c.id, else_=column)


class DeliveryQueue:
    """The delivery worker's queries, on a connection of its own that commits every statement."""

    CLAIMED = (
        MESSAGES.c.id,
        MESSAGES.c.claim_id,
        MESSAGES.c.member_id,
        MESSAGES.c.recipient_type,
        MESSAGES.c.event_type,
        MESSAGES.c.source_event_id,
        MESSAGES.c.source_event_type,
        MESSAGES.c.correlation_id,
        MESSAGES.c.channel,
        MESSAGES.c.locale,
        MESSAGES.c.subject,
        MESSAGES.c.body,
        MESSAGES.c.address,
        MESSAGES.c.address_masked,
        MESSAGES.c.attempts,
    )

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def claim(self, now: datetime, lease_until: datetime, limit: int) -> Sequence[Row[Any]]:
        """Take up to ``limit`` due messages, in one statement: count the try and lease them until ``lease_until``.

        Rows another worker has locked are skipped, and a leased message is not due again until the lease
        ends, so no two workers take the same message.
        """
        due = (
            select(MESSAGES.c.id)
            .where(MESSAGES.c.status == "pending", MESSAGES.c.next_attempt_at <= now)
            .order_by(MESSAGES.c.next_attempt_at, MESSAGES.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            update(MESSAGES)
            .where(MESSAGES.c.id.in_(due))
            .values(attempts=MESSAGES.c.attempts + 1, next_attempt_at=lease_until)
            .returning(*self.CLAIMED)
        )
        return (await self.connection.execute(stmt)).all()

    async def preferences(self, member_ids: Sequence[str]) -> dict[str, Any]:
        """The preferences of several members (those who set any): rows with ``email``, ``sms``, ``surveys``."""
        if not member_ids:
            return {}
        prefs = cast(Table, PreferencesRow.__table__)
        stmt = select(prefs.c.member_id, prefs.c.email, prefs.c.sms, prefs.c.surveys).where(
            prefs.c.member_id.in_(sorted(set(member_ids)))
        )
        return {row.member_id: row for row in await self.connection.execute(stmt)}


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
        return (await self.session.execute(stmt, execution_options=_NO_AUTOFLUSH)).scalar_one_or_none() is not None

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

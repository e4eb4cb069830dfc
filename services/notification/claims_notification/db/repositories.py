"""Every query of the notification service; repositories never commit.

The event handlers may run several events in one transaction, so lookups made while planning are kept for
the rest of that transaction (see ``_lookups``; a consumer's batch reads its claims' contacts all at once
first, ``RecipientRepository.read_claim_contacts``, and stores the contacts its claims' first events bring in
one statement, ``RecipientRepository.upsert_claim_recipients``), and the rows planning creates (surveys,
notices, messages, their delivery log) are only collected (see ``_PENDING``, the kit's
``claims_platform.pending_writes``): just before the transaction commits, they are all written with one
statement (on PostgreSQL; one INSERT per table on SQLite). Planning's queries read tables planning never
writes that way, except the waiting notices, which also take the notices this transaction added, and a
claim's surveys (read with its contact), which also take the surveys this transaction added.

The hot statements are plain Core statements built once (values come as bound parameters), and planning
reads plain rows and adds plain ``Notice`` objects, not ORM entities. Only the notices that waited for their
recipient in an earlier transaction are loaded as ``NoticeRow`` entities (locked): marking them planned is
flushed with the commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Insert,
    Integer,
    Row,
    String,
    Table,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session

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
from claims_notification.domain.model import Preferences
from claims_platform.db import any_of, transaction_state
from claims_platform.pending_writes import InsertRows, Statements, WritesAtCommit, write_statements

_NO_AUTOFLUSH = {"autoflush": False}
_LOOKUPS = "claims_notification.lookups"

RECIPIENTS = cast(Table, ClaimRecipientRow.__table__)
PREFERENCES = cast(Table, PreferencesRow.__table__)
NOTICES = cast(Table, NoticeRow.__table__)
MESSAGES = cast(Table, MessageRow.__table__)
ATTEMPTS = cast(Table, DeliveryAttemptRow.__table__)
SURVEYS = cast(Table, SurveyRow.__table__)


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who a claim's messages go to (the columns of its ``claim_recipients`` row that planning reads)."""

    claim_id: str
    member_id: str
    member_name: str
    email: str | None
    phone: str | None
    locale: str | None
    provider_id: str
    provider_name: str | None
    submitted_by_provider: bool


@dataclass(slots=True)
class Notice:
    """A notice added in the current transaction: the values of its ``notices`` row, written when the
    transaction commits. Planning reads it like a stored ``NoticeRow`` and may still mark it planned."""

    id: str
    claim_id: str
    source_event_id: uuid.UUID
    source_event_type: str
    kind: str
    audience: str
    provider_id: str | None
    context: dict[str, Any]
    not_before: datetime
    created_at: datetime
    planned_at: datetime | None


_RECIPIENT = tuple(RECIPIENTS.c[name] for name in Recipient.__dataclass_fields__)
_PREFERENCES = (PREFERENCES.c.email, PREFERENCES.c.sms, PREFERENCES.c.surveys, PREFERENCES.c.locale)


def _surveyed(claim_id: ColumnElement[Any]) -> ColumnElement[Any]:
    """The decision versions a claim has surveys of, as text (``1,2``; NULL without any).

    The separator is written in the statement: given as a string, SQLAlchemy would render it into the
    statement at every execution, and refuse to execute the statement for several rows (the recipient upsert).
    """
    comma: ColumnElement[str] = literal_column("','")
    versions = func.aggregate_strings(SURVEYS.c.decision_version.cast(String()), comma)  # type: ignore[arg-type]
    return select(versions).where(SURVEYS.c.claim_id == claim_id).scalar_subquery()


# A claim's contact, as planning knows it: its recipient; when the member set any, their preferences; and
# the decision versions it has surveys of. The recipient's columns, then the preferences' (all NULL without
# preferences; ``surveys`` is never NULL in a stored row), then ``_surveyed``.
_CONTACTS = select(*_RECIPIENT, *_PREFERENCES, _surveyed(RECIPIENTS.c.claim_id)).select_from(
    RECIPIENTS.outerjoin(PREFERENCES, PREFERENCES.c.member_id == RECIPIENTS.c.member_id)
)
_CLAIM_CONTACT = _CONTACTS.where(RECIPIENTS.c.claim_id == bindparam("claim_id"))
# The same for several claims: on PostgreSQL one statement text whatever their number (``= ANY`` an array),
# on SQLite an IN list.
_CLAIM_CONTACTS = _CONTACTS.where(any_of(RECIPIENTS.c.claim_id, "claim_ids"))
_CLAIM_CONTACTS_SQLITE = _CONTACTS.where(RECIPIENTS.c.claim_id.in_(bindparam("claim_ids", expanding=True)))
_MEMBER_PREFERENCES = select(*_PREFERENCES).where(PREFERENCES.c.member_id == bindparam("member_id"))
_CLAIM_SURVEYS = select(_surveyed(bindparam("claim_id")))
_WAITING_NOTICES = (
    select(NoticeRow)
    .where(NoticeRow.claim_id == bindparam("claim_id"), NoticeRow.planned_at.is_(None))
    .order_by(NoticeRow.created_at, NoticeRow.id)
    .with_for_update()
)


def _preferences(row: Sequence[Any]) -> Preferences | None:
    """The member's preferences from their columns (``_PREFERENCES``), None when all are NULL (none set)."""
    email, sms, surveys, locale = row
    if surveys is None:
        return None
    return Preferences(email=email, sms=sms, surveys=surveys, locale=locale)


def _versions(surveyed: str | None) -> set[int]:
    """The decision versions of ``_surveyed``."""
    return {int(version) for version in surveyed.split(",")} if surveyed else set()


def _dialect(session: AsyncSession) -> Any:
    """The dialect module whose INSERT knows ON CONFLICT."""
    name = session.bind.dialect.name if session.bind is not None else "postgresql"
    return sqlite if name == "sqlite" else postgresql


def _insert(session: AsyncSession, model: type[Any]) -> Any:
    """A dialect-specific INSERT that knows ON CONFLICT."""
    return _dialect(session).insert(model)


def _upserted(column: str) -> ColumnElement[Any]:
    """A column of the row an upsert stored, in a subquery of its RETURNING (SQLAlchemy does not correlate
    a subquery there with the target table, so it is named as text)."""
    return literal_column(f"{RECIPIENTS.name}.{column}")


# What the recipient upsert returns after the recipient: the rest of a claim's contact (the member's
# preferences, then its surveys' decision versions, as ``_CONTACTS``), then whether stored notices of the
# claim wait.
_UPSERT_LOOKUPS = (
    *(
        select(column).where(PREFERENCES.c.member_id == _upserted("member_id")).scalar_subquery()
        for column in _PREFERENCES
    ),
    _surveyed(_upserted("claim_id")),
    exists().where(NOTICES.c.claim_id == _upserted("claim_id"), NOTICES.c.planned_at.is_(None)),
)


@lru_cache(maxsize=2)
def _recipient_upsert(dialect: Any) -> Insert:
    """INSERT … ON CONFLICT (claim_id) DO UPDATE of every column (built once), returning the recipient, then
    ``_UPSERT_LOOKUPS``. Executed for several claims' records, it is sent as one statement with a VALUES row
    each (SQLAlchemy's "insertmanyvalues")."""
    stmt = dialect.insert(RECIPIENTS)
    updates = {column.key: stmt.excluded[column.key] for column in RECIPIENTS.columns if column.key != "claim_id"}
    upsert: Insert = stmt.on_conflict_do_update(index_elements=["claim_id"], set_=updates).returning(
        *_RECIPIENT, *_UPSERT_LOOKUPS
    )
    return upsert


def _lookups(session: AsyncSession) -> dict[tuple[str, str], Any]:
    """What planning looked up (or upserted) in the session's current transaction.

    Kept per transaction, a savepoint counting as a transaction of its own: whatever ends or rolls back
    forgets it, so nothing outlives the writes it reflects.
    """
    return transaction_state(session, _LOOKUPS, dict)


def _remember_contact(lookups: dict[tuple[str, str], Any], row: Sequence[Any]) -> Recipient:
    """Keep a claim's contact (a row of ``_CONTACTS``, or the start of the upsert's) for this transaction; its
    recipient. Its surveys only if the transaction has not looked them up yet: from then on
    ``SurveyRepository.add`` adds the transaction's own to them, which the table shows only after commit."""
    split = len(_RECIPIENT)
    recipient = Recipient(*row[:split])
    lookups[("recipient", recipient.claim_id)] = recipient
    lookups[("preferences", recipient.member_id)] = _preferences(row[split : split + len(_PREFERENCES)])
    lookups.setdefault(("surveys", recipient.claim_id), _versions(row[split + len(_PREFERENCES)]))
    return recipient


# The rows planning adds: every column of a survey, a notice and a message; a delivery-log entry without its
# ``id`` (the database numbers it).
_NEW_SURVEYS = InsertRows(SURVEYS.name, SURVEYS, tuple(column.key for column in SURVEYS.columns))
_NEW_NOTICES = InsertRows(NOTICES.name, NOTICES, tuple(column.key for column in NOTICES.columns))
_NEW_MESSAGES = InsertRows(MESSAGES.name, MESSAGES, tuple(column.key for column in MESSAGES.columns))
_NEW_ATTEMPTS = InsertRows(ATTEMPTS.name, ATTEMPTS, tuple(c.key for c in ATTEMPTS.columns if c.key != "id"))


class _Pending:
    """The rows planning added in one transaction, not written yet."""

    __slots__ = ("attempts", "messages", "notices", "surveys")

    def __init__(self) -> None:
        self.surveys: list[dict[str, Any]] = []
        self.notices: list[Notice] = []
        self.messages: list[dict[str, Any]] = []
        self.attempts: list[dict[str, Any]] = []

    def take_statements(self, session: Session) -> Statements:
        """The new surveys, notices, then messages (which name their survey), then delivery log (foreign-key
        order), in one statement on PostgreSQL (``write_statements``); and forget them."""
        writes = [
            (_NEW_SURVEYS, self.surveys),
            (_NEW_NOTICES, [_notice_values(row) for row in self.notices]),
            (_NEW_MESSAGES, self.messages),
            (_NEW_ATTEMPTS, self.attempts),
        ]
        self.surveys, self.notices, self.messages, self.attempts = [], [], [], []
        return write_statements(session, writes)


_PENDING = WritesAtCommit("claims_notification.pending", _Pending)
"""The rows added in a transaction, written just before it commits (``claims_platform.pending_writes``). A
rolled-back transaction forgets them; planning never runs in a savepoint (that is refused)."""


def _notice_values(row: Notice) -> dict[str, Any]:
    return {column.key: getattr(row, column.key) for column in NOTICES.columns}


class RecipientRepository:
    """Claim recipients, member preferences and provider contacts."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert_claim_recipient(self, **values: Any) -> Recipient:
        """Create or refresh a claim's recipient record (the latest contact details win), a value for every
        column; the record. As ``upsert_claim_recipients`` for one claim."""
        (recipient,) = await self.upsert_claim_recipients([values])
        return recipient

    async def upsert_claim_recipients(self, records: Sequence[Mapping[str, Any]]) -> list[Recipient]:
        """Create or refresh the recipient records of claims (one each), in one statement; the records.

        The same statement reads the rest of each claim's contact (the member's preferences, the claim's
        surveys) and whether stored notices of the claim wait, so neither ``claim_contact`` nor
        ``NoticeRepository.waiting`` asks again in this transaction.
        """
        stmt = _recipient_upsert(_dialect(self.session))
        lookups = _lookups(self.session)
        recipients = []
        for row in await self.session.execute(stmt, list(records)):
            recipient = _remember_contact(lookups, row)
            lookups[("stored notices wait", recipient.claim_id)] = bool(row[-1])
            recipients.append(recipient)
        return recipients

    async def claim_contact(self, claim_id: str) -> tuple[Recipient | None, Preferences | None]:
        """A claim's recipient record (if intake's contact details arrived) and the member's preferences (looked
        up once per transaction, unless ``read_claim_contacts`` or the recipient upsert has them already)."""
        lookups = _lookups(self.session)
        key = ("recipient", claim_id)
        if key not in lookups:
            found = (await self.session.execute(_CLAIM_CONTACT, {"claim_id": claim_id})).one_or_none()
            if found is None:
                lookups[key] = None
            else:
                _remember_contact(lookups, found)
        recipient: Recipient | None = lookups[key]
        if recipient is None:
            return None, None
        return recipient, await self.member_preferences(recipient.member_id)

    async def read_claim_contacts(self, claim_ids: Collection[str]) -> None:
        """Read the contacts of several claims in one statement, for ``claim_contact`` to answer from in this
        transaction: their recipients (None for a claim with none yet), their members' preferences and their
        surveys. Claims this transaction has looked up already are left out."""
        lookups = _lookups(self.session)
        wanted = sorted({claim_id for claim_id in claim_ids if ("recipient", claim_id) not in lookups})
        if not wanted:
            return
        stmt = _CLAIM_CONTACTS_SQLITE if _dialect(self.session) is sqlite else _CLAIM_CONTACTS
        for row in await self.session.execute(stmt, {"claim_ids": wanted}):
            _remember_contact(lookups, row)
        for claim_id in wanted:
            lookups.setdefault(("recipient", claim_id), None)

    async def member_preferences(self, member_id: str) -> Preferences | None:
        """A member's preferences, if they set any (looked up once per transaction)."""
        lookups = _lookups(self.session)
        key = ("preferences", member_id)
        if key not in lookups:
            found = (await self.session.execute(_MEMBER_PREFERENCES, {"member_id": member_id})).one_or_none()
            lookups[key] = _preferences(found) if found is not None else None
        preferences: Preferences | None = lookups[key]
        return preferences

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
        _lookups(self.session)[("preferences", row.member_id)] = _preferences(
            (row.email, row.sms, row.surveys, row.locale)
        )
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

    def add(self, **values: Any) -> Notice:
        """Record a notice (written when the transaction commits; the inbox makes one event give one per
        audience). Planning may still mark it planned."""
        row = Notice(**values)
        _PENDING.collector(self.session).notices.append(row)
        _lookups(self.session).setdefault(("notices", row.claim_id), []).append(row)
        return row

    async def waiting(self, claim_id: str) -> list[Notice | NoticeRow]:
        """A claim's notices not yet turned into messages, oldest first, locked.

        Those recorded earlier in this transaction count too (not written yet). The stored ones are not
        queried when this transaction's upsert of the claim's recipient saw none wait (notices are only
        written when the transaction commits, so none can appear meanwhile).
        """
        lookups = _lookups(self.session)
        stored: list[NoticeRow] = []
        if lookups.get(("stored notices wait", claim_id), True):  # unless the recipient upsert saw none wait
            params = {"claim_id": claim_id}
            stored = list(await self.session.scalars(_WAITING_NOTICES, params, execution_options=_NO_AUTOFLUSH))
        added: list[Notice] = lookups.get(("notices", claim_id), [])
        notices: list[Notice | NoticeRow] = [*stored, *added]
        unplanned = {row.id: row for row in notices if row.planned_at is None}
        return sorted(unplanned.values(), key=lambda row: (row.created_at, row.id))


class MessageRepository:
    """Messages and their delivery log."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, values: dict[str, Any]) -> None:
        """Record a message, a value for every column (written when the transaction commits; one notice
        gives one message per channel)."""
        _PENDING.collector(self.session).messages.append(values)

    async def get(self, message_id: str) -> MessageRow | None:
        """A message by id."""
        return await self.session.get(MessageRow, message_id)

    def log_attempt(self, message_id: str, attempt_no: int, at: datetime, outcome: str, error: str | None) -> None:
        """Add an entry to the delivery log (written when the transaction commits, after its message)."""
        _PENDING.collector(self.session).attempts.append(
            {"message_id": message_id, "attempt_no": attempt_no, "attempted_at": at, "outcome": outcome, "error": error}
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

    # Built once (the values are bound parameters): the worker runs it every round, idle rounds included.
    _CLAIM = (
        update(MESSAGES)
        .where(
            MESSAGES.c.id.in_(
                select(MESSAGES.c.id)
                .where(MESSAGES.c.status == "pending", MESSAGES.c.next_attempt_at <= bindparam("now"))
                .order_by(MESSAGES.c.next_attempt_at, MESSAGES.c.id)
                .limit(bindparam("limit", type_=Integer()))
                .with_for_update(skip_locked=True)
            )
        )
        .values(attempts=MESSAGES.c.attempts + 1, next_attempt_at=bindparam("lease_until"))
        .returning(*CLAIMED)
    )

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def claim(self, now: datetime, lease_until: datetime, limit: int) -> Sequence[Row[Any]]:
        """Take up to ``limit`` due messages, in one statement: count the try and lease them until ``lease_until``.

        Rows another worker has locked are skipped, and a leased message is not due again until the lease
        ends, so no two workers take the same message.
        """
        params = {"now": now, "lease_until": lease_until, "limit": limit}
        return (await self.connection.execute(self._CLAIM, params)).all()

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
        """Record a survey, a value for every column (written when the transaction commits); False when the
        claim's decision already has one.

        The claim's surveys come with its contact (``RecipientRepository``), which planning looked up already
        in this transaction; otherwise they are looked up here, once per transaction.
        """
        pending = _PENDING.collector(self.session)  # (begins the transaction, which keeps the lookups)
        lookups = _lookups(self.session)
        key = ("surveys", values["claim_id"])
        if key not in lookups:
            found = (await self.session.execute(_CLAIM_SURVEYS, {"claim_id": values["claim_id"]})).scalar_one()
            lookups[key] = _versions(found)
        surveyed: set[int] = lookups[key]
        if values["decision_version"] in surveyed:
            return False
        surveyed.add(values["decision_version"])
        pending.surveys.append(values)
        return True

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

"""Every query of the intake service. Repositories never commit: the unit of work does."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    Delete,
    Insert,
    Select,
    Table,
    Text,
    Update,
    and_,
    bindparam,
    case,
    cast,
    func,
    inspect,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import class_mapper

from claims_intake.db.models import (
    ClaimLineRow,
    ClaimRow,
    ComplaintRow,
    DenialReasonRow,
    DocumentRow,
    FeedbackRow,
    IdempotencyKeyRow,
    PaymentRow,
    TimelineRow,
    metadata,
)
from claims_platform.types import UtcDateTime


def _insert(session: AsyncSession) -> Any:
    return sqlite.insert if session.get_bind().dialect.name == "sqlite" else postgresql.insert


# The statements of the hot paths are built once, with bind parameters, and reused: building a statement and
# its cache key costs more CPU than running it. Those on plain tables (not mapped classes) skip the ORM's
# execution machinery too. The ones nothing pending can change run without the flush SQLAlchemy does before
# every statement (``_unflushed``): each says why.
_claims = metadata.tables[ClaimRow.__tablename__]
_lines = metadata.tables[ClaimLineRow.__tablename__]
_documents = metadata.tables[DocumentRow.__tablename__]
_timeline = metadata.tables[TimelineRow.__tablename__]
_denial_reasons = metadata.tables[DenialReasonRow.__tablename__]
_idempotency_keys = metadata.tables[IdempotencyKeyRow.__tablename__]

_TAKE_KEY: dict[bool, Any] = {
    is_sqlite: insert_(_idempotency_keys)
    .on_conflict_do_nothing(index_elements=["client", "key"])
    .returning(_idempotency_keys.c.id)
    for is_sqlite, insert_ in ((False, postgresql.insert), (True, sqlite.insert))
}
"""By whether the database is SQLite."""

_NOTE: Insert = _timeline.insert().from_select(
    ["claim_id", "at", "actor", "kind", "reason", "status_from", "status_to", "details"],
    select(
        _claims.c.claim_id,
        bindparam("p_at", type_=UtcDateTime()),
        bindparam("p_actor", type_=_timeline.c.actor.type),
        bindparam("p_kind", type_=_timeline.c.kind.type),
        bindparam("p_reason", type_=Text()),
        func.nullif(_claims.c.status, ""),
        _claims.c.status,
        bindparam("p_details", type_=JSON()),
    ).where(_claims.c.claim_id == bindparam("p_claim_id")),
)
"""Bind parameters ``p_<column>`` (names of columns are reserved in an INSERT)."""


def _locked_with_payments(with_payment: bool) -> Select[ClaimRow, PaymentRow]:
    on = PaymentRow.claim_id == ClaimRow.claim_id
    if with_payment:
        on = or_(on, PaymentRow.payment_id == bindparam("payment_id"))
    return (
        select(ClaimRow, PaymentRow)
        .outerjoin(PaymentRow, on)
        .where(ClaimRow.claim_id == bindparam("claim_id"))
        .order_by(PaymentRow.decision_version, PaymentRow.payment_id)
        .with_for_update(of=ClaimRow)
    )


_LOCKED_WITH_PAYMENTS = {False: _locked_with_payments(False), True: _locked_with_payments(True)}

_CLEAR_DENIAL_REASONS: Delete = _denial_reasons.delete().where(_denial_reasons.c.claim_id == bindparam("claim_id"))


@functools.lru_cache(maxsize=64)
def _set_line_payables(lines: int) -> Update:
    """The UPDATE of a claim's lines' payable for a decision listing ``lines`` lines (bind parameters
    ``p_claim_id``, ``line_0``/``payable_0``, …): each listed line its payable, any other 0.00."""
    money = _lines.c.payable.type
    zero = literal(Decimal("0.00"), money)
    whens = [(_lines.c.line_no == bindparam(f"line_{i}"), bindparam(f"payable_{i}", type_=money)) for i in range(lines)]
    value = case(*whens, else_=zero) if whens else zero
    return _lines.update().where(_lines.c.claim_id == bindparam("p_claim_id")).values(payable=value)


_NEW_ROW_TABLES: dict[type, Table] = {
    ClaimRow: _claims,
    ClaimLineRow: _lines,
    DocumentRow: _documents,
    TimelineRow: _timeline,
}
"""What ``NewClaimRepository`` writes, in the order the foreign keys need (the claim first)."""

_COLUMNS = {
    cls: tuple((attr.key, attr.columns[0].key) for attr in class_mapper(cls).column_attrs) for cls in _NEW_ROW_TABLES
}


NewRowsShape = tuple[tuple[str, tuple[str, ...]], ...]
"""Per group of new rows, in the order they are written: the table's name and the columns given."""


@functools.lru_cache(maxsize=64)
def _insert_new_rows(shape: NewRowsShape) -> Insert:
    """One INSERT of every group of rows of ``shape`` (PostgreSQL): each group but the last a data-modifying CTE
    of the last one's INSERT. Bind parameters ``g<group>_<column>``: the group's values of the column, as an
    array in row order (so the text is the same whatever the number of rows); rows go in in that order.

    The foreign keys are checked at the end of the statement, so a row may refer to one of an earlier group."""
    inserts = []
    for group, (name, columns) in enumerate(shape):
        table = metadata.tables[name]
        arrays = (
            func.unnest(
                *(
                    bindparam(f"g{group}_{column}", type_=postgresql.ARRAY(table.c[column].type, dimensions=1))
                    for column in columns
                )
            )
            .table_valued(*columns, with_ordinality="row_no")
            .render_derived(name=f"g{group}")
        )
        rows = select(*(arrays.c[column] for column in columns)).order_by(arrays.c.row_no)
        inserts.append(table.insert().from_select(list(columns), rows))
    *first, last = inserts
    return last.add_cte(*(insert.cte(f"new_{group}") for group, insert in enumerate(first)))


def _set_values(obj: Any) -> dict[str, Any]:
    """The column values a new object was given, by column name: what the unit of work would INSERT (an
    attribute never set is left out, so the column takes its default or NULL, as it would)."""
    given = inspect(obj).dict
    return {column: given[attr] for attr, column in _COLUMNS[type(obj)] if attr in given}


@dataclass(frozen=True)
class ClaimFilter:
    """Search criteria of the archive; None means any."""

    member_id: str | None = None
    policy_number: str | None = None
    provider_id: str | None = None
    status: str | None = None
    submitted_from: datetime | None = None
    submitted_before: datetime | None = None
    partner_provider_id: str | None = None
    """Set for a partner: only the claims its hospital submitted."""


class ClaimRepository:
    """Claims and everything hanging off them."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim_idempotency_key(
        self, *, client: str, key: str, request_hash: str, claim_id: str, now: datetime, response: dict[str, Any]
    ) -> bool:
        """Take the key for a new claim, with the answer its replays get; False when it is taken (see ``for_key``).

        A concurrent request with the same key waits on the unique index until this transaction ends; the key
        and its answer are kept only if it commits.
        """
        stmt = _TAKE_KEY[self.session.get_bind().dialect.name == "sqlite"]
        params = {
            "client": client,
            "key": key,
            "request_hash": request_hash,
            "claim_id": claim_id,
            "response": response,
            "created_at": now,
        }
        return (await self.session.execute(stmt, params)).scalar_one_or_none() is not None

    async def for_key(self, client: str, key: str) -> IdempotencyKeyRow | None:
        """The idempotency record of a client's key."""
        stmt = select(IdempotencyKeyRow).where(IdempotencyKeyRow.client == client, IdempotencyKeyRow.key == key)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def _unflushed(self, stmt: Any, params: Any) -> Any:
        """Run ``stmt`` without flushing first what the session holds pending (SQLAlchemy flushes before every
        statement, ORM or not): for a statement nothing pending can change the result of."""
        with self.session.no_autoflush:
            return await self.session.execute(stmt, params)

    def add(self, row: Any) -> None:
        """Add a new row to the transaction."""
        self.session.add(row)

    def add_timeline(self, entry: dict[str, Any]) -> None:
        """Add a timeline entry (``TimelineRow``'s fields but ``id``) to the transaction."""
        self.session.add(TimelineRow(**entry))

    async def note(
        self, claim_id: str, *, at: datetime, actor: str, kind: str, reason: str | None, details: dict[str, Any]
    ) -> bool:
        """A timeline entry that changes nothing of the claim, in one statement (no lock, no read of the claim);
        False when the claim is unknown.

        Nothing pending is flushed first: the claim's status is read from the table, so the caller must not
        hold unflushed changes of this claim (a consumer takes this way only for a claim its transaction has
        not loaded)."""
        params = {
            "p_claim_id": claim_id,
            "p_at": at,
            "p_actor": actor,
            "p_kind": kind,
            "p_reason": reason,
            "p_details": details,
        }
        result = await self._unflushed(_NOTE, params)
        return bool(result.rowcount)

    async def flush(self) -> None:
        """Send pending rows to the database (inside the transaction)."""
        await self.session.flush()

    async def get(self, claim_id: str, *, lock: bool = False) -> ClaimRow | None:
        """A claim, optionally locked for update until the transaction ends."""
        stmt = select(ClaimRow).where(ClaimRow.claim_id == claim_id)
        if lock:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def locked_with_payments(
        self, claim_id: str, *, payment_id: str | None = None
    ) -> tuple[ClaimRow | None, list[PaymentRow], PaymentRow | None]:
        """In one query: the claim locked for update, its payments (ordered as ``payments``) and, when asked, the
        payment ``payment_id`` (whichever claim it is of).

        What the session holds pending is flushed first only when it could change what this query reads: a new
        payment of this claim, or the payment asked for. Nothing else can (the columns it filters, joins and
        orders on never change once written; a loaded object comes back as the session has it), so the changes
        of a consumer's earlier events wait for the transaction's one flush at commit."""
        params = {"claim_id": claim_id}
        if payment_id is not None:
            params["payment_id"] = payment_id
        if any(
            isinstance(new, PaymentRow) and (new.claim_id == claim_id or new.payment_id == payment_id)
            for new in self.session.new
        ):
            await self.session.flush()
        rows = (await self._unflushed(_LOCKED_WITH_PAYMENTS[payment_id is not None], params)).all()
        if not rows:
            return None, [], None
        claim = rows[0][0]
        found = [payment for _, payment in rows if payment is not None]
        wanted = next((p for p in found if p.payment_id == payment_id), None)
        return claim, [p for p in found if p.claim_id == claim.claim_id], wanted

    async def search(self, criteria: ClaimFilter, *, limit: int, after: tuple[datetime, str] | None) -> list[ClaimRow]:
        """Claims matching the criteria, newest first, from after the cursor position."""
        stmt = select(ClaimRow)
        conditions: list[Any] = []
        for column, value in (
            (ClaimRow.member_id, criteria.member_id),
            (ClaimRow.policy_number, criteria.policy_number),
            (ClaimRow.provider_id, criteria.provider_id),
            (ClaimRow.status, criteria.status),
        ):
            if value is not None:
                conditions.append(column == value)
        if criteria.partner_provider_id is not None:
            conditions.append(ClaimRow.provider_id == criteria.partner_provider_id)
            conditions.append(ClaimRow.submitted_by_provider.is_(True))
        if criteria.submitted_from is not None:
            conditions.append(ClaimRow.submitted_at >= criteria.submitted_from)
        if criteria.submitted_before is not None:
            conditions.append(ClaimRow.submitted_at < criteria.submitted_before)
        if after is not None:
            at, claim_id = after
            conditions.append(
                or_(ClaimRow.submitted_at < at, and_(ClaimRow.submitted_at == at, ClaimRow.claim_id < claim_id))
            )
        if conditions:
            stmt = stmt.where(*conditions)
        stmt = stmt.order_by(ClaimRow.submitted_at.desc(), ClaimRow.claim_id.desc()).limit(limit)
        return list((await self.session.execute(stmt)).scalars())

    async def count(self) -> int:
        """How many claims there are."""
        return int((await self.session.execute(select(func.count()).select_from(ClaimRow))).scalar_one())

    async def overdue(self, today: date, limit: int = 100) -> Sequence[ClaimRow]:
        """Claims waiting for documents past their deadline, locked; rows another worker holds are skipped."""
        stmt = (
            select(ClaimRow)
            .where(ClaimRow.lifecycle == "pending_documents", ClaimRow.documents_deadline < today)
            .order_by(ClaimRow.documents_deadline, ClaimRow.claim_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def documents(self, claim_id: str) -> list[DocumentRow]:
        """A claim's documents, oldest first."""
        stmt = (
            select(DocumentRow)
            .where(DocumentRow.claim_id == claim_id)
            .order_by(DocumentRow.uploaded_at, DocumentRow.document_id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def timeline(self, claim_id: str, *, limit: int, after_id: int | None) -> list[TimelineRow]:
        """A claim's history in order."""
        stmt = select(TimelineRow).where(TimelineRow.claim_id == claim_id)
        if after_id is not None:
            stmt = stmt.where(TimelineRow.id > after_id)
        stmt = stmt.order_by(TimelineRow.id).limit(limit)
        return list((await self.session.execute(stmt)).scalars())

    async def payments(self, claim_id: str) -> list[PaymentRow]:
        """A claim's payments."""
        stmt = (
            select(PaymentRow)
            .where(PaymentRow.claim_id == claim_id)
            .order_by(PaymentRow.decision_version, PaymentRow.payment_id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def set_decided_lines(self, claim_id: str, payables: dict[int, Decimal]) -> None:
        """The latest decision's payable on each line (0.00 for a line the decision does not list), in one statement.

        Lines are never loaded as objects, so nothing pending or in the session is affected."""
        params: dict[str, Any] = {"p_claim_id": claim_id}
        for i, (line_no, payable) in enumerate(payables.items()):
            params[f"line_{i}"] = line_no
            params[f"payable_{i}"] = payable
        await self._unflushed(_set_line_payables(len(payables)), params)

    async def set_denial_reasons(self, claim_id: str, reasons: Sequence[str]) -> None:
        """Replace the denial reasons with the latest decision's: a DELETE, then one INSERT when there are any.

        Both run now (denial reasons are never objects in the session), so a later decision of the same claim
        in the same transaction replaces what an earlier one wrote."""
        await self._unflushed(_CLEAR_DENIAL_REASONS, {"claim_id": claim_id})
        unique = list(dict.fromkeys(reasons))
        if unique:
            await self._unflushed(
                _denial_reasons.insert(), [{"claim_id": claim_id, "reason": reason} for reason in unique]
            )

    async def add_feedback(self, survey_id: str, claim_id: str, score: int, received_at: datetime) -> None:
        """Keep a survey answer, unless one with this survey_id is kept already (one statement either way)."""
        insert = _insert(self.session)
        stmt = (
            insert(FeedbackRow.__table__)
            .values(survey_id=survey_id, claim_id=claim_id, score=score, received_at=received_at)
            .on_conflict_do_nothing(index_elements=["survey_id"])
        )
        await self.session.execute(stmt)

    async def payment(self, payment_id: str) -> PaymentRow | None:
        """One payment."""
        return await self.session.get(PaymentRow, payment_id)

    async def complaint(self, claim_id: str, complaint_id: str, *, lock: bool = False) -> ComplaintRow | None:
        """One complaint of a claim."""
        stmt = select(ComplaintRow).where(ComplaintRow.claim_id == claim_id, ComplaintRow.complaint_id == complaint_id)
        if lock:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def complaints(self, claim_id: str) -> list[ComplaintRow]:
        """A claim's complaints."""
        stmt = select(ComplaintRow).where(ComplaintRow.claim_id == claim_id).order_by(ComplaintRow.raised_at)
        return list((await self.session.execute(stmt)).scalars())


class NewClaimRepository(ClaimRepository):
    """For a claim being submitted: its new rows are kept here and ``write`` INSERTs them (in one statement on
    PostgreSQL), instead of the session's unit of work (whose flush of a dozen new objects costs several times
    the CPU of the statements). The objects never join the session; nothing reads them back before the
    transaction ends."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self._new: list[Any] = []
        self._values: list[tuple[type, dict[str, Any]]] = []
        self._timeline: list[dict[str, Any]] = []

    def add(self, row: Any) -> None:
        """Keep a new ``ClaimRow``, ``ClaimLineRow``, ``DocumentRow`` or ``TimelineRow`` for ``write`` (which
        takes its values as they are then)."""
        if type(row) not in _COLUMNS:
            raise TypeError(f"not a row of a new claim: {type(row).__name__}")
        self._new.append(row)

    def add_values(self, cls: type, values: dict[str, Any]) -> None:
        """Keep a new row of ``cls`` (one ``add`` takes), given as its column values, for ``write``: no mapped
        object is built only for its values to be read back."""
        if cls not in _COLUMNS:
            raise TypeError(f"not a row of a new claim: {cls.__name__}")
        self._values.append((cls, values))

    def add_timeline(self, entry: dict[str, Any]) -> None:
        """Keep a timeline entry for ``write``."""
        self._timeline.append(entry)

    async def write(self) -> None:
        """INSERT what was kept, in groups of rows of one table and set of columns, the claim first: on PostgreSQL
        all in one statement (a round trip, not one per group); on SQLite one statement per group."""
        rows: dict[type, list[dict[str, Any]]] = {cls: [] for cls in _NEW_ROW_TABLES}
        for obj in self._new:
            rows[type(obj)].append(_set_values(obj))
        for cls, values in self._values:
            rows[cls].append(values)
        rows[TimelineRow].extend(self._timeline)
        self._new, self._values, self._timeline = [], [], []
        groups: list[tuple[Table, tuple[str, ...], list[dict[str, Any]]]] = []
        for cls, table in _NEW_ROW_TABLES.items():
            by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for values in rows[cls]:
                by_columns.setdefault(tuple(values), []).append(values)
            groups.extend((table, columns, same) for columns, same in by_columns.items())
        if not groups:
            return
        if self.session.get_bind().dialect.name == "sqlite":
            for table, _, same in groups:
                await self.session.execute(table.insert(), same)
            return
        shape = tuple((table.name, columns) for table, columns, _ in groups)
        params = {
            f"g{group}_{column}": [values[column] for values in same]
            for group, (_, columns, same) in enumerate(groups)
            for column in columns
        }
        await self.session.execute(_insert_new_rows(shape), params)


@dataclass(frozen=True)
class Cohort:
    """The claims a report covers: submitted in ``[start, end)`` (UTC), grouped by period when asked."""

    start: datetime
    end: datetime
    group_by: str | None = None


@dataclass(frozen=True)
class OutcomeGroup:
    """Claims of one period sharing status, outcome and automation, with their count and sums."""

    period: date | None
    status: str
    outcome: str | None
    automatic: bool | None
    claims: int
    charged: Decimal
    payable: Decimal
    paid: Decimal


@dataclass(frozen=True)
class AmountGroup:
    """Count and sums of the claims (or lines) sharing a key."""

    key: str | None
    claims: int
    charged: Decimal
    payable: Decimal
    paid: Decimal | None


@dataclass(frozen=True)
class Durations:
    """A claim's turnaround facts."""

    period: date | None
    received_at: datetime
    decided_at: datetime | None
    paid_at: datetime | None


_ZERO = Decimal("0.00")
_PERIOD_UNITS = {"day": "day", "week": "week", "month": "month"}


def _money(value: Any) -> Decimal:
    return _ZERO if value is None else Decimal(value).quantize(Decimal("0.01"))


def _as_date(value: Any) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, datetime):
        return value.date()
    return date.fromisoformat(str(value)[:10])


class ReportRepository:
    """The reports' queries: counts and sums are computed by the database."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name

    def _period(self, group_by: str) -> Any:
        """The first day of the submission's period (UTC) as a SQL expression."""
        unit = _PERIOD_UNITS[group_by]  # a fixed word, never user text
        if self._dialect == "sqlite":  # stored as UTC text
            if unit == "day":
                return func.date(ClaimRow.submitted_at)
            if unit == "week":
                return func.date(ClaimRow.submitted_at, literal_column("'weekday 0'"), literal_column("'-6 days'"))
            return func.strftime(literal_column("'%Y-%m-01'"), ClaimRow.submitted_at)
        utc = func.timezone(literal_column("'UTC'"), ClaimRow.submitted_at)
        return cast(func.date_trunc(literal_column(f"'{unit}'"), utc), Date)

    @staticmethod
    def _in(cohort: Cohort) -> list[Any]:
        return [ClaimRow.submitted_at >= cohort.start, ClaimRow.submitted_at < cohort.end]

    @staticmethod
    def _paid() -> Any:
        return (
            select(PaymentRow.claim_id, func.sum(PaymentRow.amount).label("paid"))
            .where(PaymentRow.status == "settled")
            .group_by(PaymentRow.claim_id)
            .subquery("settled")
        )

    async def outcome_groups(self, cohort: Cohort) -> list[OutcomeGroup]:
        """Claims by (period,) status, latest outcome and automation: count, charged, payable and paid."""
        paid = self._paid()
        keys: list[Any] = [ClaimRow.status, ClaimRow.outcome, ClaimRow.decision_automatic]
        if cohort.group_by is not None:
            keys.insert(0, self._period(cohort.group_by))
        stmt = (
            select(
                *keys,
                func.count(),
                func.sum(ClaimRow.charged),
                func.sum(ClaimRow.payable),
                func.sum(paid.c.paid),
            )
            .select_from(ClaimRow)
            .outerjoin(paid, paid.c.claim_id == ClaimRow.claim_id)
            .where(*self._in(cohort))
            .group_by(*keys)
        )
        out = []
        for row in (await self.session.execute(stmt)).all():
            values = list(row)
            period = _as_date(values.pop(0)) if cohort.group_by is not None else None
            status, outcome, automatic, claims, charged, payable, paid_sum = values
            out.append(
                OutcomeGroup(
                    period=period,
                    status=status,
                    outcome=outcome,
                    automatic=automatic,
                    claims=int(claims),
                    charged=_money(charged),
                    payable=_money(payable),
                    paid=_money(paid_sum),
                )
            )
        return out

    async def amounts_by(self, cohort: Cohort, dimension: str) -> list[AmountGroup]:
        """Claims by provider or ICD-10 chapter of the primary diagnosis: count, charged, payable, paid."""
        key = {"provider": ClaimRow.provider_id, "chapter": ClaimRow.icd10_chapter}[dimension]
        paid = self._paid()
        stmt = (
            select(key, func.count(), func.sum(ClaimRow.charged), func.sum(ClaimRow.payable), func.sum(paid.c.paid))
            .select_from(ClaimRow)
            .outerjoin(paid, paid.c.claim_id == ClaimRow.claim_id)
            .where(*self._in(cohort))
            .group_by(key)
            .order_by(key)
        )
        return [
            AmountGroup(k, int(n), _money(charged), _money(payable), _money(paid_sum))
            for k, n, charged, payable, paid_sum in (await self.session.execute(stmt)).all()
        ]

    async def amounts_by_category(self, cohort: Cohort) -> list[AmountGroup]:
        """Bill lines by category: claims with such a line, charged, and the latest decisions' payable."""
        stmt = (
            select(
                ClaimLineRow.category,
                func.count(func.distinct(ClaimLineRow.claim_id)),
                func.sum(ClaimLineRow.charged),
                func.sum(ClaimLineRow.payable),
            )
            .join(ClaimRow, ClaimRow.claim_id == ClaimLineRow.claim_id)
            .where(*self._in(cohort))
            .group_by(ClaimLineRow.category)
        )
        return [
            AmountGroup(k, int(n), _money(charged), _money(payable), None)
            for k, n, charged, payable in (await self.session.execute(stmt)).all()
        ]

    async def denial_reasons(self, cohort: Cohort) -> list[tuple[str, int]]:
        """Denial reasons of the latest decisions, with how many claims carry each, most frequent first."""
        n = func.count()
        stmt = (
            select(DenialReasonRow.reason, n)
            .join(ClaimRow, ClaimRow.claim_id == DenialReasonRow.claim_id)
            .where(*self._in(cohort), ClaimRow.outcome.is_not(None))
            .group_by(DenialReasonRow.reason)
            .order_by(n.desc(), DenialReasonRow.reason)
        )
        return [(reason, int(count)) for reason, count in (await self.session.execute(stmt)).all()]

    async def durations(self, cohort: Cohort) -> list[Durations]:
        """Received, first decided and first paid times of the claims that reached review."""
        columns: list[Any] = [ClaimRow.received_at, ClaimRow.first_decided_at, ClaimRow.first_paid_at]
        if cohort.group_by is not None:
            columns.insert(0, self._period(cohort.group_by))
        stmt = select(*columns).where(*self._in(cohort), ClaimRow.received_at.is_not(None))
        out = []
        for row in (await self.session.execute(stmt)).all():
            values = list(row)
            period = _as_date(values.pop(0)) if cohort.group_by is not None else None
            out.append(Durations(period, *values))
        return out

    async def feedback_scores(self, cohort: Cohort) -> dict[int, int]:
        """How many answers gave each score, for the claims of the cohort."""
        stmt = (
            select(FeedbackRow.score, func.count())
            .join(ClaimRow, ClaimRow.claim_id == FeedbackRow.claim_id)
            .where(*self._in(cohort))
            .group_by(FeedbackRow.score)
        )
        return {int(score): int(n) for score, n in (await self.session.execute(stmt)).all()}

    async def review_backlog(self, now: datetime, bounds: Sequence[tuple[str, Any]]) -> dict[str, int]:
        """Claims pended now, by age bucket (``bounds``: bucket name and upper age, None for the last)."""
        since = func.coalesce(ClaimRow.pended_at, ClaimRow.updated_at)
        whens = [(since > now - bound, name) for name, bound in bounds if bound is not None]
        last = next(name for name, bound in bounds if bound is None)
        pended = (
            select(case(*whens, else_=literal_column(f"'{last}'")).label("bucket"))
            .where(ClaimRow.status == "pended")
            .subquery("pended")
        )
        stmt = select(pended.c.bucket, func.count()).group_by(pended.c.bucket)
        return {str(name): int(n) for name, n in (await self.session.execute(stmt)).all()}

    async def count_by_status(self) -> dict[str, int]:
        """Every claim by its current status."""
        stmt = select(ClaimRow.status, func.count()).group_by(ClaimRow.status)
        return {str(s): int(n) for s, n in (await self.session.execute(stmt)).all()}

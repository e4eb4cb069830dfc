"""Every query of the intake service. Repositories never commit: the unit of work does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    Text,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

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
)
from claims_platform.types import UtcDateTime


def _insert(session: AsyncSession) -> Any:
    return sqlite.insert if session.get_bind().dialect.name == "sqlite" else postgresql.insert


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
        insert = _insert(self.session)
        stmt = (
            insert(IdempotencyKeyRow)
            .values(
                client=client, key=key, request_hash=request_hash, claim_id=claim_id, response=response, created_at=now
            )
            .on_conflict_do_nothing(index_elements=["client", "key"])
            .returning(IdempotencyKeyRow.id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    async def for_key(self, client: str, key: str) -> IdempotencyKeyRow | None:
        """The idempotency record of a client's key."""
        stmt = select(IdempotencyKeyRow).where(IdempotencyKeyRow.client == client, IdempotencyKeyRow.key == key)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    def add(self, row: Any) -> None:
        """Add a new row to the transaction."""
        self.session.add(row)

    async def note(
        self, claim_id: str, *, at: datetime, actor: str, kind: str, reason: str | None, details: dict[str, Any]
    ) -> bool:
        """A timeline entry that changes nothing of the claim, in one statement (no lock, no read of the claim);
        False when the claim is unknown."""
        status = ClaimRow.status
        source = select(
            ClaimRow.claim_id,
            literal(at, UtcDateTime()),
            literal(actor),
            literal(kind),
            literal(reason, Text()),
            func.nullif(status, ""),
            status,
            literal(details, JSON()),
        ).where(ClaimRow.claim_id == claim_id)
        columns = ["claim_id", "at", "actor", "kind", "reason", "status_from", "status_to", "details"]
        result = await self.session.execute(insert(TimelineRow).from_select(columns, source))
        return bool(result.rowcount)  # type: ignore[attr-defined]

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
        payment ``payment_id`` (whichever claim it is of)."""
        on = PaymentRow.claim_id == ClaimRow.claim_id
        if payment_id is not None:
            on = or_(on, PaymentRow.payment_id == payment_id)
        stmt = (
            select(ClaimRow, PaymentRow)
            .outerjoin(PaymentRow, on)
            .where(ClaimRow.claim_id == claim_id)
            .order_by(PaymentRow.decision_version, PaymentRow.payment_id)
            .with_for_update(of=ClaimRow)
        )
        rows = (await self.session.execute(stmt)).all()
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
        """The latest decision's payable on each line (0.00 for a line the decision does not list), in one statement."""
        money = ClaimLineRow.__table__.c.payable.type
        zero = literal(Decimal("0.00"), money)
        by_line = {line_no: literal(payable, money) for line_no, payable in payables.items()}
        value = case(by_line, value=ClaimLineRow.line_no, else_=zero) if by_line else zero
        stmt = update(ClaimLineRow).where(ClaimLineRow.claim_id == claim_id).values(payable=value)
        await self.session.execute(stmt)

    async def set_denial_reasons(self, claim_id: str, reasons: Sequence[str]) -> None:
        """Replace the denial reasons with the latest decision's."""
        await self.session.execute(delete(DenialReasonRow).where(DenialReasonRow.claim_id == claim_id))
        for reason in dict.fromkeys(reasons):
            self.session.add(DenialReasonRow(claim_id=claim_id, reason=reason))

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

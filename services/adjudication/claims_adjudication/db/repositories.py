"""Every query of the adjudication service. Repositories read and write through the session; they never commit.

The rows a decision writes (a new claim, the decision, the accumulators it moves) are not ORM objects in the
session: they are collected per transaction (``_PENDING``) and written without a unit-of-work flush by the
kit's ``claims_platform.pending_writes``, in one statement on PostgreSQL (each table's rows as arrays,
data-modifying CTEs), one per table on SQLite. They are written just before the transaction commits, before
any ORM flush (an ORM row may refer to them, e.g. a review to its new claim), and before a query that reads
those tables, except the hot ones, which take them into account themselves: ``PolicyRepository.head`` (is the
claim here), the member's history, and ``AccumulatorRepository.lock`` (the rows this transaction locked are
kept, with what it changed).

A consumer's batch of claims has those hot reads made for all its claims at once, before its events are handled
(PostgreSQL; ``read_heads``, ``lock_all``, ``read_histories``): they are kept with the transaction's pending
writes, and the per-claim calls find them there, as the transaction has changed them since (a claim received,
an accumulator row moved); the histories are asked again once the transaction has written anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Row,
    String,
    Table,
    and_,
    bindparam,
    false,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from claims_adjudication.db.models import (
    AccumulatorRow,
    AuditRow,
    ClaimRow,
    DecisionRow,
    PlanRow,
    PlanVersionRow,
    PolicyRow,
    ReviewRow,
    VerificationRow,
)
from claims_platform.db import any_of
from claims_platform.pending_writes import InsertRows, Statements, UpdateRows, Write, WritesAtCommit, write_statements

ZERO = Decimal("0.00")
ACTIVE_REVIEW = ("open", "awaiting_second_approval")


def _dialect(session: AsyncSession) -> Any:
    """The dialect module whose ``insert`` knows ON CONFLICT for this session's database."""
    return sqlite if session.get_bind().dialect.name == "sqlite" else postgresql


CLAIMS: Table = ClaimRow.__table__  # type: ignore[assignment]
DECISIONS: Table = DecisionRow.__table__  # type: ignore[assignment]
ACCUMULATORS: Table = AccumulatorRow.__table__  # type: ignore[assignment]


@dataclass(slots=True)
class NewClaim:
    """A claim received in this transaction, not written yet: the columns of ``claims``; what it holds when the
    transaction writes it is what is stored."""

    claim_id: str
    member_id: str
    provider_id: str
    policy_number: str
    currency: str
    charged: Decimal
    first_service_date: date
    received_on: date
    received_at: datetime
    status: str
    latest_version: int
    payload: dict[str, Any]
    updated_at: datetime


@dataclass(slots=True)
class NewDecision:
    """A decision made in this transaction, not written yet: the columns of ``decisions``."""

    claim_id: str
    version: int
    outcome: str
    automatic: bool
    decided_by: str
    approved_by: str | None
    review_id: str | None
    plan_code: str | None
    plan_version: int | None
    policy_number: str
    policy_version: int | None
    member_id: str
    provider_id: str
    payee: str
    currency: str
    charged: Decimal
    allowed: Decimal
    payable: Decimal
    member_responsibility: Decimal
    other_insurance: Decimal
    lines: list[dict[str, Any]]
    denial_reasons: list[str]
    period_start: date | None
    delta_deductible: Decimal
    delta_paid: Decimal
    delta_by_category: dict[str, str]
    decided_at: datetime


@dataclass(slots=True)
class LockedAccumulators:
    """An accumulator row this transaction holds locked, as it is now in this transaction (the columns of
    ``accumulators``)."""

    member_id: str
    policy_number: str
    period_start: date
    period_end: date
    deductible_used: Decimal
    paid_total: Decimal
    paid_by_category: dict[str, str]
    version: int
    updated_at: datetime

    @property
    def key(self) -> tuple[str, str, date]:
        """Its primary key: member, policy, period start."""
        return (self.member_id, self.policy_number, self.period_start)


_ACC_KEY = ("member_id", "policy_number", "period_start")
_NEW_CLAIMS = InsertRows(CLAIMS.name, CLAIMS, tuple(column.key for column in CLAIMS.columns))
_NEW_DECISIONS = InsertRows(DECISIONS.name, DECISIONS, tuple(column.key for column in DECISIONS.columns))
_ACC_CHANGES = UpdateRows(
    "accumulator_changes", ACCUMULATORS, tuple(column.key for column in ACCUMULATORS.columns), key=_ACC_KEY
)
"""The pending write that is not new rows: the accumulators changed (key and every other column)."""


HistoryRow = Row[str, str, str, date, date, Decimal, str]
"""A written claim as a member's history shows it (``ClaimRepository.history_of_member``)."""
History = list[HistoryRow]


class _Pending:
    """One transaction's writes not made yet, and what it read that stays valid while it lasts.

    ``locked``: the accumulator rows it locked, kept until it ends (they stay locked and only this transaction
    changes them). ``received``: the claims it received, written or not. ``heads``: the policy heads of a
    batch's claims, read ahead (policies and plans do not change in a consumer's transaction; whether a claim is
    here is answered with ``received``). ``histories``: a batch's members' written claims, read ahead; forgotten
    as soon as the transaction writes anything (its own writes or an ORM flush, which may change claims; a claim
    is changed through the ORM only once ``ClaimRepository.get`` has loaded it, which writes first), after which
    each history is asked again, as it was before a batch was read ahead."""

    __slots__ = ("accumulators", "claims", "decisions", "heads", "histories", "locked", "received")

    def __init__(self) -> None:
        self.locked: dict[tuple[str, str, date], LockedAccumulators] = {}
        self.claims: dict[str, NewClaim] = {}
        self.decisions: list[NewDecision] = []
        self.accumulators: dict[tuple[str, str, date], LockedAccumulators] = {}
        self.received: set[str] = set()
        self.heads: dict[tuple[str, str], PolicyHead] = {}
        self.histories: dict[str, History] = {}

    def take_statements(self, session: Session) -> Statements:
        """The statements making the writes, in order (a claim before its decisions), and forget them (and the
        histories read ahead, which they or the flush that follows may change)."""
        writes = [
            (_NEW_CLAIMS, [_values(claim) for claim in self.claims.values()]),
            (_NEW_DECISIONS, [_values(decision) for decision in self.decisions]),
            (_ACC_CHANGES, [_values(acc) for acc in self.accumulators.values()]),
        ]
        self.claims, self.decisions, self.accumulators, self.histories = {}, [], {}, {}
        return write_statements(session, writes)


def _values(row: NewClaim | NewDecision | LockedAccumulators) -> dict[str, Any]:
    return {f.name: getattr(row, f.name) for f in fields(row)}


_PENDING = WritesAtCommit("claims_adjudication.pending", _Pending, before_flush=True)
"""The pending writes of a transaction (``claims_platform.pending_writes``): made before it commits, before any
ORM flush (an ORM row may refer to them), and before a query that reads those tables (``write_now``)."""


class PlanRepository:
    """Plans and their versions."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, code: str, *, lock: bool = False) -> PlanRow | None:
        """The plan's head row."""
        stmt = select(PlanRow).where(PlanRow.code == code)
        if lock:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def version(self, code: str, version: int | None = None) -> PlanVersionRow | None:
        """One version of a plan (the current one when ``version`` is None)."""
        if version is None:
            head = await self.get(code)
            if head is None:
                return None
            version = head.current_version
        return await self.session.get(PlanVersionRow, (code, version))

    def add(self, row: PlanRow | PlanVersionRow) -> None:
        """Stage a new plan or plan version."""
        self.session.add(row)

    async def insert_head_if_absent(self, code: str, now: datetime) -> None:
        """Create the plan's head row (version 0) unless it exists, so that it can then be locked."""
        dialect = _dialect(self.session)
        stmt = (
            dialect.insert(PlanRow)
            .values(code=code, current_version=0, created_at=now, updated_at=now)
            .on_conflict_do_nothing()
        )
        await self.session.execute(stmt)


@dataclass(frozen=True)
class PolicyHead:
    """The current version of a policy (None: no such policy) and of its plan (None: no version), each with
    the time it was written, which together key the parsed policy and plan (a policy's version counts up on
    every change; a plan version never changes)."""

    claim_seen: bool
    policy_version: int | None
    policy_updated_at: datetime | None
    plan_code: str | None
    plan_version: int | None
    plan_created_at: datetime | None


class PolicyRepository:
    """Policies."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, policy_number: str, *, lock: bool = False) -> PolicyRow | None:
        """A policy by number."""
        stmt = select(PolicyRow).where(PolicyRow.policy_number == policy_number)
        if lock:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    def add(self, row: PolicyRow) -> None:
        """Stage a new policy."""
        self.session.add(row)

    async def head(self, policy_number: str, *, claim_id: str | None = None) -> PolicyHead:
        """Which versions of the policy and of its plan are current, in one query (no member list, no plan
        definition: those are read only when not cached); with ``claim_id``, also whether that claim is here
        (written, or received earlier in this transaction)."""
        pending = _PENDING.current(self.session) if claim_id is not None else None
        if pending is not None and claim_id is not None:
            read = pending.heads.get((policy_number, claim_id))
            if read is not None:  # read ahead with its batch; received since?
                return replace(read, claim_seen=True) if claim_id in pending.received else read
        if claim_id is None:
            result = await self.session.execute(_HEAD, {"policy_number": policy_number})
        else:
            result = await self.session.execute(_HEAD_AND_CLAIM, {"policy_number": policy_number, "claim_id": claim_id})
        row = result.one()
        return _policy_head(row, bool(row.claim_seen) or (pending is not None and claim_id in pending.received))

    async def read_heads(self, claims: Iterable[tuple[str, str]]) -> dict[tuple[str, str], PolicyHead]:
        """``head(policy_number, claim_id=claim_id)`` of several ``(policy_number, claim_id)``, in one query
        (PostgreSQL; elsewhere nothing is read ahead and this is empty), kept for the transaction: ``head``
        then answers them without a query."""
        if self.session.get_bind().dialect.name != "postgresql":
            return {}
        asked = dict.fromkeys(claims)
        params = {"policy_numbers": [p for p, _ in asked], "claim_ids": [c for _, c in asked]}
        with self.session.no_autoflush:  # nothing pending in the session changes policies, plans or claims here
            rows = (await self.session.execute(_HEADS, params)).all()
        heads = _PENDING.collector(self.session).heads
        for row in rows:
            heads[(row.policy_number, row.claim_id)] = _policy_head(row, bool(row.claim_seen))
        return {key: heads[key] for key in asked}


def _policy_head(row: Any, claim_seen: bool) -> PolicyHead:
    return PolicyHead(
        claim_seen=claim_seen,
        policy_version=row.version,
        policy_updated_at=row.updated_at,
        plan_code=row.plan_code,
        plan_version=row.plan_version,
        plan_created_at=row.plan_created_at,
    )


def _head_statement(source: Any, policy_number: Any, seen: Any, *asked: Any) -> Any:
    """The query of ``PolicyRepository.head`` (``read_heads``: with what was ``asked``, one row each), built once:
    Core (columns, not entities) with bind parameters, so a call neither rebuilds it nor computes its cache key
    nor goes through the ORM's loading."""
    policies, plans, plan_versions = PolicyRow.__table__.c, PlanRow.__table__.c, PlanVersionRow.__table__.c
    return (
        select(
            *asked,
            seen.label("claim_seen"),
            policies.version,
            policies.updated_at,
            policies.plan_code,
            plan_versions.version.label("plan_version"),
            plan_versions.created_at.label("plan_created_at"),
        )
        .select_from(source)
        .outerjoin(PolicyRow.__table__, policies.policy_number == policy_number)
        .outerjoin(PlanRow.__table__, plans.code == policies.plan_code)
        .outerjoin(
            PlanVersionRow.__table__,
            and_(plan_versions.plan_code == plans.code, plan_versions.version == plans.current_version),
        )
    )


def _claim_here(claim_id: Any) -> Any:
    return select(CLAIMS.c.claim_id).where(CLAIMS.c.claim_id == claim_id).exists()


_ONE = select(literal(1).label("one")).subquery("one")
_HEAD = _head_statement(_ONE, bindparam("policy_number"), false())
_HEAD_AND_CLAIM = _head_statement(_ONE, bindparam("policy_number"), _claim_here(bindparam("claim_id")))
_ASKED = (
    func.unnest(
        bindparam("policy_numbers", type_=postgresql.ARRAY(String())),
        bindparam("claim_ids", type_=postgresql.ARRAY(String())),
    )
    .table_valued("policy_number", "claim_id")
    .render_derived(name="asked")
)
_HEADS = _head_statement(
    _ASKED, _ASKED.c.policy_number, _claim_here(_ASKED.c.claim_id), _ASKED.c.policy_number, _ASKED.c.claim_id
)
"""The query of ``PolicyRepository.read_heads`` (PostgreSQL): a row per ``(policy_number, claim_id)`` asked, one
statement text whatever their number."""


class ClaimRepository:
    """Claims as received, and the history the risk rules look at."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, claim_id: str, *, lock: bool = False) -> ClaimRow | None:
        """A claim by id."""
        await _PENDING.write_now(self.session)
        stmt = select(ClaimRow).where(ClaimRow.claim_id == claim_id)
        if lock:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    def add(self, claim: NewClaim) -> None:
        """Stage a new claim (whether it is here already is asked first, under the consumer's claim lock); it is
        written as it is when the transaction writes it."""
        pending = _PENDING.collector(self.session)
        pending.claims[claim.claim_id] = claim
        pending.received.add(claim.claim_id)

    async def history_of_member(self, member_id: str, exclude_claim_id: str) -> list[HistoryRow | NewClaim]:
        """The member's other claims, for the duplicate and frequency rules (the columns they look at): those
        written (as read ahead with the batch, when this transaction has written nothing since), then those
        received earlier in this transaction."""
        pending = _PENDING.current(self.session)
        read = pending.histories.get(member_id) if pending is not None else None
        rows: list[HistoryRow | NewClaim]
        if read is not None:
            rows = [row for row in read if row.claim_id != exclude_claim_id]
        else:
            params = {"member_id": member_id, "claim_id": exclude_claim_id}
            rows = list((await self.session.execute(_HISTORY, params)).all())
        if pending is not None:
            rows.extend(
                claim
                for claim in pending.claims.values()
                if claim.member_id == member_id and claim.claim_id != exclude_claim_id
            )
        return rows

    async def read_histories(self, member_ids: Iterable[str]) -> None:
        """The written claims of several members, in one query (PostgreSQL; elsewhere nothing is read ahead), kept
        for the transaction until it writes anything: ``history_of_member`` then takes them from there.

        Read after the batch's accumulator rows are locked, as ``history_of_member`` is after its claim's: a claim
        of the member that another transaction was deciding under that lock is committed and seen."""
        if self.session.get_bind().dialect.name != "postgresql":
            return
        histories: dict[str, History] = {member_id: [] for member_id in sorted(set(member_ids))}
        if not histories:
            return
        with self.session.no_autoflush:  # what is pending is taken into account by history_of_member
            rows = (await self.session.execute(_HISTORIES, {"member_ids": list(histories)})).all()
        for row in rows:
            histories[row.member_id].append(row)
        _PENDING.collector(self.session).histories.update(histories)


_claims = ClaimRow.__table__.c
_HISTORY_COLUMNS = (
    _claims.claim_id,
    _claims.member_id,
    _claims.provider_id,
    _claims.received_on,
    _claims.first_service_date,
    _claims.charged,
    _claims.status,
)
_HISTORY = select(*_HISTORY_COLUMNS).where(
    _claims.member_id == bindparam("member_id"), _claims.claim_id != bindparam("claim_id")
)
"""The query of ``ClaimRepository.history_of_member``, built once (Core: the columns, not the entities)."""
_HISTORIES = select(*_HISTORY_COLUMNS).where(any_of(_claims.member_id, "member_ids"))
"""The query of ``ClaimRepository.read_histories`` (PostgreSQL): one statement text whatever the number of members."""


class AccumulatorRepository:
    """Accumulators per member, policy and period, read under a row lock."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock(
        self, member_id: str, policy_number: str, period_start: date, period_end: date, now: datetime
    ) -> LockedAccumulators:
        """The row (created at zero when absent), locked until the transaction ends, in one statement; a row
        this transaction locked before is not asked for again (it is as this transaction left it).

        ``INSERT … ON CONFLICT DO UPDATE … RETURNING``: a new row is inserted (and so locked); an existing one
        is "updated" to what it is, which locks it like ``SELECT … FOR UPDATE`` (a second transaction waits
        here until the first ends, then gets the row as that one left it) and returns it. What the caller
        changes in it is written with ``changed``.
        """
        pending = _PENDING.collector(self.session)
        locked = pending.locked.get((member_id, policy_number, period_start))
        if locked is not None:
            return locked
        name = self.session.get_bind().dialect.name
        stmt = _LOCK.get(name)
        if stmt is None:
            stmt = _LOCK[name] = _lock_statement(sqlite if name == "sqlite" else postgresql)
        params = {
            "member_id": member_id,
            "policy_number": policy_number,
            "period_start": period_start,
            "period_end": period_end,
            "updated_at": now,
        }
        with self.session.no_autoflush:  # nothing pending in the session changes this row
            row = (await self.session.execute(stmt, params)).one()
        locked = LockedAccumulators(**row._asdict())
        pending.locked[locked.key] = locked
        return locked

    async def lock_all(self, periods: Mapping[tuple[str, str, date], date], now: datetime) -> None:
        """``lock`` of several rows (key: member, policy, period start; value: period end), in one statement
        (PostgreSQL; elsewhere each is locked when its claim is priced), in key order: two transactions lock
        the rows they share in the same order, so neither waits for the other in a cycle. ``lock`` then finds
        them locked."""
        if self.session.get_bind().dialect.name != "postgresql":
            return
        pending = _PENDING.collector(self.session)
        wanted = [
            {"member_id": key[0], "policy_number": key[1], "period_start": key[2], "period_end": periods[key]}
            for key in sorted(periods)
            if key not in pending.locked
        ]
        if not wanted:
            return
        params = {**_LOCK_ROWS.params(wanted, self.session.get_bind().dialect), "updated_at": now}
        with self.session.no_autoflush:  # nothing pending in the session changes these rows
            rows = (await self.session.execute(_LOCK_ALL, params)).all()
        for row in rows:
            locked = LockedAccumulators(**row._asdict())
            pending.locked[locked.key] = locked

    def changed(self, row: LockedAccumulators) -> None:
        """Stage the write of a locked row as it is now (the last state staged is the one written)."""
        _PENDING.collector(self.session).accumulators[row.key] = row

    async def of_member(self, member_id: str, policy_number: str | None) -> Sequence[AccumulatorRow]:
        """A member's accumulators, per policy and period."""
        await _PENDING.write_now(self.session)
        stmt = select(AccumulatorRow).where(AccumulatorRow.member_id == member_id)
        if policy_number is not None:
            stmt = stmt.where(AccumulatorRow.policy_number == policy_number)
        stmt = stmt.order_by(AccumulatorRow.policy_number, AccumulatorRow.period_start)
        return (await self.session.execute(stmt)).scalars().all()


_NEW_PERIOD: dict[str, Any] = {"deductible_used": ZERO, "paid_total": ZERO, "paid_by_category": {}, "version": 0}
"""What a member's accumulator row for a period starts with."""


def _insert_or_lock(insert: Any) -> Any:
    """``insert`` of accumulator rows (``_NEW_PERIOD`` for what they start with), or, for a row already there,
    the row locked as it is (a no-op update): ``RETURNING`` every column, a Core statement (no ORM entity)."""
    table = ACCUMULATORS
    return insert.on_conflict_do_update(
        index_elements=[table.c.member_id, table.c.policy_number, table.c.period_start],
        set_={"version": table.c.version},
    ).returning(*table.c)


def _lock_statement(dialect: Any) -> Any:
    """The statement of ``AccumulatorRepository.lock`` for a dialect, with bind parameters (built once)."""
    keys = ("member_id", "policy_number", "period_start", "period_end", "updated_at")
    return _insert_or_lock(dialect.insert(ACCUMULATORS).values(**{k: bindparam(k) for k in keys}, **_NEW_PERIOD))


_LOCK: dict[str, Any] = {}
"""``_lock_statement`` per dialect name."""


def _lock_all_statement() -> Any:
    """The statement of ``AccumulatorRepository.lock_all`` (PostgreSQL), built once: ``_lock_statement`` for the
    rows of ``_LOCK_ROWS`` (the arrays of their keys and period ends), inserted or locked in their order."""
    table = ACCUMULATORS
    rows = _LOCK_ROWS.rows()
    listed = select(
        *(rows.c[column] for column in _LOCK_ROWS.columns),
        *(literal(value, table.c[column].type) for column, value in _NEW_PERIOD.items()),
        bindparam("updated_at", type_=table.c.updated_at.type),
    ).order_by(rows.c.row_no)
    columns = [*_LOCK_ROWS.columns, *_NEW_PERIOD, "updated_at"]
    return _insert_or_lock(postgresql.insert(table).from_select(columns, listed))


_LOCK_ROWS = Write("lock_all", ACCUMULATORS, ("member_id", "policy_number", "period_start", "period_end"))
"""The rows ``lock_all`` locks, as array parameters (the kit's ``Write``)."""
_LOCK_ALL = _lock_all_statement()


class DecisionRepository:
    """Decisions, every version."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, decision: NewDecision) -> None:
        """Stage a new decision."""
        _PENDING.collector(self.session).decisions.append(decision)

    async def of_claim(self, claim_id: str) -> Sequence[DecisionRow]:
        """Every decision on a claim, oldest first."""
        await _PENDING.write_now(self.session)
        stmt = select(DecisionRow).where(DecisionRow.claim_id == claim_id).order_by(DecisionRow.version)
        return (await self.session.execute(stmt)).scalars().all()

    async def of_claim_in_review(self, claim_id: str) -> tuple[Sequence[DecisionRow], bool]:
        """Every decision on a claim, oldest first, and whether it has an active review (one query; when it
        has no decision, whether it is in review is not asked and False)."""
        await _PENDING.write_now(self.session)
        in_review = (
            select(ReviewRow.review_id)
            .where(ReviewRow.claim_id == claim_id, ReviewRow.status.in_(ACTIVE_REVIEW))
            .exists()
            .label("in_review")
        )
        stmt = select(DecisionRow, in_review).where(DecisionRow.claim_id == claim_id).order_by(DecisionRow.version)
        rows = (await self.session.execute(stmt)).all()
        return [row[0] for row in rows], bool(rows and rows[0][1])

    async def get(self, claim_id: str, version: int) -> DecisionRow | None:
        """One version of a claim's decision."""
        await _PENDING.write_now(self.session)
        return await self.session.get(DecisionRow, (claim_id, version))


class ReviewRepository:
    """The review queue and verification requests."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: ReviewRow | VerificationRow) -> None:
        """Stage a review or a verification request."""
        self.session.add(row)

    async def get(self, review_id: str, *, lock: bool = False) -> ReviewRow | None:
        """A review by id."""
        stmt = select(ReviewRow).where(ReviewRow.review_id == review_id)
        if lock:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def active_of_claim(self, claim_id: str) -> Sequence[ReviewRow]:
        """A claim's reviews that are not decided or closed yet."""
        stmt = select(ReviewRow).where(ReviewRow.claim_id == claim_id, ReviewRow.status.in_(ACTIVE_REVIEW))
        return (await self.session.execute(stmt)).scalars().all()

    async def page(self, status: str | None, after: tuple[datetime, str] | None, limit: int) -> Sequence[ReviewRow]:
        """Reviews oldest first (the queue's order), from after a position."""
        stmt = select(ReviewRow)
        if status is not None:
            stmt = stmt.where(ReviewRow.status == status)
        if after is not None:
            at, review_id = after
            stmt = stmt.where(
                or_(ReviewRow.created_at > at, and_(ReviewRow.created_at == at, ReviewRow.review_id > review_id))
            )
        stmt = stmt.order_by(ReviewRow.created_at, ReviewRow.review_id).limit(limit)
        return (await self.session.execute(stmt)).scalars().all()

    async def verifications(self, review_id: str) -> Sequence[VerificationRow]:
        """The verification requests of a review, oldest first."""
        stmt = (
            select(VerificationRow)
            .where(VerificationRow.review_id == review_id)
            .order_by(VerificationRow.requested_at, VerificationRow.verification_id)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def verifications_of(self, review_ids: Sequence[str]) -> Sequence[VerificationRow]:
        """The verification requests of several reviews."""
        if not review_ids:
            return []
        stmt = (
            select(VerificationRow)
            .where(VerificationRow.review_id.in_(review_ids))
            .order_by(VerificationRow.requested_at, VerificationRow.verification_id)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def verification(self, verification_id: str, *, lock: bool = False) -> VerificationRow | None:
        """A verification request by id."""
        stmt = select(VerificationRow).where(VerificationRow.verification_id == verification_id)
        if lock:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        return (await self.session.execute(stmt)).scalar_one_or_none()


class AuditRepository:
    """The audit log: who did what, when, and why."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def record(
        self,
        *,
        at: datetime,
        actor: str,
        action: str,
        entity_type: str,
        entity_id: str,
        claim_id: str | None = None,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Stage one audit entry."""
        self.session.add(
            AuditRow(
                at=at,
                actor=actor,
                action=action,
                entity_type=entity_type,
                entity_id=entity_id,
                claim_id=claim_id,
                reason=reason,
                details=details or {},
            )
        )

    async def page(
        self,
        *,
        claim_id: str | None,
        entity_id: str | None,
        actor: str | None,
        after_id: int | None,
        limit: int,
    ) -> Sequence[AuditRow]:
        """Audit entries in the order they were written, filtered."""
        stmt = select(AuditRow)
        if claim_id is not None:
            stmt = stmt.where(AuditRow.claim_id == claim_id)
        if entity_id is not None:
            stmt = stmt.where(AuditRow.entity_id == entity_id)
        if actor is not None:
            stmt = stmt.where(AuditRow.actor == actor)
        if after_id is not None:
            stmt = stmt.where(AuditRow.id > after_id)
        stmt = stmt.order_by(AuditRow.id).limit(limit)
        return (await self.session.execute(stmt)).scalars().all()

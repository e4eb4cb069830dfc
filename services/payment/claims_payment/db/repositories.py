"""Every query of the payment service. Repositories never commit: the unit of work does."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import aliased

from claims_payment.db.models import (
    BatchItemRow,
    BatchRow,
    ClaimPayeeRow,
    DecisionRow,
    LedgerEntryRow,
    OverpaymentRow,
    PaymentRow,
    ProviderAccountRow,
    metadata,
)
from claims_payment.domain.ledger import Movement
from claims_payment.domain.model import Payee, PaymentStatus
from claims_platform.db import transaction_state

ZERO = Decimal("0.00")


def _is_postgres(session: AsyncSession) -> bool:
    bind = session.bind
    return bind is not None and bind.dialect.name == "postgresql"


_HELD_LOCKS = "claims_payment.advisory_locks"
_LOCK_ONE = text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))")
_LOCK_MANY = text(
    "SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) "
    "FROM unnest(CAST(:keys AS text[])) WITH ORDINALITY AS t(k, n) ORDER BY n"
)


async def advisory_locks(session: AsyncSession, *keys: str) -> None:
    """Transaction-scoped PostgreSQL advisory locks, taken in the order given, in one statement.

    Locks this transaction already holds are not asked for again (a consumer may hand several events of
    one claim to one transaction). SQLite has one writer at a time anyway.
    """
    if not _is_postgres(session):
        return
    # Per innermost transaction: a lock taken in a savepoint that is rolled back is released.
    held: set[str] = transaction_state(session, _HELD_LOCKS, set)  # (empty before the first statement)
    wanted = [k for k in dict.fromkeys(keys) if k not in held]
    if not wanted:
        return
    with session.no_autoflush:  # a lock reads nothing: what is pending can wait for the next query or the commit
        if len(wanted) == 1:
            await session.execute(_LOCK_ONE, {"k": wanted[0]})
        else:
            await session.execute(_LOCK_MANY, {"keys": wanted})
    now_held: set[str] = transaction_state(session, _HELD_LOCKS, set)
    now_held.update(wanted)


def claim_lock(claim_id: str) -> str:
    """The advisory lock key serialising the work on one claim across transactions and replicas."""
    return f"payment-claim:{claim_id}"


def provider_lock(provider_id: str) -> str:
    """The advisory lock key serialising a hospital's account with the payments that look it up."""
    return f"payment-provider:{provider_id}"


async def prepare_read(session: AsyncSession, claim_id: str | None) -> None:
    """Make what this session changed visible to the next query about a claim (or about accounts only).

    A consumer may apply several events in one session. What earlier events wrote for this claim (and
    any hospital account not yet written) is flushed, so the query sees it; what they wrote for other
    claims stays pending and goes out with one flush per table when the unit of work commits. Run the
    query itself under ``no_autoflush``.
    """
    sync = session.sync_session
    if any(isinstance(obj, ProviderAccountRow) for obj in sync.new) or (
        claim_id is not None and any(getattr(obj, "claim_id", None) == claim_id for obj in (*sync.new, *sync.dirty))
    ):
        await session.flush()


# The hot statements are built once, with bind parameters: only their parameters change per call (what
# SQLAlchemy would otherwise construct, and compute a cache key for, on every call).

_SCHEDULED = (
    select(PaymentRow)
    .where(PaymentRow.claim_id == bindparam("claim_id"), PaymentRow.status == PaymentStatus.SCHEDULED)
    .with_for_update()
)
_PAYEE_COLUMNS = {c.key: bindparam(c.key, type_=c.type) for c in ClaimPayeeRow.__table__.columns}
_SCHEDULED_WITH_NEW_PAYEE = _SCHEDULED.add_cte(
    postgresql.insert(ClaimPayeeRow).values(_PAYEE_COLUMNS).on_conflict_do_nothing().cte("new_payee")
)


class PayeeRepository:
    """Claims' payees and hospitals' bank accounts."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_provider(self, provider_id: str) -> None:
        """Serialise account registration with the payments that look the account up (lock order: claim, provider)."""
        await advisory_locks(self.session, provider_lock(provider_id))

    async def add_claim_and_lock_scheduled(self, values: dict[str, Any]) -> Sequence[PaymentRow]:
        """Record a claim's payee details once (first wins); the claim's payments not yet sent, locked.

        One statement on PostgreSQL (the insert rides along as a CTE; it does not change the payments read).
        """
        claim_id = values["claim_id"]
        await prepare_read(self.session, claim_id)
        with self.session.no_autoflush:
            if _is_postgres(self.session):
                params = {key: values[key] for key in _PAYEE_COLUMNS}  # every column, nothing else
                return (await self.session.scalars(_SCHEDULED_WITH_NEW_PAYEE, params)).all()
            await self.session.execute(sqlite.insert(ClaimPayeeRow).values(**values).on_conflict_do_nothing())
            return (await self.session.scalars(_SCHEDULED, {"claim_id": claim_id})).all()

    async def claim(self, claim_id: str) -> ClaimPayeeRow | None:
        """A claim's payee details."""
        return await self.session.get(ClaimPayeeRow, claim_id)

    async def provider(self, provider_id: str, *, for_update: bool = False) -> ProviderAccountRow | None:
        """A hospital's bank account."""
        return await self.session.get(ProviderAccountRow, provider_id, with_for_update=for_update)

    def add_provider(self, row: ProviderAccountRow) -> None:
        """Register a hospital's bank account."""
        self.session.add(row)


@dataclass(frozen=True)
class Payees:
    """What is known of a claim's payee details and of a hospital's account (None: not known yet)."""

    claim: ClaimPayeeRow | None
    provider: ProviderAccountRow | None


@dataclass(frozen=True)
class DecisionContext:
    """What applying a decision needs to know about its claim."""

    seen: bool
    """This decision (claim and version) was recorded before."""
    latest: int | None
    waived: Decimal
    overpaid: Decimal
    payments: Sequence[PaymentRow]
    payees: Payees


def _context_statement() -> Select[Any]:
    claim_id = bindparam("claim_id", type_=String())
    decided = (
        select(
            func.count(case((DecisionRow.decision_version == bindparam("version"), 1))).label("seen"),
            func.max(DecisionRow.decision_version).label("latest"),
            func.coalesce(func.sum(DecisionRow.recovery_waived), 0).label("waived"),
        )
        .where(DecisionRow.claim_id == claim_id)
        .subquery("decided")
    )
    overpaid = (
        select(func.coalesce(func.sum(OverpaymentRow.amount), 0))
        .where(OverpaymentRow.claim_id == claim_id)
        .scalar_subquery()
    )
    locked = aliased(
        PaymentRow,
        select(PaymentRow).where(PaymentRow.claim_id == claim_id).with_for_update().subquery("locked"),
    )
    return (
        select(decided.c.seen, decided.c.latest, decided.c.waived, overpaid, locked, ClaimPayeeRow, ProviderAccountRow)
        .select_from(decided)
        .outerjoin(locked, true())
        .outerjoin(ClaimPayeeRow, ClaimPayeeRow.claim_id == claim_id)
        .outerjoin(ProviderAccountRow, ProviderAccountRow.provider_id == bindparam("provider_id"))
        .order_by(locked.decision_version)
    )


_CONTEXT = _context_statement()
"""A decision's context (``DecisionRepository.context``); parameters ``claim_id``, ``version``, ``provider_id``."""


class DecisionRepository:
    """Decisions seen, per claim."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_claim(self, claim_id: str, *, provider_id: str | None = None) -> None:
        """Serialise the work on one claim across transactions and replicas (PostgreSQL advisory lock).

        With ``provider_id``, the hospital's lock too, after the claim's (the lock order everywhere).
        """
        keys = (claim_lock(claim_id),) if provider_id is None else (claim_lock(claim_id), provider_lock(provider_id))
        await advisory_locks(self.session, *keys)

    async def context(self, claim_id: str, version: int, provider_id: str) -> DecisionContext:
        """Everything a decision needs, in one statement (``_CONTEXT``): what the claim's decisions and
        overpayments add up to, its payments (locked, oldest first), its payee details and the hospital's account."""
        await prepare_read(self.session, claim_id)
        params = {"claim_id": claim_id, "version": version, "provider_id": provider_id}
        with self.session.no_autoflush:
            rows = (await self.session.execute(_CONTEXT, params)).all()
        first = rows[0]
        return DecisionContext(
            seen=bool(first[0]),
            latest=first[1],
            waived=Decimal(first[2]),
            overpaid=Decimal(first[3]),
            payments=[row[4] for row in rows if row[4] is not None],
            payees=Payees(claim=first[5], provider=first[6]),
        )

    def add(self, row: DecisionRow) -> None:
        """Record a decision."""
        self.session.add(row)


class PaymentRepository:
    """Payments and their queues."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: PaymentRow) -> None:
        """A new payment (the unique constraint on ``(claim_id, decision_version)`` guards the identity)."""
        self.session.add(row)

    async def get(self, payment_id: uuid.UUID, *, for_update: bool = False) -> PaymentRow | None:
        """One payment."""
        return await self.session.get(PaymentRow, payment_id, with_for_update=for_update)

    async def of_claim(self, claim_id: str, *, for_update: bool = False) -> Sequence[PaymentRow]:
        """A claim's payments, oldest first."""
        stmt = select(PaymentRow).where(PaymentRow.claim_id == claim_id).order_by(PaymentRow.decision_version)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.scalars(stmt)).all()

    async def page(
        self,
        *,
        claim_id: str | None,
        status: str | None,
        provider_id: str | None,
        member_id: str | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> Sequence[PaymentRow]:
        """Payments matching the filters, oldest first, after a cursor position."""
        stmt = select(PaymentRow)
        if claim_id is not None:
            stmt = stmt.where(PaymentRow.claim_id == claim_id)
        if status is not None:
            stmt = stmt.where(PaymentRow.status == status)
        if provider_id is not None:
            stmt = stmt.where(PaymentRow.provider_id == provider_id)
        if member_id is not None:
            stmt = stmt.where(PaymentRow.member_id == member_id)
        if after is not None:
            at, last = after
            stmt = stmt.where(or_(PaymentRow.created_at > at, and_(PaymentRow.created_at == at, PaymentRow.id > last)))
        stmt = stmt.order_by(PaymentRow.created_at, PaymentRow.id).limit(limit)
        return (await self.session.scalars(stmt)).all()

    async def scheduled_for_provider(self, provider_id: str) -> Sequence[PaymentRow]:
        """Payments to a hospital not yet sent, locked."""
        stmt = (
            select(PaymentRow)
            .where(
                PaymentRow.provider_id == provider_id,
                PaymentRow.payee == Payee.PROVIDER,
                PaymentRow.status == PaymentStatus.SCHEDULED,
            )
            .with_for_update()
        )
        return (await self.session.scalars(stmt)).all()

    async def lock_due(self, now: datetime, limit: int) -> Sequence[PaymentRow]:
        """Scheduled payments ready for the bank; rows another replica is sending are skipped."""
        return (await self.session.scalars(_LOCK_DUE, {"now": now, "limit": limit})).all()

    async def lock_many(self, payment_ids: Sequence[uuid.UUID]) -> Sequence[PaymentRow]:
        """Some payments, locked; rows another transaction holds are skipped."""
        if not payment_ids:
            return []
        return (await self.session.scalars(_LOCK_MANY_PAYMENTS, {"ids": list(payment_ids)})).all()

    async def created_on(self, day: date) -> Sequence[PaymentRow]:
        """The payments created on a (UTC) day."""
        stmt = select(PaymentRow).where(PaymentRow.created_on == day).order_by(PaymentRow.created_at)
        return (await self.session.scalars(stmt)).all()


_DUE: ColumnElement[bool] = and_(
    PaymentRow.status == PaymentStatus.SCHEDULED,
    PaymentRow.hold_reason.is_(None),
    PaymentRow.next_attempt_at <= bindparam("now"),
)
"""A payment ready for the bank at ``now`` (a bind parameter)."""

_LOCK_DUE = (
    select(PaymentRow)
    .where(_DUE)
    .order_by(PaymentRow.next_attempt_at, PaymentRow.id)
    .limit(bindparam("limit", type_=Integer()))
    .with_for_update(skip_locked=True)
)
_LOCK_MANY_PAYMENTS = (
    select(PaymentRow)
    .where(PaymentRow.id.in_(bindparam("ids", expanding=True)))
    .order_by(PaymentRow.status, PaymentRow.updated_at)
    .with_for_update(skip_locked=True)
)


@dataclass(frozen=True)
class AtBank:
    """A payment the bank holds (sent, or settled and maybe coming back), as last seen."""

    payment_id: uuid.UUID
    status: str
    bank_reference: str | None


@dataclass(frozen=True)
class BankWork:
    """What the bank worker has to do: whether payments are due, and which payments to ask the bank about."""

    due: bool
    at_bank: Sequence[AtBank]


def _worklist_statement(*, settled: bool) -> Select[Any]:
    """The bank worker's look at the queues (``bank_worklist``); with ``settled``, parameter ``since`` too."""
    settled_at_bank = (
        and_(PaymentRow.status == PaymentStatus.SETTLED, PaymentRow.settled_at >= bindparam("since"))
        if settled
        else false()
    )
    at_bank = (
        select(PaymentRow.id, PaymentRow.status, PaymentRow.bank_reference, PaymentRow.updated_at)
        .where(or_(PaymentRow.status == PaymentStatus.SENT, settled_at_bank))
        .order_by(PaymentRow.status, PaymentRow.updated_at)  # "sent" sorts before "settled": sent first
        .limit(bindparam("limit", type_=Integer()))
        .subquery("at_bank")
    )
    one = select(literal(1).label("one")).subquery("one")
    return (
        select(
            select(PaymentRow.id).where(_DUE).exists().label("due"),
            at_bank.c.id,
            at_bank.c.status,
            at_bank.c.bank_reference,
        )
        .select_from(one.outerjoin(at_bank, true()))
        .order_by(at_bank.c.status, at_bank.c.updated_at)
    )


_WORKLIST = _worklist_statement(settled=True)
_WORKLIST_SENT_ONLY = _worklist_statement(settled=False)


async def bank_worklist(conn: AsyncConnection, now: datetime, settled_since: datetime | None, limit: int) -> BankWork:
    """The bank worker's look at the queues, one statement, nothing locked (so no transaction is needed).

    Sent payments, and (unless ``settled_since`` is None) settled ones that may still come back, sent
    first and oldest first; plus whether any payment is due. Rows are locked (and checked again) only
    when there is something to change.
    """
    if settled_since is None:
        stmt, params = _WORKLIST_SENT_ONLY, {"now": now, "limit": limit}
    else:
        stmt, params = _WORKLIST, {"now": now, "limit": limit, "since": settled_since}
    rows = (await conn.execute(stmt, params)).all()
    return BankWork(
        due=bool(rows[0][0]),
        at_bank=[AtBank(row[1], row[2], row[3]) for row in rows if row[1] is not None],
    )


class OverpaymentRepository:
    """Amounts to recover."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: OverpaymentRow) -> None:
        """Record an overpayment."""
        self.session.add(row)

    async def of_claim(self, claim_id: str | None, limit: int) -> Sequence[OverpaymentRow]:
        """Overpayments, of one claim or all, oldest first."""
        stmt = select(OverpaymentRow).order_by(OverpaymentRow.recorded_at).limit(limit)
        if claim_id is not None:
            stmt = stmt.where(OverpaymentRow.claim_id == claim_id)
        return (await self.session.scalars(stmt)).all()


# Core inserts (lists of dicts, no ORM objects): the rows are written once and never changed.
_INSERT_BATCHES = insert(metadata.tables[BatchRow.__tablename__])
_INSERT_BATCH_ITEMS = insert(metadata.tables[BatchItemRow.__tablename__])


class BatchRepository:
    """Batches sent to the bank."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_with_items(self, batches: Sequence[dict[str, Any]], items: Sequence[dict[str, Any]]) -> None:
        """Record batches (rows of ``batches``) and their transfers (rows of ``batch_items``): two INSERTs."""
        await self.session.execute(_INSERT_BATCHES, list(batches))
        if items:
            await self.session.execute(_INSERT_BATCH_ITEMS, list(items))

    async def get(self, batch_id: uuid.UUID) -> BatchRow | None:
        """One batch."""
        return await self.session.get(BatchRow, batch_id)

    async def items(self, batch_id: uuid.UUID) -> Sequence[BatchItemRow]:
        """The transfers of a batch, in order."""
        stmt = select(BatchItemRow).where(BatchItemRow.batch_id == batch_id).order_by(BatchItemRow.end_to_end_id)
        return (await self.session.scalars(stmt)).all()

    async def page(self, after: tuple[datetime, uuid.UUID] | None, limit: int) -> Sequence[BatchRow]:
        """Batches, oldest first."""
        stmt = select(BatchRow)
        if after is not None:
            at, last = after
            stmt = stmt.where(or_(BatchRow.created_at > at, and_(BatchRow.created_at == at, BatchRow.id > last)))
        stmt = stmt.order_by(BatchRow.created_at, BatchRow.id).limit(limit)
        return (await self.session.scalars(stmt)).all()


class LedgerRepository:
    """The double-entry ledger."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def record(self, movement: Movement, *, claim_id: str, payment_id: uuid.UUID | None, at: datetime) -> None:
        """Write a balanced movement's postings."""
        movement_id = uuid.uuid4()
        self.session.add_all(
            LedgerEntryRow(
                movement_id=movement_id,
                kind=movement.kind,
                account=p.account,
                amount=p.amount,
                claim_id=claim_id,
                payment_id=payment_id,
                created_at=at,
            )
            for p in movement.postings
        )

    async def balances(self) -> dict[str, Decimal]:
        """Balance per account (debit positive)."""
        stmt = select(LedgerEntryRow.account, func.sum(LedgerEntryRow.amount)).group_by(LedgerEntryRow.account)
        return {account: Decimal(total) for account, total in (await self.session.execute(stmt)).all()}

    async def movement_count(self) -> int:
        """How many movements the ledger holds."""
        stmt = select(func.count(func.distinct(LedgerEntryRow.movement_id)))
        return int((await self.session.execute(stmt)).scalar_one())

    async def unbalanced_movements(self) -> int:
        """How many movements do not sum to zero (always 0 unless the ledger was tampered with)."""
        inner = (
            select(LedgerEntryRow.movement_id)
            .group_by(LedgerEntryRow.movement_id)
            .having(func.sum(LedgerEntryRow.amount) != 0)
            .subquery()
        )
        return int((await self.session.execute(select(func.count()).select_from(inner))).scalar_one())

    async def balances_for_payments(self, payment_ids: Sequence[uuid.UUID]) -> dict[str, Decimal]:
        """Balance per account of the movements of some payments."""
        if not payment_ids:
            return {}
        stmt = (
            select(LedgerEntryRow.account, func.sum(LedgerEntryRow.amount))
            .where(LedgerEntryRow.payment_id.in_(payment_ids))
            .group_by(LedgerEntryRow.account)
        )
        return {account: Decimal(total) for account, total in (await self.session.execute(stmt)).all()}

    async def of_claim(self, claim_id: str) -> Sequence[LedgerEntryRow]:
        """A claim's postings in order."""
        stmt = select(LedgerEntryRow).where(LedgerEntryRow.claim_id == claim_id).order_by(LedgerEntryRow.id)
        return (await self.session.scalars(stmt)).all()


__all__ = [
    "AtBank",
    "BankWork",
    "BatchRepository",
    "DecisionContext",
    "DecisionRepository",
    "LedgerRepository",
    "OverpaymentRepository",
    "PayeeRepository",
    "Payees",
    "PaymentRepository",
    "advisory_locks",
    "bank_worklist",
    "prepare_read",
]

"""Every query of the payment service. Repositories never commit: the unit of work does.

The rows a decision and the bank worker create (decisions, payments, overpayments, batches and their
items, ledger postings) are dicts of column values, not ORM objects, and the bank worker reads the payments it
changes as plain rows (``BankPayment``). What they write is collected per transaction (``_PENDING``) and written
just before it commits, without a unit-of-work flush, by the kit's ``claims_platform.pending_writes``: in one
statement on PostgreSQL (each write's rows as arrays), one per write on SQLite. A query that must see it
(``prepare_read``) has it written first.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Integer,
    Select,
    String,
    Table,
    and_,
    bindparam,
    case,
    column,
    false,
    func,
    literal,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session

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
from claims_platform.db import any_of, existing_transaction_state, transaction_state
from claims_platform.pending_writes import InsertRows, Statements, UpdateRows, Write, WritesAtCommit, write_statements

ZERO = Decimal("0.00")

DECISIONS = metadata.tables[DecisionRow.__tablename__]
PAYMENTS = metadata.tables[PaymentRow.__tablename__]
OVERPAYMENTS = metadata.tables[OverpaymentRow.__tablename__]
BATCHES = metadata.tables[BatchRow.__tablename__]
BATCH_ITEMS = metadata.tables[BatchItemRow.__tablename__]
LEDGER = metadata.tables[LedgerEntryRow.__tablename__]
PAYEES = metadata.tables[ClaimPayeeRow.__tablename__]
PROVIDER_ACCOUNTS = metadata.tables[ProviderAccountRow.__tablename__]

_BANK_WRITES = (
    "status",
    "attempts",
    "next_attempt_at",
    "last_error",
    "failure_reason",
    "retryable",
    "batch_id",
    "bank_reference",
    "updated_at",
    "sent_at",
    "settled_at",
    "failed_at",
    "returned_at",
)
"""The columns the bank worker may change (it reads them all, under the row lock, before it changes any)."""

_WRITES: dict[str, Write] = {
    **{
        table.name: InsertRows(table.name, table, tuple(c.key for c in table.columns if c is not LEDGER.c.id))
        for table in (DECISIONS, PAYMENTS, OVERPAYMENTS, BATCHES, BATCH_ITEMS)
    },
    "payment_changes": UpdateRows("payment_changes", PAYMENTS, ("id", *_BANK_WRITES), key=("id",)),
    LEDGER.name: InsertRows(LEDGER.name, LEDGER, tuple(c.key for c in LEDGER.columns if c is not LEDGER.c.id)),
}
"""The pending writes, in the order they go out (batches before their items): the new rows of each table
(every column but the ledger's serial id), and what the bank worker changed on the payments it locked
(``payment_changes``)."""


class _Pending:
    """The writes of one transaction not made yet: per write (``_WRITES``), rows of values in the order added."""

    __slots__ = ("claims", "rows")

    def __init__(self) -> None:
        self.claims: set[str] = set()
        """The claims whose decisions, payments or overpayments are among them."""
        self.rows: dict[str, list[dict[str, Any]]] = {name: [] for name in _WRITES}

    def take_statements(self, session: Session) -> Statements:
        """The statements making the writes (``write_statements``), and forget them."""
        writes = [(_WRITES[name], rows) for name, rows in self.rows.items()]
        self.claims = set()
        self.rows = {name: [] for name in _WRITES}
        return write_statements(session, writes)


_PENDING = WritesAtCommit("claims_payment.pending", _Pending)
"""The rows the payment service writes at commit (``claims_platform.pending_writes``)."""


def _new_row(table: Table, values: dict[str, Any]) -> dict[str, Any]:
    """A new row of ``table`` to write: every column (each table's rows go in with one statement), those
    ``values`` does not give NULL."""
    unknown = values.keys() - table.c.keys()
    if unknown:
        raise ValueError(f"not columns of {table.name}: {sorted(unknown)}")
    return {column.key: values.get(column.key) for column in table.columns}


def _is_postgres(session: AsyncSession) -> bool:
    bind = session.bind
    return bind is not None and bind.dialect.name == "postgresql"


_HELD_LOCKS = "claims_payment.advisory_locks"
_LOCK_ONE = text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))")
_LOCK_ONE_SHARED = text("SELECT pg_advisory_xact_lock_shared(hashtextextended(:k, 0))")
_LOCK_MANY = text(
    "SELECT CASE WHEN s THEN pg_advisory_xact_lock_shared(hashtextextended(k, 0))"
    " ELSE pg_advisory_xact_lock(hashtextextended(k, 0)) END"
    " FROM unnest(CAST(:keys AS text[]), CAST(:shared AS boolean[])) WITH ORDINALITY AS t(k, s, n) ORDER BY n"
)


async def advisory_locks(session: AsyncSession, *keys: str, shared: Collection[str] = ()) -> None:
    """Transaction-scoped PostgreSQL advisory locks, taken in the order given, in one statement: those also in
    ``shared`` in share mode (they exclude only the same lock taken exclusively), the others exclusively.

    Locks this transaction already holds are not asked for again (a consumer may hand several events of
    one claim to one transaction); one held in share mode is asked for again when wanted exclusively. SQLite
    has one writer at a time anyway.
    """
    if not _is_postgres(session):
        return
    # Per innermost transaction: a lock taken in a savepoint that is rolled back is released. Key: shared?
    held: dict[str, bool] = transaction_state(session, _HELD_LOCKS, dict)  # (empty before the first statement)
    wanted = {k: k in shared for k in keys if k not in held or (held[k] and k not in shared)}
    if not wanted:
        return
    with session.no_autoflush:  # a lock reads nothing: what is pending can wait for the next query or the commit
        if len(wanted) == 1:
            ((key, in_share_mode),) = wanted.items()
            await session.execute(_LOCK_ONE_SHARED if in_share_mode else _LOCK_ONE, {"k": key})
        else:
            await session.execute(_LOCK_MANY, {"keys": list(wanted), "shared": list(wanted.values())})
    now_held: dict[str, bool] = transaction_state(session, _HELD_LOCKS, dict)
    now_held.update(wanted)


def claim_lock(claim_id: str) -> str:
    """The advisory lock key serialising the work on one claim across transactions and replicas."""
    return f"payment-claim:{claim_id}"


def provider_lock(provider_id: str) -> str:
    """The advisory lock key serialising a change of a hospital's account (exclusive) with the work that looks it
    up (shared: the claims of one hospital do not wait for each other)."""
    return f"payment-provider:{provider_id}"


async def prepare_read(session: AsyncSession, *claim_ids: str) -> None:
    """Make what this session changed visible to the next query about some claims (or about accounts only).

    A consumer may apply several events in one session. When earlier events wrote something for one of
    these claims, it is written now (flushed, and the rows added in the transaction inserted), so the query
    sees it; so is any hospital account not yet written. Otherwise what they wrote stays pending and goes
    out with one statement per table when the unit of work commits. Run the query itself under
    ``no_autoflush``.
    """
    sync = session.sync_session
    pending = _PENDING.current(sync)
    claims = set(claim_ids)
    if any(isinstance(obj, ProviderAccountRow) for obj in sync.new) or (
        claims and any(getattr(obj, "claim_id", None) in claims for obj in (*sync.new, *sync.dirty))
    ):
        await session.flush()
    if pending is not None and not claims.isdisjoint(pending.claims):
        await _PENDING.write_now(session)


class _ReadAhead:
    """Answers read for a transaction's events before they are handled (``PayeeRepository.add_claims``,
    ``DecisionRepository.read_contexts``: a consumer's prepare step), each taken once by its event's handler
    (a claim's later events in the batch read for themselves)."""

    __slots__ = ("contexts", "scheduled")

    def __init__(self) -> None:
        self.scheduled: dict[str, list[uuid.UUID]] = {}
        """Per claim whose payee details were recorded (``PayeeRepository.add_claims``): its payments not yet
        sent, locked (their ids)."""
        self.contexts: dict[tuple[str, int, str], DecisionContext] = {}
        """Per decision (claim, version, hospital): its context (``DecisionRepository.read_contexts``)."""


_READ_AHEAD = "claims_payment.read_ahead"


def _read_ahead(session: AsyncSession) -> _ReadAhead:
    """The current transaction's answers read ahead (kept per transaction, ``transaction_state``)."""
    return transaction_state(session, _READ_AHEAD, _ReadAhead)


# The hot statements are built once, with bind parameters: only their parameters change per call (what
# SQLAlchemy would otherwise construct, and compute a cache key for, on every call).

_NEW_PAYEES = InsertRows("payees", PAYEES, tuple(PAYEES.c.keys()))
"""Claims' payee details as rows (``Write.rows``: on PostgreSQL one array parameter per column)."""


def _scheduled_ids(claims: ColumnElement[bool]) -> Select[Any]:
    """The payments not yet sent of the ``claims``, locked: their claims and ids (usually there is none)."""
    return (
        select(PAYMENTS.c.claim_id, PAYMENTS.c.id)
        .where(claims, PAYMENTS.c.status == PaymentStatus.SCHEDULED)
        .with_for_update()
    )


def _new_payees_statement() -> Select[Any]:
    """PostgreSQL: ``_NEW_PAYEES`` inserted (first wins) as a CTE, which does not change the payments read:
    those of the claims (array parameter ``claim_ids``) not yet sent, locked."""
    rows = _NEW_PAYEES.rows()
    new_payees = (
        postgresql.insert(PAYEES)
        .from_select(list(_NEW_PAYEES.columns), select(*(rows.c[c] for c in _NEW_PAYEES.columns)))
        .on_conflict_do_nothing()
        .cte("new_payees")
    )
    claims = any_of(PAYMENTS.c.claim_id, "claim_ids")
    return _scheduled_ids(claims).add_cte(new_payees)


_SCHEDULED_WITH_NEW_PAYEES = _new_payees_statement()
_SCHEDULED_SQLITE = _scheduled_ids(PAYMENTS.c.claim_id.in_(bindparam("claim_ids", expanding=True)))
_SCHEDULED_ROWS = (
    select(PaymentRow).where(PaymentRow.id.in_(bindparam("ids", expanding=True))).order_by(PaymentRow.decision_version)
)


class PayeeRepository:
    """Claims' payees and hospitals' bank accounts."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_provider(self, provider_id: str, *, exclusive: bool = False) -> None:
        """Serialise account registration (``exclusive``) with the payments that look the account up (shared:
        they do not wait for each other) (lock order: claim, provider)."""
        key = provider_lock(provider_id)
        await advisory_locks(self.session, key, shared=() if exclusive else (key,))

    async def add_claims(self, rows: Sequence[dict[str, Any]]) -> None:
        """Record claims' payee details (rows of ``claim_payees``, one per claim), each once (first wins), and
        lock the claims' payments not yet sent, for ``scheduled`` to hand over.

        One statement on PostgreSQL (the insert rides along as a CTE; it does not change the payments read),
        which locks the payments and returns their ids; two on SQLite. For all the claims of a consumer's
        batch whose first event is their details, ahead of it (``PaymentService.prepare_batch``): no event
        of the batch sees the claim before that one; or for one claim, when its event is handled.
        """
        claim_ids = [row["claim_id"] for row in rows]
        await prepare_read(self.session, *claim_ids)
        with self.session.no_autoflush:
            if _is_postgres(self.session):
                params = {"claim_ids": claim_ids, **_NEW_PAYEES.params(rows, self.session.get_bind().dialect)}
                found = (await self.session.execute(_SCHEDULED_WITH_NEW_PAYEES, params)).all()
            else:
                await self.session.execute(sqlite.insert(PAYEES).on_conflict_do_nothing(), list(rows))
                found = (await self.session.execute(_SCHEDULED_SQLITE, {"claim_ids": claim_ids})).all()
        scheduled = _read_ahead(self.session).scheduled
        for claim_id in claim_ids:
            scheduled[claim_id] = []
        for claim_id, payment_id in found:
            scheduled[claim_id].append(payment_id)

    async def scheduled(self, claim_id: str) -> Sequence[PaymentRow] | None:
        """The payments not yet sent (locked, oldest first) of a claim whose payee details ``add_claims``
        recorded in this transaction; once (None the next time, and for any other claim).

        Loaded as ORM rows only when there are some (a decision came before the claim's details), with a
        statement of their own.
        """
        read: _ReadAhead | None = existing_transaction_state(self.session, _READ_AHEAD)
        ids = read.scheduled.pop(claim_id, None) if read is not None else None
        if ids is None:
            return None
        if not ids:
            return []
        with self.session.no_autoflush:
            return (await self.session.scalars(_SCHEDULED_ROWS, {"ids": ids})).all()  # locked by add_claims

    async def claim(self, claim_id: str) -> ClaimPayeeRow | None:
        """A claim's payee details."""
        return await self.session.get(ClaimPayeeRow, claim_id)

    async def provider(self, provider_id: str, *, for_update: bool = False) -> ProviderAccountRow | None:
        """A hospital's bank account."""
        return await self.session.get(ProviderAccountRow, provider_id, with_for_update=for_update)

    def add_provider(self, row: ProviderAccountRow) -> None:
        """Register a hospital's bank account."""
        self.session.add(row)


@dataclass(frozen=True, slots=True)
class Account:
    """A bank account as a payment copies it (the number encrypted)."""

    holder: str | None
    account_number_enc: str
    account_last4: str | None
    bank_code: str | None

    @classmethod
    def of_claim(cls, row: ClaimPayeeRow | None) -> Account | None:
        """The member's account of a claim's payee details (None: no details yet, or no account in them)."""
        if row is None or row.account_number_enc is None:
            return None
        return cls(row.account_holder, row.account_number_enc, row.account_last4, row.bank_code)

    @classmethod
    def of_provider(cls, row: ProviderAccountRow | None) -> Account | None:
        """A hospital's registered account (None: not registered)."""
        if row is None:
            return None
        return cls(row.holder, row.account_number_enc, row.account_last4, row.bank_code)


@dataclass(frozen=True)
class Payees:
    """The accounts a claim's payment may go to (None: not known yet)."""

    member: Account | None
    """The member's, from the claim's payee details (``ClaimReceived``)."""
    provider: Account | None
    """The hospital's, registered through the API."""


@dataclass(frozen=True, slots=True)
class ClaimPayment:
    """One of a claim's payments, as a decision reads it (locked)."""

    id: uuid.UUID
    amount: Decimal
    status: str
    superseded_by_version: int | None


@dataclass(frozen=True)
class DecisionContext:
    """What applying a decision needs to know about its claim."""

    seen: bool
    """This decision (claim and version) was recorded before."""
    latest: int | None
    waived: Decimal
    overpaid: Decimal
    payments: Sequence[ClaimPayment]
    payees: Payees


_CLAIM_PAYMENT_COLUMNS = tuple(PAYMENTS.c[name] for name in ClaimPayment.__dataclass_fields__)
_MEMBER_ACCOUNT = (
    PAYEES.c.account_holder,
    PAYEES.c.account_number_enc,
    PAYEES.c.account_last4,
    PAYEES.c.bank_code,
)
_PROVIDER_ACCOUNT = (
    PROVIDER_ACCOUNTS.c.holder,
    PROVIDER_ACCOUNTS.c.account_number_enc,
    PROVIDER_ACCOUNTS.c.account_last4,
    PROVIDER_ACCOUNTS.c.bank_code,
)


def _context_statement(*, batch: bool) -> Select[Any]:
    """Columns: seen, latest, waived, overpaid; a payment's (``ClaimPayment``); the member's account
    (``_MEMBER_ACCOUNT``); the hospital's (``_PROVIDER_ACCOUNT``). One row per payment (one without any).

    Of one decision (parameters ``claim_id``, ``version``, ``provider_id``); with ``batch`` of several
    (PostgreSQL: array parameters ``claim_ids``, ``versions``, ``provider_ids``), each row led by its claim.
    Built on the tables, not the ORM classes: a Core statement, so the session runs it without the ORM's
    compile and result machinery (it reads plain rows anyway)."""
    claim_id: ColumnElement[Any]
    version: ColumnElement[Any]
    provider_id: ColumnElement[Any]
    if batch:
        wanted = (
            func.unnest(
                bindparam("claim_ids", type_=postgresql.ARRAY(String())),
                bindparam("versions", type_=postgresql.ARRAY(Integer())),
                bindparam("provider_ids", type_=postgresql.ARRAY(String())),
            )
            .table_valued(column("claim_id", String()), column("version", Integer()), column("provider_id", String()))
            .render_derived(name="wanted")
        )
        claim_id, version, provider_id = wanted.c.claim_id, wanted.c.version, wanted.c.provider_id
    else:
        claim_id, version, provider_id = (
            bindparam("claim_id", type_=String()),
            bindparam("version", type_=Integer()),
            bindparam("provider_id", type_=String()),
        )
    decided = select(
        func.count(case((DECISIONS.c.decision_version == version, 1))).label("seen"),
        func.max(DECISIONS.c.decision_version).label("latest"),
        func.coalesce(func.sum(DECISIONS.c.recovery_waived), 0).label("waived"),
    ).where(DECISIONS.c.claim_id == claim_id)
    overpaid = (
        select(func.coalesce(func.sum(OVERPAYMENTS.c.amount), 0))
        .where(OVERPAYMENTS.c.claim_id == claim_id)
        .scalar_subquery()
    )
    locked = (
        select(*_CLAIM_PAYMENT_COLUMNS, PAYMENTS.c.decision_version.label("version"))
        .where(PAYMENTS.c.claim_id == claim_id)
        .with_for_update()
    )
    decided_of: FromClause
    locked_of: FromClause
    if batch:  # each claim's, next to it
        decided_of, locked_of = decided.lateral("decided"), locked.lateral("locked")
        stmt = select(claim_id).select_from(wanted.join(decided_of, true()))  # (one row per claim)
    else:
        decided_of, locked_of = decided.subquery("decided"), locked.subquery("locked")
        stmt = select().select_from(decided_of)
    return (
        stmt.add_columns(
            decided_of.c.seen,
            decided_of.c.latest,
            decided_of.c.waived,
            overpaid,
            *(locked_of.c[name] for name in ClaimPayment.__dataclass_fields__),
            *_MEMBER_ACCOUNT,
            *_PROVIDER_ACCOUNT,
        )
        .outerjoin(locked_of, true())
        .outerjoin(PAYEES, PAYEES.c.claim_id == claim_id)
        .outerjoin(PROVIDER_ACCOUNTS, PROVIDER_ACCOUNTS.c.provider_id == provider_id)
        .order_by(locked_of.c.version)
    )


_CONTEXT = _context_statement(batch=False)
"""A decision's context (``DecisionRepository.context``)."""
_CONTEXTS = _context_statement(batch=True)
"""Several decisions' contexts at once (``DecisionRepository.read_contexts``, PostgreSQL)."""


def _context_of(rows: Sequence[Sequence[Any]]) -> DecisionContext:
    """A decision's context from its rows of ``_CONTEXT`` (those of ``_CONTEXTS`` without the claim)."""
    first = rows[0]
    member, provider = first[8:12], first[12:16]
    return DecisionContext(
        seen=bool(first[0]),
        latest=first[1],
        waived=Decimal(first[2]),
        overpaid=Decimal(first[3]),
        payments=[ClaimPayment(*row[4:8]) for row in rows if row[4] is not None],
        payees=Payees(
            member=Account(*member) if member[1] is not None else None,
            provider=Account(*provider) if provider[1] is not None else None,
        ),
    )


class DecisionRepository:
    """Decisions seen, per claim."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_claim(self, claim_id: str, *, provider_id: str | None = None) -> None:
        """Serialise the work on one claim across transactions and replicas (PostgreSQL advisory lock).

        With ``provider_id``, the hospital's lock too (shared), after the claim's (the lock order everywhere).
        """
        await self.lock_claims([(claim_id, provider_id)])

    async def lock_claims(self, claims: Sequence[tuple[str, str | None]]) -> None:
        """``lock_claim`` for several ``(claim_id, provider_id)`` at once, in one statement: every claim's lock,
        then every hospital's (shared: only a registration of its account takes it exclusively), each in key
        order."""
        claim_keys = sorted({claim_lock(claim_id) for claim_id, _ in claims})
        provider_keys = sorted({provider_lock(provider_id) for _, provider_id in claims if provider_id is not None})
        await advisory_locks(self.session, *claim_keys, *provider_keys, shared=provider_keys)

    async def context(self, claim_id: str, version: int, provider_id: str) -> DecisionContext:
        """Everything a decision needs, in one statement (``_CONTEXT``): what the claim's decisions and
        overpayments add up to, its payments (locked, oldest first), its payee details and the hospital's
        account. Unless ``read_contexts`` read it in this transaction (then without a statement, once)."""
        read: _ReadAhead | None = existing_transaction_state(self.session, _READ_AHEAD)
        if read is not None and (ahead := read.contexts.pop((claim_id, version, provider_id), None)) is not None:
            return ahead
        await prepare_read(self.session, claim_id)
        params = {"claim_id": claim_id, "version": version, "provider_id": provider_id}
        with self.session.no_autoflush:
            rows = (await self.session.execute(_CONTEXT, params)).all()
        return _context_of(rows)

    async def read_contexts(self, decisions: Sequence[tuple[str, int, str]]) -> None:
        """The contexts of several decisions ``(claim_id, version, provider_id)`` of distinct claims, in one
        statement (``_CONTEXTS``, their payments locked in claim order), for ``context`` to hand over.

        A consumer's prepare step reads those of a batch's claims at once, ahead of their events: only
        claims no event of the transaction has touched yet, whose first event is the decision, so what is
        read is what the decision's handler would read. On PostgreSQL; on SQLite (whose consumer takes one
        event at a time) each is read when its event is handled.
        """
        if not _is_postgres(self.session):
            return
        ordered = sorted(decisions)
        claim_ids = [claim_id for claim_id, _, _ in ordered]
        await prepare_read(self.session, *claim_ids)
        params = {
            "claim_ids": claim_ids,
            "versions": [version for _, version, _ in ordered],
            "provider_ids": [provider_id for _, _, provider_id in ordered],
        }
        with self.session.no_autoflush:
            rows = (await self.session.execute(_CONTEXTS, params)).all()
        of_claim: dict[str, list[Sequence[Any]]] = {claim_id: [] for claim_id in claim_ids}
        for row in rows:
            of_claim[row[0]].append(row[1:])
        contexts = _read_ahead(self.session).contexts
        for claim_id, version, provider_id in ordered:
            contexts[(claim_id, version, provider_id)] = _context_of(of_claim[claim_id])

    def add(self, values: dict[str, Any]) -> None:
        """Record a decision (a row of ``decisions``, written just before the transaction commits)."""
        pending = _PENDING.collector(self.session)
        pending.rows[DECISIONS.name].append(_new_row(DECISIONS, values))
        pending.claims.add(values["claim_id"])


class PaymentRepository:
    """Payments and their queues."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, values: dict[str, Any]) -> None:
        """A new payment, a row of ``payments`` (the unique constraint on ``(claim_id, decision_version)``
        guards the identity); written just before the transaction commits."""
        pending = _PENDING.collector(self.session)
        pending.rows[PAYMENTS.name].append(_new_row(PAYMENTS, values))
        pending.claims.add(values["claim_id"])

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

    async def lock_due(self, now: datetime, limit: int) -> list[BankPayment]:
        """Scheduled payments ready for the bank; rows another replica is sending are skipped."""
        with self.session.no_autoflush:
            rows = await self.session.execute(_LOCK_DUE, {"now": now, "limit": limit})
        return [BankPayment(*row) for row in rows]

    async def lock_many(self, payment_ids: Sequence[uuid.UUID]) -> list[BankPayment]:
        """Some payments, locked; rows another transaction holds are skipped."""
        if not payment_ids:
            return []
        with self.session.no_autoflush:
            rows = await self.session.execute(_LOCK_MANY_PAYMENTS, {"ids": list(payment_ids)})
        return [BankPayment(*row) for row in rows]

    async def supersede(self, payment_ids: Sequence[uuid.UUID], version: int, now: datetime) -> None:
        """Mark payments (locked) as replaced by a claim's decision ``version``: one UPDATE."""
        await self.session.execute(_SUPERSEDE, {"ids": list(payment_ids), "version": version, "now": now})

    def save(self, payments: Iterable[BankPayment]) -> None:
        """Write back what the bank worker changed on payments it locked (every column it may change), just
        before the transaction commits."""
        _PENDING.collector(self.session).rows["payment_changes"].extend(
            {"id": p.id, **{key: getattr(p, key) for key in _BANK_WRITES}} for p in payments
        )

    async def created_on(self, day: date) -> Sequence[PaymentRow]:
        """The payments created on a (UTC) day."""
        stmt = select(PaymentRow).where(PaymentRow.created_on == day).order_by(PaymentRow.created_at)
        return (await self.session.scalars(stmt)).all()


_DUE: ColumnElement[bool] = and_(
    PAYMENTS.c.status == PaymentStatus.SCHEDULED,
    PAYMENTS.c.hold_reason.is_(None),
    PAYMENTS.c.next_attempt_at <= bindparam("now"),
)
"""A payment ready for the bank at ``now`` (a bind parameter)."""


@dataclass(slots=True)
class BankPayment:
    """A payment as the bank worker reads it (locked) and changes it: plain values, not an ORM row.

    The fields are the columns the worker reads, then those it may change (``_BANK_WRITES``), in the order
    of ``_BANK_COLUMNS``; ``PaymentRepository.save`` writes the latter back.
    """

    id: uuid.UUID
    claim_id: str
    decision_version: int
    payee: str
    currency: str
    amount: Decimal
    creditor_name: str | None
    account_number_enc: str | None
    account_last4: str | None
    bank_code: str | None
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    failure_reason: str | None
    retryable: bool | None
    batch_id: uuid.UUID | None
    bank_reference: str | None
    updated_at: datetime
    sent_at: datetime | None
    settled_at: datetime | None
    failed_at: datetime | None
    returned_at: datetime | None


_BANK_COLUMNS = tuple(PAYMENTS.c[name] for name in BankPayment.__dataclass_fields__)
assert set(_BANK_WRITES) <= set(BankPayment.__dataclass_fields__)

# Core statements (on the table, not the ORM class): the session runs them without the ORM's machinery.
_LOCK_DUE = (
    select(*_BANK_COLUMNS)
    .where(_DUE)
    .order_by(PAYMENTS.c.next_attempt_at, PAYMENTS.c.id)
    .limit(bindparam("limit", type_=Integer()))
    .with_for_update(skip_locked=True)
)
_LOCK_MANY_PAYMENTS = (
    select(*_BANK_COLUMNS)
    .where(PAYMENTS.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(PAYMENTS.c.status, PAYMENTS.c.updated_at)
    .with_for_update(skip_locked=True)
)
_SUPERSEDE = (
    update(PAYMENTS)
    .where(PAYMENTS.c.id.in_(bindparam("ids", expanding=True)))
    .values(superseded_by_version=bindparam("version"), updated_at=bindparam("now"))
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

    def add(self, values: dict[str, Any]) -> None:
        """Record an overpayment (a row of ``overpayments``, written just before the transaction commits)."""
        pending = _PENDING.collector(self.session)
        pending.rows[OVERPAYMENTS.name].append(_new_row(OVERPAYMENTS, values))
        pending.claims.add(values["claim_id"])

    async def of_claim(self, claim_id: str | None, limit: int) -> Sequence[OverpaymentRow]:
        """Overpayments, of one claim or all, oldest first."""
        stmt = select(OverpaymentRow).order_by(OverpaymentRow.recorded_at).limit(limit)
        if claim_id is not None:
            stmt = stmt.where(OverpaymentRow.claim_id == claim_id)
        return (await self.session.scalars(stmt)).all()


class BatchRepository:
    """Batches sent to the bank."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add_with_items(self, batches: Sequence[dict[str, Any]], items: Sequence[dict[str, Any]]) -> None:
        """Record batches (rows of ``batches``) and their transfers (rows of ``batch_items``), written as they
        are (insert-only rows) just before the transaction commits."""
        pending = _PENDING.collector(self.session)
        pending.rows[BATCHES.name].extend(batches)
        pending.rows[BATCH_ITEMS.name].extend(items)

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
        """Write a balanced movement's postings (just before the transaction commits, in the order recorded)."""
        movement_id = uuid.uuid4()
        _PENDING.collector(self.session).rows[LEDGER.name].extend(
            {
                "movement_id": movement_id,
                "kind": movement.kind,
                "account": p.account,
                "amount": p.amount,
                "claim_id": claim_id,
                "payment_id": payment_id,
                "created_at": at,
            }
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
    "Account",
    "AtBank",
    "BankPayment",
    "BankWork",
    "BatchRepository",
    "ClaimPayment",
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

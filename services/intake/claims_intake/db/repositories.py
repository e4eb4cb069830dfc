"""Every query of the intake service. Repositories never commit: the unit of work does.

The archive consumer applies its events on plain rows (``ArchiveRepository``), not ORM objects: what they
change is collected per transaction (``_ARCHIVE``) and written just before it commits, without a unit-of-work
flush, by the kit's ``claims_platform.pending_writes``: in one statement on PostgreSQL (each write's rows as
arrays), one per write (or claim) on SQLite. A new claim's rows are INSERTed the same way
(``NewClaimRepository.write``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Date,
    Delete,
    Insert,
    Select,
    Table,
    Text,
    Update,
    and_,
    any_,
    bindparam,
    case,
    cast,
    exists,
    func,
    inspect,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, class_mapper

from claims_intake.db.models import (
    ClaimLineRow,
    ClaimRow,
    ComplaintRow,
    DenialReasonRow,
    DocumentContentRow,
    DocumentRow,
    FeedbackRow,
    IdempotencyKeyRow,
    PaymentRow,
    TimelineRow,
    metadata,
)
from claims_platform.db import any_of
from claims_platform.pending_writes import InsertRows, Statements, UpdateRows, Write, WritesAtCommit, write_statements
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
_document_contents = metadata.tables[DocumentContentRow.__tablename__]
_timeline = metadata.tables[TimelineRow.__tablename__]
_denial_reasons = metadata.tables[DenialReasonRow.__tablename__]
_idempotency_keys = metadata.tables[IdempotencyKeyRow.__tablename__]

_TAKE_KEY: Insert = (
    sqlite.insert(_idempotency_keys)
    .on_conflict_do_nothing(index_elements=["client", "key"])
    .returning(_idempotency_keys.c.id)
)
"""Take an idempotency key, on SQLite (on PostgreSQL it is taken in the statement of the claim's rows,
``_insert_if_key_taken``)."""

_KEY_COLUMNS = ("client", "key", "request_hash", "claim_id", "response", "created_at")

_KEY_TAKEN = (
    postgresql.insert(_idempotency_keys)
    .values({column: bindparam(f"key__{column}", type_=_idempotency_keys.c[column].type) for column in _KEY_COLUMNS})
    .on_conflict_do_nothing(index_elements=["client", "key"])
    .returning(_idempotency_keys.c.id)
    .cte("key_taken")
)
"""The idempotency key taken (bind parameters ``key__<column>``): its id, no row when it was taken before."""


@functools.lru_cache(maxsize=64)
def _insert_if_key_taken(writes: tuple[InsertRows, ...]) -> Select[Any]:
    """One statement (PostgreSQL): take the idempotency key (``_KEY_TAKEN``) and, only if it was free, INSERT
    the writes' rows (as ``InsertRows`` does, each a data-modifying CTE); it returns the key's id, no row when
    the key was taken before (and then nothing is inserted). Built once per combination of writes."""
    free = exists(select(_KEY_TAKEN.c.id))
    inserts = [write.insert(where=free).cte(f"write_{i}") for i, write in enumerate(writes)]
    return select(_KEY_TAKEN.c.id).add_cte(*inserts)


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
    DocumentContentRow: _document_contents,
    TimelineRow: _timeline,
}
"""What ``NewClaimRepository`` writes, in the order the foreign keys need (the claim first)."""

_COLUMNS = {
    cls: tuple((attr.key, attr.columns[0].key) for attr in class_mapper(cls).column_attrs) for cls in _NEW_ROW_TABLES
}


def _set_values(obj: Any) -> dict[str, Any]:
    """The column values a new object was given, by column name: what the unit of work would INSERT (an
    attribute never set is left out, so the column takes its default or NULL, as it would)."""
    given = inspect(obj).dict
    return {column: given[attr] for attr, column in _COLUMNS[type(obj)] if attr in given}


# ------------------------------------------------------------------------------------------------- the archive

_payments = metadata.tables[PaymentRow.__tablename__]


@dataclass
class ArchivedPayment:
    """A payment as the archive consumer knows it (``updated_at`` only once this transaction changed it)."""

    payment_id: str
    claim_id: str
    decision_version: int
    status: str
    updated_at: datetime | None = None


@dataclass
class ArchivedClaim:
    """A claim the archive consumer's transaction has locked, as plain values: the facts its status is derived
    from and what the consumer's events change. ``payments`` are the claim's, ordered by decision version and
    payment id, those added since at the end. ``updated_at`` is known only once this transaction changed the
    claim, the columns after ``decided`` only once it applied a decision; ``locale`` is the member's."""

    claim_id: str
    status: str
    lifecycle: str
    decision_version: int | None
    outcome: str | None
    pended: bool
    pended_at: datetime | None
    disputed_version: int | None
    first_paid_at: datetime | None
    first_decided_at: datetime | None
    deciders: list[str]
    locale: str | None
    payments: list[ArchivedPayment] = field(default_factory=list)
    updated_at: datetime | None = None
    decided: bool = False
    payable: Decimal | None = None
    decision_automatic: bool | None = None
    decision: dict[str, Any] | None = None


_CLAIM_VALUES = (
    _claims.c.claim_id,
    _claims.c.status,
    _claims.c.lifecycle,
    _claims.c.decision_version,
    _claims.c.outcome,
    _claims.c.pended,
    _claims.c.pended_at,
    _claims.c.disputed_version,
    _claims.c.first_paid_at,
    _claims.c.first_decided_at,
    _claims.c.deciders,
    _claims.c.data[("member", "locale")].as_string(),
)
_PAYMENT_VALUES = (_payments.c.payment_id, _payments.c.claim_id, _payments.c.decision_version, _payments.c.status)

_ARCHIVED_CLAIM = (
    select(*_CLAIM_VALUES, *_PAYMENT_VALUES)
    .select_from(
        _claims.outerjoin(
            _payments,
            or_(_payments.c.claim_id == _claims.c.claim_id, _payments.c.payment_id == bindparam("payment_id")),
        )
    )
    .where(_claims.c.claim_id == bindparam("claim_id"))
    .order_by(_payments.c.decision_version, _payments.c.payment_id)
    .with_for_update(of=_claims)
)
"""A claim locked for update (``_CLAIM_VALUES``), with its payments and the payment ``payment_id`` (whichever
claim it is of; NULL for none) (``_PAYMENT_VALUES``)."""

_ARCHIVED_CLAIMS = (
    select(*_CLAIM_VALUES, *_PAYMENT_VALUES)
    .select_from(_claims.outerjoin(_payments, _payments.c.claim_id == _claims.c.claim_id))
    .where(any_of(_claims.c.claim_id, "claim_ids"))
    .order_by(_claims.c.claim_id, _payments.c.decision_version, _payments.c.payment_id)
    .with_for_update(of=_claims)
)
"""Several claims locked for update, in claim id order (``_CLAIM_VALUES``), each with its payments
(``_PAYMENT_VALUES``; NULL for none); PostgreSQL. One statement text whatever the number of claims."""

_PAYMENT = select(*_PAYMENT_VALUES).where(_payments.c.payment_id == bindparam("payment_id"))
_PAYMENTS = select(*_PAYMENT_VALUES).where(any_of(_payments.c.payment_id, "payment_ids"))
"""Several payments by id (PostgreSQL; one statement text whatever their number)."""

_CLAIM_WRITES = ("claim_id", "status", "updated_at", "pended", "pended_at", "first_paid_at", "first_decided_at")
_DECISION_WRITES = ("decision_version", "outcome", "payable", "decision_automatic", "deciders")


@dataclass(frozen=True)
class _ReplacePerClaim(Write):
    """A write that replaces something of each claim its rows name (a dict by claim id): its parameters are the
    rows it lists (``listed``) and ``<name>__claims``, the claims whose rows are replaced (``claims_of``)."""

    def listed(self, rows: Any) -> list[dict[str, Any]]:
        """The rows, one dict each."""
        raise NotImplementedError

    def params(self, rows: Any, dialect: Dialect) -> dict[str, Any]:
        """The listed rows' arrays, and ``<name>__claims``."""
        return {**super().params(self.listed(rows), dialect), f"{self.name}__claims": list(rows)}

    def claims_of(self) -> ColumnElement[bool]:
        """The table's rows of the claims ``<name>__claims`` lists."""
        claim_id = self.table.c.claim_id
        return claim_id == any_(bindparam(f"{self.name}__claims", type_=postgresql.ARRAY(claim_id.type)))


@dataclass(frozen=True)
class _ReplaceLines(_ReplacePerClaim):
    """Each line of the claims its rows name (claim → line number → payable) gets its payable among them, 0.00
    when it has none (a claim listed with no line sets them all to 0.00)."""

    def listed(self, rows: dict[str, dict[int, Decimal]]) -> list[dict[str, Any]]:
        """One row per listed line."""
        return [
            {"claim_id": claim_id, "line_no": line_no, "payable": payable}
            for claim_id, payables in rows.items()
            for line_no, payable in payables.items()
        ]

    def statements(self) -> list[Insert | Update | Delete]:
        """One UPDATE of the claims' lines."""
        rows = self.rows()
        payable = (
            select(rows.c.payable)
            .where(rows.c.claim_id == _lines.c.claim_id, rows.c.line_no == _lines.c.line_no)
            .scalar_subquery()
        )
        zero = literal(Decimal("0.00"), _lines.c.payable.type)
        return [_lines.update().where(self.claims_of()).values(payable=func.coalesce(payable, zero))]

    def row_statements(self, rows: dict[str, dict[int, Decimal]]) -> Statements:
        """One UPDATE per claim (``_set_line_payables``)."""
        statements: Statements = []
        for claim_id, payables in rows.items():
            params: dict[str, Any] = {"p_claim_id": claim_id}
            for i, (line_no, payable) in enumerate(payables.items()):
                params[f"line_{i}"], params[f"payable_{i}"] = line_no, payable
            statements.append((_set_line_payables(len(payables)), params))
        return statements


@dataclass(frozen=True)
class _ReplaceDenialReasons(_ReplacePerClaim):
    """The denial reasons of the claims its rows name (claim → reasons) become those."""

    def listed(self, rows: dict[str, list[str]]) -> list[dict[str, Any]]:
        """One row per reason."""
        return [{"claim_id": claim_id, "reason": reason} for claim_id, reasons in rows.items() for reason in reasons]

    def statements(self) -> list[Insert | Update | Delete]:
        """A DELETE of the reasons no longer given, then an INSERT of the new ones."""
        rows = self.rows()
        kept = (
            select(rows.c.reason)
            .where(rows.c.claim_id == _denial_reasons.c.claim_id, rows.c.reason == _denial_reasons.c.reason)
            .exists()
        )
        return [
            _denial_reasons.delete().where(self.claims_of(), ~kept),
            postgresql.insert(_denial_reasons)
            .from_select(["claim_id", "reason"], select(rows.c.claim_id, rows.c.reason))
            .on_conflict_do_nothing(),
        ]

    def row_statements(self, rows: dict[str, list[str]]) -> Statements:
        """A DELETE per claim, then one INSERT executed for each reason."""
        statements: Statements = [(_CLEAR_DENIAL_REASONS, {"claim_id": claim_id}) for claim_id in rows]
        listed = self.listed(rows)
        if listed:
            statements.append((_denial_reasons.insert(), listed))
        return statements


# The archive's writes, in the order they go out. In one statement (PostgreSQL) they all see the rows as they were
# before it, so no two touch the same row: a claim is in ``claims`` or ``decided_claims``, a payment in
# ``new_payments`` or ``payments``.
_CLAIM_CHANGES = UpdateRows("claims", _claims, _CLAIM_WRITES, key=("claim_id",))
_DECIDED_CLAIMS = UpdateRows(
    "decided_claims", _claims, (*_CLAIM_WRITES, *_DECISION_WRITES, "decision"), key=("claim_id",)
)
_NEW_PAYMENTS = InsertRows(
    "new_payments",
    _payments,
    ("payment_id", "claim_id", "decision_version", "amount", "currency", "payee", "status", "updated_at"),
)
_PAYMENT_CHANGES = UpdateRows("payments", _payments, ("payment_id", "status", "updated_at"), key=("payment_id",))
_LINES = _ReplaceLines("lines", _lines, ("claim_id", "line_no", "payable"))
_DENIAL_REASONS = _ReplaceDenialReasons("denial_reasons", _denial_reasons, ("claim_id", "reason"))
_TIMELINE = InsertRows(
    "timeline", _timeline, ("claim_id", "at", "actor", "kind", "reason", "status_from", "status_to", "details")
)


class _Archive:
    """What the archive consumer's current transaction locked and read (``claims``) and the writes it has not
    made yet."""

    __slots__ = (
        "changed_claims",
        "changed_payments",
        "claims",
        "decided_lines",
        "denial_reasons",
        "new_payments",
        "read_payments",
        "timeline",
    )

    def __init__(self) -> None:
        self.claims: dict[str, ArchivedClaim] = {}
        self.read_payments: dict[str, ArchivedPayment | None] = {}  # read by id, as read (None: no such payment)
        self.changed_claims: dict[str, ArchivedClaim] = {}
        self.new_payments: dict[str, tuple[ArchivedPayment, dict[str, Any]]] = {}
        self.changed_payments: dict[str, ArchivedPayment] = {}
        self.decided_lines: dict[str, dict[int, Decimal]] = {}
        self.denial_reasons: dict[str, list[str]] = {}
        self.timeline: list[dict[str, Any]] = []

    def payment(self, payment_id: str) -> ArchivedPayment | None:
        """A payment this transaction added or changed."""
        if payment_id in self.new_payments:
            return self.new_payments[payment_id][0]
        return self.changed_payments.get(payment_id)

    def payment_of(self, read: ArchivedPayment) -> ArchivedPayment:
        """A payment as read from the table, or as this transaction has it when it has it (read with its claim,
        added or changed)."""
        claim = self.claims.get(read.claim_id)
        if claim is not None:
            mine = next((p for p in claim.payments if p.payment_id == read.payment_id), None)
            if mine is not None:
                return mine
        return self.payment(read.payment_id) or read

    def changes_payments_of(self, claim_id: str) -> bool:
        """Whether a payment of the claim is among the pending writes."""
        return any(p.claim_id == claim_id for p, _ in self.new_payments.values()) or any(
            p.claim_id == claim_id for p in self.changed_payments.values()
        )

    def take_statements(self, session: Session) -> Statements:
        """The statements making the writes, in order (``write_statements``), and forget them."""
        claims: list[dict[str, Any]] = []
        decided: list[dict[str, Any]] = []
        for c in self.changed_claims.values():
            values = {column: getattr(c, column) for column in _CLAIM_WRITES}
            if c.decided:
                decided.append({**values, **{column: getattr(c, column) for column in _DECISION_WRITES}})
                decided[-1]["decision"] = c.decision
            else:
                claims.append(values)
        new_payments = [
            {**values, "status": p.status, "updated_at": p.updated_at} for p, values in self.new_payments.values()
        ]
        payments = [
            {"payment_id": p.payment_id, "status": p.status, "updated_at": p.updated_at}
            for p in self.changed_payments.values()
            if p.payment_id not in self.new_payments
        ]
        writes = [
            (_CLAIM_CHANGES, claims),
            (_DECIDED_CLAIMS, decided),
            (_NEW_PAYMENTS, new_payments),
            (_PAYMENT_CHANGES, payments),
            (_LINES, self.decided_lines),
            (_DENIAL_REASONS, self.denial_reasons),
            (_TIMELINE, self.timeline),
        ]
        self.changed_claims, self.new_payments, self.changed_payments = {}, {}, {}
        self.decided_lines, self.denial_reasons, self.timeline = {}, {}, []
        return write_statements(session, writes)


_ARCHIVE = WritesAtCommit("claims_intake.archive", _Archive)
"""The archive state of a transaction; its writes are made just before it commits
(``claims_platform.pending_writes``)."""


class ArchiveRepository:
    """The archive consumer's claims and payments as plain rows (``ArchivedClaim``). Each claim is read once
    per transaction, locked; what the consumer changes goes out just before the transaction commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def loaded(self, claim_id: str) -> ArchivedClaim | None:
        """The claim as this transaction has it, when it read it here."""
        archive = _ARCHIVE.current(self.session)
        return None if archive is None else archive.claims.get(claim_id)

    async def locked(
        self, claim_id: str, *, payment_id: str | None = None
    ) -> tuple[ArchivedClaim | None, ArchivedPayment | None]:
        """The claim locked for update until the transaction ends, as this transaction has it (read once with its
        payments, in one query); None when the claim is unknown. With it, the payment ``payment_id`` when it
        exists but is not among the claim's payments (another claim's, most oddly), as this transaction has it.

        Nothing the session holds pending is flushed first (the consumer adds no ORM objects): what the
        archive has pending is in its ``ArchivedClaim`` and ``ArchivedPayment`` objects, and when it changed a
        payment of a claim not read yet it is written before that claim is read."""
        archive = _ARCHIVE.collector(self.session)
        claim = archive.claims.get(claim_id)
        connection = await self.session.connection()
        if claim is not None:
            if payment_id is None or any(p.payment_id == payment_id for p in claim.payments):
                return claim, None
            known = archive.payment(payment_id)
            if known is not None:
                return claim, known
            if payment_id in archive.read_payments:
                read = archive.read_payments[payment_id]
            else:
                found = (await connection.execute(_PAYMENT, {"payment_id": payment_id})).one_or_none()
                read = None if found is None else ArchivedPayment(*found)
            return claim, None if read is None else archive.payment_of(read)
        if archive.changes_payments_of(claim_id):
            await _ARCHIVE.write_now(self.session)
        params = {"claim_id": claim_id, "payment_id": payment_id}
        rows = (await connection.execute(_ARCHIVED_CLAIM, params)).all()
        if not rows:
            return None, None
        values = len(_CLAIM_VALUES)
        claim = ArchivedClaim(*rows[0][:values])
        elsewhere = None
        for row in rows:
            if row[values] is None:
                continue
            payment = ArchivedPayment(*row[values:])
            if payment.claim_id == claim_id:
                claim.payments.append(payment)
            else:
                elsewhere = archive.payment_of(payment)
        archive.claims[claim_id] = claim
        return claim, elsewhere

    async def lock_claims(self, claim_ids: Sequence[str], payment_ids: Sequence[str] = ()) -> None:
        """Lock and read, in one query, the claims of a batch of events this transaction has not read yet (the
        unknown ones are left to ``locked``, which finds them unknown); ``locked`` and ``loaded`` then have
        them. Then, in one more query, the payments ``payment_ids`` (those the batch's payment events name)
        that are none of these claims' and this transaction does not have: ``locked`` answers from them
        instead of asking for each. On PostgreSQL; on SQLite each is read when its event is handled.

        Locked in claim id order, the order two such transactions would both lock them in."""
        if self.session.get_bind().dialect.name != "postgresql":
            return
        archive = _ARCHIVE.collector(self.session)
        wanted = sorted({claim_id for claim_id in claim_ids if claim_id not in archive.claims})
        if not wanted:
            return
        if any(archive.changes_payments_of(claim_id) for claim_id in wanted):
            await _ARCHIVE.write_now(self.session)
        connection = await self.session.connection()
        values = len(_CLAIM_VALUES)
        for row in (await connection.execute(_ARCHIVED_CLAIMS, {"claim_ids": wanted})).all():
            claim = archive.claims.get(row[0])
            if claim is None:
                claim = archive.claims[row[0]] = ArchivedClaim(*row[:values])
            if row[values] is not None:
                claim.payments.append(ArchivedPayment(*row[values:]))
        held = {p.payment_id for claim in archive.claims.values() for p in claim.payments}
        unread = sorted(
            {
                payment_id
                for payment_id in payment_ids
                if payment_id not in held
                and payment_id not in archive.read_payments
                and archive.payment(payment_id) is None
            }
        )
        if unread:
            found = {
                row[0]: ArchivedPayment(*row) for row in await connection.execute(_PAYMENTS, {"payment_ids": unread})
            }
            for payment_id in unread:
                archive.read_payments[payment_id] = found.get(payment_id)

    def claim_changed(self, claim: ArchivedClaim) -> None:
        """Write the claim at commit: its status, ``updated_at``, first paid and decided times, and when it is
        ``decided`` the decision's columns."""
        _ARCHIVE.collector(self.session).changed_claims[claim.claim_id] = claim

    def add_payment(self, payment: ArchivedPayment, *, amount: Decimal, currency: str, payee: str) -> None:
        """INSERT a new payment at commit (with its status and ``updated_at`` as they are then)."""
        values = {
            "payment_id": payment.payment_id,
            "claim_id": payment.claim_id,
            "decision_version": payment.decision_version,
            "amount": amount,
            "currency": currency,
            "payee": payee,
        }
        _ARCHIVE.collector(self.session).new_payments[payment.payment_id] = (payment, values)

    def payment_changed(self, payment: ArchivedPayment) -> None:
        """Write the payment's status and ``updated_at`` at commit."""
        _ARCHIVE.collector(self.session).changed_payments[payment.payment_id] = payment

    def set_decided_lines(self, claim_id: str, payables: dict[int, Decimal]) -> None:
        """At commit, the latest decision's payable on each line (0.00 for a line the decision does not list);
        a later call for the claim replaces this one."""
        _ARCHIVE.collector(self.session).decided_lines[claim_id] = dict(payables)

    def set_denial_reasons(self, claim_id: str, reasons: Sequence[str]) -> None:
        """At commit, replace the claim's denial reasons with the latest decision's; a later call for the claim
        replaces this one."""
        _ARCHIVE.collector(self.session).denial_reasons[claim_id] = list(dict.fromkeys(reasons))

    def add_timeline(self, entry: dict[str, Any]) -> None:
        """INSERT a timeline entry (``TimelineRow``'s fields but ``id``) at commit, after those added before."""
        _ARCHIVE.collector(self.session).timeline.append(entry)


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

    def add_content(self, document_id: str, content: bytes) -> None:
        """Keep a new document's content in the database, in the transaction (its ``DocumentRow`` added too)."""
        self.add(DocumentContentRow(document_id=document_id, content=content))

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

    async def add_feedback(self, survey_id: str, claim_id: str, score: int, received_at: datetime) -> None:
        """Keep a survey answer, unless one with this survey_id is kept already (one statement either way)."""
        insert = _insert(self.session)
        stmt = (
            insert(FeedbackRow.__table__)
            .values(survey_id=survey_id, claim_id=claim_id, score=score, received_at=received_at)
            .on_conflict_do_nothing(index_elements=["survey_id"])
        )
        await self.session.execute(stmt)

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
        """Keep a new ``ClaimRow``, ``ClaimLineRow``, ``DocumentRow``, ``DocumentContentRow`` or ``TimelineRow``
        for ``write`` (which takes its values as they are then)."""
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

    def add_content(self, document_id: str, content: bytes) -> None:
        """Keep a new document's content for ``write`` (with the document's row)."""
        self.add_values(DocumentContentRow, {"document_id": document_id, "content": content})

    async def write(self, idempotency: dict[str, Any] | None = None) -> bool:
        """INSERT what was kept, in groups of rows of one table and set of columns, the claim first: on PostgreSQL
        all in one statement (a round trip, not one per group); on SQLite one statement per group.

        With ``idempotency`` (an ``IdempotencyKeyRow``'s values but ``id``), the key is taken first and the rows
        are INSERTed only if it was free, on PostgreSQL in that same statement: False when the key was taken
        before (nothing is written; see ``for_key``). A concurrent request with the same key waits on the unique
        index until this transaction ends; the key and its answer are kept only if it commits.
        """
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
        writes = [(InsertRows(f"g{i}", table, columns), same) for i, (table, columns, same) in enumerate(groups)]
        sync = self.session.sync_session
        dialect = sync.get_bind().dialect
        if idempotency is not None and dialect.name == "postgresql":
            params = {f"key__{column}": idempotency[column] for column in _KEY_COLUMNS}
            for write, same in writes:
                params.update(write.params(same, dialect))
            statement = _insert_if_key_taken(tuple(write for write, _ in writes))
            return (await self.session.execute(statement, params)).scalar_one_or_none() is not None
        if idempotency is not None:
            params = {column: idempotency[column] for column in _KEY_COLUMNS}
            if (await self.session.execute(_TAKE_KEY, params)).scalar_one_or_none() is None:
                return False
        for stmt, params in write_statements(sync, writes):
            await self.session.execute(stmt, params)
        return True


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

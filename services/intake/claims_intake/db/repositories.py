"""Every query of the intake service. Repositories never commit: the unit of work does.

The archive consumer applies its events on plain rows (``ArchiveRepository``), not ORM objects: what they
change is collected (``_Archive``) and written just before the transaction commits, without a unit-of-work
flush: in one statement on PostgreSQL (each write's rows as arrays), one per table (or claim) on SQLite.
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
    Date,
    Delete,
    Insert,
    Table,
    Text,
    Update,
    and_,
    any_,
    bindparam,
    case,
    cast,
    event,
    func,
    inspect,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction, class_mapper

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

_PAYMENT = select(*_PAYMENT_VALUES).where(_payments.c.payment_id == bindparam("payment_id"))

_CLAIM_WRITES = ("claim_id", "status", "updated_at", "pended", "pended_at", "first_paid_at", "first_decided_at")
_DECISION_WRITES = ("decision_version", "outcome", "payable", "decision_automatic", "deciders")

_ARCHIVE_WRITES: dict[str, tuple[Table, tuple[str, ...]]] = {
    "claims": (_claims, _CLAIM_WRITES),
    "decided_claims": (_claims, (*_CLAIM_WRITES, *_DECISION_WRITES, "decision")),
    "new_payments": (
        _payments,
        ("payment_id", "claim_id", "decision_version", "amount", "currency", "payee", "status", "updated_at"),
    ),
    "payments": (_payments, ("payment_id", "status", "updated_at")),
    "lines": (_lines, ("claim_id", "line_no", "payable")),
    "denial_reasons": (_denial_reasons, ("claim_id", "reason")),
    "timeline": (_timeline, ("claim_id", "at", "actor", "kind", "reason", "status_from", "status_to", "details")),
}
"""The archive's pending writes, in the order they go out: per write its table and the columns of its rows.

``new_payments`` and ``timeline`` INSERT their rows in the order added; ``claims``, ``decided_claims`` and
``payments`` UPDATE the row the first column names (one row each, a claim in one of the two). ``lines`` and
``denial_reasons`` replace what the claims their bind parameter ``<name>__claims`` lists have: each line of
such a claim gets its payable among the rows, 0.00 when it has none; the denial reasons become the rows."""

_INSERTS = ("new_payments", "timeline")


def _unnest(name: str) -> Any:
    """The rows of a pending write as a table of arrays (bind parameters ``<name>__<column>``, PostgreSQL)."""
    table, columns = _ARCHIVE_WRITES[name]
    return (
        func.unnest(
            *(
                bindparam(f"{name}__{column}", type_=postgresql.ARRAY(table.c[column].type, dimensions=1))
                for column in columns
            )
        )
        .table_valued(*columns, with_ordinality="row_no")
        .render_derived(name=f"w_{name}")
    )


def _claims_of(name: str) -> Any:
    table, _ = _ARCHIVE_WRITES[name]
    return table.c.claim_id == any_(bindparam(f"{name}__claims", type_=postgresql.ARRAY(table.c.claim_id.type)))


def _archive_write(name: str) -> list[Insert | Update | Delete]:
    """A pending write as statements on arrays (PostgreSQL), in order."""
    table, columns = _ARCHIVE_WRITES[name]
    rows = _unnest(name)
    if name in _INSERTS:
        listed = select(*(rows.c[c] for c in columns)).order_by(rows.c.row_no)
        return [table.insert().from_select(list(columns), listed)]
    if name == "lines":
        payable = (
            select(rows.c.payable)
            .where(rows.c.claim_id == _lines.c.claim_id, rows.c.line_no == _lines.c.line_no)
            .scalar_subquery()
        )
        zero = literal(Decimal("0.00"), _lines.c.payable.type)
        return [_lines.update().where(_claims_of(name)).values(payable=func.coalesce(payable, zero))]
    if name == "denial_reasons":
        kept = (
            select(rows.c.reason)
            .where(rows.c.claim_id == _denial_reasons.c.claim_id, rows.c.reason == _denial_reasons.c.reason)
            .exists()
        )
        return [
            _denial_reasons.delete().where(_claims_of(name), ~kept),
            postgresql.insert(_denial_reasons)
            .from_select(["claim_id", "reason"], select(rows.c.claim_id, rows.c.reason))
            .on_conflict_do_nothing(),
        ]
    key, *changed = columns
    return [table.update().where(table.c[key] == rows.c[key]).values({column: rows.c[column] for column in changed})]


@functools.lru_cache(maxsize=64)
def _archive_writes(names: tuple[str, ...]) -> Insert | Update | Delete:
    """The archive's pending writes ``names`` in one statement (PostgreSQL): the last one, the others as
    data-modifying CTEs before it (all see the rows as they were before it: no two touch the same row)."""
    *others, last = [stmt for name in names for stmt in _archive_write(name)]
    return last.add_cte(*(stmt.cte(f"write_{i}") for i, stmt in enumerate(others)))


@functools.lru_cache(maxsize=8)
def _archive_write_sqlite(name: str) -> Insert | Update:
    """A pending write of rows elsewhere than on PostgreSQL: one statement executed for each row (bind
    parameters ``w_<column>``)."""
    table, columns = _ARCHIVE_WRITES[name]
    if name in _INSERTS:
        return table.insert().values({column: bindparam(f"w_{column}") for column in columns})
    key, *changed = columns
    return (
        table.update()
        .where(table.c[key] == bindparam(f"w_{key}"))
        .values({column: bindparam(f"w_{column}") for column in changed})
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
        "timeline",
        "transaction",
    )

    def __init__(self, transaction: SessionTransaction) -> None:
        self.transaction = transaction
        self.claims: dict[str, ArchivedClaim] = {}
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

    def take(self) -> list[tuple[str, list[str], list[dict[str, Any]]]]:
        """The writes to make, in order, each with the claims it replaces rows of (``lines``, ``denial_reasons``)
        and its rows (those with neither left out), and forget them."""
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
        lines = [
            {"claim_id": claim_id, "line_no": line_no, "payable": payable}
            for claim_id, payables in self.decided_lines.items()
            for line_no, payable in payables.items()
        ]
        reasons = [
            {"claim_id": claim_id, "reason": reason}
            for claim_id, unique in self.denial_reasons.items()
            for reason in unique
        ]
        writes = [
            ("claims", [], claims),
            ("decided_claims", [], decided),
            ("new_payments", [], new_payments),
            ("payments", [], payments),
            ("lines", list(self.decided_lines), lines),
            ("denial_reasons", list(self.denial_reasons), reasons),
            ("timeline", [], self.timeline),
        ]
        self.changed_claims, self.new_payments, self.changed_payments = {}, {}, {}
        self.decided_lines, self.denial_reasons, self.timeline = {}, {}, []
        return [(name, of, rows) for name, of, rows in writes if of or rows]


_ARCHIVE = "claims_intake.archive"
_WRITES_ARCHIVE = "claims_intake.writes_archive"


def _archive(session: AsyncSession) -> _Archive:
    """The archive state of the session's current transaction; its writes are made just before it commits.

    A rolled-back transaction forgets them. They are never added inside a savepoint (whose rollback would
    have to drop the ones added in it): that is refused.
    """
    sync = session.sync_session
    if sync.get_nested_transaction() is not None:
        raise RuntimeError("archive rows are not added inside a savepoint")
    transaction = sync.get_transaction() or sync.begin()
    archive: _Archive | None = sync.info.get(_ARCHIVE)
    if archive is None or archive.transaction is not transaction:
        archive = sync.info[_ARCHIVE] = _Archive(transaction)
        if _WRITES_ARCHIVE not in sync.info:
            sync.info[_WRITES_ARCHIVE] = True
            event.listen(sync, "before_commit", _write_archive_at_commit)
    return archive


def _current_archive(sync: Session) -> _Archive | None:
    archive: _Archive | None = sync.info.get(_ARCHIVE)
    if archive is None or archive.transaction is not sync.get_transaction():
        return None
    return archive


def _archive_statements(
    sync: Session, writes: list[tuple[str, list[str], list[dict[str, Any]]]]
) -> list[tuple[Any, Any]]:
    """The statements (with their parameters) making pending archive writes: one on PostgreSQL; elsewhere
    (SQLite) one per write of rows (a list of rows), and per claim for ``lines`` and ``denial_reasons``."""
    bind = sync.bind
    if bind is None or bind.dialect.name != "postgresql":
        statements: list[tuple[Any, Any]] = []
        for name, of, rows in writes:
            if name == "lines":
                for claim_id in of:
                    listed = [row for row in rows if row["claim_id"] == claim_id]
                    line_params: dict[str, Any] = {"p_claim_id": claim_id}
                    for i, row in enumerate(listed):
                        line_params[f"line_{i}"], line_params[f"payable_{i}"] = row["line_no"], row["payable"]
                    statements.append((_set_line_payables(len(listed)), line_params))
            elif name == "denial_reasons":
                statements.extend((_CLEAR_DENIAL_REASONS, {"claim_id": claim_id}) for claim_id in of)
                if rows:
                    statements.append((_denial_reasons.insert(), rows))
            else:
                statements.append(
                    (_archive_write_sqlite(name), [{f"w_{key}": value for key, value in row.items()} for row in rows])
                )
        return statements
    params: dict[str, Any] = {}
    for name, of, rows in writes:
        params.update({f"{name}__{column}": [row[column] for row in rows] for column in _ARCHIVE_WRITES[name][1]})
        if name in ("lines", "denial_reasons"):
            params[f"{name}__claims"] = of
    return [(_archive_writes(tuple(name for name, _, _ in writes)), params)]


def _write_archive_at_commit(sync: Session) -> None:
    """Before a commit: the transaction's pending archive writes."""
    archive = _current_archive(sync)
    if archive is not None:
        writes = archive.take()
        if writes:
            connection = sync.connection()
            for stmt, params in _archive_statements(sync, writes):
                connection.execute(stmt, params)


class ArchiveRepository:
    """The archive consumer's claims and payments as plain rows (``ArchivedClaim``). Each claim is read once
    per transaction, locked; what the consumer changes goes out just before the transaction commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def loaded(self, claim_id: str) -> ArchivedClaim | None:
        """The claim as this transaction has it, when it read it here."""
        archive = _current_archive(self.session.sync_session)
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
        archive = _archive(self.session)
        claim = archive.claims.get(claim_id)
        connection = await self.session.connection()
        if claim is not None:
            if payment_id is None or any(p.payment_id == payment_id for p in claim.payments):
                return claim, None
            known = archive.payment(payment_id)
            if known is not None:
                return claim, known
            found = (await connection.execute(_PAYMENT, {"payment_id": payment_id})).one_or_none()
            return claim, None if found is None else archive.payment_of(ArchivedPayment(*found))
        if archive.changes_payments_of(claim_id):
            await self._write(archive)
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

    async def _write(self, archive: _Archive) -> None:
        """Make the archive's pending writes now."""
        writes = archive.take()
        if writes:
            connection = await self.session.connection()
            for stmt, params in _archive_statements(self.session.sync_session, writes):
                await connection.execute(stmt, params)

    def claim_changed(self, claim: ArchivedClaim) -> None:
        """Write the claim at commit: its status, ``updated_at``, first paid and decided times, and when it is
        ``decided`` the decision's columns."""
        _archive(self.session).changed_claims[claim.claim_id] = claim

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
        _archive(self.session).new_payments[payment.payment_id] = (payment, values)

    def payment_changed(self, payment: ArchivedPayment) -> None:
        """Write the payment's status and ``updated_at`` at commit."""
        _archive(self.session).changed_payments[payment.payment_id] = payment

    def set_decided_lines(self, claim_id: str, payables: dict[int, Decimal]) -> None:
        """At commit, the latest decision's payable on each line (0.00 for a line the decision does not list);
        a later call for the claim replaces this one."""
        _archive(self.session).decided_lines[claim_id] = dict(payables)

    def set_denial_reasons(self, claim_id: str, reasons: Sequence[str]) -> None:
        """At commit, replace the claim's denial reasons with the latest decision's; a later call for the claim
        replaces this one."""
        _archive(self.session).denial_reasons[claim_id] = list(dict.fromkeys(reasons))

    def add_timeline(self, entry: dict[str, Any]) -> None:
        """INSERT a timeline entry (``TimelineRow``'s fields but ``id``) at commit, after those added before."""
        _archive(self.session).timeline.append(entry)


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

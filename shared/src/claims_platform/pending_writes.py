"""Writes made at commit: rows a transaction creates or changes, written just before it commits in as few
statements as possible, instead of through the ORM's unit of work (whose flush costs several times the CPU
of the statements).

Two parts:

* ``WritesAtCommit``: one collector per transaction (made by a factory the service gives), which is asked
  for its statements just before the transaction commits (and, when asked, before every ORM flush), or
  earlier with ``write_now`` when a query must see them. A rolled-back transaction forgets them. Nothing is
  collected inside a savepoint, whose rollback would have to drop what was collected in it: that is refused.
* ``InsertRows`` / ``UpdateRows`` and ``write_statements``: the statements making writes of rows. On
  PostgreSQL one statement for them all: each write's rows go as one array parameter per column
  (``unnest``), the writes chained as data-modifying CTEs, so the statement's text depends only on which
  writes there are (built once per combination), not on how many rows. Elsewhere (SQLite) one statement
  per write, executed for each row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import JSON, Delete, Executable, Insert, Table, Text, Update, bindparam, cast, event, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import TableValuedAlias

from claims_platform.db import existing_transaction_state, transaction_state

Statements = list[tuple[Executable, Any]]
"""Statements with their parameters (a dict, or a list of dicts: executed once per row)."""


class Collector(Protocol):
    """What a transaction collected to write at commit."""

    def take_statements(self, session: Session) -> Statements:
        """The statements making what was collected, in order; what was collected is forgotten."""


C = TypeVar("C", bound=Collector)


class WritesAtCommit(Generic[C]):
    """Per transaction, a collector made by ``factory``, whose statements are executed just before the
    transaction commits; with ``before_flush``, before every ORM flush too (an ORM row may refer to them).

    ``name`` keys the collector in the session's ``info``: one per service and kind of writes.
    """

    def __init__(self, name: str, factory: Callable[[], C], *, before_flush: bool = False) -> None:
        self.name = name
        self.factory = factory
        self.before_flush = before_flush
        self._listening = f"{name}.listening"

    def collector(self, session: AsyncSession) -> C:
        """The current transaction's collector (made, and the transaction begun, if there is none yet).

        Raises RuntimeError inside a savepoint.
        """
        sync = session.sync_session
        if sync.get_nested_transaction() is not None:
            raise RuntimeError(f"{self.name}: nothing is collected to write at commit inside a savepoint")
        if sync.get_transaction() is None:
            sync.begin()
        collector = transaction_state(sync, self.name, self.factory)
        if self._listening not in sync.info:
            sync.info[self._listening] = True
            event.listen(sync, "before_commit", self._write)
            if self.before_flush:
                event.listen(sync, "before_flush", self._write_before_flush)
        return collector

    def current(self, session: AsyncSession | Session) -> C | None:
        """The current transaction's collector, None when none was made in it (a savepoint's is its transaction's)."""
        collector: C | None = existing_transaction_state(session, self.name, outer=True)
        return collector

    async def write_now(self, session: AsyncSession) -> None:
        """Write what the current transaction collected now, for a query to see it."""
        if self.current(session) is not None:
            await session.run_sync(self._write)

    def _write(self, session: Session) -> None:
        collector = self.current(session)
        if collector is not None:
            with session.no_autoflush:
                for stmt, params in collector.take_statements(session):
                    session.execute(stmt, params)

    def _write_before_flush(self, session: Session, *_: Any) -> None:
        self._write(session)


# ----------------------------------------------------------------------------------- the statements of rows


@dataclass(frozen=True)
class Write:
    """A write of rows into ``table``, each row a dict giving (at least) ``columns``.

    On PostgreSQL its rows are the arrays ``<name>__<column>`` (``rows``); ``name`` must be unique among the
    writes of one statement. A subclass says what to do with them (``statements``) and what to do on SQLite
    (``row_statements``); it may take its rows as something else than a list of dicts (``params``).
    """

    name: str
    table: Table
    columns: tuple[str, ...]

    def statements(self) -> list[Insert | Update | Delete]:
        """What it does on PostgreSQL, on ``rows`` (several statements are chained like several writes)."""
        raise NotImplementedError

    def row_statements(self, rows: Any) -> Statements:
        """What it does elsewhere (SQLite)."""
        raise NotImplementedError

    def params(self, rows: Any, dialect: Dialect) -> dict[str, Any]:
        """Its rows as the parameters of ``rows`` (PostgreSQL): one list per column, in row order; a JSON
        column's values as text (serialized as the ORM does)."""
        params: dict[str, Any] = {}
        for column in self.columns:
            values = [row[column] for row in rows]
            type_ = self.table.c[column].type
            if isinstance(type_, JSON):
                to_text = _json_text(type_, dialect)
                values = [to_text(value) for value in values]
            params[f"{self.name}__{column}"] = values
        return params

    def rows(self) -> TableValuedAlias:
        """The rows as a table (PostgreSQL): ``unnest`` of the array parameters, with a ``row_no`` (their order)."""
        arrays = (
            bindparam(f"{self.name}__{column}", type_=postgresql.ARRAY(_array_item(self.table, column), dimensions=1))
            for column in self.columns
        )
        return (
            func.unnest(*arrays)
            .table_valued(*self.columns, with_ordinality="row_no")
            .render_derived(name=f"w_{self.name}")
        )

    def value(self, rows: TableValuedAlias, column: str) -> ColumnElement[Any]:
        """A column of ``rows`` as the table's type (a JSON column comes as text)."""
        type_ = self.table.c[column].type
        return cast(rows.c[column], type_) if isinstance(type_, JSON) else rows.c[column]


@dataclass(frozen=True)
class InsertRows(Write):
    """INSERT the rows, in the order given."""

    def statements(self) -> list[Insert | Update | Delete]:
        """INSERT … SELECT from ``rows``, in their order."""
        return [self.insert()]

    def insert(self, where: ColumnElement[bool] | None = None) -> Insert:
        """INSERT … SELECT from ``rows``, in their order; with ``where``, only if it holds (e.g. an EXISTS on
        an earlier CTE of the same statement)."""
        rows = self.rows()
        listed = select(*(self.value(rows, column) for column in self.columns)).order_by(rows.c.row_no)
        if where is not None:
            listed = listed.where(where)
        return self.table.insert().from_select(list(self.columns), listed)

    def row_statements(self, rows: Sequence[dict[str, Any]]) -> Statements:
        """One INSERT, executed for each row."""
        return [(self.table.insert(), [{column: row[column] for column in self.columns} for row in rows])]


@dataclass(frozen=True)
class UpdateRows(Write):
    """UPDATE the table's row each row names by its ``key`` columns (among ``columns``) to its other columns."""

    key: tuple[str, ...] = ("id",)

    def statements(self) -> list[Insert | Update | Delete]:
        """UPDATE … FROM ``rows``."""
        rows = self.rows()
        changed = {column: self.value(rows, column) for column in self.columns if column not in self.key}
        match = (self.table.c[column] == rows.c[column] for column in self.key)
        return [self.table.update().where(*match).values(changed)]

    def row_statements(self, rows: Sequence[dict[str, Any]]) -> Statements:
        """One UPDATE (bind parameters ``w_<column>``), executed for each row."""
        return [(_update_one(self), [{f"w_{column}": row[column] for column in self.columns} for row in rows])]


def write_statements(session: Session, writes: Sequence[tuple[Write, Any]]) -> Statements:
    """The statements making ``writes`` (each with its rows), in order; those without rows are left out.

    On PostgreSQL one statement: the last write's, the others' as data-modifying CTEs before it (they see
    the tables as they were before the statement, and foreign keys are checked at its end, so a row may
    refer to one of an earlier write). Elsewhere (SQLite) each write's ``row_statements``.
    """
    writes = [(write, rows) for write, rows in writes if rows]
    if not writes:
        return []
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        return [statement for write, rows in writes for statement in write.row_statements(rows)]
    params: dict[str, Any] = {}
    for write, rows in writes:
        params.update(write.params(rows, dialect))
    return [(_chained(tuple(write for write, _ in writes)), params)]


@lru_cache(maxsize=128)
def _chained(writes: tuple[Write, ...]) -> Executable:
    """The writes' statements as one (PostgreSQL), built once per combination."""
    *others, last = [stmt for write in writes for stmt in write.statements()]
    return last.add_cte(*(stmt.cte(f"write_{i}") for i, stmt in enumerate(others))) if others else last


@lru_cache(maxsize=64)
def _update_one(write: UpdateRows) -> Update:
    """``write`` for one row, bind parameters ``w_<column>`` (a column's own name is reserved in an UPDATE)."""
    table = write.table
    changed: dict[str, Any] = {column: bindparam(f"w_{column}") for column in write.columns if column not in write.key}
    return table.update().where(*(table.c[column] == bindparam(f"w_{column}") for column in write.key)).values(changed)


def _array_item(table: Table, column: str) -> Any:
    type_ = table.c[column].type
    return Text() if isinstance(type_, JSON) else type_


@lru_cache(maxsize=64)
def _json_text(type_: JSON, dialect: Dialect) -> Callable[[Any], Any]:
    """How ``dialect`` serializes a value of the JSON type (the ORM's own way, so the stored text is the same)."""
    process = type_.dialect_impl(dialect).bind_processor(dialect)
    assert process is not None
    return process


__all__ = [
    "Collector",
    "InsertRows",
    "Statements",
    "UpdateRows",
    "Write",
    "WritesAtCommit",
    "write_statements",
]

"""Writes made at commit (``claims_platform.pending_writes``), on PostgreSQL and SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import JSON, ForeignKey, Integer, MetaData, Numeric, String, event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from claims_platform.pending_writes import InsertRows, Statements, UpdateRows, WritesAtCommit, write_statements


class Base(DeclarativeBase):
    metadata = MetaData()


class Parent(Base):
    __tablename__ = "parents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(40))
    data: Mapped[Any] = mapped_column(JSON)


class Child(Base):
    __tablename__ = "children"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # serial: shows the order rows went in
    parent_id: Mapped[int] = mapped_column(ForeignKey("parents.id"))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))


PARENTS = Base.metadata.tables["parents"]
CHILDREN = Base.metadata.tables["children"]
NEW_PARENTS = InsertRows("parents", PARENTS, ("id", "name", "data"))
NEW_CHILDREN = InsertRows("children", CHILDREN, ("parent_id", "amount"))
RENAMES = UpdateRows("renames", PARENTS, ("id", "name", "data"), key=("id",))


class Collected:
    """What a test transaction adds: new parents, their children, parents renamed."""

    def __init__(self) -> None:
        self.parents: list[dict[str, Any]] = []
        self.children: list[dict[str, Any]] = []
        self.renames: list[dict[str, Any]] = []

    def take_statements(self, session: Session) -> Statements:
        writes = [(NEW_PARENTS, self.parents), (NEW_CHILDREN, self.children), (RENAMES, self.renames)]
        self.parents, self.children, self.renames = [], [], []
        return write_statements(session, writes)


PENDING = WritesAtCommit("tests.pending", Collected)
PENDING_BEFORE_FLUSH = WritesAtCommit("tests.pending_before_flush", Collected, before_flush=True)


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """A new database: PostgreSQL, then SQLite."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("fresh_pg_url")
        return url
    return f"sqlite+aiosqlite:///{tmp_path}/t.db"


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a new database with the two tables."""
    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield engine
    await engine.dispose()


def writes_seen(engine: AsyncEngine) -> list[str]:
    """The writing statements the engine executes from now on (one entry per statement, executemany or not)."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE", "WITH"):
            seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    return seen


async def rows(engine: AsyncEngine) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every parent (by id) and child (in the order they went in), read by a connection of its own."""
    async with engine.connect() as conn:
        by_id = select(PARENTS.c.id, PARENTS.c.name, PARENTS.c.data).order_by(PARENTS.c.id)
        parents = (await conn.execute(by_id)).all()
        children = (await conn.execute(select(CHILDREN.c.parent_id, CHILDREN.c.amount).order_by(CHILDREN.c.id))).all()
    return [tuple(r) for r in parents], [tuple(r) for r in children]


DATA = {"lines": [{"no": 1, "amount": "12.30"}], "name": "张三", "none": None, "flag": True}


async def test_rows_of_several_tables_are_written_at_commit_in_one_statement(engine: AsyncEngine) -> None:
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session:
        session.add(Parent(id=1, name="old", data={}))
        await session.commit()
    seen = writes_seen(engine)
    async with sessions() as session:
        collected = PENDING.collector(session)
        collected.parents += [{"id": 2, "name": "two", "data": DATA}, {"id": 3, "name": "three", "data": []}]
        collected.children += [{"parent_id": p, "amount": Decimal(f"{i}.05")} for i, p in enumerate([3, 2, 1, 3, 2])]
        collected.renames.append({"id": 1, "name": "renamed", "data": {"v": 2}})
        assert seen == []  # nothing before the commit
        await session.commit()

    parents, children = await rows(engine)
    assert parents == [(1, "renamed", {"v": 2}), (2, "two", DATA), (3, "three", [])]
    assert children == [(p, Decimal(f"{i}.05")) for i, p in enumerate([3, 2, 1, 3, 2])]  # children of new parents too
    # PostgreSQL: one statement for the three writes; SQLite: one per write (each executed for its rows).
    assert len(seen) == (1 if engine.dialect.name == "postgresql" else 3)


async def test_nothing_is_written_when_the_transaction_rolls_back(engine: AsyncEngine) -> None:
    sessions = async_sessionmaker(engine)
    seen = writes_seen(engine)
    async with sessions() as session:
        PENDING.collector(session).parents.append({"id": 1, "name": "one", "data": {}})
        await session.rollback()
        PENDING.collector(session).children.append({"parent_id": 2, "amount": Decimal("1.00")})  # a new transaction
        PENDING.collector(session).parents.append({"id": 2, "name": "two", "data": {}})
        await session.commit()
    assert await rows(engine) == ([(2, "two", {})], [(2, Decimal("1.00"))])
    assert len(seen) == (1 if engine.dialect.name == "postgresql" else 2)


async def test_write_now_lets_a_query_of_the_transaction_see_the_rows(engine: AsyncEngine) -> None:
    sessions = async_sessionmaker(engine)
    seen = writes_seen(engine)
    async with sessions() as session:
        PENDING.collector(session).parents.append({"id": 7, "name": "seven", "data": DATA})
        count = select(func.count()).select_from(PARENTS)
        assert (await session.execute(count)).scalar_one() == 0
        await PENDING.write_now(session)
        assert (await session.execute(select(PARENTS.c.data))).scalar_one() == DATA
        await session.commit()  # nothing left to write
    assert len(seen) == 1
    assert (await rows(engine))[0] == [(7, "seven", DATA)]


async def test_nothing_is_collected_inside_a_savepoint(engine: AsyncEngine) -> None:
    async with async_sessionmaker(engine)() as session:
        PENDING.collector(session).parents.append({"id": 1, "name": "one", "data": {}})
        async with session.begin_nested():
            with pytest.raises(RuntimeError, match="savepoint"):
                PENDING.collector(session)
        await session.commit()
    assert (await rows(engine))[0] == [(1, "one", {})]


async def test_before_flush_writes_them_before_the_orm_rows_that_refer_to_them(engine: AsyncEngine) -> None:
    seen = writes_seen(engine)
    async with async_sessionmaker(engine)() as session:
        PENDING_BEFORE_FLUSH.collector(session).parents.append({"id": 4, "name": "four", "data": {}})
        session.add(Child(parent_id=4, amount=Decimal("9.99")))  # its foreign key needs the collected parent
        await session.flush()
        await session.commit()
    assert await rows(engine) == ([(4, "four", {})], [(4, Decimal("9.99"))])
    assert "parents" in seen[0]
    assert "children" in seen[1]
    assert len(seen) == 2

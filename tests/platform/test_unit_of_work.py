"""The unit of work's hooks: callbacks after commit, and state kept for one transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from claims_platform.db import existing_transaction_state, transaction_state


async def test_after_commit_runs_once_per_callback_and_never_after_a_rollback(fresh_pg_url, make_runtime):
    runtime = await make_runtime(fresh_pg_url)
    calls: list[str] = []

    def committed() -> None:
        calls.append("committed")

    async with runtime.db.uow() as uow:
        uow.after_commit(committed)
        uow.after_commit(committed)  # the same callback twice: called once
        uow.after_commit(lambda: calls.append("other"))
        assert calls == []  # not before the commit
    assert calls == ["committed", "other"]

    async def rolled_back() -> None:
        async with runtime.db.uow() as uow:
            uow.after_commit(committed)
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        await rolled_back()
    assert calls == ["committed", "other"]


async def test_transaction_state_lives_as_long_as_its_transaction(fresh_pg_url, make_runtime):
    runtime = await make_runtime(fresh_pg_url)
    async with runtime.db.sessions() as session:
        assert transaction_state(session, "probe", list) is not transaction_state(session, "probe", list)  # none yet
        await session.execute(text("SELECT 1"))
        first: list[int] = transaction_state(session, "probe", list)
        first.append(1)
        assert transaction_state(session, "probe", list) == [1]
        await session.commit()
        await session.execute(text("SELECT 1"))
        assert transaction_state(session, "probe", list) == []  # a new transaction starts afresh


async def test_existing_transaction_state_is_only_what_this_transaction_made(fresh_pg_url, make_runtime):
    runtime = await make_runtime(fresh_pg_url)
    async with runtime.db.sessions() as session:
        await session.execute(text("SELECT 1"))
        assert existing_transaction_state(session, "probe") is None  # nothing made yet, and nothing made by asking
        assert transaction_state(session, "probe", list) == []
        transaction_state(session, "probe", list).append(1)
        assert existing_transaction_state(session, "probe") == [1]
        async with session.begin_nested():
            assert existing_transaction_state(session, "probe") is None  # a savepoint is a transaction of its own
            assert existing_transaction_state(session, "probe", outer=True) == [1]  # the one holding it
        await session.commit()
        await session.execute(text("SELECT 1"))
        assert existing_transaction_state(session, "probe") is None  # made in the transaction that ended

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


async def test_a_consumers_prepare_step_sees_the_new_events_once_before_their_handlers(
    fresh_pg_url, make_runtime, make_event
):
    """``prepare`` runs first in the transaction, once, with the events about to be applied (not the
    ones seen before, a repeat once), and what it does is there for the handlers."""
    import uuid

    from claims_contracts.envelope import EventEnvelope
    from claims_platform.inbox import IdempotentConsumer

    runtime = await make_runtime(fresh_pg_url)
    calls: list[object] = []

    async def prepare(uow, events) -> None:  # type: ignore[no-untyped-def]
        calls.append(("prepare", [e.claim_id for e, _ in events]))
        transaction_state(uow.session, "probe.prepared", set).update(e.claim_id for e, _ in events)

    async def handler(uow, envelope, payload) -> None:  # type: ignore[no-untyped-def]
        calls.append(
            ("handle", envelope.claim_id, envelope.claim_id in transaction_state(uow.session, "probe.prepared", set))
        )

    consumer = IdempotentConsumer("probe", runtime.db, {"ClaimWithdrawn": handler}, prepare=prepare)
    a, b, c = (f"C-{uuid.uuid4().hex[:8]}" for _ in range(3))
    seen, first, second = (
        (EventEnvelope.wrap(make_event(claim), claim_id=claim, producer="test"), make_event(claim))
        for claim in (a, b, c)
    )
    assert await consumer.handle_many([seen]) == [True]
    calls.clear()
    assert await consumer.handle_many([seen, first, second, first]) == [False, True, True, False]
    assert calls == [("prepare", [b, c]), ("handle", b, True), ("handle", c, True)]
    calls.clear()
    assert await consumer.handle_many([seen, first]) == [False, False]
    assert calls == []  # nothing new: no prepare either

"""Every query of the payment service. Repositories never commit: the unit of work does."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from claims_payment.db.models import (
    BatchItemRow,
    BatchRow,
    ClaimPayeeRow,
    DecisionRow,
    LedgerEntryRow,
    OverpaymentRow,
    PaymentRow,
    ProviderAccountRow,
)
from claims_payment.domain.ledger import Movement
from claims_payment.domain.model import Payee, PaymentStatus

ZERO = Decimal("0.00")


def _is_postgres(session: AsyncSession) -> bool:
    bind = session.bind
    return bind is not None and bind.dialect.name == "postgresql"


async def _advisory_lock(session: AsyncSession, key: str) -> None:
    """A transaction-scoped PostgreSQL advisory lock (SQLite has one writer at a time anyway)."""
    if _is_postgres(session):
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": key})


class PayeeRepository:
    """Claims' payees and hospitals' bank accounts."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_provider(self, provider_id: str) -> None:
        """Serialise account registration with the payments that look the account up (lock order: claim, provider)."""
        await _advisory_lock(self.session, f"payment-provider:{provider_id}")

    async def add_claim(self, values: dict[str, Any]) -> bool:
        """Record a claim's payee details once; False when they were already there."""
        dialect: Any = postgresql if _is_postgres(self.session) else sqlite
        stmt = dialect.insert(ClaimPayeeRow).values(**values).on_conflict_do_nothing()
        result = await self.session.execute(stmt)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def claim(self, claim_id: str) -> ClaimPayeeRow | None:
        """A claim's payee details."""
        return await self.session.get(ClaimPayeeRow, claim_id)

    async def provider(self, provider_id: str, *, for_update: bool = False) -> ProviderAccountRow | None:
        """A hospital's bank account."""
        return await self.session.get(ProviderAccountRow, provider_id, with_for_update=for_update)

    def add_provider(self, row: ProviderAccountRow) -> None:
        """Register a hospital's bank account."""
        self.session.add(row)


class DecisionRepository:
    """Decisions seen, per claim."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_claim(self, claim_id: str) -> None:
        """Serialise the work on one claim across transactions and replicas (PostgreSQL advisory lock)."""
        await _advisory_lock(self.session, f"payment-claim:{claim_id}")

    async def get(self, claim_id: str, version: int) -> DecisionRow | None:
        """One decision."""
        return await self.session.get(DecisionRow, (claim_id, version))

    async def latest_version(self, claim_id: str) -> int | None:
        """The highest decision version seen for a claim."""
        stmt = select(func.max(DecisionRow.decision_version)).where(DecisionRow.claim_id == claim_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def waived(self, claim_id: str) -> Decimal:
        """How much open recovery the claim's decisions waived."""
        stmt = select(func.coalesce(func.sum(DecisionRow.recovery_waived), 0)).where(DecisionRow.claim_id == claim_id)
        return Decimal((await self.session.execute(stmt)).scalar_one())

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

    async def scheduled_for_claim(self, claim_id: str) -> Sequence[PaymentRow]:
        """A claim's payments not yet sent (held or due), locked."""
        stmt = (
            select(PaymentRow)
            .where(PaymentRow.claim_id == claim_id, PaymentRow.status == PaymentStatus.SCHEDULED)
            .with_for_update()
        )
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
        stmt = (
            select(PaymentRow)
            .where(
                PaymentRow.status == PaymentStatus.SCHEDULED,
                PaymentRow.hold_reason.is_(None),
                PaymentRow.next_attempt_at <= now,
            )
            .order_by(PaymentRow.next_attempt_at, PaymentRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return (await self.session.scalars(stmt)).all()

    async def lock_at_bank(self, settled_since: datetime, limit: int) -> Sequence[PaymentRow]:
        """Sent payments, and settled ones that may still come back, to ask the bank about."""
        stmt = (
            select(PaymentRow)
            .where(
                or_(
                    PaymentRow.status == PaymentStatus.SENT,
                    and_(PaymentRow.status == PaymentStatus.SETTLED, PaymentRow.settled_at >= settled_since),
                )
            )
            .order_by(PaymentRow.status, PaymentRow.updated_at)  # "sent" sorts before "settled": sent first
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return (await self.session.scalars(stmt)).all()

    async def created_on(self, day: date) -> Sequence[PaymentRow]:
        """The payments created on a (UTC) day."""
        stmt = select(PaymentRow).where(PaymentRow.created_on == day).order_by(PaymentRow.created_at)
        return (await self.session.scalars(stmt)).all()


class OverpaymentRepository:
    """Amounts to recover."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: OverpaymentRow) -> None:
        """Record an overpayment."""
        self.session.add(row)

    async def recorded(self, claim_id: str) -> Decimal:
        """The total recorded for a claim."""
        stmt = select(func.coalesce(func.sum(OverpaymentRow.amount), 0)).where(OverpaymentRow.claim_id == claim_id)
        return Decimal((await self.session.execute(stmt)).scalar_one())

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

    def add(self, batch: BatchRow) -> None:
        """Record a batch."""
        self.session.add(batch)

    def add_items(self, items: Sequence[BatchItemRow]) -> None:
        """Record the transfers of a batch."""
        self.session.add_all(items)

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
    "BatchRepository",
    "DecisionRepository",
    "LedgerRepository",
    "OverpaymentRepository",
    "PayeeRepository",
    "PaymentRepository",
]

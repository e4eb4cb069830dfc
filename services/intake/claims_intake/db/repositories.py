"""Every query of the intake service. Repositories never commit: the unit of work does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from claims_intake.db.models import ClaimRow, ComplaintRow, DocumentRow, IdempotencyKeyRow, PaymentRow, TimelineRow


def _insert(session: AsyncSession) -> Any:
    return sqlite.insert if session.get_bind().dialect.name == "sqlite" else postgresql.insert


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
        self, *, client: str, key: str, request_hash: str, claim_id: str, now: datetime
    ) -> IdempotencyKeyRow | None:
        """Take the key for a new claim; None when it is taken (the existing row is then read with ``for_key``).

        A concurrent request with the same key waits on the unique index until this transaction ends.
        """
        insert = _insert(self.session)
        stmt = (
            insert(IdempotencyKeyRow)
            .values(client=client, key=key, request_hash=request_hash, claim_id=claim_id, created_at=now)
            .on_conflict_do_nothing(index_elements=["client", "key"])
            .returning(IdempotencyKeyRow.id)
        )
        inserted = (await self.session.execute(stmt)).scalar_one_or_none()
        if inserted is None:
            return None
        return await self.session.get(IdempotencyKeyRow, inserted)

    async def for_key(self, client: str, key: str) -> IdempotencyKeyRow | None:
        """The idempotency record of a client's key."""
        stmt = select(IdempotencyKeyRow).where(IdempotencyKeyRow.client == client, IdempotencyKeyRow.key == key)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    def add(self, row: Any) -> None:
        """Add a new row to the transaction."""
        self.session.add(row)

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

    async def payment(self, payment_id: str) -> PaymentRow | None:
        """One payment."""
        return await self.session.get(PaymentRow, payment_id)

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

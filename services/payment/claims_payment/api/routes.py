"""Routes of the payment service: thin, over the use cases and repositories."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from claims_payment.api.schemas import (
    BankAccountCreate,
    BatchRead,
    BucketRead,
    LedgerBalancesRead,
    LedgerEntryRead,
    OverpaymentRead,
    PaymentRead,
    ProviderAccountRead,
    ReconciliationRead,
)
from claims_payment.db.models import PaymentRow
from claims_payment.db.repositories import (
    BatchRepository,
    LedgerRepository,
    OverpaymentRepository,
    PayeeRepository,
    PaymentRepository,
)
from claims_payment.domain.ledger import Account
from claims_payment.domain.model import PaymentStatus
from claims_payment.domain.pain001 import CreditTransfer, Party, build_pain001
from claims_payment.domain.reconciliation import Bucket, DayPayment, reconcile
from claims_payment.payments import PaymentService, RetryRefused
from claims_platform.auth import Principal, require_roles
from claims_platform.deps import UnitOfWorkDep
from claims_platform.errors import ProblemError
from claims_platform.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, decode_cursor, encode_cursor

router = APIRouter(prefix="/v1", tags=["payments"])

ZERO = Decimal("0.00")
READERS = ("admin", "finance", "auditor", "adjuster", "supervisor", "partner", "member")
FINANCE = ("admin", "finance")
BOOKKEEPERS = ("admin", "finance", "auditor")

Reader = Annotated[Principal, Depends(require_roles(*READERS))]
Finance = Annotated[Principal, Depends(require_roles(*FINANCE))]
Bookkeeper = Annotated[Principal, Depends(require_roles(*BOOKKEEPERS))]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
ProviderIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]


def _service(request: Request) -> PaymentService:
    service: PaymentService = request.app.state.payment_service
    return service


def _not_found(what: str) -> ProblemError:
    return ProblemError(404, "Not found", f"No such {what}.")


def _position(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    value = decode_cursor(cursor)
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value["t"]), uuid.UUID(value["id"])
    except (KeyError, TypeError, ValueError):
        raise ProblemError(
            400, "Bad request", "The cursor is not valid.", errors=[{"field": "cursor", "message": "malformed"}]
        ) from None


def _visible(principal: Principal, payment: PaymentRow) -> bool:
    """Staff see every payment; a hospital only those of its claims; a member only their own."""
    if principal.is_internal:
        return True
    if principal.has("partner") and payment.provider_id == principal.provider_id:
        return True
    return principal.has("member") and payment.member_id == principal.member_id


@router.put(
    "/providers/{provider_id}/bank-account",
    response_model=ProviderAccountRead,
    summary="Register a hospital's bank account (releases payments waiting for it)",
)
async def put_provider_account(
    provider_id: ProviderIdPath, body: BankAccountCreate, principal: Finance, uow: UnitOfWorkDep, request: Request
) -> ProviderAccountRead:
    """Register or replace the account; the number is stored encrypted and answered masked."""
    result = await _service(request).register_provider_account(
        uow,
        provider_id,
        holder=body.holder,
        account_number=body.account_number,
        bank_code=body.bank_code,
        by=principal.sub,
    )
    return ProviderAccountRead.of(result.account, result.released)


@router.get("/providers/{provider_id}/bank-account", response_model=ProviderAccountRead, summary="A hospital's account")
async def get_provider_account(provider_id: ProviderIdPath, _: Bookkeeper, uow: UnitOfWorkDep) -> ProviderAccountRead:
    """The registered account, masked."""
    row = await PayeeRepository(uow.session).provider(provider_id)
    if row is None:
        raise _not_found("bank account for this provider")
    return ProviderAccountRead.of(row)


@router.get("/payments", response_model=Page[PaymentRead], summary="List payments (e.g. a claim's)")
async def list_payments(
    principal: Reader,
    uow: UnitOfWorkDep,
    claim_id: Annotated[str | None, Query(max_length=64)] = None,
    status: PaymentStatus | None = None,
    provider_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[PaymentRead]:
    """Oldest first; hospitals and members see only their own."""
    member_id = None
    if not principal.is_internal:
        if principal.has("partner"):
            provider_id = principal.provider_id
        else:
            member_id = principal.member_id
    rows = await PaymentRepository(uow.session).page(
        claim_id=claim_id,
        status=status.value if status else None,
        provider_id=provider_id,
        member_id=member_id,
        after=_position(cursor),
        limit=limit,
    )
    next_cursor = (
        encode_cursor({"t": rows[-1].created_at.isoformat(), "id": str(rows[-1].id)}) if len(rows) == limit else None
    )
    return Page[PaymentRead](items=[PaymentRead.of(r) for r in rows], next_cursor=next_cursor)


@router.get("/payments/{payment_id}", response_model=PaymentRead, summary="One payment")
async def get_payment(payment_id: uuid.UUID, principal: Reader, uow: UnitOfWorkDep) -> PaymentRead:
    """A payment, with its status, hold and failure."""
    row = await PaymentRepository(uow.session).get(payment_id)
    if row is None or not _visible(principal, row):
        raise _not_found("payment")
    return PaymentRead.of(row)


@router.post(
    "/payments/{payment_id}/retry",
    response_model=PaymentRead,
    summary="Send a failed or returned payment again",
    responses={409: {"description": "The payment is not failed or returned, or a later decision replaced it"}},
)
async def retry_payment(payment_id: uuid.UUID, _: Finance, uow: UnitOfWorkDep, request: Request) -> PaymentRead:
    """Back to `scheduled`, with the payee's current account; the worker sends it."""
    try:
        row = await _service(request).retry(uow, payment_id)
    except RetryRefused as exc:
        raise ProblemError(409, "Conflict", str(exc)) from None
    if row is None:
        raise _not_found("payment")
    return PaymentRead.of(row)


@router.get("/overpayments", response_model=Page[OverpaymentRead], summary="Overpayments to recover")
async def list_overpayments(
    _: Bookkeeper,
    uow: UnitOfWorkDep,
    claim_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[OverpaymentRead]:
    """Amounts that lower re-decisions left to recover."""
    rows = await OverpaymentRepository(uow.session).of_claim(claim_id, limit)
    return Page[OverpaymentRead](items=[OverpaymentRead.of(r) for r in rows])


@router.get("/batches", response_model=Page[BatchRead], summary="Batches sent to the bank")
async def list_batches(
    _: Bookkeeper, uow: UnitOfWorkDep, limit: Limit = DEFAULT_LIMIT, cursor: str | None = None
) -> Page[BatchRead]:
    """Oldest first."""
    rows = await BatchRepository(uow.session).page(_position(cursor), limit)
    next_cursor = (
        encode_cursor({"t": rows[-1].created_at.isoformat(), "id": str(rows[-1].id)}) if len(rows) == limit else None
    )
    return Page[BatchRead](items=[BatchRead.of(r) for r in rows], next_cursor=next_cursor)


@router.get("/batches/{batch_id}", response_model=BatchRead, summary="One batch")
async def get_batch(batch_id: uuid.UUID, _: Bookkeeper, uow: UnitOfWorkDep) -> BatchRead:
    """A batch's count and control sum."""
    row = await BatchRepository(uow.session).get(batch_id)
    if row is None:
        raise _not_found("batch")
    return BatchRead.of(row)


@router.get(
    "/batches/{batch_id}/pain001",
    summary="A batch as an ISO 20022 pain.001.001.09 credit transfer file (account numbers masked)",
    response_class=Response,
    responses={200: {"content": {"application/xml": {}}}},
)
async def export_pain001(batch_id: uuid.UUID, _: Bookkeeper, uow: UnitOfWorkDep, request: Request) -> Response:
    """The batch as sent; creditor account numbers are masked, the clear file goes only to the bank adapter."""
    batches = BatchRepository(uow.session)
    batch = await batches.get(batch_id)
    if batch is None:
        raise _not_found("batch")
    settings = _service(request).settings
    transfers = [
        CreditTransfer(
            end_to_end_id=item.end_to_end_id,
            amount=item.amount,
            currency=item.currency,
            creditor_name=item.creditor_name,
            creditor_account=f"****{item.account_last4}",
            creditor_bank_code=item.bank_code,
            remittance=item.remittance,
        )
        for item in await batches.items(batch_id)
    ]
    debtor = Party(settings.debtor_name, f"****{settings.debtor_account[-4:]}", settings.debtor_bank_code)
    body = build_pain001(
        message_id=batch.message_id,
        created_at=batch.created_at,
        execution_date=batch.execution_date,
        debtor=debtor,
        transfers=transfers,
    )
    return Response(
        body,
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="pain001-{batch.message_id}.xml"'},
    )


@router.get("/ledger/balances", response_model=LedgerBalancesRead, summary="The ledger's accounts")
async def ledger_balances(_: Bookkeeper, uow: UnitOfWorkDep) -> LedgerBalancesRead:
    """Every account's balance (debit positive); the total is zero."""
    book = LedgerRepository(uow.session)
    stored = await book.balances()
    accounts = {a.value: stored.get(a.value, ZERO) for a in Account}
    total = sum(stored.values(), ZERO)
    unbalanced = await book.unbalanced_movements()
    return LedgerBalancesRead(
        accounts=accounts,
        total=total,
        movements=await book.movement_count(),
        unbalanced_movements=unbalanced,
        balanced=total == 0 and unbalanced == 0,
    )


@router.get("/ledger/entries", response_model=list[LedgerEntryRead], summary="A claim's ledger postings")
async def ledger_entries(
    _: Bookkeeper, uow: UnitOfWorkDep, claim_id: Annotated[str, Query(min_length=1, max_length=64)]
) -> list[LedgerEntryRead]:
    """Every posting of a claim's movements, in order."""
    rows = await LedgerRepository(uow.session).of_claim(claim_id)
    return [
        LedgerEntryRead(
            movement_id=r.movement_id,
            kind=r.kind,
            account=r.account,
            amount=r.amount,
            claim_id=r.claim_id,
            payment_id=r.payment_id,
            created_at=r.created_at,
        )
        for r in rows
    ]


def _bucket(bucket: Bucket) -> BucketRead:
    return BucketRead(count=bucket.count, amount=bucket.amount)


@router.get("/reconciliation", response_model=ReconciliationRead, summary="A day's payments reconciled")
async def reconciliation(
    _: Bookkeeper,
    uow: UnitOfWorkDep,
    day: Annotated[date, Query(alias="date", description="UTC day the payments were created (approved)")],
    currency: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None,
) -> ReconciliationRead:
    """Approved that day = settled + in flight + failed + returned, checked against the ledger."""
    rows = [r for r in await PaymentRepository(uow.session).created_on(day) if currency in (None, r.currency)]
    book = await LedgerRepository(uow.session).balances_for_payments([r.id for r in rows])
    result = reconcile(
        (DayPayment(PaymentStatus(r.status), r.amount, r.hold_reason is not None) for r in rows),
        ledger_settled=-book.get(Account.CASH.value, ZERO),
        ledger_in_clearing=-book.get(Account.BANK_CLEARING.value, ZERO),
    )
    return ReconciliationRead(
        date=day,
        currency=currency,
        approved=_bucket(result.approved),
        settled=_bucket(result.settled),
        in_flight=_bucket(result.in_flight),
        on_hold=_bucket(result.on_hold),
        failed=_bucket(result.failed),
        returned=_bucket(result.returned),
        accounted=result.accounted,
        balanced=result.balanced,
        discrepancies=result.discrepancies,
    )

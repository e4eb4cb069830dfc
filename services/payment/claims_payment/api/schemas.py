"""HTTP schemas of the payment service. Account numbers only ever leave masked."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from claims_contracts.values import AccountNumber, BankCode, Money
from claims_payment.db.models import BatchRow, OverpaymentRow, PaymentRow, ProviderAccountRow
from claims_payment.domain.model import RETRYABLE_BY_OPERATOR, HoldReason, Payee, PaymentStatus

_Holder = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def masked(last4: str | None) -> str | None:
    """How an account number is shown."""
    return None if last4 is None else f"****{last4}"


class BankAccountCreate(BaseModel):
    """A hospital's bank account to pay into."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"holder": "北京协和医院", "account_number": "6222020200009876543", "bank_code": "ICBC"}]
        },
    )

    holder: _Holder
    account_number: AccountNumber = Field(repr=False, description="4 to 34 letters or digits; stored encrypted.")
    bank_code: BankCode


class BankAccountRead(BaseModel):
    """A bank account as shown: the number masked to its last four characters."""

    holder: str
    account_number: str = Field(description="Masked: `****` and the last four characters.")
    bank_code: str


class ProviderAccountRead(BankAccountRead):
    """A hospital's registered account."""

    provider_id: str
    updated_at: datetime
    released_payments: int = Field(0, description="Payments that were waiting for this account and now go out.")

    @classmethod
    def of(cls, row: ProviderAccountRow, released: int = 0) -> ProviderAccountRead:
        """From the stored row."""
        return cls(
            provider_id=row.provider_id,
            holder=row.holder,
            account_number=masked(row.account_last4) or "****",
            bank_code=row.bank_code,
            updated_at=row.updated_at,
            released_payments=released,
        )


class PaymentRead(BaseModel):
    """A payment."""

    payment_id: uuid.UUID
    claim_id: str
    decision_version: int
    amount: Money
    currency: str
    payee: Payee
    member_id: str
    provider_id: str
    status: PaymentStatus
    hold_reason: HoldReason | None = Field(description="Why a scheduled payment waits (the payee's account).")
    account: BankAccountRead | None
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    failure_reason: str | None
    can_retry: bool = Field(description="Whether an operator may send it again (`POST …/retry`).")
    superseded_by_decision: int | None = Field(description="A later decision that replaced this unpaid payment.")
    batch_id: uuid.UUID | None
    bank_reference: str | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    settled_at: datetime | None
    failed_at: datetime | None
    returned_at: datetime | None

    @classmethod
    def of(cls, row: PaymentRow) -> PaymentRead:
        """From the stored row."""
        status = PaymentStatus(row.status)
        account = None
        if row.account_last4 is not None:
            account = BankAccountRead(
                holder=row.creditor_name or "",
                account_number=masked(row.account_last4) or "",
                bank_code=row.bank_code or "",
            )
        return cls(
            payment_id=row.id,
            claim_id=row.claim_id,
            decision_version=row.decision_version,
            amount=row.amount,
            currency=row.currency,
            payee=Payee(row.payee),
            member_id=row.member_id,
            provider_id=row.provider_id,
            status=status,
            hold_reason=HoldReason(row.hold_reason) if row.hold_reason else None,
            account=account,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at if status is PaymentStatus.SCHEDULED else None,
            last_error=row.last_error,
            failure_reason=row.failure_reason,
            can_retry=status in RETRYABLE_BY_OPERATOR and row.superseded_by_version is None,
            superseded_by_decision=row.superseded_by_version,
            batch_id=row.batch_id,
            bank_reference=row.bank_reference,
            created_at=row.created_at,
            updated_at=row.updated_at,
            sent_at=row.sent_at,
            settled_at=row.settled_at,
            failed_at=row.failed_at,
            returned_at=row.returned_at,
        )


class OverpaymentRead(BaseModel):
    """An amount to recover after a lower re-decision."""

    overpayment_id: uuid.UUID
    claim_id: str
    decision_version: int
    amount: Money
    currency: str
    payee: Payee
    recorded_at: datetime

    @classmethod
    def of(cls, row: OverpaymentRow) -> OverpaymentRead:
        """From the stored row."""
        return cls(
            overpayment_id=row.id,
            claim_id=row.claim_id,
            decision_version=row.decision_version,
            amount=row.amount,
            currency=row.currency,
            payee=Payee(row.payee),
            recorded_at=row.recorded_at,
        )


class BatchRead(BaseModel):
    """Payments sent to the bank together."""

    batch_id: uuid.UUID
    message_id: str
    currency: str
    transaction_count: int
    control_sum: Money
    execution_date: date
    created_at: datetime
    pain001_url: str

    @classmethod
    def of(cls, row: BatchRow) -> BatchRead:
        """From the stored row."""
        return cls(
            batch_id=row.id,
            message_id=row.message_id,
            currency=row.currency,
            transaction_count=row.transaction_count,
            control_sum=row.control_sum,
            execution_date=row.execution_date,
            created_at=row.created_at,
            pain001_url=f"/v1/batches/{row.id}/pain001",
        )


class LedgerBalancesRead(BaseModel):
    """The ledger's accounts; ``total`` is zero when every movement balances."""

    accounts: dict[str, Money]
    total: Money
    movements: int
    unbalanced_movements: int
    balanced: bool


class LedgerEntryRead(BaseModel):
    """One posting (debit positive, credit negative)."""

    movement_id: uuid.UUID
    kind: str
    account: str
    amount: Money
    claim_id: str
    payment_id: uuid.UUID | None
    created_at: datetime


class BucketRead(BaseModel):
    """A count of payments and their amount."""

    count: int
    amount: Money


class ReconciliationRead(BaseModel):
    """One day's payments: approved = settled + in flight + failed + returned."""

    date: date
    currency: str | None = Field(description="The currency reconciled; null sums every currency.")
    approved: BucketRead
    settled: BucketRead
    in_flight: BucketRead
    on_hold: BucketRead = Field(description="Part of in flight: scheduled payments waiting for an account.")
    failed: BucketRead
    returned: BucketRead
    accounted: Money = Field(description="settled + in_flight + failed + returned")
    balanced: bool
    discrepancies: list[str]

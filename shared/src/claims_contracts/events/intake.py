"""Events the intake service publishes on ``claims.intake.v1``."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, ClassVar, Self

from pydantic import Field, StringConstraints, model_validator

from claims_contracts.envelope import EventPayload
from claims_contracts.events._base import Actor, ContractModel, Name, Reason
from claims_contracts.topics import INTAKE_TOPIC
from claims_contracts.values import (
    AccountNumber,
    BankCode,
    BillCode,
    BillDescription,
    Category,
    ClaimId,
    ClaimType,
    Currency,
    DocumentType,
    Icd10Code,
    Locale,
    MemberId,
    Money,
    NonNegativeMoney,
    Payee,
    PolicyNumber,
    ProviderId,
    Quantity,
    UtcDatetime,
)

__all__ = [
    "BankAccount",
    "ClaimDisputed",
    "ClaimDocumentsRequested",
    "ClaimExpired",
    "ClaimLine",
    "ClaimReceived",
    "ClaimWithdrawn",
    "Diagnosis",
    "MemberContact",
    "ProviderRef",
]

_Phone = Annotated[str, StringConstraints(min_length=1, max_length=32)]
_Email = Annotated[str, StringConstraints(min_length=3, max_length=254)]


class MemberContact(ContractModel):
    """The insured member and how to reach them; never the identity document number."""

    member_id: MemberId
    name: Name
    phone: _Phone | None = Field(default=None, repr=False)
    email: _Email | None = Field(default=None, repr=False)
    locale: Locale = "zh-CN"


class ProviderRef(ContractModel):
    """The provider (hospital) that treated the member."""

    provider_id: ProviderId
    name: Name


class Diagnosis(ContractModel):
    """One diagnosis of the claim."""

    code: Icd10Code
    primary: bool = False


class ClaimLine(ContractModel):
    """One line of the itemized bill."""

    line_no: int = Field(ge=1, le=99_999)
    service_date: date
    category: Category
    code: BillCode
    description: BillDescription
    quantity: Quantity
    unit_price: Money
    amount: Money
    other_insurance_paid: NonNegativeMoney = Decimal("0.00")


class BankAccount(ContractModel):
    """A bank account to pay into."""

    holder: Name
    account_number: AccountNumber = Field(repr=False)
    bank_code: BankCode


class ClaimReceived(EventPayload):
    """A claim as submitted, complete enough that downstream services need nothing else."""

    event_type: ClassVar[str] = "ClaimReceived"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = INTAKE_TOPIC

    claim_id: ClaimId
    submitted_at: UtcDatetime
    policy_number: PolicyNumber
    member: MemberContact
    provider: ProviderRef
    submitted_by_provider: bool = Field(description="True when the hospital submitted it for the member.")
    claim_type: ClaimType
    accident: bool
    admission_date: date | None = None
    discharge_date: date | None = None
    diagnoses: list[Diagnosis] = Field(min_length=1, max_length=50)
    lines: list[ClaimLine] = Field(min_length=1, max_length=1000)
    currency: Currency
    payee: Payee
    bank_account: BankAccount | None = Field(default=None, description="Required when payee is member.")
    charged: Money = Field(description="Sum of the lines' amounts.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if sum(1 for diagnosis in self.diagnoses if diagnosis.primary) != 1:
            raise ValueError("exactly one diagnosis must be primary")
        if len({line.line_no for line in self.lines}) != len(self.lines):
            raise ValueError("line numbers must be unique")
        if self.payee is Payee.MEMBER and self.bank_account is None:
            raise ValueError("bank_account is required when payee is member")
        return self


class ClaimDocumentsRequested(EventPayload):
    """A claim lacks required documents; the claimant must supply them before the deadline."""

    event_type: ClassVar[str] = "ClaimDocumentsRequested"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = INTAKE_TOPIC

    claim_id: ClaimId
    claim_type: ClaimType
    missing_documents: list[DocumentType] = Field(min_length=1)
    member: MemberContact
    provider: ProviderRef
    submitted_by_provider: bool = False
    deadline: date = Field(description="Last day to supply the documents before the claim expires.")


class ClaimDisputed(EventPayload):
    """The claimant contests a decision; a different reviewer must re-decide."""

    event_type: ClassVar[str] = "ClaimDisputed"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = INTAKE_TOPIC

    claim_id: ClaimId
    disputed_decision_version: int = Field(ge=1)
    reason: Reason
    disputed_by: Actor
    previous_deciders: list[Actor] = Field(
        default_factory=list, description="Who decided the claim before; none of them may decide the dispute."
    )


class ClaimWithdrawn(EventPayload):
    """The claimant withdrew the claim; it ends here."""

    event_type: ClassVar[str] = "ClaimWithdrawn"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = INTAKE_TOPIC

    claim_id: ClaimId
    reason: Reason
    withdrawn_by: Actor


class ClaimExpired(EventPayload):
    """Requested documents never arrived in time; the claim is closed."""

    event_type: ClassVar[str] = "ClaimExpired"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = INTAKE_TOPIC

    claim_id: ClaimId
    missing_documents: list[DocumentType]
    reason: Reason

"""HTTP schemas of the intake API (``XCreate`` in, ``XRead`` out)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator

from claims_contracts.values import (
    AccountNumber,
    BankCode,
    BillCode,
    BillDescription,
    Category,
    ClaimType,
    Currency,
    DocumentType,
    Icd10Code,
    MemberId,
    Money,
    NonNegativeMoney,
    Payee,
    PolicyNumber,
    ProviderId,
    Quantity,
)

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Text2000 = Annotated[str, StringConstraints(min_length=1, max_length=2000, strip_whitespace=True)]
Filename = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[^/\\\x00-\x1f]+$")]

_DECIMAL_TEXT = re.compile(r"^-?[0-9]{1,12}(\.[0-9]{1,4})?$")


def _decimal_text(value: Any) -> Any:
    """Amounts and quantities travel as decimal strings (``"200.00"``), never as JSON numbers."""
    if not isinstance(value, str):
        raise ValueError('must be a decimal string such as "200.00"')
    if not _DECIMAL_TEXT.match(value):
        raise ValueError('must be a plain decimal string such as "200.00"')
    return value


MoneyIn = Annotated[Money, BeforeValidator(_decimal_text)]
NonNegativeMoneyIn = Annotated[NonNegativeMoney, BeforeValidator(_decimal_text)]
QuantityIn = Annotated[Quantity, BeforeValidator(_decimal_text)]

IdType = Literal["resident_id", "passport", "hk_macao_permit", "taiwan_permit", "foreign_residence", "other"]
IdNumber = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{4,32}$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class MemberIn(_In):
    """The insured member."""

    member_id: MemberId
    name: Name
    id_type: (
        Literal["resident_id", "passport", "hk_macao_permit", "taiwan_permit", "foreign_residence", "other"] | None
    ) = None
    id_number: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{4,32}$")] | None = Field(
        default=None, repr=False
    )
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9]{5,15}$")] | None = Field(default=None, repr=False)
    email: Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")] | None = Field(
        default=None, repr=False
    )
    locale: Literal["zh-CN", "en"] = "zh-CN"

    @model_validator(mode="after")
    def _identity(self) -> Self:
        if (self.id_type is None) != (self.id_number is None):
            raise ValueError("id_type and id_number go together")
        if self.id_type == "resident_id" and self.id_number and not re.fullmatch(r"[0-9]{17}[0-9Xx]", self.id_number):
            raise ValueError("a resident ID number has 17 digits and a check character")
        return self


class ProviderIn(_In):
    """The hospital."""

    provider_id: ProviderId
    name: Name


class DiagnosisIn(_In):
    """An ICD-10 diagnosis."""

    code: Icd10Code
    primary: bool = False


class LineIn(_In):
    """A line of the itemized bill."""

    line_no: int = Field(ge=1, le=99_999)
    service_date: date
    category: Category
    code: BillCode
    description: BillDescription
    quantity: QuantityIn
    unit_price: MoneyIn
    amount: MoneyIn
    other_insurance_paid: NonNegativeMoneyIn = Decimal("0.00")


class BankAccountIn(_In):
    """Where to pay the member."""

    holder: Name
    account_number: AccountNumber = Field(repr=False)
    bank_code: BankCode


class DocumentIn(_In):
    """A document sent inline."""

    type: DocumentType
    filename: Filename
    content_type: Literal["application/pdf", "image/jpeg", "image/png", "image/tiff"]
    content_base64: str = Field(min_length=4, repr=False)


class ClaimCreate(_In):
    """A claim as a member or a hospital submits it (DOMAIN.md §3)."""

    policy_number: PolicyNumber
    member: MemberIn
    provider: ProviderIn
    claim_type: ClaimType
    accident: bool = False
    admission_date: date | None = None
    discharge_date: date | None = None
    diagnoses: list[DiagnosisIn] = Field(min_length=1, max_length=50)
    lines: list[LineIn] = Field(min_length=1, max_length=1000)
    currency: Currency
    payee: Payee
    bank_account: BankAccountIn | None = None
    documents: list[DocumentIn] = Field(default_factory=list, max_length=20)


class Link(BaseModel):
    """A link to a related resource."""

    href: str
    method: str = "GET"


class ClaimSubmitted(BaseModel):
    """The answer to a submission."""

    claim_id: str
    status: Literal["received", "pending_documents"]
    missing_documents: list[DocumentType]
    links: dict[str, Link]


class DocumentRead(BaseModel):
    """A document's metadata (never its content)."""

    document_id: str
    type: DocumentType
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_at: datetime
    source: Literal["inline", "upload", "fhir"]


class DocumentsUploaded(BaseModel):
    """The answer to a supplement."""

    claim_id: str
    document: DocumentRead
    status: str
    missing_documents: list[DocumentType]


class AdjustmentRead(BaseModel):
    """An amount of a line not paid."""

    reason: str
    group: str
    carc: str
    amount: Money


class DecisionLineRead(BaseModel):
    """The decision on one line."""

    line_no: int
    allowed: Money
    payable: Money
    adjustments: list[AdjustmentRead]
    explanation: str


class DecisionRead(BaseModel):
    """The latest decision."""

    version: int
    outcome: str
    charged: Money
    payable: Money
    member_responsibility: Money
    lines: list[DecisionLineRead]
    denial_reasons: list[str] = Field(default_factory=list)
    decided_at: datetime | None = None


class PaymentRead(BaseModel):
    """A payment of the claim."""

    payment_id: str
    amount: Money
    payee: str
    status: str
    decision_version: int
    currency: str


class ClaimRead(BaseModel):
    """A claim as submitted (documents as metadata, ID number and bank account masked) and where it stands."""

    claim_id: str
    status: str
    missing_documents: list[DocumentType]
    documents_deadline: date | None
    submitted_at: datetime
    submitted_by_provider: bool
    policy_number: str
    member: dict[str, Any]
    provider: dict[str, Any]
    claim_type: str
    accident: bool
    admission_date: date | None = None
    discharge_date: date | None = None
    diagnoses: list[dict[str, Any]]
    lines: list[dict[str, Any]]
    currency: str
    payee: str
    bank_account: dict[str, Any] | None
    charged: Money
    documents: list[DocumentRead]
    decision: DecisionRead | None
    payments: list[PaymentRead]


class ClaimSummary(BaseModel):
    """A claim in a search result."""

    claim_id: str
    status: str
    claim_type: str
    policy_number: str
    member_id: str
    provider_id: str
    submitted_at: datetime
    charged: Money
    currency: str
    missing_documents: list[DocumentType]


class TimelineEntryRead(BaseModel):
    """One entry of a claim's history."""

    at: datetime
    actor: str
    kind: str
    reason: str | None
    status_from: str | None
    status_to: str | None
    details: dict[str, Any]


class DisputeCreate(_In):
    """Contest the latest decision."""

    reason: Text2000


class WithdrawCreate(_In):
    """Withdraw a claim before it is decided."""

    reason: Text2000 = "withdrawn by the claimant"


class ComplaintCreate(_In):
    """A complaint about the service (not about the decision)."""

    message: Annotated[str, StringConstraints(min_length=1, max_length=4000, strip_whitespace=True)]


class ComplaintAnswerCreate(_In):
    """Staff's answer to a complaint."""

    answer: Annotated[str, StringConstraints(min_length=1, max_length=4000, strip_whitespace=True)]


class ComplaintRead(BaseModel):
    """A complaint and its answer."""

    complaint_id: str
    claim_id: str
    message: str
    raised_by: str
    raised_at: datetime
    answer: str | None
    answered_by: str | None
    answered_at: datetime | None


class ActionResult(BaseModel):
    """The claim's status after an action."""

    claim_id: str
    status: str


class ExpiryRun(BaseModel):
    """What the expiry job did."""

    expired: list[str]

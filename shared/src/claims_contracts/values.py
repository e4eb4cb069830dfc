"""Value types shared by every event: money, rates, codes, identifiers and enumerations.

Decimal values travel as JSON strings, never as numbers, so no consumer ever parses money into a float.
Each ``Annotated`` type declares its JSON Schema for both modes: validation accepts the lenient input
(``"450"``, ``"450.5"``), serialization states the exact wire form (``"450.00"``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)

__all__ = [
    "AccountNumber",
    "AdjustmentGroup",
    "AdjustmentReason",
    "BankCode",
    "BillCode",
    "BillDescription",
    "Category",
    "Channel",
    "ClaimId",
    "ClaimStatus",
    "ClaimType",
    "Currency",
    "DocumentType",
    "EntityId",
    "Icd10Code",
    "Locale",
    "MemberId",
    "Money",
    "NonNegativeMoney",
    "Outcome",
    "Payee",
    "PaymentStatus",
    "PlanCode",
    "PolicyNumber",
    "PositiveMoney",
    "ProviderId",
    "Quantity",
    "Rate",
    "RiskReason",
    "UtcDatetime",
]

_CENT = Decimal("0.01")
_RATE_STEP = Decimal("0.0001")


def _to_cents(value: Decimal) -> Decimal:
    """Give an amount exactly two decimals (exact: the validator allows at most two), never ``-0.00``."""
    return Decimal("0.00") if value.is_zero() else value.quantize(_CENT)


def _money_text(value: Decimal) -> str:
    return f"{value:.2f}"


def _rate_text(value: Decimal) -> str:
    text = f"{value.quantize(_RATE_STEP):.4f}"
    while text.endswith("0") and len(text.split(".")[1]) > 2:
        text = text[:-1]
    return text


def _quantity_text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


_MONEY_FIELD = Field(max_digits=14, decimal_places=2, allow_inf_nan=False)
_MONEY_SERIALIZER = PlainSerializer(_money_text, return_type=str, when_used="json")

Money = Annotated[
    Decimal,
    _MONEY_FIELD,
    AfterValidator(_to_cents),
    _MONEY_SERIALIZER,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^-?[0-9]{1,12}(\.[0-9]{1,2})?$",
            "description": "Decimal amount, at most two decimals and 12 integer digits.",
            "examples": ["450.00"],
        },
        mode="validation",
    ),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^-?[0-9]{1,12}\.[0-9]{2}$",
            "description": "Decimal amount with exactly two decimals.",
            "examples": ["450.00"],
        },
        mode="serialization",
    ),
]
"""An amount of money: ``Decimal`` in Python, a string with exactly two decimals in JSON."""

NonNegativeMoney = Annotated[
    Decimal,
    _MONEY_FIELD,
    Field(ge=0),
    AfterValidator(_to_cents),
    _MONEY_SERIALIZER,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^[0-9]{1,12}(\.[0-9]{1,2})?$",
            "description": "Decimal amount >= 0, at most two decimals and 12 integer digits.",
            "examples": ["0.00", "450.00"],
        },
        mode="validation",
    ),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^[0-9]{1,12}\.[0-9]{2}$",
            "description": "Decimal amount >= 0 with exactly two decimals.",
            "examples": ["0.00", "450.00"],
        },
        mode="serialization",
    ),
]
"""An amount of money that is never negative."""

PositiveMoney = Annotated[
    Decimal,
    _MONEY_FIELD,
    Field(gt=0),
    AfterValidator(_to_cents),
    _MONEY_SERIALIZER,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^[0-9]{1,12}(\.[0-9]{1,2})?$",
            "description": "Decimal amount > 0, at most two decimals and 12 integer digits.",
            "examples": ["450.00"],
        },
        mode="validation",
    ),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^([1-9][0-9]{0,11}\.[0-9]{2}|0\.(0[1-9]|[1-9][0-9]))$",
            "description": "Decimal amount > 0 with exactly two decimals.",
            "examples": ["450.00"],
        },
        mode="serialization",
    ),
]
"""An amount of money greater than zero (a payment, an overpayment)."""

Rate = Annotated[
    Decimal,
    Field(ge=0, le=1, decimal_places=4, allow_inf_nan=False),
    PlainSerializer(_rate_text, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^(0(\.[0-9]{1,4})?|1(\.0{1,4})?)$",
            "description": "Decimal rate from 0 to 1, at most four decimals.",
            "examples": ["0.80"],
        },
        mode="validation",
    ),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^(0\.[0-9]{2,4}|1\.00)$",
            "description": "Decimal rate from 0 to 1, two to four decimals.",
            "examples": ["0.80", "0.755"],
        },
        mode="serialization",
    ),
]
"""A rate such as a coinsurance share: ``Decimal`` 0..1 with up to four decimals, a string in JSON."""

Quantity = Annotated[
    Decimal,
    Field(gt=0, max_digits=12, decimal_places=4, allow_inf_nan=False),
    PlainSerializer(_quantity_text, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^[0-9]{1,8}(\.[0-9]{1,4})?$",
            "description": "Decimal quantity > 0, at most four decimals.",
            "examples": ["1", "2.5"],
        },
    ),
]
"""A bill line quantity: ``Decimal`` > 0 with up to four decimals, a string without trailing zeros in JSON."""

Icd10Code = Annotated[
    str,
    StringConstraints(min_length=3, max_length=8, pattern=r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$"),
    BeforeValidator(_upper),
]
"""An ICD-10 code in the right shape (``J18.9``, ``K02``); whether it exists is the services' check."""

_CURRENCY = StringConstraints(min_length=3, max_length=3, pattern=r"^[A-Z]{3}$")
Currency = Annotated[str, _CURRENCY, BeforeValidator(_upper)]
"""An ISO 4217 currency code, upper case (``CNY``)."""

_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"

EntityId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=_ID_PATTERN)]
"""An opaque identifier (review, payment, notification, survey): letters, digits and ``._:-``."""

ClaimId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=_ID_PATTERN)]
"""The claim's identifier, also the Kafka key."""

MemberId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=_ID_PATTERN)]
"""An insured member's identifier (``M-1001``)."""

ProviderId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=_ID_PATTERN)]
"""A provider's (hospital's) identifier (``H-001``)."""

PolicyNumber = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=_CODE_PATTERN)]
"""A policy number (``POL-2026-0001``)."""

PlanCode = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=_CODE_PATTERN)]
"""A benefit plan's code (``STD-2026``)."""

_LOCALE_PATTERN = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
Locale = Annotated[str, StringConstraints(min_length=2, max_length=35, pattern=_LOCALE_PATTERN)]
"""A BCP 47 language tag such as ``zh-CN`` or ``en``."""

UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware instant, normalised to UTC."""


class ClaimType(StrEnum):
    """The kind of treatment a claim is for."""

    OUTPATIENT = "outpatient"
    INPATIENT = "inpatient"
    EMERGENCY = "emergency"
    PHARMACY = "pharmacy"


class Category(StrEnum):
    """The expense category of a bill line."""

    CONSULTATION = "consultation"
    EXAMINATION = "examination"
    IMAGING = "imaging"
    DRUGS = "drugs"
    SURGERY = "surgery"
    ROOM = "room"
    NURSING = "nursing"
    CONSUMABLES = "consumables"
    OTHER = "other"


class Payee(StrEnum):
    """Who is paid: the member, or the provider when benefits are assigned to it."""

    MEMBER = "member"
    PROVIDER = "provider"


class DocumentType(StrEnum):
    """A kind of supporting document."""

    CLAIM_FORM = "claim_form"
    ID_PROOF = "id_proof"
    ITEMIZED_BILL = "itemized_bill"
    INVOICE = "invoice"
    MEDICAL_RECORD = "medical_record"
    DISCHARGE_SUMMARY = "discharge_summary"
    PRESCRIPTION = "prescription"
    OTHER = "other"


class Outcome(StrEnum):
    """The outcome of a decision."""

    APPROVED = "approved"
    PARTIALLY_APPROVED = "partially_approved"
    DENIED = "denied"


class ClaimStatus(StrEnum):
    """A claim's status as clients see it."""

    RECEIVED = "received"
    PENDING_DOCUMENTS = "pending_documents"
    IN_REVIEW = "in_review"
    PENDED = "pended"
    APPROVED = "approved"
    PARTIALLY_APPROVED = "partially_approved"
    DENIED = "denied"
    PAYMENT_SCHEDULED = "payment_scheduled"
    PAID = "paid"
    PAYMENT_FAILED = "payment_failed"
    DISPUTED = "disputed"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class AdjustmentGroup(StrEnum):
    """X12 claim adjustment group: patient responsibility or contractual obligation."""

    PR = "PR"
    CO = "CO"


class AdjustmentReason(StrEnum):
    """Why an amount was not paid."""

    DEDUCTIBLE = "DEDUCTIBLE"
    COINSURANCE = "COINSURANCE"
    OTHER_INSURANCE = "OTHER_INSURANCE"
    COVERAGE_INACTIVE = "COVERAGE_INACTIVE"
    NOT_COVERED = "NOT_COVERED"
    OVER_LIMIT = "OVER_LIMIT"
    BENEFIT_MAXIMUM = "BENEFIT_MAXIMUM"
    WAITING_PERIOD = "WAITING_PERIOD"
    EXCLUDED_CONDITION = "EXCLUDED_CONDITION"
    POLICY_NOT_FOUND = "POLICY_NOT_FOUND"
    MEMBER_NOT_COVERED = "MEMBER_NOT_COVERED"
    REVIEWER_ADJUSTMENT = "REVIEWER_ADJUSTMENT"
    REVIEWER_DENIAL = "REVIEWER_DENIAL"


class PaymentStatus(StrEnum):
    """A payment's status."""

    SCHEDULED = "scheduled"
    SENT = "sent"
    SETTLED = "settled"
    FAILED = "failed"
    RETURNED = "returned"


class Channel(StrEnum):
    """A notification channel."""

    EMAIL = "email"
    SMS = "sms"
    IN_APP = "in_app"


class RiskReason(StrEnum):
    """Why a claim was pended for human review."""

    HIGH_AMOUNT = "HIGH_AMOUNT"
    DUPLICATE_SUSPECTED = "DUPLICATE_SUSPECTED"
    EARLY_CLAIM = "EARLY_CLAIM"
    PROVIDER_WATCHLIST = "PROVIDER_WATCHLIST"
    HIGH_FREQUENCY = "HIGH_FREQUENCY"
    UNIT_PRICE_OUTLIER = "UNIT_PRICE_OUTLIER"
    DISPUTE = "DISPUTE"


AccountNumber = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{4,34}$")]
"""A bank account number (domestic or IBAN), letters and digits only."""

BankCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{2,20}$")]
"""A bank's code (e.g. ICBC, or a BIC)."""

BillCode = Annotated[str, StringConstraints(min_length=1, max_length=50)]
"""A hospital's code for a bill line (service, drug or item)."""

BillDescription = Annotated[str, StringConstraints(min_length=1, max_length=500)]
"""The description of a bill line."""

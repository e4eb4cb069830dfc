"""Value types: money, rates, quantities, codes and identifiers, as they validate and travel."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from claims_contracts.values import (
    AdjustmentReason,
    Category,
    ClaimStatus,
    ClaimType,
    Currency,
    DocumentType,
    Icd10Code,
    MemberId,
    Money,
    NonNegativeMoney,
    PolicyNumber,
    PositiveMoney,
    Quantity,
    Rate,
    RiskReason,
    UtcDatetime,
)


class Priced(BaseModel):
    amount: Money


MONEY = TypeAdapter(Money)
NON_NEGATIVE = TypeAdapter(NonNegativeMoney)
POSITIVE = TypeAdapter(PositiveMoney)
RATE = TypeAdapter(Rate)
QUANTITY = TypeAdapter(Quantity)


@pytest.mark.parametrize(
    ("given_value", "wire"),
    [
        ("450", "450.00"),
        ("450.5", "450.50"),
        ("450.00", "450.00"),
        (Decimal("450"), "450.00"),
        (450, "450.00"),
        (450.5, "450.50"),
        ("-12.3", "-12.30"),
        ("-0", "0.00"),
        ("999999999999.99", "999999999999.99"),
    ],
)
def test_money_serializes_with_exactly_two_decimals(given_value: Any, wire: str) -> None:
    model = Priced(amount=given_value)
    assert model.model_dump_json() == f'{{"amount":"{wire}"}}'
    assert model.amount == Decimal(wire)


def test_money_stays_decimal_in_python_mode() -> None:
    dumped = Priced(amount="450").model_dump()
    assert dumped == {"amount": Decimal("450.00")}
    assert isinstance(dumped["amount"], Decimal)


@pytest.mark.parametrize(
    "bad",
    [
        "450.123",
        450.123,
        0.1 + 0.2,
        "NaN",
        float("nan"),
        "Infinity",
        float("inf"),
        "-inf",
        "1234567890123",
        "abc",
        True,
    ],
)
def test_money_rejects_more_than_two_decimals_non_finite_and_oversized(bad: Any) -> None:
    with pytest.raises(ValidationError):
        MONEY.validate_python(bad)


def test_money_sign_variants() -> None:
    assert MONEY.validate_python("-1") == Decimal("-1.00")
    assert NON_NEGATIVE.validate_python("0") == Decimal("0.00")
    with pytest.raises(ValidationError):
        NON_NEGATIVE.validate_python("-0.01")
    assert POSITIVE.validate_python("0.01") == Decimal("0.01")
    with pytest.raises(ValidationError):
        POSITIVE.validate_python("0.00")


def test_money_json_schema_is_a_string_with_a_pattern() -> None:
    serialization = MONEY.json_schema(mode="serialization")
    validation = MONEY.json_schema(mode="validation")
    assert serialization["type"] == validation["type"] == "string"
    assert re.fullmatch(serialization["pattern"], "450.00")
    assert not re.fullmatch(serialization["pattern"], "450")
    assert re.fullmatch(validation["pattern"], "450")
    assert not re.fullmatch(validation["pattern"], "450.123")
    positive = POSITIVE.json_schema(mode="serialization")["pattern"]
    assert re.fullmatch(positive, "0.01")
    assert re.fullmatch(positive, "450.00")
    assert not re.fullmatch(positive, "0.00")
    assert not re.fullmatch(positive, "0450.00")


@given(st.decimals(min_value="-999999999999.99", max_value="999999999999.99", places=2))
def test_any_money_in_range_round_trips_through_json_exactly(value: Decimal) -> None:
    text = Priced(amount=value).model_dump_json()
    wire = text.split('"')[3]
    assert re.fullmatch(r"-?[0-9]{1,12}\.[0-9]{2}", wire)
    assert Decimal(wire) == value
    back = Priced.model_validate_json(text)
    assert back.amount == value
    assert back.model_dump_json() == text


@pytest.mark.parametrize(
    ("given_value", "wire"),
    [("0.8", "0.80"), ("0.80", "0.80"), ("0.755", "0.755"), ("0.1234", "0.1234"), ("1", "1.00"), (0, "0.00")],
)
def test_rate_serializes_as_string(given_value: Any, wire: str) -> None:
    assert RATE.dump_json(RATE.validate_python(given_value)) == f'"{wire}"'.encode()


@pytest.mark.parametrize("bad", ["1.01", "-0.1", "0.12345", "NaN"])
def test_rate_rejects_out_of_range_and_too_precise(bad: str) -> None:
    with pytest.raises(ValidationError):
        RATE.validate_python(bad)


@pytest.mark.parametrize(
    ("given_value", "wire"), [("1", "1"), ("3", "3"), ("2.50", "2.5"), ("100", "100"), ("0.0001", "0.0001")]
)
def test_quantity_serializes_as_plain_string(given_value: str, wire: str) -> None:
    assert QUANTITY.dump_json(QUANTITY.validate_python(given_value)) == f'"{wire}"'.encode()


@pytest.mark.parametrize("bad", ["0", "-1", "0.12345", "NaN", "123456789"])
def test_quantity_must_be_positive_with_four_decimals_at_most(bad: str) -> None:
    with pytest.raises(ValidationError):
        QUANTITY.validate_python(bad)


@pytest.mark.parametrize(("code", "normalised"), [("J18.9", "J18.9"), ("K02", "K02"), (" j18.9 ", "J18.9")])
def test_icd10_code_shape(code: str, normalised: str) -> None:
    assert TypeAdapter(Icd10Code).validate_python(code) == normalised


@pytest.mark.parametrize("bad", ["J1", "18.9", "J18.", "J18.12345", "JJ8.9", "J189", ""])
def test_icd10_code_rejects_bad_shapes(bad: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Icd10Code).validate_python(bad)


def test_currency_is_three_upper_case_letters() -> None:
    assert TypeAdapter(Currency).validate_python("cny") == "CNY"
    for bad in ["CN", "CNY1", "元元元", ""]:
        with pytest.raises(ValidationError):
            TypeAdapter(Currency).validate_python(bad)


def test_identifiers() -> None:
    assert TypeAdapter(MemberId).validate_python("M-1001") == "M-1001"
    assert TypeAdapter(PolicyNumber).validate_python("POL-2026-0001") == "POL-2026-0001"
    for bad in ["", " M-1", "M 1", "x" * 65, "-M1"]:
        with pytest.raises(ValidationError):
            TypeAdapter(MemberId).validate_python(bad)


def test_utc_datetime_requires_a_zone_and_normalises_to_utc() -> None:
    adapter = TypeAdapter(UtcDatetime)
    beijing = datetime(2026, 3, 10, 8, 0, tzinfo=timezone(timedelta(hours=8)))
    value = adapter.validate_python(beijing)
    assert value == datetime(2026, 3, 10, 0, 0, tzinfo=UTC)
    assert value.utcoffset() == timedelta(0)
    assert adapter.dump_json(value) == b'"2026-03-10T00:00:00Z"'
    with pytest.raises(ValidationError):
        adapter.validate_python(datetime(2026, 3, 10, 8, 0))  # naive on purpose


def test_enumerations_carry_the_domain_values() -> None:
    assert [c.value for c in ClaimType] == ["outpatient", "inpatient", "emergency", "pharmacy"]
    assert {c.value for c in Category} == {
        "consultation",
        "examination",
        "imaging",
        "drugs",
        "surgery",
        "room",
        "nursing",
        "consumables",
        "other",
    }
    assert "discharge_summary" in {d.value for d in DocumentType}
    assert len(ClaimStatus) == 13
    assert ClaimStatus.PAYMENT_SCHEDULED.value == "payment_scheduled"
    assert len(AdjustmentReason) == 13
    assert RiskReason.DISPUTE == "DISPUTE"

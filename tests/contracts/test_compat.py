"""The compatibility checker, exercised on mutated copies of the checked-in schemas."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from claims_contracts.compat import breaking_changes
from claims_contracts.events import ALL_EVENTS
from claims_contracts.schemagen import ENVELOPE_FILE, envelope_schema, event_schema, schema_file

SHARED = Path(__file__).resolve().parents[2] / "shared"


def load(name: str) -> dict[str, Any]:
    """Return a fresh copy of a checked-in schema."""
    data: dict[str, Any] = json.loads((SHARED / "schemas" / name).read_text(encoding="utf-8"))
    return data


@pytest.fixture
def received() -> dict[str, Any]:
    return load("ClaimReceived.v1.json")


@pytest.fixture
def adjudicated() -> dict[str, Any]:
    return load("ClaimAdjudicated.v1.json")


@pytest.mark.parametrize("cls", ALL_EVENTS, ids=lambda cls: cls.event_type)
def test_current_models_are_compatible_with_checked_in_schemas(cls: Any) -> None:
    assert breaking_changes(load(schema_file(cls).split("/")[1]), event_schema(cls)) == []


def test_current_envelope_is_compatible_with_checked_in_schema() -> None:
    assert breaking_changes(load(ENVELOPE_FILE.split("/")[1]), envelope_schema()) == []


def test_identical_schemas_have_no_breaking_change(received: dict[str, Any]) -> None:
    assert breaking_changes(received, copy.deepcopy(received)) == []


def test_removing_a_property_breaks(received: dict[str, Any]) -> None:
    new = copy.deepcopy(received)
    del new["properties"]["charged"]
    new["required"].remove("charged")
    assert breaking_changes(received, new) == ["$.charged: property removed"]


def test_removing_an_optional_property_breaks(received: dict[str, Any]) -> None:
    new = copy.deepcopy(received)
    del new["properties"]["bank_account"]
    assert breaking_changes(received, new) == ["$.bank_account: property removed"]


def test_removing_a_nested_property_inside_defs_breaks(received: dict[str, Any]) -> None:
    new = copy.deepcopy(received)
    del new["$defs"]["ClaimLine"]["properties"]["amount"]
    new["$defs"]["ClaimLine"]["required"].remove("amount")
    assert breaking_changes(received, new) == ["$.lines[].amount: property removed"]


def test_retyping_a_property_breaks(received: dict[str, Any]) -> None:
    new = copy.deepcopy(received)
    new["properties"]["accident"]["type"] = "string"
    assert breaking_changes(received, new) == ["$.accident: type changed from boolean to string"]


def test_retyping_deep_inside_arrays_and_refs_breaks(adjudicated: dict[str, Any]) -> None:
    new = copy.deepcopy(adjudicated)
    amount = new["$defs"]["Adjustment"]["properties"]["amount"]
    amount.clear()
    amount["type"] = "number"
    problems = breaking_changes(adjudicated, new)
    assert problems == ["$.lines[].adjustments[].amount: type changed from string to number"]


def test_changing_a_format_is_a_retype(received: dict[str, Any]) -> None:
    new = copy.deepcopy(received)
    new["properties"]["submitted_at"]["format"] = "date"
    expected = "$.submitted_at: type changed from string(date-time) to string(date)"
    assert breaking_changes(received, new) == [expected]


def test_array_items_changing_type_breaks(received: dict[str, Any]) -> None:
    new = copy.deepcopy(received)
    new["properties"]["diagnoses"]["items"] = {"type": "string"}
    assert breaking_changes(received, new) == ["$.diagnoses[]: type changed from object to string"]


def test_pointing_a_ref_at_another_definition_is_checked_structurally(received: dict[str, Any]) -> None:
    new = copy.deepcopy(received)
    new["properties"]["provider"] = {"$ref": "#/$defs/MemberContact"}
    problems = breaking_changes(received, new)
    assert "$.provider.provider_id: property removed" in problems
    assert "$.provider.member_id: new required property" in problems


def test_nullability_changes_break_both_ways(adjudicated: dict[str, Any]) -> None:
    no_longer_null = copy.deepcopy(adjudicated)
    no_longer_null["properties"]["plan_code"] = no_longer_null["properties"]["plan_code"]["anyOf"][0]
    expected = "$.plan_code: type changed from null | string to string"
    assert breaking_changes(adjudicated, no_longer_null) == [expected]
    now_null = copy.deepcopy(adjudicated)
    now_null["properties"]["claim_id"] = {"anyOf": [adjudicated["properties"]["claim_id"], {"type": "null"}]}
    expected = "$.claim_id: type changed from string to null | string"
    assert breaking_changes(adjudicated, now_null) == [expected]


def test_optional_becoming_required_breaks(received: dict[str, Any]) -> None:
    new = copy.deepcopy(received)
    new["required"].append("bank_account")
    assert breaking_changes(received, new) == ["$.bank_account: optional property became required"]


def test_nested_optional_becoming_required_breaks(received: dict[str, Any]) -> None:
    new = copy.deepcopy(received)
    new["$defs"]["MemberContact"]["required"].append("email")
    assert breaking_changes(received, new) == ["$.member.email: optional property became required"]


def test_a_new_required_property_breaks(received: dict[str, Any]) -> None:
    new = copy.deepcopy(received)
    new["properties"]["fraud_score"] = {"type": "integer"}
    new["required"].append("fraud_score")
    assert breaking_changes(received, new) == ["$.fraud_score: new required property"]


def test_adding_optional_properties_is_fine(received: dict[str, Any]) -> None:
    new = copy.deepcopy(received)
    new["properties"]["channel_hint"] = {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}
    new["$defs"]["ClaimLine"]["properties"]["modifier"] = {"type": "string", "default": ""}
    assert breaking_changes(received, new) == []


def test_annotations_do_not_matter(received: dict[str, Any]) -> None:
    new = copy.deepcopy(received)
    new["description"] = "reworded"
    new["properties"]["charged"]["title"] = "Total"
    new["properties"]["charged"]["examples"] = ["1.00"]
    assert breaking_changes(received, new) == []


def test_removing_an_enum_value_breaks(received: dict[str, Any]) -> None:
    new = copy.deepcopy(received)
    new["$defs"]["Category"]["enum"].remove("other")
    assert breaking_changes(received, new) == ["$.lines[].category: enum values removed: other"]


def test_adding_an_enum_value_breaks_old_consumers_unless_allowed(adjudicated: dict[str, Any]) -> None:
    new = copy.deepcopy(adjudicated)
    new["$defs"]["Outcome"]["enum"].append("void")
    expected = "$.outcome: enum values added (an old consumer rejects them): void"
    assert breaking_changes(adjudicated, new) == [expected]
    assert breaking_changes(adjudicated, new, allow_enum_additions=True) == []


def test_changing_a_constraint_breaks(received: dict[str, Any]) -> None:
    new = copy.deepcopy(received)
    new["properties"]["claim_id"]["maxLength"] = 32
    assert breaking_changes(received, new) == ["$.claim_id: maxLength changed from 64 to 32"]


def test_recursive_definitions_terminate() -> None:
    old: dict[str, Any] = {
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "child": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]},
                },
            }
        },
        "$ref": "#/$defs/Node",
    }
    assert breaking_changes(old, copy.deepcopy(old)) == []
    new = copy.deepcopy(old)
    new["$defs"]["Node"]["properties"]["name"]["type"] = "integer"
    assert breaking_changes(old, new) == ["$.name: type changed from string to integer"]


class _AddressV1(BaseModel):
    city: str


class _MemberV1(BaseModel):
    member_id: str
    address: _AddressV1


class _AddressV2(BaseModel):
    city: str
    postcode: str | None = None


class _MemberV2(BaseModel):
    member_id: str
    address: _AddressV2
    nickname: str = ""


class _AddressV3(BaseModel):
    city: int


class _MemberV3(BaseModel):
    member_id: str
    address: _AddressV3


def test_pydantic_generated_schemas_evolve_as_expected() -> None:
    v1 = _MemberV1.model_json_schema(mode="serialization")
    v2 = _MemberV2.model_json_schema(mode="serialization")
    v3 = _MemberV3.model_json_schema(mode="serialization")
    assert breaking_changes(v1, v2) == []
    assert breaking_changes(v1, v3) == ["$.address.city: type changed from string to integer"]
    assert "$.nickname: property removed" in breaking_changes(v2, v1)


def test_external_references_must_stay_the_same() -> None:
    old = {"type": "object", "properties": {"payload": {"$ref": "./A.v1.json"}}}
    new = {"type": "object", "properties": {"payload": {"$ref": "./A.v2.json"}}}
    assert breaking_changes(old, copy.deepcopy(old)) == []
    assert breaking_changes(old, new) == ["$.payload: reference changed from './A.v1.json' to './A.v2.json'"]

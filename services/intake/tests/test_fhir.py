"""FHIR R4B: the official HL7 example claims and mapped claims through HTTP."""

from __future__ import annotations

import copy
import io
import json
import zipfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fhir.resources.R4B.claimresponse import ClaimResponse
from fhir.resources.R4B.operationoutcome import OperationOutcome

from claims_contracts.events import Adjustment, ClaimAdjudicated, DecisionLine
from claims_contracts.topics import ADJUDICATION_TOPIC

# `make venv` downloads the fhirstarter wheel (without installing it: its pins conflict with our FastAPI)
# into the virtualenv; its R4B examples archive holds the official HL7 example claims.
WHEELS = Path(__file__).resolve().parents[3] / ".venv" / "fhir-examples"
FHIR = {"Content-Type": "application/fhir+json"}


def official_examples() -> dict:
    """The R4B claim examples, read from the fhirstarter package's specification archive."""
    wheels = sorted(WHEELS.glob("fhirstarter-*.whl"))
    assert wheels, f"no fhirstarter wheel in {WHEELS}: run `make venv`"
    with zipfile.ZipFile(wheels[-1]) as wheel:
        archive = wheel.read("fhirstarter/fhir_specification/sequences/R4B/examples.zip")
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        return json.loads(zf.read("claim.json"))


EXAMPLES = official_examples()
INLINE = {key: entry["value"] for key, entry in EXAMPLES.items() if "value" in entry}


def _fhir_shaped(resp) -> dict:
    assert resp.status_code < 500
    assert resp.headers["content-type"].startswith("application/fhir+json")
    body = resp.json()
    model = {"ClaimResponse": ClaimResponse, "OperationOutcome": OperationOutcome}[body["resourceType"]]
    model.model_validate(body)
    return body


def _expressions(outcome: dict) -> list[str]:
    return [e for issue in outcome["issue"] for e in issue.get("expression", [])]


def test_the_archive_has_the_official_claims():
    assert "100150" in INLINE
    assert len(EXAMPLES) == 17


@pytest.mark.parametrize("key", sorted(INLINE))
async def test_every_official_example_gets_a_fhir_answer(intake, key):
    resp = await intake.client.post(
        "/fhir/Claim", content=json.dumps(INLINE[key]), headers={**intake.partner("1"), **FHIR}
    )
    body = _fhir_shaped(resp)
    if key == "100150":
        # a dental claim in USD with a code that is not ICD-10 and items without a category: named, not stored
        assert resp.status_code == 422
        assert body["resourceType"] == "OperationOutcome"
        assert "Claim.diagnosis[0].diagnosisCodeableConcept" in _expressions(body)
        assert "Claim.item[0].category" in _expressions(body)
        assert (await intake.sql("SELECT count(*) FROM claims WHERE channel = 'fhir' AND provider_id = '1'"))[0][0] == 0


def hospital_claim(identifier: str) -> dict:
    """The official simple claim, made one this insurer can take: ICD-10, CNY, a category, a recent date."""
    claim = copy.deepcopy(INLINE["100150"])
    claim["identifier"] = [{"system": "http://happyvalley.com/claim", "value": identifier}]
    claim["type"]["coding"][0]["code"] = "professional"
    claim["patient"] = {"identifier": {"value": "M-2001"}, "display": "李四"}
    claim["provider"] = {"identifier": {"value": "H-100"}, "display": "Happy Valley Hospital"}
    claim["insurance"][0]["coverage"] = {"identifier": {"value": "POL-2026-0042"}}
    claim["diagnosis"][0]["diagnosisCodeableConcept"] = {
        "coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "J18.9"}]
    }
    item = claim["item"][0]
    item["servicedDate"] = "2026-03-10"
    item["category"] = {"coding": [{"system": "urn:claims:category", "code": "consultation"}]}
    item["quantity"] = {"value": 2}
    item["unitPrice"] = {"value": 135.57, "currency": "CNY"}
    item["net"] = {"value": 271.14, "currency": "CNY"}
    return claim


async def test_a_hospital_claim_is_mapped_queued_and_later_adjudicated(intake, kit):
    claim = hospital_claim(kit.unique("fhir-"))
    hospital = {**intake.partner("H-100"), **FHIR}
    resp = await intake.client.post("/fhir/Claim", content=json.dumps(claim), headers=hospital)
    assert resp.status_code == 201, resp.text
    answer = _fhir_shaped(resp)
    assert answer["resourceType"] == "ClaimResponse"
    assert answer["outcome"] == "queued"
    claim_id = answer["id"]
    assert resp.headers["location"] == f"/fhir/ClaimResponse/{claim_id}"

    again = await intake.client.post("/fhir/Claim", content=json.dumps(claim), headers=hospital)
    assert again.json()["id"] == claim_id

    mapped = (await intake.client.get(f"/v1/claims/{claim_id}", headers=intake.partner("H-100"))).json()
    assert mapped["policy_number"] == "POL-2026-0042"
    assert mapped["member"]["member_id"] == "M-2001"
    assert mapped["member"]["name"] == "李四"
    assert mapped["provider"] == {"provider_id": "H-100", "name": "Happy Valley Hospital"}
    assert mapped["claim_type"] == "outpatient"
    assert mapped["payee"] == "provider"
    assert mapped["diagnoses"] == [{"code": "J18.9", "primary": True}]
    assert mapped["lines"][0]["category"] == "consultation"
    assert mapped["lines"][0]["quantity"] == "2"
    assert mapped["lines"][0]["unit_price"] == "135.57"
    assert mapped["lines"][0]["amount"] == "271.14"
    assert mapped["status"] == "pending_documents"
    assert mapped["submitted_by_provider"] is True

    for doc_type in kit.ALL_OUTPATIENT_DOCS:
        up = await intake.client.post(
            f"/v1/claims/{claim_id}/documents",
            data={"type": doc_type},
            files={"file": (f"{doc_type}.pdf", kit.PDF, "application/pdf")},
            headers=intake.partner("H-100"),
        )
        assert up.status_code == 201
    assert up.json()["status"] == "in_review"
    decision = ClaimAdjudicated(
        claim_id=claim_id,
        decision_version=1,
        outcome="approved",
        plan_code="STD-2026",
        plan_version=1,
        policy_number="POL-2026-0042",
        member_id="M-2001",
        provider_id="H-100",
        payee="provider",
        currency="CNY",
        charged=Decimal("271.14"),
        allowed=Decimal("271.14"),
        payable=Decimal("56.91"),
        member_responsibility=Decimal("214.23"),
        other_insurance=Decimal("0.00"),
        lines=[
            DecisionLine(
                line_no=1,
                category="consultation",
                charged=Decimal("271.14"),
                allowed=Decimal("271.14"),
                payable=Decimal("56.91"),
                adjustments=[
                    Adjustment(
                        reason="DEDUCTIBLE",
                        group="PR",
                        carc="1",
                        amount=Decimal("200.00"),
                        explanation_zh="免赔额",
                        explanation_en="Deductible",
                    ),
                    Adjustment(
                        reason="COINSURANCE",
                        group="PR",
                        carc="2",
                        amount=Decimal("14.23"),
                        explanation_zh="自付",
                        explanation_en="Coinsurance",
                    ),
                ],
            )
        ],
        decided_by="auto",
        automatic=True,
        decided_at=datetime.now(UTC),
    )
    await intake.feed(ADJUDICATION_TOPIC, decision, claim_id, "adjudication")
    await intake.wait_status(claim_id, "approved", intake.admin())
    got = await intake.client.get(f"/fhir/ClaimResponse/{claim_id}", headers=intake.partner("H-100"))
    response = _fhir_shaped(got)
    assert response["outcome"] == "complete"
    adjudication = {
        a["category"]["coding"][0]["code"]: Decimal(str(a["amount"]["value"]))
        for a in response["item"][0]["adjudication"]
    }
    assert adjudication == {
        "submitted": Decimal("271.14"),
        "eligible": Decimal("271.14"),
        "deductible": Decimal("200.00"),
        "benefit": Decimal("56.91"),
    }
    assert response["request"]["identifier"]["value"] == claim["identifier"][0]["value"]
    other = await intake.client.get(f"/fhir/ClaimResponse/{claim_id}", headers=intake.partner("H-999"))
    assert other.status_code == 404
    assert _fhir_shaped(other)["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(
    ("change", "status", "expression"),
    [
        (lambda c: "{not json", 400, "Claim"),
        (lambda c: {**c, "resourceType": "Patient"}, 422, "Claim.resourceType"),
        (lambda c: {**c, "status": "bogus"}, 422, "Claim.status"),
        (lambda c: {**c, "use": "preauthorization"}, 422, "Claim.use"),
        (
            lambda c: {**c, "diagnosis": [{"sequence": 1, "diagnosisReference": {"reference": "Condition/1"}}]},
            422,
            "Claim.diagnosis[0]",
        ),
        (lambda c: {**c, "payee": {"type": {"coding": [{"code": "subscriber"}]}}}, 422, "Claim.payee.type"),
        (lambda c: {**c, "item": [{**c["item"][0], "servicedDate": "2999-01-01"}]}, 422, "Claim.item[0].servicedDate"),
        (lambda c: {**c, "item": [{**c["item"][0], "net": {"value": 1, "currency": "CNY"}}]}, 422, "Claim.item[0].net"),
        (
            lambda c: {**c, "item": [{**c["item"][0], "unitPrice": {"value": 1, "currency": "USD"}}]},
            422,
            "Claim.item.unitPrice.currency",
        ),
        (lambda c: {**c, "provider": {"identifier": {"value": "H-OTHER"}}}, 403, "Claim.provider"),
    ],
    ids=[
        "broken-json",
        "not-a-claim",
        "bad-status",
        "preauth",
        "diagnosis-reference",
        "member-payee",
        "future-date",
        "net-mismatch",
        "two-currencies",
        "other-hospital",
    ],
)
async def test_what_cannot_be_mapped_is_an_operation_outcome_naming_the_element(
    intake, kit, change, status, expression
):
    claim = hospital_claim(kit.unique("bad-"))
    claim["patient"] = {"identifier": {"value": f"M-{kit.unique()}"}}
    changed = change(claim)
    content = changed if isinstance(changed, str) else json.dumps(changed)
    resp = await intake.client.post("/fhir/Claim", content=content, headers={**intake.partner("H-100"), **FHIR})
    assert resp.status_code == status, resp.text
    outcome = _fhir_shaped(resp)
    assert outcome["resourceType"] == "OperationOutcome"
    assert any(e.startswith(expression) for e in _expressions(outcome)), _expressions(outcome)
    member_id = claim["patient"]["identifier"]["value"]
    assert (await intake.sql("SELECT count(*) FROM claims WHERE member_id = :m", m=member_id))[0][0] == 0

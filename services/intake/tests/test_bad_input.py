"""Bad input never becomes a claim: a 4xx problem naming the field, nothing stored, nothing published."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest


def _set(body, path, value):
    target = body
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    last = keys[-1]
    if value is _DELETE:
        del target[last]
    elif last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return body


_DELETE = object()
FUTURE = "2999-01-01"

CASES = [
    # (name, path, value, expected field)
    ("unknown ICD-10 code", "diagnoses.0.code", "X99.9", "diagnoses[0].code"),
    ("malformed ICD-10 code", "diagnoses.0.code", "123456", "diagnoses[0].code"),
    ("no primary diagnosis", "diagnoses.0.primary", False, "diagnoses"),
    ("amount is not quantity x unit price", "lines.2.amount", "299.99", "lines[2].amount"),
    ("three decimals", "lines.0.unit_price", "200.001", "lines[0].unit_price"),
    ("negative price", "lines.0.unit_price", "-200.00", "lines[0].unit_price"),
    ("zero quantity", "lines.0.quantity", "0", "lines[0].quantity"),
    ("amount as a float number", "lines.0.amount", 200.0, "lines[0].amount"),
    ("amount as text", "lines.0.amount", "two hundred", "lines[0].amount"),
    ("service date in the future", "lines.0.service_date", FUTURE, "lines[0].service_date"),
    ("not a date", "lines.0.service_date", "2026-02-30", "lines[0].service_date"),
    ("unknown claim type", "claim_type", "dental", "claim_type"),
    ("unknown category", "lines.0.category", "spa", "lines[0].category"),
    ("payee member without bank account", "bank_account", _DELETE, "bank_account"),
    ("unknown payee", "payee", "someone", "payee"),
    ("bad bank account number", "bank_account.account_number", "12-34", "bank_account.account_number"),
    ("foreign currency", "currency", "USD", "currency"),
    ("not a currency code", "currency", "YUAN", "currency"),
    ("wrong type for accident", "accident", "maybe", "accident"),
    ("name too long", "member.name", "x" * 201, "member.name"),
    ("description too long", "lines.0.description", "x" * 501, "lines[0].description"),
    ("no lines", "lines", [], "lines"),
    ("no policy number", "policy_number", _DELETE, "policy_number"),
    ("unknown field", "surprise", 1, "surprise"),
    ("other insurance above the amount", "lines.0.other_insurance_paid", "250.00", "lines[0].other_insurance_paid"),
    ("duplicate line numbers", "lines.1.line_no", 1, "lines[1].line_no"),
    ("inpatient fields on an outpatient claim", "admission_date", "2026-03-01", "admission_date"),
    ("bad resident ID number", "member.id_number", "12345", "member"),
    ("document not base64", "documents.0.content_base64", "not base64!!", "documents[0].content_base64"),
    ("document is not a PDF", "documents.0.content_base64", "SGVsbG8sIHdvcmxkIQ==", "documents[0].content_base64"),
    ("document type unknown", "documents.0.type", "selfie", "documents[0].type"),
    ("document content type not allowed", "documents.0.content_type", "text/html", "documents[0].content_type"),
    ("filename with a path", "documents.0.filename", "../../etc/passwd", "documents[0].filename"),
]


async def _nothing_happened(intake, member_id):
    found = await intake.client.get("/v1/claims", params={"member_id": member_id}, headers=intake.admin())
    assert found.status_code == 200
    assert found.json()["items"] == []
    assert (await intake.sql("SELECT count(*) FROM claims"))[0][0] == 0
    assert (await intake.sql("SELECT count(*) FROM outbox"))[0][0] == 0
    assert (await intake.sql("SELECT count(*) FROM documents"))[0][0] == 0
    assert (await intake.sql("SELECT count(*) FROM document_contents"))[0][0] == 0
    documents = intake.data_dir / "documents"
    assert not documents.exists() or not any(documents.rglob("*"))


@pytest.mark.parametrize(("name", "path", "value", "field"), CASES, ids=[c[0] for c in CASES])
async def test_bad_field_is_a_problem_naming_it(intake, claim, name, path, value, field):
    body = _set(claim(), path, value if value is _DELETE else copy.deepcopy(value))
    resp = await intake.client.post(
        "/v1/claims", json=body, headers={**intake.partner(), "Idempotency-Key": "bad-" + name.replace(" ", "-")}
    )
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    problem = resp.json()
    assert problem["status"] == 422
    fields = [e["field"] for e in problem["errors"]]
    assert field in fields, fields
    assert "110101199003071234" not in resp.text
    assert "6222020200001234567" not in resp.text
    await _nothing_happened(intake, body["member"]["member_id"])


async def test_inconsistent_inpatient_stay(intake, claim):
    body = claim(claim_type="inpatient", admission_date="2026-03-10", discharge_date="2026-03-08")
    resp = await intake.client.post("/v1/claims", json=body, headers=intake.partner())
    assert resp.status_code == 422
    assert "discharge_date" in [e["field"] for e in resp.json()["errors"]]
    body = claim(claim_type="inpatient")
    resp = await intake.client.post("/v1/claims", json=body, headers=intake.partner())
    assert {"admission_date", "discharge_date"} <= {e["field"] for e in resp.json()["errors"]}
    await _nothing_happened(intake, body["member"]["member_id"])


async def test_every_bad_field_is_listed_at_once(intake, claim, kit):
    body = claim()
    body["diagnoses"][0]["code"] = "X99.9"
    body["lines"][0]["amount"] = "1.00"
    body["lines"][1]["service_date"] = (kit.today() + timedelta(days=3)).isoformat()
    resp = await intake.client.post("/v1/claims", json=body, headers=intake.partner())
    assert resp.status_code == 422
    assert {"diagnoses[0].code", "lines[0].amount", "lines[1].service_date"} <= {
        e["field"] for e in resp.json()["errors"]
    }
    await _nothing_happened(intake, body["member"]["member_id"])


async def test_broken_json_and_wrong_shapes(intake, claim):
    headers = {**intake.partner(), "Content-Type": "application/json"}
    resp = await intake.client.post("/v1/claims", content=b'{"policy_number": "P-1", ', headers=headers)
    assert resp.status_code == 400
    assert resp.headers["content-type"].startswith("application/problem+json")
    resp = await intake.client.post("/v1/claims", content=b"[1, 2, 3]", headers=headers)
    assert resp.status_code == 422
    resp = await intake.client.post("/v1/claims", content=b"[" * 100 + b"]" * 100, headers=headers)
    assert resp.status_code == 400
    too_many = claim()
    too_many["lines"] = [dict(too_many["lines"][0], line_no=i + 1) for i in range(1001)]
    resp = await intake.client.post("/v1/claims", json=too_many, headers=intake.partner())
    assert resp.status_code == 422
    assert "lines" in [e["field"] for e in resp.json()["errors"]]
    bad_key = await intake.client.post(
        "/v1/claims", json=claim(), headers={**intake.partner(), "Idempotency-Key": "x" * 256}
    )
    assert bad_key.status_code == 422
    assert "Idempotency-Key" in [e["field"] for e in bad_key.json()["errors"]]
    await _nothing_happened(intake, too_many["member"]["member_id"])


async def test_oversized_bodies_and_documents(intake, claim, kit):
    big = kit.PDF + b"0" * (10 * 1024 * 1024)
    body = claim()
    body["documents"] = [kit.inline("claim_form", big)]
    resp = await intake.client.post("/v1/claims", json=body, headers=intake.partner())
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "documents[0].content_base64"
    body["documents"] = [kit.inline(t, big) for t in ("claim_form", "invoice")]
    resp = await intake.client.post("/v1/claims", json=body, headers=intake.partner())
    assert resp.status_code == 413
    assert resp.headers["content-type"].startswith("application/problem+json")
    await _nothing_happened(intake, body["member"]["member_id"])


async def test_a_png_declared_as_pdf_is_refused(intake, claim, kit):
    body = claim()
    body["documents"] = [kit.inline("claim_form", kit.PNG, "application/pdf")]
    resp = await intake.client.post("/v1/claims", json=body, headers=intake.partner())
    assert resp.status_code == 422
    assert "image/png" in resp.json()["errors"][0]["message"]
    await _nothing_happened(intake, body["member"]["member_id"])

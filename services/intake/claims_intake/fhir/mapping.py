"""FHIR R4B ``Claim`` → the intake's claim, and the archive → ``ClaimResponse`` / ``OperationOutcome``.

What cannot be mapped or validated is an ``OperationOutcome`` naming the element (FHIRPath), never a 5xx.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from fhir.resources.R4B.claim import Claim
from fhir.resources.R4B.claimresponse import ClaimResponse
from fhir.resources.R4B.operationoutcome import OperationOutcome
from pydantic import ValidationError

from claims_intake.icd10 import icd10_exists

FHIR_JSON = "application/fhir+json"
ICD10_SYSTEMS = frozenset(
    {
        "http://hl7.org/fhir/sid/icd-10",
        "http://hl7.org/fhir/sid/icd-10-cn",
        "urn:oid:2.16.840.1.113883.6.3",
    }
)
CLAIM_TYPE_SYSTEM = "urn:claims:claim-type"
CATEGORY_SYSTEM = "urn:claims:category"
OUR_CLAIM_TYPES = frozenset({"outpatient", "inpatient", "emergency", "pharmacy"})
OUR_CATEGORIES = frozenset(
    {"consultation", "examination", "imaging", "drugs", "surgery", "room", "nursing", "consumables", "other"}
)
# http://terminology.hl7.org/CodeSystem/ex-benefitcategory codes with a clear counterpart
BENEFIT_CATEGORIES = {
    "2": "surgery",
    "3": "consultation",
    "4": "imaging",
    "5": "examination",
    "14": "consumables",
    "30": "other",
    "35": "other",
    "F1": "other",
    "1": "other",
}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


class FhirError(Exception):
    """An error answered as an ``OperationOutcome``."""

    def __init__(self, status: int, issues: list[tuple[str, str, str]]) -> None:
        super().__init__(issues[0][1] if issues else "invalid")
        self.status = status
        self.issues = issues
        """``(code, diagnostics, expression)`` triples."""


def operation_outcome(issues: list[tuple[str, str, str]]) -> dict[str, Any]:
    """An OperationOutcome resource (validated by the R4B model)."""
    resource = OperationOutcome.model_validate(
        {
            "resourceType": "OperationOutcome",
            "issue": [
                {"severity": "error", "code": code, "diagnostics": text[:1000], "expression": [expr]}
                for code, text, expr in issues
            ],
        }
    )
    return resource.model_dump(mode="json", exclude_none=True)


def _fhir_path(loc: tuple[Any, ...]) -> str:
    out = "Claim"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def parse_claim(raw: Any) -> Claim:
    """A validated R4B Claim, or a FhirError naming each bad element."""
    if not isinstance(raw, dict):
        raise FhirError(400, [("structure", "the body must be a JSON object, a FHIR resource", "Claim")])
    if raw.get("resourceType") != "Claim":
        raise FhirError(422, [("invalid", "resourceType must be Claim", "Claim.resourceType")])
    try:
        return Claim.model_validate(raw)
    except ValidationError as exc:
        issues = [
            ("structure" if e["type"] in ("missing", "extra_forbidden") else "value", e["msg"], _fhir_path(e["loc"]))
            for e in exc.errors(include_input=False, include_url=False)
        ]
        raise FhirError(422, issues[:50]) from None
    except (ValueError, TypeError) as exc:
        raise FhirError(422, [("invalid", str(exc)[:300], "Claim")]) from None


def _ref_id(ref: Any, path: str, issues: list[tuple[str, str, str]], what: str) -> str | None:
    """The id a Reference stands for: its identifier's value, else the last part of its reference."""
    if ref is None:
        issues.append(("required", f"{what} is required", path))
        return None
    ident = getattr(ref, "identifier", None)
    value = getattr(ident, "value", None) if ident is not None else None
    if value is None and getattr(ref, "reference", None):
        value = str(ref.reference).lstrip("#").rsplit("/", 1)[-1]
    if value is None or not _ID.match(str(value)):
        issues.append(("value", f"{what} needs an identifier.value or a reference with a usable id", path))
        return None
    return str(value)


def _contained(claim: Claim, ref: Any, resource_type: str) -> Any:
    reference = getattr(ref, "reference", None) or ""
    if not reference.startswith("#"):
        return None
    for res in claim.contained or []:
        if getattr(res, "id", None) == reference[1:] and type(res).__name__ == resource_type:
            return res
    return None


def _display(claim: Claim, ref: Any, resource_type: str, fallback: str) -> str:
    if getattr(ref, "display", None):
        return str(ref.display)[:200]
    res = _contained(claim, ref, resource_type)
    if res is not None:
        if resource_type == "Organization" and getattr(res, "name", None):
            return str(res.name)[:200]
        names = getattr(res, "name", None) or []
        if names:
            name = names[0]
            text = name.text or " ".join([*(name.given or []), name.family or ""]).strip()
            if text:
                return str(text)[:200]
    return fallback


def _codes(concept: Any) -> list[tuple[str | None, str]]:
    if concept is None:
        return []
    return [(c.system, c.code) for c in (concept.coding or []) if c.code]


def _claim_type(claim: Claim, issues: list[tuple[str, str, str]]) -> tuple[str, Any, Any]:
    admission = discharge = None
    for info in claim.supportingInfo or []:
        if any(code == "admissionperiod" for _, code in _codes(info.category)) and info.timingPeriod is not None:
            admission = info.timingPeriod.start
            discharge = info.timingPeriod.end
    codes = _codes(claim.type) + _codes(claim.subType)
    for system, code in codes:
        if system == CLAIM_TYPE_SYSTEM and code in OUR_CLAIM_TYPES:
            return code, admission, discharge
    for _, code in _codes(claim.subType):
        if code in ("emergency", "emergent"):
            return "emergency", admission, discharge
    fhir_type = next((code for _, code in _codes(claim.type)), None)
    if fhir_type == "pharmacy":
        return "pharmacy", admission, discharge
    if fhir_type == "institutional" and admission is not None:
        return "inpatient", admission, discharge
    if fhir_type in ("professional", "institutional", "oral", "vision"):
        return "outpatient", None, None
    issues.append(("code-invalid", f"claim type {fhir_type!r} cannot be mapped", "Claim.type"))
    return "outpatient", None, None


def _date_of(value: Any) -> str | None:
    if value is None:
        return None
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return text[:10] if len(text) >= 10 else None


def _money(value: Any) -> tuple[Decimal | None, str | None]:
    if value is None or value.value is None:
        return None, None
    try:
        return Decimal(str(value.value)), value.currency
    except InvalidOperation:
        return None, value.currency


def _text2(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):.2f}" if value == value.quantize(Decimal("0.01")) else str(value)


def map_claim(claim: Claim, accepted_currencies: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The intake claim body for a FHIR Claim, and what is kept of the FHIR request; FhirError when unmappable."""
    issues: list[tuple[str, str, str]] = []
    if claim.status != "active":
        issues.append(("value", f"only an active claim is accepted, not {claim.status!r}", "Claim.status"))
    if claim.use != "claim":
        issues.append(("not-supported", f"only use 'claim' is accepted, not {claim.use!r}", "Claim.use"))
    insurances = claim.insurance or []
    focal = next((i for i, ins in enumerate(insurances) if ins.focal), 0)
    policy = None
    if insurances:
        policy = _ref_id(insurances[focal].coverage, f"Claim.insurance[{focal}].coverage", issues, "the coverage")
    else:
        issues.append(("required", "an insurance with its coverage is required", "Claim.insurance"))
    member_id = _ref_id(claim.patient, "Claim.patient", issues, "the patient")
    provider_id = _ref_id(claim.provider, "Claim.provider", issues, "the provider")
    claim_type, admission, discharge = _claim_type(claim, issues)

    diagnoses = []
    ordered = sorted(enumerate(claim.diagnosis or []), key=lambda p: p[1].sequence or 0)
    principal_seen = False
    for i, diag in ordered:
        path = f"Claim.diagnosis[{i}]"
        if diag.diagnosisCodeableConcept is None:
            issues.append(("not-supported", "a diagnosis must be an ICD-10 code, not a reference", path))
            continue
        icd = [code for system, code in _codes(diag.diagnosisCodeableConcept) if system in ICD10_SYSTEMS or not system]
        code = next((c for c in icd if icd10_exists(c)), None)
        if code is None:
            issues.append(("code-invalid", "no ICD-10 code of the classification", f"{path}.diagnosisCodeableConcept"))
            continue
        principal = any(c in ("principal", "admitting") for t in diag.type or [] for _, c in _codes(t))
        diagnoses.append({"code": code.upper(), "primary": principal and not principal_seen})
        principal_seen = principal_seen or principal
    if not claim.diagnosis:
        issues.append(("required", "at least one ICD-10 diagnosis is required", "Claim.diagnosis"))
    if diagnoses and not principal_seen:
        diagnoses[0]["primary"] = True

    currencies: set[str] = set()
    lines: list[dict[str, Any]] = []
    for i, item in enumerate(claim.item or []):
        path = f"Claim.item[{i}]"
        category = None
        for system, code in _codes(item.category):
            if code in OUR_CATEGORIES and system in (None, CATEGORY_SYSTEM):
                category = code
            elif code in BENEFIT_CATEGORIES:
                category = category or BENEFIT_CATEGORIES[code]
        if category is None:
            issues.append(("code-invalid", "the item's category cannot be mapped", f"{path}.category"))
        service_date = _date_of(item.servicedDate) or _date_of(getattr(item.servicedPeriod, "start", None))
        if service_date is None:
            issues.append(("required", "servicedDate or servicedPeriod is required", f"{path}.servicedDate"))
        quantity = Decimal(str(item.quantity.value)) if item.quantity and item.quantity.value is not None else None
        quantity = quantity if quantity is not None else Decimal(1)
        unit_price, unit_currency = _money(item.unitPrice)
        net, net_currency = _money(item.net)
        if item.factor is not None and Decimal(str(item.factor)) != 1:
            issues.append(("not-supported", "a factor other than 1 is not supported", f"{path}.factor"))
        if unit_price is None and net is not None and quantity:
            unit_price = net / quantity
        if unit_price is None:
            issues.append(("required", "unitPrice or net is required", f"{path}.unitPrice"))
            continue
        amount = net if net is not None else (quantity * unit_price).quantize(Decimal("0.01"))
        currencies.update(c for c in (unit_currency, net_currency) if c)
        coding = item.productOrService.coding or [] if item.productOrService else []
        code = next((c.code for c in coding if c.code), None) or "UNSPECIFIED"
        description = (
            (item.productOrService.text if item.productOrService else None)
            or next((c.display for c in coding if c.display), None)
            or code
        )
        lines.append(
            {
                "line_no": item.sequence,
                "service_date": service_date,
                "category": category or "other",
                "code": str(code)[:50],
                "description": str(description)[:500],
                "quantity": format(quantity.normalize(), "f"),
                "unit_price": _text2(unit_price),
                "amount": _text2(amount),
            }
        )
    if not claim.item:
        issues.append(("required", "at least one item is required", "Claim.item"))
    total, total_currency = _money(claim.total)
    if total_currency:
        currencies.add(total_currency)
    if len(currencies) > 1:
        issues.append(("value", "items use more than one currency", "Claim.item.unitPrice.currency"))
    currency = next(iter(currencies)) if currencies else accepted_currencies[0]
    if total is not None and lines and not issues:
        charged = sum(Decimal(line["amount"]) for line in lines)
        if charged != total:
            issues.append(("value", f"total {total} is not the sum of the items' net ({charged})", "Claim.total"))

    payee = "provider"
    if claim.payee is not None:
        payee_code = next((c for _, c in _codes(claim.payee.type)), "provider")
        if payee_code != "provider":
            issues.append(
                (
                    "not-supported",
                    "payment to the member needs a bank account: submit such claims through POST /v1/claims",
                    "Claim.payee.type",
                )
            )
    if issues:
        raise FhirError(422, issues)
    body = {
        "policy_number": policy,
        "member": {"member_id": member_id, "name": _display(claim, claim.patient, "Patient", str(member_id))},
        "provider": {
            "provider_id": provider_id,
            "name": _display(claim, claim.provider, "Organization", str(provider_id)),
        },
        "claim_type": claim_type,
        "accident": claim.accident is not None,
        "diagnoses": diagnoses,
        "lines": lines,
        "currency": currency,
        "payee": payee,
    }
    if claim_type == "inpatient":
        body["admission_date"] = _date_of(admission)
        body["discharge_date"] = _date_of(discharge)
    identifier = claim.identifier[0] if claim.identifier else None
    kept = {
        "fhir": {
            "type": next((code for _, code in _codes(claim.type)), None),
            "identifier": {"system": identifier.system, "value": identifier.value} if identifier else None,
        }
    }
    return body, kept


def fhir_path_of(field: str) -> str:
    """The FHIR element behind a field of the intake claim."""
    match = re.match(r"^(lines|diagnoses)\[(\d+)\](?:\.(\w+))?", field)
    if match:
        kind, index, attr = match.groups()
        if kind == "diagnoses":
            return f"Claim.diagnosis[{index}].diagnosisCodeableConcept"
        element = {
            "amount": "net",
            "unit_price": "unitPrice",
            "quantity": "quantity",
            "service_date": "servicedDate",
            "category": "category",
            "code": "productOrService",
            "description": "productOrService",
            "line_no": "sequence",
            "other_insurance_paid": "adjudication",
        }.get(attr or "", "")
        return f"Claim.item[{index}]" + (f".{element}" if element else "")
    head = field.split(".", 1)[0].split("[", 1)[0]
    return {
        "diagnoses": "Claim.diagnosis",
        "lines": "Claim.item",
        "policy_number": "Claim.insurance.coverage",
        "member": "Claim.patient",
        "provider": "Claim.provider",
        "currency": "Claim.item.unitPrice.currency",
        "payee": "Claim.payee",
        "bank_account": "Claim.payee",
        "admission_date": "Claim.supportingInfo",
        "discharge_date": "Claim.supportingInfo",
        "claim_type": "Claim.type",
        "Idempotency-Key": "Claim.identifier",
    }.get(head, "Claim")


_FHIR_TYPE = {"pharmacy": "pharmacy", "inpatient": "institutional"}
_DECIDED = frozenset({"approved", "partially_approved", "denied", "payment_scheduled", "paid", "payment_failed"})
_ADJ = "http://terminology.hl7.org/CodeSystem/adjudication"
_PAYMENT_TYPE = "http://terminology.hl7.org/CodeSystem/ex-paymenttype"


def _amount(value: Decimal | str, currency: str) -> dict[str, Any]:
    return {"value": Decimal(str(value)), "currency": currency}


def _adjudication(code: str, value: Decimal | str, currency: str) -> dict[str, Any]:
    return {"category": {"coding": [{"system": _ADJ, "code": code}]}, "amount": _amount(value, currency)}


def claim_response(view: dict[str, Any]) -> dict[str, Any]:
    """The ClaimResponse of a claim (``view`` is the claim as ``GET /v1/claims/{id}`` shows it)."""
    status = view["status"]
    currency = view["currency"]
    outcome = "complete" if status in _DECIDED else ("error" if status in ("withdrawn", "expired") else "queued")
    fhir = view.get("fhir") or {}
    fhir_type = fhir.get("type") or _FHIR_TYPE.get(view["claim_type"], "professional")
    decision = view.get("decision")
    decided_lines = {line["line_no"]: line for line in (decision or {}).get("lines", [])}
    items = []
    for line in view["lines"]:
        adjudication = [_adjudication("submitted", line["amount"], currency)]
        decided = decided_lines.get(line["line_no"])
        if decided is not None:
            deductible = sum(
                (Decimal(a["amount"]) for a in decided["adjustments"] if a["reason"] == "DEDUCTIBLE"), Decimal("0.00")
            )
            adjudication += [
                _adjudication("eligible", decided["allowed"], currency),
                _adjudication("deductible", deductible, currency),
                _adjudication("benefit", decided["payable"], currency),
            ]
        items.append({"itemSequence": line["line_no"], "adjudication": adjudication})
    resource: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "id": view["claim_id"],
        "identifier": [{"system": "urn:claims:claim-id", "value": view["claim_id"]}],
        "status": "active",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": fhir_type}]},
        "use": "claim",
        "patient": {"identifier": {"value": view["member"]["member_id"]}},
        "created": view["submitted_at"],
        "insurer": {"display": "Claims insurer"},
        "requestor": {"identifier": {"value": view["provider"]["provider_id"]}},
        "request": {"reference": f"Claim/{view['claim_id']}"},
        "outcome": outcome,
        "disposition": f"status: {status}",
        "item": items,
        "total": [_adjudication("submitted", view["charged"], currency)],
    }
    if fhir.get("identifier"):
        resource["request"]["identifier"] = {k: v for k, v in fhir["identifier"].items() if v}
    if decision:
        resource["total"].append(_adjudication("benefit", decision["payable"], currency))
    if view.get("missing_documents"):
        resource["processNote"] = [
            {"number": 1, "type": "display", "text": "missing documents: " + ", ".join(view["missing_documents"])}
        ]
    if outcome == "error":
        resource["error"] = [{"code": {"text": f"claim {status}"}}]
    settled = [p for p in view.get("payments", []) if p["status"] == "settled"]
    if settled:
        resource["payment"] = {
            "type": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/ex-paymenttype", "code": "complete"}]
            },
            "amount": _amount(sum((Decimal(p["amount"]) for p in settled), Decimal("0.00")), currency),
        }
    return ClaimResponse.model_validate(resource).model_dump(mode="json", exclude_none=True)

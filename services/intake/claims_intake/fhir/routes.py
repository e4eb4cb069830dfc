"""FHIR R4B for hospitals: ``POST /fhir/Claim`` and ``GET /fhir/ClaimResponse/{id}``."""

from __future__ import annotations

import json
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from claims_intake import cases
from claims_intake.api.schemas import ClaimCreate
from claims_intake.context import IntakeContext
from claims_intake.db.repositories import ClaimRepository
from claims_intake.fhir.mapping import (
    FHIR_JSON,
    FhirError,
    claim_response,
    fhir_path_of,
    map_claim,
    operation_outcome,
    parse_claim,
)
from claims_platform.auth import Principal, require_roles
from claims_platform.deps import UnitOfWorkDep
from claims_platform.errors import ProblemError, validation_errors

router = APIRouter(prefix="/fhir", tags=["fhir"])

Submitter = Annotated[Principal, Depends(require_roles(*cases.SUBMIT_ROLES))]
Reader = Annotated[Principal, Depends(require_roles(*cases.READ_ROLES))]

_FHIR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Not JSON: an OperationOutcome"},
    409: {"description": "Idempotency conflict: an OperationOutcome"},
    422: {"description": "Cannot be mapped or validated: an OperationOutcome naming the element"},
}


async def fhir_error_handler(_: Request, exc: Exception) -> JSONResponse:
    """A FhirError as an OperationOutcome."""
    assert isinstance(exc, FhirError)
    return JSONResponse(operation_outcome(exc.issues), status_code=exc.status, media_type=FHIR_JSON)


def _from_problem(problem: ProblemError) -> FhirError:
    code = {403: "forbidden", 404: "not-found", 409: "duplicate"}.get(problem.status, "invalid")
    issues = [
        (code, f"{e.get('field')}: {e.get('message')}", fhir_path_of(str(e.get("field")))) for e in problem.errors
    ]
    return FhirError(problem.status, issues or [(code, problem.detail or problem.title, "Claim")])


@router.post(
    "/Claim",
    status_code=201,
    responses=_FHIR_RESPONSES,
    summary="Submit a FHIR R4/R4B Claim; answers a ClaimResponse (outcome queued)",
    response_class=JSONResponse,
)
async def submit_fhir_claim(
    request: Request,
    principal: Submitter,
    uow: UnitOfWorkDep,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")
    ] = None,
) -> JSONResponse:
    """Validate with the R4B models, map to the intake claim and submit it like ``POST /v1/claims``."""
    ctx = cast(IntakeContext, request.app.state.intake)
    try:
        raw = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise FhirError(400, [("structure", "the body is not valid JSON", "Claim")]) from None
    claim = parse_claim(raw)
    body, kept = map_claim(claim, ctx.settings.accepted_currencies)
    try:
        create = ClaimCreate.model_validate(body)
    except ValidationError as exc:
        errors = validation_errors(exc.errors(include_input=False))
        issues = [("invalid", f"{e['field']}: {e['message']}", fhir_path_of(e["field"])) for e in errors]
        raise FhirError(422, issues) from None
    identifier = kept["fhir"]["identifier"]
    key = idempotency_key
    if key is None and identifier and identifier.get("value"):
        key = f"fhir:{identifier.get('system') or ''}|{identifier['value']}"[:255]
    try:
        answer, _ = await cases.submit_claim(
            uow, ctx, create, principal, idempotency_key=key, channel="fhir", extra=kept, require_identity=False
        )
    except ProblemError as problem:
        raise _from_problem(problem) from None
    repo = ClaimRepository(uow.session)
    row = await repo.get(answer.claim_id)
    assert row is not None
    view = (await cases.claim_read(repo, row)).model_dump(mode="json")
    view["fhir"] = row.data.get("fhir")
    resource = claim_response(view)
    resource["outcome"] = "queued"
    return JSONResponse(
        resource, status_code=201, media_type=FHIR_JSON, headers={"Location": f"/fhir/ClaimResponse/{answer.claim_id}"}
    )


@router.get("/ClaimResponse/{claim_id}", summary="The ClaimResponse of a claim", response_class=JSONResponse)
async def get_claim_response(claim_id: str, principal: Reader, uow: UnitOfWorkDep) -> JSONResponse:
    """Where the claim stands, with adjudication per item once decided."""
    repo = ClaimRepository(uow.session)
    row = await repo.get(claim_id)
    if row is None or not cases.may_see(row, principal):
        raise FhirError(404, [("not-found", f"no ClaimResponse {claim_id} visible to you", "ClaimResponse.id")])
    view = (await cases.claim_read(repo, row)).model_dump(mode="json")
    view["fhir"] = row.data.get("fhir")
    return JSONResponse(claim_response(view), media_type=FHIR_JSON)

"""Loading the insurer's products: plans (versioned) and policies."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from claims_adjudication.api.schemas import PlanRead, PlanWrite, PolicyRead, PolicyWrite
from claims_adjudication.application.engine import now
from claims_adjudication.db.models import PlanVersionRow, PolicyRow
from claims_adjudication.db.repositories import AuditRepository, PlanRepository, PolicyRepository
from claims_platform.errors import ProblemError


def invalid(errors: list[dict[str, Any]]) -> ProblemError:
    """A 422 problem naming the bad fields, shaped like the request validation errors."""
    return ProblemError(
        422, "Validation failed", "One or more fields are invalid.", type_="/problems/validation", errors=errors
    )


def plan_read(row: PlanVersionRow) -> PlanRead:
    """A stored plan version as the API shows it."""
    return PlanRead.model_validate(
        {
            **row.definition,
            "plan_code": row.plan_code,
            "version": row.version,
            "created_at": row.created_at,
            "created_by": row.created_by,
        }
    )


def policy_read(row: PolicyRow) -> PolicyRead:
    """A stored policy as the API shows it."""
    return PolicyRead(
        policy_number=row.policy_number,
        plan_code=row.plan_code,
        holder_name=row.holder_name,
        effective_date=row.effective_date,
        expiry_date=row.expiry_date,
        status=row.status,
        members=row.members,
        version=row.version,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


async def put_plan(session: AsyncSession, code: str, body: PlanWrite, actor: str) -> tuple[PlanRead, bool]:
    """Store a plan as its next version (unless nothing changed); True when the plan is new."""
    at = now()
    plans = PlanRepository(session)
    await plans.insert_head_if_absent(code, at)
    head = await plans.get(code, lock=True)
    assert head is not None
    definition = body.model_dump(mode="json")
    if head.current_version:
        current = await plans.version(code, head.current_version)
        if current is not None and current.definition == definition:
            return plan_read(current), False
    head.current_version += 1
    head.updated_at = at
    row = PlanVersionRow(
        plan_code=code,
        version=head.current_version,
        name=body.name,
        currency=body.currency,
        definition=definition,
        created_at=at,
        created_by=actor,
    )
    plans.add(row)
    AuditRepository(session).record(
        at=at,
        actor=actor,
        action="plan_version_created",
        entity_type="plan",
        entity_id=code,
        details={"version": row.version, "definition": definition},
    )
    return plan_read(row), head.current_version == 1


async def get_plan(session: AsyncSession, code: str, version: int | None) -> PlanRead:
    """A plan's current (or a given) version; 404 when there is none."""
    row = await PlanRepository(session).version(code, version)
    if row is None:
        raise ProblemError(404, "Not found", f"No plan {code}" + (f" version {version}." if version else "."))
    return plan_read(row)


async def put_policy(session: AsyncSession, number: str, body: PolicyWrite, actor: str) -> tuple[PolicyRead, bool]:
    """Create or update a policy (its version counts up on each change); True when it is new."""
    errors: list[dict[str, Any]] = []
    if body.expiry_date < body.effective_date:
        errors.append({"field": "expiry_date", "message": "must not be before effective_date"})
    seen: set[str] = set()
    for i, member in enumerate(body.members):
        if member.member_id in seen:
            errors.append({"field": f"members[{i}].member_id", "message": "appears more than once"})
        seen.add(member.member_id)
    if await PlanRepository(session).version(body.plan_code) is None:
        errors.append({"field": "plan_code", "message": f"no plan {body.plan_code} is loaded"})
    if errors:
        raise invalid(errors)
    at = now()
    policies = PolicyRepository(session)
    row = await policies.get(number, lock=True)
    fields = {
        "plan_code": body.plan_code,
        "holder_name": body.holder_name,
        "effective_date": body.effective_date,
        "expiry_date": body.expiry_date,
        "status": body.status.value,
        "members": [m.model_dump(mode="json") for m in body.members],
    }
    created = row is None
    if row is None:
        row = PolicyRow(policy_number=number, version=1, created_at=at, updated_at=at, updated_by=actor, **fields)
        policies.add(row)
    elif any(getattr(row, k) != v for k, v in fields.items()):
        for key, value in fields.items():
            setattr(row, key, value)
        row.version += 1
        row.updated_at = at
        row.updated_by = actor
    else:
        return policy_read(row), False
    AuditRepository(session).record(
        at=at,
        actor=actor,
        action="policy_created" if created else "policy_updated",
        entity_type="policy",
        entity_id=number,
        details={"version": row.version, **{k: str(v) if k.endswith("date") else v for k, v in fields.items()}},
    )
    return policy_read(row), created


async def get_policy(session: AsyncSession, number: str) -> PolicyRead:
    """A policy; 404 when unknown."""
    row = await PolicyRepository(session).get(number)
    if row is None:
        raise ProblemError(404, "Not found", f"No policy {number}.")
    return policy_read(row)

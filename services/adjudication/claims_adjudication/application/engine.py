"""Pricing a claim under the member's locked accumulators, and recording a decision with its event.

Every path that decides (automatic on receipt, a reviewer, a supervisor's second approval, a dispute's
re-decision) goes through ``load`` and ``record_decision``: the accumulator rows of the member are
locked (created or locked and read in one ``INSERT … ON CONFLICT DO UPDATE … RETURNING``) before they are
read, so two claims of one member decided at once are priced one after the other, and the decision, the new
accumulators and the outbox event commit together.

Statements are round trips, and round trips are what a claim costs here: ``load`` asks the policy's and plan's
current versions in one query and keeps parsed policies and plans (``products``). The rows a claim writes (the
claim, its decision, the accumulators it moves) are not ORM objects: the repositories collect them and write
them in one statement as the transaction commits (``db/repositories.py``). Several events may be handled in one
session and transaction, and each sees the ones before it: the hot reads take what this transaction staged into
account (a claim received, the accumulator rows it locked, as it changed them), and the other reads of those
tables have it written first. The hot reads are statements built once with bind parameters: building one per
call costs more CPU than running it. A consumer's batch of claims has them made for all its claims at once,
before its events are handled (``ClaimEvents.read_ahead``): three statements instead of three per claim.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from claims_adjudication.db.models import ClaimRow, DecisionRow
from claims_adjudication.db.repositories import (
    AccumulatorRepository,
    DecisionRepository,
    LockedAccumulators,
    NewClaim,
    NewDecision,
    PlanRepository,
    PolicyHead,
    PolicyRepository,
)
from claims_adjudication.domain import (
    Accumulators,
    ClaimToPrice,
    Decision,
    Plan,
    Policy,
    apply_reviewer_adjustment,
    deny_claim_in_other_currency,
    deny_decision,
    price_claim,
)
from claims_adjudication.events.mapping import (
    accumulators_of,
    amounts_json,
    claim_to_price,
    decision_lines,
    delta_of,
    plan_from_definition,
    policy_from_row,
    store_accumulators,
)
from claims_contracts.events import ClaimAdjudicated, ClaimReceived
from claims_contracts.values import AdjustmentReason, Outcome, Payee
from claims_platform.db import UnitOfWork

AccKey = tuple[str, str, date]
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def now() -> datetime:
    """The current instant, UTC."""
    return datetime.now(UTC)


def new_id() -> str:
    """A new opaque identifier."""
    return str(uuid.uuid4())


class _Recent(Generic[K, V]):
    """The ``size`` most recently used entries."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


# Parsed policies and plan versions, so that a policy's member list and a plan's definition are not read and
# decoded for every claim. A policy is keyed by its number, version and write time: its version counts up on
# every change (catalog.put_policy), so a changed policy is a new key; the write time keeps a database made
# anew (tests) from meeting an entry of another one. A plan version never changes once written.
_POLICIES: _Recent[tuple[str, int, datetime], Policy] = _Recent(256)
_PLANS: _Recent[tuple[str, int, datetime], Plan] = _Recent(64)


async def _plan(session: AsyncSession, code: str, version: int | None, created_at: datetime | None) -> Plan | None:
    """A plan version, parsed (from the cache when it was parsed before); the current one when not named."""
    plan = _PLANS.get((code, version, created_at)) if version is not None and created_at is not None else None
    if plan is None:
        row = await PlanRepository(session).version(code, version)
        if row is None:
            return None
        plan = plan_from_definition(row.plan_code, row.version, row.definition)
        _PLANS.put((row.plan_code, row.version, row.created_at), plan)
    return plan


async def products(
    session: AsyncSession, policy_number: str, head: PolicyHead
) -> tuple[Policy | None, int | None, Plan | None]:
    """The policy (with its version) and its plan's current version, as of ``head``."""
    if head.policy_version is None or head.policy_updated_at is None:
        return None, None, None
    policy = _POLICIES.get((policy_number, head.policy_version, head.policy_updated_at))
    version = head.policy_version
    if policy is None:
        row = await PolicyRepository(session).get(policy_number)
        if row is None:
            return None, None, None
        policy, version = policy_from_row(row), row.version
        _POLICIES.put((row.policy_number, row.version, row.updated_at), policy)
    if policy.plan_code != head.plan_code:  # it changed plans between the two reads: its plan as it is now
        plan = await _plan(session, policy.plan_code, None, None)
    elif head.plan_version is None:
        plan = None
    else:
        plan = await _plan(session, policy.plan_code, head.plan_version, head.plan_created_at)
    return policy, version, plan


def period_key(claim: ClaimReceived, policy: Policy | None) -> AccKey | None:
    """The key of the accumulator row a claim is priced against (its member, under its policy's period); None
    without a policy."""
    if policy is None:
        return None
    return (claim.member.member_id, policy.policy_number, policy.effective_date)


@dataclass
class Pricing:
    """A claim ready to price: its policy and plan, and the member's accumulators, locked."""

    claim: ClaimReceived
    to_price: ClaimToPrice
    policy_version: int | None
    policy: Policy | None
    plan: Plan | None
    current_key: AccKey | None
    rows: dict[AccKey, LockedAccumulators] = field(default_factory=dict)
    values: dict[AccKey, Accumulators] = field(default_factory=dict)

    @property
    def base(self) -> Accumulators:
        """The accumulators the claim is priced against."""
        if self.current_key is None:
            return Accumulators()
        return self.values[self.current_key]

    def calculate(self) -> Decision:
        """The decision as §5 calculates it."""
        policy, plan = self.policy, self.plan
        if (
            policy is not None
            and plan is not None
            and self.to_price.member_id in policy.member_ids
            and plan.currency != self.claim.currency
        ):
            return deny_claim_in_other_currency(self.to_price, self.base, self.claim.currency, plan.currency)
        return price_claim(self.to_price, plan, policy, self.base)


async def load(
    session: AsyncSession,
    claim: ClaimReceived,
    *,
    previous: DecisionRow | None = None,
    at: datetime,
    head: PolicyHead | None = None,
) -> Pricing:
    """Find the policy and plan and lock the member's accumulators; a previous decision is taken back first.

    For a re-decision (dispute) the previous decision's accumulator increments are subtracted, so the
    claim is priced as if that decision had never been made (DOMAIN §6, domain note in calculation.py).
    Rows are locked in key order, so two transactions never wait on each other in a cycle. ``head`` is the
    policy's head when the caller has read it already.
    """
    to_price = claim_to_price(claim)
    if head is None:
        head = await PolicyRepository(session).head(claim.policy_number)
    policy, policy_version, plan = await products(session, claim.policy_number, head)
    current_key = period_key(claim, policy)
    pricing = Pricing(claim, to_price, policy_version, policy, plan, current_key)

    keys: dict[AccKey, date] = {}
    if current_key is not None and policy is not None:
        keys[current_key] = policy.expiry_date
    prev_key: AccKey | None = None
    if previous is not None and previous.period_start is not None:
        prev_key = (previous.member_id, previous.policy_number, previous.period_start)
        keys.setdefault(prev_key, previous.period_start)
    accumulators = AccumulatorRepository(session)
    for key in sorted(keys):
        row = await accumulators.lock(*key, keys[key], at)
        pricing.rows[key] = row
        pricing.values[key] = accumulators_of(row)
    if previous is not None and prev_key is not None:
        pricing.values[prev_key] = pricing.values[prev_key].minus(delta_of(previous))
    return pricing


@dataclass(frozen=True)
class ReviewerAction:
    """What a reviewer decided: approve as calculated, adjust some lines down, or deny."""

    action: str
    lines: dict[int, Decimal] | None = None
    reason: str | None = None

    def apply(self, calculated: Decision) -> Decision:
        """The decision after this action; ValueError when it cannot apply to this calculation."""
        if self.action == "approve":
            return calculated
        if self.action == "adjust":
            return apply_reviewer_adjustment(calculated, self.lines or {}, self.reason or "")
        if self.action == "deny":
            return deny_decision(calculated, self.reason or "")
        raise ValueError(f"unknown action {self.action}")


def record_decision(
    uow: UnitOfWork,
    pricing: Pricing,
    decision: Decision,
    claim_row: ClaimRow | NewClaim,
    *,
    decided_by: str,
    automatic: bool,
    at: datetime,
    review_id: str | None = None,
    approved_by: str | None = None,
) -> NewDecision:
    """Store the next decision version, move the accumulators and put ClaimAdjudicated in the outbox.

    The decision and the accumulators are written with the transaction (``db/repositories.py``)."""
    claim = pricing.claim
    version = claim_row.latest_version + 1
    if pricing.current_key is not None:
        pricing.values[pricing.current_key] = decision.accumulators_after
    accumulators = AccumulatorRepository(uow.session)
    for key, acc_row in pricing.rows.items():
        if pricing.values[key] != accumulators_of(acc_row):
            store_accumulators(acc_row, pricing.values[key])
            acc_row.updated_at = at
            accumulators.changed(acc_row)
    delta = decision.accumulator_delta
    plan = pricing.plan
    lines = decision_lines(decision)
    row = NewDecision(
        claim_id=claim.claim_id,
        version=version,
        outcome=decision.outcome.value,
        automatic=automatic,
        decided_by=decided_by,
        approved_by=approved_by,
        review_id=review_id,
        plan_code=plan.code if plan is not None else None,
        plan_version=plan.version if plan is not None else None,
        policy_number=claim.policy_number,
        policy_version=pricing.policy_version,
        member_id=claim.member.member_id,
        provider_id=claim.provider.provider_id,
        payee=claim.payee.value,
        currency=claim.currency,
        charged=decision.charged,
        allowed=decision.allowed,
        payable=decision.payable,
        member_responsibility=decision.member_responsibility,
        other_insurance=decision.other_insurance,
        lines=[line.model_dump(mode="json") for line in lines],
        denial_reasons=[r.value for r in decision.denial_reasons],
        period_start=pricing.current_key[2] if pricing.current_key is not None else None,
        delta_deductible=delta.deductible_used,
        delta_paid=delta.paid_total,
        delta_by_category=amounts_json(delta.paid_by_category),
        decided_at=at,
    )
    DecisionRepository(uow.session).add(row)
    claim_row.latest_version = version
    claim_row.status = decision.outcome.value
    claim_row.updated_at = at
    uow.publish(
        ClaimAdjudicated(
            claim_id=claim.claim_id,
            decision_version=version,
            outcome=Outcome(decision.outcome.value),
            plan_code=row.plan_code,
            plan_version=row.plan_version,
            policy_number=claim.policy_number,
            member_id=claim.member.member_id,
            provider_id=claim.provider.provider_id,
            payee=Payee(claim.payee.value),
            currency=claim.currency,
            charged=decision.charged,
            allowed=decision.allowed,
            payable=decision.payable,
            member_responsibility=decision.member_responsibility,
            other_insurance=decision.other_insurance,
            lines=lines,
            denial_reasons=[AdjustmentReason(r.value) for r in decision.denial_reasons],
            decided_by=decided_by,
            automatic=automatic,
            review_id=review_id,
            approved_by=approved_by,
            decided_at=at,
        ),
        claim_id=claim.claim_id,
    )
    return row

"""What happens when intake's events arrive: a claim to adjudicate, a dispute, a withdrawal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from claims_adjudication.application.engine import AccKey, load, new_id, now, period_key, products, record_decision
from claims_adjudication.config import AdjudicationSettings
from claims_adjudication.db.models import ClaimRow, ReviewRow
from claims_adjudication.db.repositories import (
    AccumulatorRepository,
    AuditRepository,
    ClaimRepository,
    DecisionRepository,
    NewClaim,
    PolicyRepository,
    ReviewRepository,
)
from claims_adjudication.domain import ClaimFacts, Outcome, Policy, PriorClaim, evaluate_risk
from claims_adjudication.events.mapping import decision_summary
from claims_adjudication.metrics import AdjudicationMetrics
from claims_contracts.events import ClaimDisputed, ClaimPended, ClaimReceived, ClaimWithdrawn
from claims_contracts.values import RiskReason
from claims_platform.db import UnitOfWork
from claims_platform.inbox import PoisonMessage

ACTIVE_REVIEW = ("open", "awaiting_second_approval")


@dataclass
class ClaimEvents:
    """Handles intake's events for the adjudication service."""

    settings: AdjudicationSettings
    metrics: AdjudicationMetrics

    async def received(self, uow: UnitOfWork, claim: ClaimReceived) -> None:
        """Price the claim; pend it for review when a risk rule fires, else decide it (version 1)."""
        at = now()
        session = uow.session
        # One query: is the claim here already (or received by an earlier event of the batch), and which versions
        # of its policy and plan are current. Under the consumer's lock on the claim.
        head = await PolicyRepository(session).head(claim.policy_number, claim_id=claim.claim_id)
        if head.claim_seen:
            return  # the same claim again (another event id): it is adjudicated once
        claim_row = NewClaim(
            claim_id=claim.claim_id,
            member_id=claim.member.member_id,
            provider_id=claim.provider.provider_id,
            policy_number=claim.policy_number,
            currency=claim.currency,
            charged=claim.charged,
            first_service_date=min(line.service_date for line in claim.lines),
            received_on=claim.submitted_at.date(),
            received_at=claim.submitted_at,
            status="received",
            latest_version=0,
            payload=claim.model_dump(mode="json"),
            updated_at=at,
        )
        claims = ClaimRepository(session)
        try:
            pricing = await load(session, claim, at=at, head=head)
            calculated = pricing.calculate()
        except ValueError as exc:
            raise PoisonMessage(f"claim {claim.claim_id} cannot be priced: {exc}") from exc

        reasons: list[str] = []
        if calculated.outcome is not Outcome.DENIED:
            history = [
                PriorClaim(
                    claim_id=row.claim_id,
                    member_id=row.member_id,
                    provider_id=row.provider_id,
                    received_on=row.received_on,
                    first_service_date=row.first_service_date,
                    charged=row.charged,
                    status=row.status,
                )
                for row in await claims.history_of_member(claim.member.member_id, claim.claim_id)
            ]
            found = evaluate_risk(
                ClaimFacts.of(pricing.to_price, claim_row.received_on),
                history,
                pricing.plan,
                pricing.policy,
                watchlist=frozenset(self.settings.provider_watchlist),
                usual_prices=self.settings.usual_prices,
                settings=self.settings.risk_settings(),
            )
            reasons = [r.value for r in found]

        # Written with the transaction, as it is then (where it ends: received, pended or decided).
        claims.add(claim_row)
        if reasons:
            review = ReviewRow(
                review_id=new_id(),
                claim_id=claim.claim_id,
                kind="risk",
                reasons=reasons,
                status="open",
                calculated=decision_summary(calculated, claim.currency),
                excluded_deciders=[],
                created_at=at,
                updated_at=at,
            )
            ReviewRepository(uow.session).add(review)
            claim_row.status = "pended"
            claim_row.updated_at = at
            uow.publish(
                ClaimPended(
                    claim_id=claim.claim_id,
                    review_id=review.review_id,
                    reasons=[RiskReason(r) for r in reasons],
                    currency=claim.currency,
                    charged=claim.charged,
                    payable=calculated.payable,
                ),
                claim_id=claim.claim_id,
            )
            uow.after_commit(lambda: self.metrics.pended(reasons))
            return

        record_decision(
            uow, pricing, calculated, claim_row, decided_by=self.settings.system_actor, automatic=True, at=at
        )
        outcome = calculated.outcome.value
        uow.after_commit(lambda: self.metrics.automatic(outcome))

    async def read_ahead(self, uow: UnitOfWork, claims: Sequence[ClaimReceived]) -> None:
        """Before a batch's claims are received (``received``, in one transaction): what each would read, read for
        them all at once, in three statements instead of three per claim (PostgreSQL; elsewhere nothing is read
        ahead). Their policy heads (and whether each claim is here); the accumulator rows of those not here yet
        that have a policy, locked in key order; then those members' histories, after the locks as one by one.
        Each ``received`` then finds them in the transaction, as the claims before it in the batch left them."""
        session = uow.session
        heads = await PolicyRepository(session).read_heads((c.policy_number, c.claim_id) for c in claims)
        if not heads:
            return  # not read ahead (SQLite)
        policies: dict[str, Policy | None] = {}
        periods: dict[AccKey, date] = {}
        for claim in claims:
            head = heads[(claim.policy_number, claim.claim_id)]
            if head.claim_seen:
                continue  # ignored when its event is handled
            if claim.policy_number not in policies:  # as ``load`` will find it
                policies[claim.policy_number] = (await products(session, claim.policy_number, head))[0]
            policy = policies[claim.policy_number]
            key = period_key(claim, policy)
            if key is not None and policy is not None:
                periods.setdefault(key, policy.expiry_date)
        await AccumulatorRepository(session).lock_all(periods, now())
        await ClaimRepository(session).read_histories(member_id for member_id, _, _ in periods)

    async def disputed(self, uow: UnitOfWork, dispute: ClaimDisputed) -> None:
        """Open a DISPUTE review, which none of the claim's earlier deciders may decide."""
        at = now()
        claim_row = await ClaimRepository(uow.session).get(dispute.claim_id, lock=True)
        if claim_row is None:
            raise PoisonMessage(f"dispute of unknown claim {dispute.claim_id}")
        decisions, in_review = await DecisionRepository(uow.session).of_claim_in_review(dispute.claim_id)
        if not decisions:
            raise PoisonMessage(f"dispute of claim {dispute.claim_id}, which has no decision")
        audit = AuditRepository(uow.session)
        reviews = ReviewRepository(uow.session)
        if in_review:
            audit.record(
                at=at,
                actor=dispute.disputed_by,
                action="dispute_received_while_in_review",
                entity_type="claim",
                entity_id=dispute.claim_id,
                claim_id=dispute.claim_id,
                reason=dispute.reason,
                details={"disputed_decision_version": dispute.disputed_decision_version},
            )
            return
        previous = decisions[-1]
        claim = ClaimReceived.model_validate(claim_row.payload)
        pricing = await load(uow.session, claim, previous=previous, at=at)
        calculated = pricing.calculate()
        excluded = set(dispute.previous_deciders)
        for decision in decisions:
            if not decision.automatic:
                excluded.add(decision.decided_by)
            if decision.approved_by:
                excluded.add(decision.approved_by)
        review = ReviewRow(
            review_id=new_id(),
            claim_id=dispute.claim_id,
            kind="dispute",
            reasons=[RiskReason.DISPUTE.value],
            status="open",
            calculated=decision_summary(calculated, claim.currency),
            excluded_deciders=sorted(excluded),
            dispute={
                "disputed_decision_version": dispute.disputed_decision_version,
                "latest_decision_version": previous.version,
                "reason": dispute.reason,
                "disputed_by": dispute.disputed_by,
            },
            created_at=at,
            updated_at=at,
        )
        reviews.add(review)
        claim_row.status = "disputed"
        claim_row.updated_at = at
        audit.record(
            at=at,
            actor=dispute.disputed_by,
            action="dispute_opened",
            entity_type="review",
            entity_id=review.review_id,
            claim_id=dispute.claim_id,
            reason=dispute.reason,
            details={"disputed_decision_version": dispute.disputed_decision_version},
        )
        uow.publish(
            ClaimPended(
                claim_id=dispute.claim_id,
                review_id=review.review_id,
                reasons=[RiskReason.DISPUTE],
                currency=claim.currency,
                charged=claim.charged,
                payable=calculated.payable,
            ),
            claim_id=dispute.claim_id,
        )

    async def withdrawn(self, uow: UnitOfWork, withdrawal: ClaimWithdrawn) -> None:
        """Close the claim's open review; a claim not decided yet ends as withdrawn."""
        at = now()
        claim_row: ClaimRow | None = await ClaimRepository(uow.session).get(withdrawal.claim_id, lock=True)
        if claim_row is None:
            return  # withdrawn before it was complete: it never came here
        audit = AuditRepository(uow.session)
        for review in await ReviewRepository(uow.session).active_of_claim(withdrawal.claim_id):
            review.status = "closed"
            review.pending_action = None
            review.closed_at = review.updated_at = at
            audit.record(
                at=at,
                actor=withdrawal.withdrawn_by,
                action="review_closed_withdrawn",
                entity_type="review",
                entity_id=review.review_id,
                claim_id=withdrawal.claim_id,
                reason=withdrawal.reason,
            )
        if claim_row.latest_version == 0:
            claim_row.status = "withdrawn"
        elif claim_row.status == "disputed":
            latest = await DecisionRepository(uow.session).get(withdrawal.claim_id, claim_row.latest_version)
            claim_row.status = latest.outcome if latest is not None else claim_row.status
        claim_row.updated_at = at

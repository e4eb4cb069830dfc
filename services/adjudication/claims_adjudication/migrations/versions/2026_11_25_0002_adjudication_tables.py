"""Adjudication tables: plans and their versions, policies, claims, accumulators, decisions, reviews,
verifications and the audit log.

Revision ID: adju0002
Revises: adju0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "adju0002"
down_revision: str | None = "adju0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accumulators",
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("policy_number", sa.String(length=64), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("deductible_used", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("paid_total", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("paid_by_category", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("member_id", "policy_number", "period_start", name=op.f("pk_accumulators")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("entity_type", sa.String(length=30), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("claim_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_claim_id"), "audit_log", ["claim_id"], unique=False)
    op.create_table(
        "claims",
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("policy_number", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("charged", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("first_service_date", sa.Date(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("claim_id", name=op.f("pk_claims")),
    )
    op.create_index(op.f("ix_claims_member_id"), "claims", ["member_id"], unique=False)
    op.create_table(
        "plans",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_plans")),
    )
    op.create_table(
        "decisions",
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=False),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=False),
        sa.Column("approved_by", sa.String(length=100), nullable=True),
        sa.Column("review_id", sa.String(length=64), nullable=True),
        sa.Column("plan_code", sa.String(length=32), nullable=True),
        sa.Column("plan_version", sa.Integer(), nullable=True),
        sa.Column("policy_number", sa.String(length=64), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=True),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("payee", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("charged", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("allowed", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("payable", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("member_responsibility", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("other_insurance", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("denial_reasons", sa.JSON(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("delta_deductible", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("delta_paid", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("delta_by_category", sa.JSON(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.claim_id"], name=op.f("fk_decisions_claim_id_claims")),
        sa.PrimaryKeyConstraint("claim_id", "version", name=op.f("pk_decisions")),
    )
    op.create_table(
        "plan_versions",
        sa.Column("plan_code", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["plan_code"], ["plans.code"], name=op.f("fk_plan_versions_plan_code_plans")),
        sa.PrimaryKeyConstraint("plan_code", "version", name=op.f("pk_plan_versions")),
    )
    op.create_table(
        "policies",
        sa.Column("policy_number", sa.String(length=64), nullable=False),
        sa.Column("plan_code", sa.String(length=32), nullable=False),
        sa.Column("holder_name", sa.String(length=200), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("expiry_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("members", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["plan_code"], ["plans.code"], name=op.f("fk_policies_plan_code_plans")),
        sa.PrimaryKeyConstraint("policy_number", name=op.f("pk_policies")),
    )
    op.create_table(
        "reviews",
        sa.Column("review_id", sa.String(length=64), nullable=False),
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("calculated", sa.JSON(), nullable=False),
        sa.Column("excluded_deciders", sa.JSON(), nullable=False),
        sa.Column("dispute", sa.JSON(), nullable=True),
        sa.Column("pending_action", sa.JSON(), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("approved_by", sa.String(length=100), nullable=True),
        sa.Column("decision_version", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.claim_id"], name=op.f("fk_reviews_claim_id_claims")),
        sa.PrimaryKeyConstraint("review_id", name=op.f("pk_reviews")),
    )
    op.create_index(op.f("ix_reviews_claim_id"), "reviews", ["claim_id"], unique=False)
    op.create_index("ix_reviews_status_created_at", "reviews", ["status", "created_at"], unique=False)
    op.create_table(
        "verifications",
        sa.Column("verification_id", sa.String(length=64), nullable=False),
        sa.Column("review_id", sa.String(length=64), nullable=False),
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("confirmed", sa.Boolean(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.String(length=100), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["review_id"], ["reviews.review_id"], name=op.f("fk_verifications_review_id_reviews")),
        sa.PrimaryKeyConstraint("verification_id", name=op.f("pk_verifications")),
    )
    op.create_index(op.f("ix_verifications_review_id"), "verifications", ["review_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_verifications_review_id"), table_name="verifications")
    op.drop_table("verifications")
    op.drop_index("ix_reviews_status_created_at", table_name="reviews")
    op.drop_index(op.f("ix_reviews_claim_id"), table_name="reviews")
    op.drop_table("reviews")
    op.drop_table("policies")
    op.drop_table("plan_versions")
    op.drop_table("decisions")
    op.drop_table("plans")
    op.drop_index(op.f("ix_claims_member_id"), table_name="claims")
    op.drop_table("claims")
    op.drop_index(op.f("ix_audit_log_claim_id"), table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("accumulators")

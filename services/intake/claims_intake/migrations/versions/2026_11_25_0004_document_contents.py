"""Small documents' contents, kept in the database with the claim's rows instead of in the document store.

A document has a row here when its content is in the database; otherwise its content is in the document
store under ``documents.storage_key``, as every document's was before (nothing is moved). Going down is
refused while the table holds contents (their only copy).

Revision ID: inta0004
Revises: inta0003
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "inta0004"
down_revision: str | None = "inta0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "document_contents",
        sa.Column("document_id", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.document_id"], name=op.f("fk_document_contents_document_id_documents")
        ),
        sa.PrimaryKeyConstraint("document_id", name=op.f("pk_document_contents")),
    )


def downgrade() -> None:
    # The contents are the only copy: going down with some would lose those documents.
    if op.get_bind().execute(sa.text("SELECT EXISTS (SELECT 1 FROM document_contents)")).scalar():
        raise RuntimeError(
            "document_contents holds documents' only copy: write them to the document store first (under their "
            "documents.storage_key), then empty the table"
        )
    op.drop_table("document_contents")

"""Platform tables: outbox and inbox.

Revision ID: adju0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

from claims_platform.platform_migrations import create_platform_tables_v1, drop_platform_tables_v1

revision: str = "adju0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_platform_tables_v1(op)


def downgrade() -> None:
    drop_platform_tables_v1(op)

"""Alembic environment of the intake service."""

from claims_intake.db.models import metadata
from claims_platform.migrations import run_env

run_env(metadata)

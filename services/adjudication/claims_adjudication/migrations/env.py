"""Alembic environment of the adjudication service."""

from claims_adjudication.db.models import metadata
from claims_platform.migrations import run_env

run_env(metadata)

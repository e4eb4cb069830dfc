"""Alembic environment of the payment service."""

from claims_payment.db.models import metadata
from claims_platform.migrations import run_env

run_env(metadata)

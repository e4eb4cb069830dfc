"""Alembic environment of the notification service."""

from claims_notification.db.models import metadata
from claims_platform.migrations import run_env

run_env(metadata)

"""Composition root of the notification service: the one place where its parts are wired together."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from claims_notification.config import NotificationSettings
from claims_platform.bus.base import EventBus
from claims_platform.service import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def build_runtime(settings: NotificationSettings | None = None, bus: EventBus | None = None) -> ServiceRuntime:
    """The service's runtime: database, bus, relay and consumers."""
    settings = settings or NotificationSettings()
    return ServiceRuntime(settings, migrations=MIGRATIONS, bus=bus)


def create_app(settings: NotificationSettings | None = None, bus: EventBus | None = None) -> FastAPI:
    """The notification service's FastAPI app."""
    runtime = build_runtime(settings, bus)
    return runtime.create_app(
        title="Claims notification service",
        description=("Templates, channels (e-mail, SMS, in-app), the delivery log, surveys and feedback."),
    )

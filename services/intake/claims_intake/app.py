"""Composition root of the intake service: the one place where its parts are wired together."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from claims_intake.config import IntakeSettings
from claims_platform.bus.base import EventBus
from claims_platform.service import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def build_runtime(settings: IntakeSettings | None = None, bus: EventBus | None = None) -> ServiceRuntime:
    """The service's runtime: database, bus, relay and consumers."""
    settings = settings or IntakeSettings()
    return ServiceRuntime(settings, migrations=MIGRATIONS, bus=bus)


def create_app(settings: IntakeSettings | None = None, bus: EventBus | None = None) -> FastAPI:
    """The intake service's FastAPI app."""
    runtime = build_runtime(settings, bus)
    return runtime.create_app(
        title="Claims intake service",
        description=(
            "The front door and the case archive: claims, documents, completeness, disputes, timeline, reports."
        ),
    )

"""Composition root of the adjudication service: the one place where its parts are wired together."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from claims_adjudication.config import AdjudicationSettings
from claims_platform.bus.base import EventBus
from claims_platform.service import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def build_runtime(settings: AdjudicationSettings | None = None, bus: EventBus | None = None) -> ServiceRuntime:
    """The service's runtime: database, bus, relay and consumers."""
    settings = settings or AdjudicationSettings()
    return ServiceRuntime(settings, migrations=MIGRATIONS, bus=bus)


def create_app(settings: AdjudicationSettings | None = None, bus: EventBus | None = None) -> FastAPI:
    """The adjudication service's FastAPI app."""
    runtime = build_runtime(settings, bus)
    return runtime.create_app(
        title="Claims adjudication service",
        description=(
            "Plans, policies, accumulators, risk rules, the review queue, the benefit calculation and decisions."
        ),
    )

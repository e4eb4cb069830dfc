"""Composition root of the adjudication service: the one place where its parts are wired together."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from claims_adjudication.api.routes import ROUTERS
from claims_adjudication.application.claims import ClaimEvents
from claims_adjudication.application.reviews import Reviews
from claims_adjudication.config import AdjudicationSettings
from claims_adjudication.events.handlers import CONSUMER, handlers, read_ahead
from claims_adjudication.metrics import AdjudicationMetrics
from claims_contracts.topics import INTAKE_TOPIC
from claims_platform.bus.base import EventBus
from claims_platform.service import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def build_runtime(settings: AdjudicationSettings | None = None, bus: EventBus | None = None) -> ServiceRuntime:
    """The service's runtime: database, bus, relay and consumers."""
    settings = settings or AdjudicationSettings()
    return ServiceRuntime(settings, migrations=MIGRATIONS, bus=bus)


def create_app(settings: AdjudicationSettings | None = None, bus: EventBus | None = None) -> FastAPI:
    """The adjudication service's FastAPI app."""
    settings = settings or AdjudicationSettings()
    runtime = build_runtime(settings, bus)
    metrics = AdjudicationMetrics(runtime.metrics.registry)
    claim_events = ClaimEvents(settings, metrics)
    runtime.consume(CONSUMER, [INTAKE_TOPIC], handlers(claim_events), prepare=read_ahead(claim_events))
    app = runtime.create_app(
        title="Claims adjudication service",
        description=(
            "Plans, policies, accumulators, risk rules, the review queue, the benefit calculation and decisions."
        ),
        routers=ROUTERS,
        openapi_tags=[
            {"name": "plans and policies", "description": "The insurer's products (admin)."},
            {"name": "decisions", "description": "Decisions, accumulators and the audit log."},
            {"name": "review queue", "description": "Human review, verification, four eyes, disputes."},
        ],
    )
    app.state.settings = settings
    app.state.metrics_adjudication = metrics
    app.state.reviews = Reviews(settings, metrics)
    return app

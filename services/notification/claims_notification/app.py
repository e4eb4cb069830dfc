"""Composition root of the notification service: the one place where its parts are wired together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from claims_notification.api.routes import router
from claims_notification.channels import Sender
from claims_notification.channels.email import SmtpSender
from claims_notification.channels.sms import SmsGatewaySender
from claims_notification.config import NotificationSettings
from claims_notification.domain.model import Channel
from claims_notification.events.handlers import CONSUMER, TOPICS, NotificationHandlers
from claims_notification.planning import Planner
from claims_notification.rendering import Renderer
from claims_notification.worker import DeliveryWorker
from claims_platform.bus.base import EventBus
from claims_platform.service import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"

OPENAPI_TAGS = [
    {"name": "notifications", "description": "Messages per claim and member, with their delivery log."},
    {"name": "preferences", "description": "Members' channels, opt-outs and language."},
    {"name": "providers", "description": "How to reach hospitals."},
    {
        "name": "feedback",
        "description": "Satisfaction surveys. `GET`/`POST /v1/feedback` are authenticated by the survey token, "
        "not by a bearer token.",
    },
]


def build_runtime(settings: NotificationSettings | None = None, bus: EventBus | None = None) -> ServiceRuntime:
    """The service's runtime: database, bus, relay and consumers."""
    settings = settings or NotificationSettings()
    return ServiceRuntime(settings, migrations=MIGRATIONS, bus=bus)


def build_senders(settings: NotificationSettings) -> dict[Channel, Sender]:
    """The outbound channels that are configured."""
    senders: dict[Channel, Sender] = {}
    if settings.email_enabled:
        senders[Channel.EMAIL] = SmtpSender(settings)
    if settings.sms_enabled:
        senders[Channel.SMS] = SmsGatewaySender(settings)
    return senders


def create_app(settings: NotificationSettings | None = None, bus: EventBus | None = None) -> FastAPI:
    """The notification service's FastAPI app, with the delivery worker running beside it."""
    settings = settings or NotificationSettings()
    runtime = build_runtime(settings, bus)
    planner = Planner(settings, Renderer(display_timezone=settings.display_timezone))
    handlers = NotificationHandlers(planner)
    runtime.consume(CONSUMER, TOPICS, handlers.handlers(), prepare=handlers.prepare)
    senders = build_senders(settings)
    worker = DeliveryWorker(runtime.db, settings, senders, clock=planner.clock)
    planner.on_pending = worker.wake  # after a commit that recorded messages due now; the rest is polled for

    app = runtime.create_app(
        title="Claims notification service",
        description=(
            "Templates, channels (e-mail, SMS, in-app), the delivery log, surveys and feedback. "
            "Every endpoint needs a bearer token except health, metrics, docs and the survey endpoints "
            "`GET`/`POST /v1/feedback`, which the survey token authenticates."
        ),
        routers=[router],
        openapi_tags=OPENAPI_TAGS,
    )
    app.state.planner = planner
    app.state.worker = worker
    runtime_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app_: FastAPI) -> AsyncIterator[None]:
        async with runtime_lifespan(app_):
            planner.survey_secret  # noqa: B018 - fail at start, not at the first survey, without a secret
            worker.start()
            try:
                yield
            finally:
                await worker.stop()
                for sender in senders.values():
                    close = getattr(sender, "close", None)
                    if close is not None:
                        await close()

    app.router.lifespan_context = lifespan
    return app

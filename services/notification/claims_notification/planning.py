"""Turning notices into messages: recipient, preferences, channels, locale, templates, surveys.

A notice is recorded for every event someone must hear about. It becomes messages as soon as its recipient
is known: at once for most events, or, when an event overtakes intake's contact details (a decision for a
claim whose ClaimReceived has not arrived yet), as soon as ClaimReceived or ClaimDocumentsRequested brings
them. Every message is recorded before anything is sent; the worker sends it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from claims_contracts.events import NotificationSent
from claims_notification.config import NotificationSettings
from claims_notification.db.models import NoticeRow
from claims_notification.db.repositories import (
    MessageRepository,
    Notice,
    NoticeRepository,
    Recipient,
    RecipientRepository,
    SurveyRepository,
)
from claims_notification.domain.model import (
    Audience,
    Channel,
    Contact,
    Kind,
    Preferences,
    mask_address,
    plan_deliveries,
    resolve_locale,
)
from claims_notification.domain.survey import sign_survey_token
from claims_notification.rendering import Renderer
from claims_platform.db import UnitOfWork
from claims_platform.logging import get_logger

log = get_logger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class NoticeSpec:
    """What one event says one audience must be told."""

    claim_id: str
    source_event_id: uuid.UUID
    source_event_type: str
    kind: Kind
    audience: Audience
    context: dict[str, Any] = field(default_factory=dict)
    provider_id: str | None = None
    delay: timedelta = timedelta(0)


def notification_sent(message: Mapping[str, Any]) -> NotificationSent:
    """The event that says a message went out (from the message's column values)."""
    return NotificationSent(
        claim_id=message["claim_id"],
        notification_id=message["id"],
        source_event_type=message["source_event_type"],
        source_event_id=message["source_event_id"],
        message_type=message["event_type"],
        channel=message["channel"],
        locale=message["locale"],
        recipient=message["address_masked"],
    )


class Planner:
    """Records notices and plans their messages.

    A handler may call it for several events in one transaction: nothing here commits or flushes, the new
    rows are collected and written together (in one statement on PostgreSQL) just before the transaction
    commits, and what an earlier event looked up or added is seen by the later ones.
    """

    def __init__(
        self,
        settings: NotificationSettings,
        renderer: Renderer,
        clock: Clock = utcnow,
        on_pending: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.renderer = renderer
        self.clock = clock
        self.on_pending = on_pending
        configured = {Channel.IN_APP}
        if settings.email_enabled:
            configured.add(Channel.EMAIL)
        if settings.sms_enabled:
            configured.add(Channel.SMS)
        self.configured = frozenset(configured)
        self.default_locale = settings.default_locale
        self.survey_delay = timedelta(seconds=settings.survey_delay_seconds)
        self.survey_ttl = timedelta(seconds=settings.survey_token_ttl_seconds)
        self.survey_link = f"{settings.public_base_url.rstrip('/')}/v1/feedback?token="
        self._survey_secret: str | None = None

    @property
    def survey_secret(self) -> str:
        """The survey-token secret (read once)."""
        if self._survey_secret is None:
            self._survey_secret = self.settings.resolved_survey_secret()
        return self._survey_secret

    async def submit(self, uow: UnitOfWork, spec: NoticeSpec, correlation_id: str | None = None) -> None:
        """Record a notice, and plan its messages if the recipient is known."""
        now = self.clock()
        recipient, preferences = await RecipientRepository(uow.session).claim_contact(spec.claim_id)
        notice = NoticeRepository(uow.session).add(
            id=str(uuid.uuid4()),
            claim_id=spec.claim_id,
            source_event_id=spec.source_event_id,
            source_event_type=spec.source_event_type,
            kind=spec.kind.value,
            audience=spec.audience.value,
            provider_id=spec.provider_id,
            context=spec.context,
            not_before=now + spec.delay,
            created_at=now,
            planned_at=None,
        )
        if spec.audience is Audience.MEMBER and recipient is None:
            log.info("notice waits for the claim's contact details", kind=spec.kind.value)
            return
        await self._plan(uow, notice, recipient, preferences, correlation_id)

    async def waiting(self, uow: UnitOfWork, claim_id: str) -> list[Notice | NoticeRow]:
        """The notices of a claim that wait for its contact details (locked)."""
        return await NoticeRepository(uow.session).waiting(claim_id)

    async def plan_waiting(
        self, uow: UnitOfWork, claim_id: str, notices: list[Notice | NoticeRow], correlation_id: str | None = None
    ) -> None:
        """Plan the notices of a claim that waited for its contact details (from ``waiting``)."""
        if not notices:
            return
        recipient, preferences = await RecipientRepository(uow.session).claim_contact(claim_id)
        if recipient is None:
            return
        for notice in notices:
            await self._plan(uow, notice, recipient, preferences, correlation_id)

    async def _plan(
        self,
        uow: UnitOfWork,
        notice: Notice | NoticeRow,
        recipient: Recipient | None,
        member_preferences: Preferences | None,
        correlation_id: str | None,
    ) -> None:
        now = self.clock()
        notice.planned_at = now
        kind = Kind(notice.kind)
        audience = Audience(notice.audience)
        context = dict(notice.context)
        member_id: str | None = None
        provider_id = notice.provider_id or (recipient.provider_id if recipient else None)
        if audience is Audience.MEMBER:
            assert recipient is not None
            member_id = recipient.member_id
            preferences = member_preferences or Preferences()
            contact = Contact(recipient.member_name, recipient.email, recipient.phone, recipient.locale)
            locale = resolve_locale(preferences.locale, contact.locale, default=self.default_locale)
            key = f"member:{recipient.member_id}"
            context.setdefault("name", recipient.member_name)
        else:
            assert provider_id is not None
            row = await RecipientRepository(uow.session).provider_contact(provider_id)
            preferences = Preferences()
            contact = Contact(row.name, row.email, row.phone, row.locale) if row else Contact()
            locale = resolve_locale(contact.locale, default=self.default_locale)
            key = f"provider:{provider_id}"
            name = contact.name or (recipient.provider_name if recipient else None) or provider_id
            context.setdefault("name", name)
            context.setdefault("patient", recipient.member_name if recipient else None)
        deliveries = plan_deliveries(kind, contact, preferences, self.configured)
        if not deliveries:
            return
        survey_id: str | None = None
        if kind is Kind.SURVEY:
            assert member_id is not None
            survey_id = await self._survey(uow, notice, member_id, context)
            if survey_id is None:
                return
        messages = MessageRepository(uow.session)
        submitted_by_provider = bool(recipient.submitted_by_provider) if recipient else False
        due_now = notice.not_before <= now
        pending_now = False
        for delivery in deliveries:
            rendered = self.renderer.render(kind, delivery.channel, locale, context)
            message_id = str(uuid.uuid4())
            immediate = delivery.channel is Channel.IN_APP and due_now
            pending_now = pending_now or (due_now and not immediate)
            values = {
                "id": message_id,
                "notice_id": notice.id,
                "claim_id": notice.claim_id,
                "member_id": member_id,
                "provider_id": provider_id,
                "submitted_by_provider": submitted_by_provider,
                "recipient_type": audience.value,
                "recipient_key": key,
                "event_type": kind.value,
                "source_event_id": notice.source_event_id,
                "source_event_type": notice.source_event_type,
                "correlation_id": correlation_id,
                "channel": delivery.channel.value,
                "locale": locale,
                "subject": rendered.subject,
                "body": rendered.body,
                "address": delivery.address,
                "address_masked": mask_address(delivery.channel, delivery.address, key),
                "survey_id": survey_id,
                "status": "sent" if immediate else "pending",
                "attempts": 1 if immediate else 0,
                "next_attempt_at": notice.not_before,
                "last_error": None,
                "created_at": now,
                "sent_at": now if immediate else None,
            }
            messages.add(values)
            if immediate:
                messages.log_attempt(message_id, 1, now, "delivered", None)
                uow.publish(
                    notification_sent(values),
                    claim_id=notice.claim_id,
                    correlation_id=correlation_id,
                    causation_id=str(notice.source_event_id),
                )
        if pending_now:
            self._wake_after_commit(uow)

    def _wake_after_commit(self, uow: UnitOfWork) -> None:
        """Have the delivery worker look for due messages as soon as this transaction commits."""
        if self.on_pending is not None:
            uow.after_commit(self.on_pending)

    async def _survey(
        self, uow: UnitOfWork, notice: Notice | NoticeRow, member_id: str, context: dict[str, Any]
    ) -> str | None:
        survey_id = str(uuid.uuid4())
        issued = notice.not_before
        ttl = self.survey_ttl
        created = await SurveyRepository(uow.session).add(
            survey_id=survey_id,
            claim_id=notice.claim_id,
            decision_version=int(context.get("decision_version", 1)),
            member_id=member_id,
            closed_as=str(context.get("closed_as", "closed")),
            source_event_id=notice.source_event_id,
            created_at=self.clock(),
            expires_at=issued + ttl,
        )
        if not created:
            return None
        token = sign_survey_token(self.survey_secret, survey_id, notice.claim_id, issued, ttl)
        context["survey_url"] = self.survey_link + token
        context["expires_at"] = (issued + ttl).isoformat()
        return survey_id

"""The delivery worker: sends recorded messages, retries with backoff, keeps the delivery log.

A message is claimed by moving its ``next_attempt_at`` one lease ahead and counting the attempt, in a
transaction of its own; it is then sent outside any transaction, and the outcome recorded in another.
A worker that dies between sending and recording leaves the message pending: after the lease it is sent
again (at least once). The e-mail keeps its Message-ID and the SMS its ``reference`` / ``Idempotency-Key``
across such retries, so receivers and the gateway can drop the copy.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from datetime import datetime, timedelta

from claims_notification.channels import OutboundMessage, Sender, SendFailed
from claims_notification.config import NotificationSettings
from claims_notification.db.models import MessageRow
from claims_notification.db.repositories import MessageRepository, RecipientRepository
from claims_notification.domain.model import Channel, Kind, Preferences, mask_contacts_in_text, next_attempt_after
from claims_notification.planning import Clock, notification_sent, utcnow
from claims_platform.db import Database, UnitOfWork
from claims_platform.inbox import describe
from claims_platform.logging import get_logger

log = get_logger(__name__)

_COLUMNS = (
    "id",
    "claim_id",
    "event_type",
    "source_event_type",
    "source_event_id",
    "channel",
    "locale",
    "address_masked",
)


class DeliveryWorker:
    """Sends pending messages in the background of the app."""

    def __init__(
        self,
        db: Database,
        settings: NotificationSettings,
        senders: Mapping[Channel, Sender],
        clock: Clock = utcnow,
    ) -> None:
        self.db = db
        self.settings = settings
        self.senders = dict(senders)
        self.clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._running = False

    def wake(self) -> None:
        """Look for due messages now (called after a commit that may have recorded some)."""
        self._wake.set()

    def start(self) -> None:
        """Start the background task."""
        self._running = True
        self._task = asyncio.create_task(self.run(), name="notification-worker")

    async def stop(self) -> None:
        """Stop the background task."""
        self._running = False
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run(self) -> None:
        """Deliver until stopped; an outage is logged and waited out."""
        while self._running:
            handled = 0
            try:
                handled = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("delivery worker pass failed", error=describe(exc))
            if handled:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.worker_poll_seconds)

    async def run_once(self) -> int:
        """Claim the due messages and send them; how many were claimed."""
        jobs = await self._claim()
        if jobs:
            await asyncio.gather(*(self._deliver(row) for row in jobs))
        return len(jobs)

    async def _claim(self) -> list[MessageRow]:
        now = self.clock()
        lease = timedelta(seconds=self.settings.send_lease_seconds)
        jobs: list[MessageRow] = []
        async with self.db.uow() as uow:
            messages = MessageRepository(uow.session)
            due = await messages.due(now, self.settings.worker_batch_size)
            members = [m.member_id for m in due if m.member_id and m.recipient_type == "member"]
            prefs = await RecipientRepository(uow.session).preferences_of(members)
            for row in due:
                channel = Channel(row.channel)
                pref_row = prefs.get(row.member_id or "") if row.recipient_type == "member" else None
                preferences = (
                    Preferences(email=pref_row.email, sms=pref_row.sms, surveys=pref_row.surveys)
                    if pref_row
                    else Preferences()
                )
                row.attempts += 1
                if not preferences.allows(channel, Kind(row.event_type)):
                    row.status = "cancelled"
                    row.last_error = "recipient opted out"
                    messages.log_attempt(row.id, row.attempts, now, "cancelled", "recipient opted out")
                elif channel is Channel.IN_APP:
                    self._mark_sent(uow, row, now)
                elif channel not in self.senders:
                    row.status = "failed"
                    row.last_error = f"channel {channel.value} is not configured"
                    messages.log_attempt(row.id, row.attempts, now, "failed", row.last_error)
                else:
                    row.next_attempt_at = now + lease
                    jobs.append(row)
        return jobs

    def _mark_sent(self, uow: UnitOfWork, row: MessageRow, now: datetime) -> None:
        row.status = "sent"
        row.sent_at = now
        row.last_error = None
        MessageRepository(uow.session).log_attempt(row.id, row.attempts, now, "delivered", None)
        uow.publish(
            notification_sent({c: getattr(row, c) for c in _COLUMNS}),
            claim_id=row.claim_id,
            correlation_id=row.correlation_id,
            causation_id=str(row.source_event_id),
        )

    async def _deliver(self, job: MessageRow) -> None:
        channel = Channel(job.channel)
        outbound = OutboundMessage(
            message_id=job.id, address=job.address or "", subject=job.subject, body=job.body, locale=job.locale
        )
        error: SendFailed | None = None
        try:
            await self.senders[channel].send(outbound)
        except SendFailed as exc:
            error = exc
        except Exception as exc:  # a sender bug must not kill the worker; record it as a transient failure
            error = SendFailed(describe(exc))
        now = self.clock()
        async with self.db.uow() as uow:
            messages = MessageRepository(uow.session)
            row = await messages.pending_for_update(job.id)
            if row is None:
                return
            if error is None:
                self._mark_sent(uow, row, now)
                log.info("message sent", message_id=row.id, channel=row.channel, recipient=row.address_masked)
                return
            text = mask_contacts_in_text(str(error))[:2000]
            row.last_error = text
            if error.permanent or row.attempts >= self.settings.send_max_attempts:
                row.status = "failed"
                messages.log_attempt(row.id, row.attempts, now, "failed", text)
                log.error("message not delivered", message_id=row.id, channel=row.channel, error=text)
            else:
                row.next_attempt_at = next_attempt_after(
                    now, row.attempts, self.settings.send_backoff_seconds, self.settings.send_backoff_max_seconds
                )
                messages.log_attempt(row.id, row.attempts, now, "retry", text)
                log.warning("send failed; will retry", message_id=row.id, channel=row.channel, attempt=row.attempts)

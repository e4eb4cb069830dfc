"""The delivery worker: sends recorded messages, retries with backoff, keeps the delivery log.

A round claims the due messages with one statement that counts the try and moves their ``next_attempt_at``
one lease ahead, committed at once (rows another worker holds are skipped, and a leased message is not due
again until the lease ends). The messages are then sent outside any transaction, and the outcomes of the
round recorded together in one transaction: one statement for the messages (only those still pending),
one for the delivery log, and the NotificationSent events. An idle round is the one claiming statement.

A worker that dies between sending and recording leaves the message pending: after the lease it is sent
again (at least once). The e-mail keeps its Message-ID and the SMS its ``reference`` / ``Idempotency-Key``
across such retries, so receivers and the gateway can drop the copy.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from claims_notification.channels import OutboundMessage, Sender, SendFailed
from claims_notification.config import NotificationSettings
from claims_notification.db.repositories import DeliveryQueue, MessageRepository, Settlement
from claims_notification.domain.model import Channel, Kind, Preferences, mask_contacts_in_text, next_attempt_after
from claims_notification.planning import Clock, notification_sent, utcnow
from claims_platform.db import Database
from claims_platform.inbox import describe
from claims_platform.logging import get_logger

log = get_logger(__name__)

_OPTED_OUT = "recipient opted out"


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
        self.lease = timedelta(seconds=settings.send_lease_seconds)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._running = False
        self._connection: AsyncConnection | None = None
        self._claiming = asyncio.Lock()

    def wake(self) -> None:
        """Look for due messages now (called after a commit that recorded some)."""
        self._wake.set()

    def start(self) -> None:
        """Start the background task."""
        self._running = True
        self._task = asyncio.create_task(self.run(), name="notification-worker")

    async def stop(self) -> None:
        """Stop the background task and give back its connection."""
        self._running = False
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._release()

    async def run(self) -> None:
        """Deliver until stopped; an outage is logged and waited out."""
        while self._running:
            self._wake.clear()  # a wake-up during the round below makes the next one start at once
            handled = 0
            try:
                handled = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("delivery worker pass failed", error=describe(exc))
            if handled:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.worker_poll_seconds)

    async def run_once(self) -> int:
        """Claim the due messages and send them; how many were claimed."""
        now = self.clock()
        claimed = await self._claim(now)
        if not claimed:
            return 0
        prefs = await self._preferences(claimed)
        settled: list[tuple[Row[Any], Settlement]] = []
        jobs: list[Row[Any]] = []
        for row in claimed:
            channel = Channel(row.channel)
            pref = prefs.get(row.member_id) if row.recipient_type == "member" and row.member_id else None
            preferences = Preferences(email=pref.email, sms=pref.sms, surveys=pref.surveys) if pref else Preferences()
            if not preferences.allows(channel, Kind(row.event_type)):
                settled.append((row, Settlement(row.id, "cancelled", _OPTED_OUT)))
            elif channel is Channel.IN_APP:
                settled.append((row, Settlement(row.id, "sent")))
            elif channel not in self.senders:
                settled.append((row, Settlement(row.id, "failed", f"channel {channel.value} is not configured")))
            else:
                jobs.append(row)
        if not jobs:
            await self._record(settled, now)
            return len(claimed)
        sending = asyncio.gather(*(self._send(job) for job in jobs))
        failure: Exception | None = None
        try:
            if settled:  # what needs no sending is recorded while the rest is on its way
                try:
                    await self._record(settled, now)
                except Exception as exc:
                    failure = exc
            errors = await sending
        except BaseException:
            sending.cancel()
            raise
        done = self.clock()
        results = [(job, self._settlement(job, error, done)) for job, error in zip(jobs, errors, strict=True)]
        await self._record(results, done, report=True)
        if failure is not None:
            raise failure
        return len(claimed)

    async def _claim(self, now: datetime) -> Sequence[Row[Any]]:
        """The due messages, claimed (one statement on the worker's own connection, committed at once).

        The connection is kept between rounds; one the database dropped is replaced, and the claim tried
        once more on the new one.
        """
        async with self._claiming:
            for retry in (False, True):
                if self._connection is None:
                    connection = await self.db.engine.connect()
                    self._connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
                try:
                    return await DeliveryQueue(self._connection).claim(
                        now, now + self.lease, self.settings.worker_batch_size
                    )
                except DBAPIError as exc:
                    await self._release()
                    if retry or not exc.connection_invalidated:
                        raise
                except BaseException:
                    await self._release()
                    raise
            raise AssertionError("unreachable")  # pragma: no cover

    async def _preferences(self, claimed: Sequence[Row[Any]]) -> dict[str, Any]:
        """The preferences of the members whose claimed messages depend on them (outbound, or surveys)."""
        members = [
            row.member_id
            for row in claimed
            if row.recipient_type == "member"
            and row.member_id
            and (row.channel != Channel.IN_APP.value or row.event_type == Kind.SURVEY.value)
        ]
        if not members:
            return {}
        async with self._claiming:
            assert self._connection is not None
            try:
                return await DeliveryQueue(self._connection).preferences(members)
            except BaseException:
                await self._release()
                raise

    async def _release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()

    async def _send(self, job: Row[Any]) -> SendFailed | None:
        """Hand one message to its channel; the failure, if any."""
        outbound = OutboundMessage(
            message_id=job.id, address=job.address or "", subject=job.subject, body=job.body, locale=job.locale
        )
        try:
            await self.senders[Channel(job.channel)].send(outbound)
        except SendFailed as exc:
            return exc
        except Exception as exc:  # a sender bug must not kill the worker; record it as a transient failure
            return SendFailed(describe(exc))
        return None

    def _settlement(self, job: Row[Any], error: SendFailed | None, now: datetime) -> Settlement:
        """How a send ended: sent, failed for good (refused, or out of tries), or to be tried again later."""
        if error is None:
            return Settlement(job.id, "sent")
        text = mask_contacts_in_text(str(error))[:2000]
        if error.permanent or job.attempts >= self.settings.send_max_attempts:
            return Settlement(job.id, "failed", text)
        retry_at = next_attempt_after(
            now, job.attempts, self.settings.send_backoff_seconds, self.settings.send_backoff_max_seconds
        )
        return Settlement(job.id, "pending", text, next_attempt_at=retry_at)

    async def _record(
        self, settled: Sequence[tuple[Row[Any], Settlement]], at: datetime, *, report: bool = False
    ) -> None:
        """Write how the tries went, for the messages still pending, in one transaction."""
        async with self.db.uow() as uow:
            messages = MessageRepository(uow.session)
            attempts = await messages.settle([s for _, s in settled], at)
            entries = []
            for row, settlement in settled:
                if row.id not in attempts:  # recorded meanwhile (after the lease) by another worker
                    continue
                attempt_no = attempts[row.id]
                outcome = _LOGGED[settlement.status]
                entries.append(
                    {
                        "message_id": row.id,
                        "attempt_no": attempt_no,
                        "attempted_at": at,
                        "outcome": outcome,
                        "error": settlement.error,
                    }
                )
                if report:
                    _report(row, settlement, attempt_no)
                if settlement.status == "sent":
                    uow.publish(
                        notification_sent(row._asdict()),
                        claim_id=row.claim_id,
                        correlation_id=row.correlation_id,
                        causation_id=str(row.source_event_id),
                    )
            await messages.log_attempts(entries)


# The delivery-log outcome of each way a try ends.
_LOGGED = {"sent": "delivered", "cancelled": "cancelled", "failed": "failed", "pending": "retry"}


def _report(row: Row[Any], settlement: Settlement, attempt_no: int) -> None:
    """Log how a send went."""
    if settlement.status == "sent":
        log.info("message sent", message_id=row.id, channel=row.channel, recipient=row.address_masked)
    elif settlement.status == "failed":
        log.error("message not delivered", message_id=row.id, channel=row.channel, error=settlement.error)
    else:
        log.warning("send failed; will retry", message_id=row.id, channel=row.channel, attempt=attempt_no)

"""What routes, handlers and jobs share: settings, clock, document store and the PII vault."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from claims_intake.config import IntakeSettings
from claims_intake.pii import Vault
from claims_intake.storage import DocumentStore

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


@dataclass
class IntakeContext:
    """The intake service's collaborators, built once in the composition root."""

    settings: IntakeSettings
    store: DocumentStore
    vault: Vault
    clock: Clock = system_clock

    def now(self) -> datetime:
        """The current instant (UTC), from the injectable clock."""
        return self.clock().astimezone(UTC)

    def today(self) -> date:
        """Today's date in UTC."""
        return self.now().date()

    def latest_service_date(self) -> date:
        """The latest date that is not in the future anywhere on Earth (UTC+14)."""
        return (self.now() + timedelta(hours=14)).date()

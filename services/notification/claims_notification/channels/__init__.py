"""Outbound channels: e-mail over SMTP and SMS through an HTTP gateway (in-app needs no sender)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["OutboundMessage", "SendFailed", "Sender"]


@dataclass(frozen=True)
class OutboundMessage:
    """What a sender needs: the message's stable id, the address and the rendered text."""

    message_id: str
    address: str
    subject: str | None
    body: str
    locale: str


class SendFailed(Exception):
    """A send did not succeed; ``permanent`` when trying again cannot help (a refused address)."""

    def __init__(self, detail: str, *, permanent: bool = False) -> None:
        super().__init__(detail)
        self.permanent = permanent


class Sender(Protocol):
    """Delivers one message on one channel, or raises ``SendFailed``."""

    async def send(self, message: OutboundMessage) -> None:
        """Deliver the message."""
        ...  # pragma: no cover

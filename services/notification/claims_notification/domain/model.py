"""Which messages an event yields: per audience, channel and the recipient's preferences."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache

__all__ = [
    "DEFAULT_LOCALE",
    "SUPPORTED_LOCALES",
    "Audience",
    "Channel",
    "Contact",
    "Delivery",
    "Kind",
    "Preferences",
    "backoff_delay",
    "mask_address",
    "mask_contacts_in_text",
    "mask_email",
    "mask_phone",
    "plan_deliveries",
    "resolve_locale",
]

DEFAULT_LOCALE = "zh-CN"
SUPPORTED_LOCALES: tuple[str, ...] = ("zh-CN", "en")


class Channel(StrEnum):
    """A way to reach a recipient (the same values as the contracts' ``Channel``)."""

    EMAIL = "email"
    SMS = "sms"
    IN_APP = "in_app"


class Audience(StrEnum):
    """Who a message is for."""

    MEMBER = "member"
    PROVIDER = "provider"


class Kind(StrEnum):
    """A kind of message; each has one template per channel and locale."""

    DOCUMENTS_REQUESTED = "documents_requested"
    CLAIM_RECEIVED = "claim_received"
    CLAIM_PENDED = "claim_pended"
    CLAIM_DECIDED = "claim_decided"
    PAYMENT_SENT = "payment_sent"
    PAYMENT_FAILED = "payment_failed"
    DISPUTE_RECEIVED = "dispute_received"
    VERIFICATION_REQUESTED = "verification_requested"
    SURVEY = "survey"


@dataclass(frozen=True)
class Contact:
    """How to reach a recipient; any field may be unknown."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    locale: str | None = None


@dataclass(frozen=True)
class Preferences:
    """A member's choices: outbound channels, surveys, and the language of messages."""

    email: bool = True
    sms: bool = True
    surveys: bool = True
    locale: str | None = None

    def allows(self, channel: Channel, kind: Kind) -> bool:
        """Whether a message of ``kind`` may go out on ``channel``."""
        if kind is Kind.SURVEY and not self.surveys:
            return False
        if channel is Channel.EMAIL:
            return self.email
        if channel is Channel.SMS:
            return self.sms
        return True


@dataclass(frozen=True)
class Delivery:
    """One message to create: the channel and the address it goes to (none for in-app)."""

    channel: Channel
    address: str | None


@lru_cache(maxsize=1024)
def resolve_locale(*candidates: str | None, default: str = DEFAULT_LOCALE) -> str:
    """The first candidate that maps to a supported locale (``en-US`` → ``en``, ``zh-Hans`` → ``zh-CN``)."""
    for candidate in candidates:
        if not candidate:
            continue
        language = candidate.replace("_", "-").split("-")[0].lower()
        if language == "zh":
            return "zh-CN"
        if language == "en":
            return "en"
    return default if default in SUPPORTED_LOCALES else DEFAULT_LOCALE


def plan_deliveries(
    kind: Kind,
    contact: Contact,
    preferences: Preferences,
    configured: frozenset[Channel],
) -> list[Delivery]:
    """The messages one notice yields for one recipient.

    In-app is the claim's own message record and is always kept (a survey only when surveys are wanted);
    e-mail and SMS go out when the channel is configured, the address is known and the recipient has not
    opted out.
    """
    if kind is Kind.SURVEY and not preferences.surveys:
        return []
    out = [Delivery(Channel.IN_APP, None)]
    if Channel.EMAIL in configured and contact.email and preferences.allows(Channel.EMAIL, kind):
        out.append(Delivery(Channel.EMAIL, contact.email))
    if Channel.SMS in configured and contact.phone and preferences.allows(Channel.SMS, kind):
        out.append(Delivery(Channel.SMS, contact.phone))
    return out


def backoff_delay(attempt: int, base_seconds: float, max_seconds: float) -> timedelta:
    """The wait before the next try after ``attempt`` failed tries: doubling from ``base``, capped."""
    exponent = max(0, min(attempt - 1, 30))
    return timedelta(seconds=min(base_seconds * (2**exponent), max_seconds))


def next_attempt_after(now: datetime, attempt: int, base_seconds: float, max_seconds: float) -> datetime:
    """When to try again after ``attempt`` failed tries."""
    return now + backoff_delay(attempt, base_seconds, max_seconds)


def mask_email(address: str) -> str:
    """``zhangsan@example.com`` → ``z***@example.com``."""
    local, _, domain = address.partition("@")
    if not domain:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_phone(number: str) -> str:
    """``+8613800000000`` → ``+86138****0000``: the prefix and the last four digits stay."""
    if len(number) <= 7:
        return "****" + number[-2:]
    return number[:-8] + "****" + number[-4:] if len(number) > 8 else "****" + number[-4:]


def mask_address(channel: Channel, address: str | None, recipient_key: str) -> str:
    """The address as it may be shown or logged."""
    if channel is Channel.EMAIL and address:
        return mask_email(address)
    if channel is Channel.SMS and address:
        return mask_phone(address)
    return recipient_key


_EMAIL_IN_TEXT = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+)")
_PHONE_IN_TEXT = re.compile(r"(\+?\d{3})\d{4,}(\d{4})")


def mask_contacts_in_text(text: str) -> str:
    """Mask e-mail addresses and phone numbers inside free text (an SMTP or gateway error)."""
    text = _EMAIL_IN_TEXT.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    return _PHONE_IN_TEXT.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text)

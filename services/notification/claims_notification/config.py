"""Settings of the notification service (``CLAIMS_NOTIFICATION_*``, then ``CLAIMS_*``)."""

from __future__ import annotations

from typing import ClassVar

from claims_platform.settings import ServiceSettings


class NotificationSettings(ServiceSettings):
    """Settings of the notification service."""

    service_name: ClassVar[str] = "notification"
    default_port: ClassVar[int] = 8004

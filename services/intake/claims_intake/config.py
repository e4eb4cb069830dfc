"""Settings of the intake service (``CLAIMS_INTAKE_*``, then ``CLAIMS_*``)."""

from __future__ import annotations

from typing import ClassVar

from claims_platform.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    """Settings of the intake service."""

    service_name: ClassVar[str] = "intake"
    default_port: ClassVar[int] = 8001

"""Settings of the adjudication service (``CLAIMS_ADJUDICATION_*``, then ``CLAIMS_*``)."""

from __future__ import annotations

from typing import ClassVar

from claims_platform.settings import ServiceSettings


class AdjudicationSettings(ServiceSettings):
    """Settings of the adjudication service."""

    service_name: ClassVar[str] = "adjudication"
    default_port: ClassVar[int] = 8002

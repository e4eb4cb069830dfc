"""Settings of the payment service (``CLAIMS_PAYMENT_*``, then ``CLAIMS_*``)."""

from __future__ import annotations

from typing import ClassVar

from claims_platform.settings import ServiceSettings


class PaymentSettings(ServiceSettings):
    """Settings of the payment service."""

    service_name: ClassVar[str] = "payment"
    default_port: ClassVar[int] = 8003

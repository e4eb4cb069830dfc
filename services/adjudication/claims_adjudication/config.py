"""Settings of the adjudication service (``CLAIMS_ADJUDICATION_*``, then ``CLAIMS_*``)."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from pydantic import Field

from claims_adjudication.domain.risk import RiskSettings
from claims_platform.settings import ServiceSettings


class AdjudicationSettings(ServiceSettings):
    """Settings of the adjudication service."""

    service_name: ClassVar[str] = "adjudication"
    default_port: ClassVar[int] = 8002

    system_actor: str = Field(default="adjudication", min_length=1, max_length=100)
    """Who automatic decisions are recorded as (``decided_by``)."""
    authority_limit: Decimal = Field(default=Decimal("20000.00"), ge=0, max_digits=14, decimal_places=2)
    """A reviewer's decision paying more than this needs a supervisor's approval."""
    provider_watchlist: list[str] = Field(default_factory=list)
    """Providers whose claims always go to human review (``PROVIDER_WATCHLIST``)."""
    usual_prices: dict[str, Decimal] = Field(default_factory=dict)
    """Usual unit price per bill code, for ``UNIT_PRICE_OUTLIER``."""
    early_claim_days: int = Field(default=60, ge=0, le=3650)
    early_claim_amount: Decimal = Field(default=Decimal("10000.00"), ge=0)
    frequency_claims: int = Field(default=5, ge=2, le=1000)
    frequency_days: int = Field(default=30, ge=1, le=3650)
    unit_price_factor: Decimal = Field(default=Decimal(3), gt=1)

    def risk_settings(self) -> RiskSettings:
        """The thresholds of the risk rules."""
        return RiskSettings(
            early_claim_days=self.early_claim_days,
            early_claim_amount=self.early_claim_amount,
            frequency_claims=self.frequency_claims,
            frequency_days=self.frequency_days,
            unit_price_factor=self.unit_price_factor,
        )

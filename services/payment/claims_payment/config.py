"""Settings of the payment service (``CLAIMS_PAYMENT_*``, then ``CLAIMS_*``)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, SecretStr, model_validator

from claims_platform.settings import ServiceSettings


class PaymentSettings(ServiceSettings):
    """Settings of the payment service."""

    service_name: ClassVar[str] = "payment"
    default_port: ClassVar[int] = 8003

    account_key: SecretStr | None = Field(
        default=None, description="Fernet key encrypting bank account numbers at rest; generated in development."
    )
    consumer_group: str = Field(default="payment", min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")

    bank_adapter: Literal["simulated"] = "simulated"
    bank_failure_rate: float = Field(default=0.0, ge=0, le=1, description="Share of transfers the bank rejects.")
    bank_return_rate: float = Field(default=0.0, ge=0, le=1, description="Share of settled transfers returned.")
    bank_timeout_rate: float = Field(default=0.0, ge=0, le=1, description="Share of submissions that time out.")
    bank_seed: int = Field(default=0, description="Seed of the simulated bank's draws (deterministic outcomes).")
    bank_settlement_delay_seconds: float = Field(default=2.0, ge=0, le=86_400)
    bank_return_delay_seconds: float = Field(default=5.0, ge=0, le=86_400)

    worker_enabled: bool = True
    worker_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    worker_batch_size: int = Field(default=200, ge=1, le=10_000)
    send_max_attempts: int = Field(default=5, ge=1, le=100)
    send_backoff_seconds: float = Field(default=2.0, ge=0, le=3600)
    send_backoff_max_seconds: float = Field(default=300.0, ge=0, le=86_400)
    return_window_seconds: float = Field(
        default=600.0, ge=0, description="How long after settlement the bank is still asked whether it returned."
    )
    return_check_seconds: float = Field(
        default=5.0, ge=0, le=3600, description="How often the worker asks the bank about settled payments."
    )

    debtor_name: str = Field(default="Claims Insurer", min_length=1, max_length=140)
    debtor_account: str = Field(default="INSURER0001", pattern=r"^[A-Za-z0-9]{4,34}$")
    debtor_bank_code: str = Field(default="ICBC", pattern=r"^[A-Za-z0-9]{2,20}$")

    @model_validator(mode="after")
    def _account_key_needed(self) -> PaymentSettings:
        if self.environment != "development" and self.account_key is None:
            raise ValueError(f"{self.environment} mode needs: CLAIMS_PAYMENT_ACCOUNT_KEY")
        if self.account_key is not None:
            from claims_payment.crypto import validate_key

            validate_key(self.account_key.get_secret_value())
        return self

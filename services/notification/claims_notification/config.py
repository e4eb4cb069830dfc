"""Settings of the notification service (``CLAIMS_NOTIFICATION_*``, then ``CLAIMS_*``)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr, model_validator

from claims_platform.settings import ServiceSettings

_SURVEY_SECRET_FILE = "notification-survey-secret"


class NotificationSettings(ServiceSettings):
    """Settings of the notification service."""

    service_name: ClassVar[str] = "notification"
    default_port: ClassVar[int] = 8004

    default_locale: str = Field(default="zh-CN", pattern=r"^(zh-CN|en)$")
    display_timezone: str = Field(default="Asia/Shanghai", description="Time zone in which times are shown.")

    # E-mail over SMTP: the channel is on when ``smtp_host`` is set.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = True
    smtp_use_tls: bool = Field(default=False, description="Implicit TLS (port 465) instead of STARTTLS.")
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str = Field(default="Claims <no-reply@claims.example.com>", max_length=254)
    smtp_timeout_seconds: float = Field(default=30.0, gt=0, le=600)

    # SMS through an HTTP gateway: the channel is on when ``sms_gateway_url`` is set.
    sms_gateway_url: str | None = None
    sms_gateway_username: str | None = None
    sms_gateway_password: SecretStr | None = None
    sms_gateway_token: SecretStr | None = None
    sms_sender_id: str | None = Field(default=None, max_length=32)
    sms_timeout_seconds: float = Field(default=15.0, gt=0, le=600)

    # The delivery worker.
    send_max_attempts: int = Field(default=8, ge=1, le=100)
    send_backoff_seconds: float = Field(default=5.0, ge=0, le=3600)
    send_backoff_max_seconds: float = Field(default=900.0, ge=0, le=86_400)
    send_lease_seconds: float = Field(default=120.0, gt=0, le=3600)
    worker_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    worker_batch_size: int = Field(default=50, ge=1, le=1000)

    # Surveys.
    survey_delay_seconds: float = Field(default=0.0, ge=0, le=90 * 86_400)
    survey_token_ttl_seconds: int = Field(default=30 * 86_400, ge=60, le=365 * 86_400)
    survey_secret: SecretStr | None = None
    public_base_url: str = Field(
        default="http://127.0.0.1:8004", description="Base of the survey link: <base>/v1/feedback?token=…"
    )

    @model_validator(mode="after")
    def _survey_secret_needed(self) -> NotificationSettings:
        if self.environment == "production" and self.survey_secret is None:
            raise ValueError("production mode needs: CLAIMS_NOTIFICATION_SURVEY_SECRET")
        if self.survey_secret is not None and len(self.survey_secret.get_secret_value()) < 32:
            raise ValueError("CLAIMS_NOTIFICATION_SURVEY_SECRET must be at least 32 characters")
        return self

    @property
    def email_enabled(self) -> bool:
        """Whether the e-mail channel is configured."""
        return bool(self.smtp_host)

    @property
    def sms_enabled(self) -> bool:
        """Whether the SMS channel is configured."""
        return bool(self.sms_gateway_url)

    def resolved_survey_secret(self) -> str:
        """The survey-token secret; outside production one is generated once under the data dir."""
        if self.survey_secret is not None:
            return self.survey_secret.get_secret_value()
        return _local_secret(self.data_dir / _SURVEY_SECRET_FILE)


def _local_secret(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
    tmp.write_text(secrets.token_urlsafe(48))
    tmp.chmod(0o600)
    try:
        if path.exists():
            tmp.unlink()
        else:
            tmp.rename(path)
    except FileExistsError:  # pragma: no cover - another process created it first
        tmp.unlink(missing_ok=True)
    return path.read_text().strip()

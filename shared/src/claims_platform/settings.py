"""Settings base shared by the four services.

Every field is read from ``CLAIMS_<SERVICE>_<FIELD>`` first and ``CLAIMS_<FIELD>`` second, so one
environment can hold the common values (JWT secret, Kafka) and per-service ones (database URL, port).
Nothing is read at import time: a service builds its settings in its composition root.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

Environment = Literal["development", "test", "production"]


class ServiceSettings(BaseSettings):
    """Common settings; each service subclasses it and sets ``service_name`` and its port."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False, populate_by_name=True)

    service_name: ClassVar[str] = "service"
    default_port: ClassVar[int] = 8000

    environment: Environment = Field(default="development", validation_alias="CLAIMS_ENV")
    data_dir: Path = Path(".data")
    database_url: str | None = None
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_pool_pre_ping: bool = False
    kafka_bootstrap_servers: str | None = None
    kafka_topic_partitions: int = Field(default=6, ge=1, le=1000)
    kafka_replication_factor: int = Field(default=1, ge=1, le=10)
    kafka_topic_prefix: str = Field(default="", max_length=50, pattern=r"^[A-Za-z0-9._-]*$")
    jwt_secret: SecretStr | None = None
    jwt_jwks_url: str | None = None
    jwt_issuer: str | None = None
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"
    host: str = "127.0.0.1"
    port: int | None = None
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    max_json_depth: int = Field(default=32, ge=4, le=1000)
    migrate_on_start: bool = True
    relay_batch_size: int = Field(default=500, ge=1, le=10_000)
    relay_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    consumer_batch_size: int = Field(default=100, ge=1, le=1000)
    consumer_commit_seconds: float = Field(default=1.0, ge=0, le=60)
    consumer_max_attempts: int = Field(default=5, ge=1, le=100)
    consumer_backoff_seconds: float = Field(default=0.2, ge=0, le=60)
    otel_exporter_otlp_endpoint: str | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Service-specific variables win over the common ``CLAIMS_`` ones."""
        prefix = f"CLAIMS_{cls.service_name.upper()}_"
        return (
            init_settings,
            EnvSettingsSource(settings_cls, env_prefix=prefix),
            EnvSettingsSource(settings_cls, env_prefix="CLAIMS_"),
        )

    @model_validator(mode="after")
    def _fail_fast(self) -> ServiceSettings:
        if self.environment != "development":
            missing = []
            if self.jwt_secret is None and self.jwt_jwks_url is None:
                missing.append("CLAIMS_JWT_SECRET or CLAIMS_JWT_JWKS_URL")
            if self.database_url is None:
                missing.append(f"CLAIMS_{self.service_name.upper()}_DATABASE_URL")
            if self.environment == "production" and self.kafka_bootstrap_servers is None:
                missing.append("CLAIMS_KAFKA_BOOTSTRAP_SERVERS")
            if missing:
                raise ValueError(f"{self.environment} mode needs: {', '.join(missing)}")
        if self.jwt_secret is not None and len(self.jwt_secret.get_secret_value()) < 32:
            raise ValueError("CLAIMS_JWT_SECRET must be at least 32 characters")
        return self

    @property
    def otlp_traces_endpoint(self) -> str | None:
        """Where spans go (OTLP over HTTP), or None: no exporter.

        ``CLAIMS_OTEL_EXPORTER_OTLP_ENDPOINT`` first, then the standard ``OTEL_EXPORTER_OTLP_ENDPOINT``; both
        name the collector's base URL (``http://collector:4318``), to which ``/v1/traces`` is added.
        """
        base = self.otel_exporter_otlp_endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None
        if base is None:
            return None
        base = base.rstrip("/")
        return base if base.endswith("/v1/traces") else f"{base}/v1/traces"

    @property
    def listen_port(self) -> int:
        """The port this service listens on."""
        return self.port if self.port is not None else self.default_port

    @property
    def effective_database_url(self) -> str:
        """The configured database, or in development a SQLite file under the data dir."""
        if self.database_url:
            return self.database_url
        path = (self.data_dir / f"{self.service_name}.db").resolve()
        return f"sqlite+aiosqlite:///{path}"

    def resolved_jwt_secret(self) -> str | None:
        """The HS256 secret; in development one is generated once under the data dir."""
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        if self.jwt_jwks_url is not None or self.environment != "development":
            return None
        return development_secret(self.data_dir)


def development_secret(data_dir: Path) -> str:
    """Read, or create on first use, the development JWT secret under ``data_dir``."""
    path = data_dir / "dev-jwt-secret"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(value)
    tmp.chmod(0o600)
    try:
        tmp.rename(path) if not path.exists() else tmp.unlink()
    except FileExistsError:  # pragma: no cover - another service created it first
        tmp.unlink(missing_ok=True)
    return path.read_text().strip()

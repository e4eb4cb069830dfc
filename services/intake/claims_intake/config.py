"""Settings of the intake service (``CLAIMS_INTAKE_*``, then ``CLAIMS_*``)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr

from claims_platform.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    """Settings of the intake service."""

    service_name: ClassVar[str] = "intake"
    default_port: ClassVar[int] = 8001

    accepted_currencies: list[str] = Field(
        default_factory=lambda: ["CNY"], description="The benefit plans' currencies; a claim must use one."
    )
    documents_dir: Path | None = Field(default=None, description="Where documents are stored; data_dir/documents.")
    document_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    inline_document_max_bytes: int = Field(
        default=256 * 1024,
        ge=0,
        description=(
            "A document of at most this many bytes is kept in the database with the claim's rows (in its "
            "transaction); a larger one in the document store. 0: every document in the store."
        ),
    )
    documents_deadline_days: int = Field(default=30, ge=1, le=365)
    expiry_interval_seconds: float = Field(default=3600.0, gt=0, description="How often the expiry job runs.")
    expiry_job_enabled: bool = True
    pii_key: SecretStr | None = Field(
        default=None, description="Fernet key for ID numbers and bank accounts; derived from the JWT secret if unset."
    )

    @property
    def effective_documents_dir(self) -> Path:
        """The documents folder."""
        return self.documents_dir if self.documents_dir is not None else self.data_dir / "documents"

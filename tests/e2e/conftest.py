"""The four services as separate processes on the real PostgreSQL and Kafka, for end-to-end tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet

from claims_platform.localstack import LocalSuite, create_databases, drop_databases, service_env

PORTS = {"intake": 18201, "adjudication": 18202, "payment": 18203, "notification": 18204}


@pytest.fixture(scope="module")
def suite(pg_admin_url: str, kafka_bootstrap: str, jwt_secret: str, tmp_path_factory) -> Iterator[LocalSuite]:
    """Start the four services as processes, each on a fresh database of its own role, on fresh topics."""
    tag = f"e2e_{uuid.uuid4().hex[:8]}"
    own = {s: os.environ[f"CLAIMS_TEST_{s.upper()}_DATABASE_URL"] for s in PORTS}
    databases = create_databases(pg_admin_url, tag, own)
    data_dir = tmp_path_factory.mktemp("e2e")
    env = service_env()
    env.update(
        {
            "CLAIMS_ENV": "test",
            "CLAIMS_JWT_SECRET": jwt_secret,
            "CLAIMS_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "CLAIMS_KAFKA_TOPIC_PREFIX": f"{tag}.",
            "CLAIMS_KAFKA_TOPIC_PARTITIONS": "3",
            "CLAIMS_DATA_DIR": str(data_dir),
            "CLAIMS_LOG_FORMAT": "json",
            "CLAIMS_RELAY_POLL_SECONDS": "0.2",
            "CLAIMS_INTAKE_PII_KEY": Fernet.generate_key().decode(),
            "CLAIMS_PAYMENT_ACCOUNT_KEY": Fernet.generate_key().decode(),
            "CLAIMS_PAYMENT_BANK_SETTLEMENT_DELAY_SECONDS": "0.2",
            "CLAIMS_PAYMENT_WORKER_POLL_SECONDS": "0.2",
            "CLAIMS_NOTIFICATION_SURVEY_SECRET": Fernet.generate_key().decode(),
            "CLAIMS_NOTIFICATION_WORKER_POLL_SECONDS": "0.2",
        }
    )
    for service, port in PORTS.items():
        env[f"CLAIMS_{service.upper()}_PORT"] = str(port)
        env[f"CLAIMS_{service.upper()}_DATABASE_URL"] = databases[service]
    suite = LocalSuite({s: f"http://127.0.0.1:{p}" for s, p in PORTS.items()}, env, data_dir)
    try:
        for service in PORTS:
            suite.start(service)
        yield suite
    finally:
        suite.stop_all()
        drop_databases(pg_admin_url, tag, list(PORTS))

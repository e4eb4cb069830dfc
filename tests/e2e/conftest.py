"""The four services as separate processes on the real PostgreSQL and Kafka, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

SERVICES = {"intake": 18201, "adjudication": 18202, "payment": 18203, "notification": 18204}


@dataclass
class Suite:
    """The running suite: base URLs, environment, and a way to restart a service."""

    urls: dict[str, str]
    env: dict[str, str]
    log_dir: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, service: str) -> None:
        """Start (or restart) one service process and wait until it is ready."""
        log = open(self.log_dir / f"{service}.log", "ab")  # noqa: SIM115 - kept open for the process
        self.procs[service] = subprocess.Popen(
            [sys.executable, "-m", f"claims_{service}"], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        self.wait_ready(service)

    def wait_ready(self, service: str, timeout: float = 60.0) -> None:
        """Wait for /health/ready of a service."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = self.procs[service]
            if proc.poll() is not None:
                raise AssertionError(f"{service} exited with {proc.returncode}: {self.tail(service)}")
            try:
                if httpx.get(f"{self.urls[service]}/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{service} not ready within {timeout}s: {self.tail(service)}")

    def stop(self, service: str, sig: int = signal.SIGTERM) -> None:
        """Stop one service (SIGKILL to simulate a crash)."""
        proc = self.procs[service]
        proc.send_signal(sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def tail(self, service: str, lines: int = 30) -> str:
        """The last lines of a service's log."""
        path = self.log_dir / f"{service}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def _create_databases(admin_url: str, tag: str) -> dict[str, str]:
    """A fresh database per service, owned by that service's own role."""
    sync_admin = admin_url.replace("+asyncpg", "+psycopg2")
    engine = create_engine(sync_admin, isolation_level="AUTOCOMMIT")
    urls = {}
    with engine.connect() as conn:
        for service in SERVICES:
            name = f"e2e_{tag}_{service}"
            conn.execute(text(f'CREATE DATABASE "{name}" OWNER claims_{service}'))
            conn.execute(text(f'REVOKE ALL ON DATABASE "{name}" FROM PUBLIC'))
            own = os.environ[f"CLAIMS_TEST_{service.upper()}_DATABASE_URL"]
            urls[service] = own.rsplit("/", 1)[0] + f"/{name}"
    engine.dispose()
    return urls


def _drop_databases(admin_url: str, tag: str) -> None:
    engine = create_engine(admin_url.replace("+asyncpg", "+psycopg2"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for service in SERVICES:
            conn.execute(text(f'DROP DATABASE IF EXISTS "e2e_{tag}_{service}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(scope="module")
def suite(pg_admin_url: str, kafka_bootstrap: str, jwt_secret: str, tmp_path_factory) -> Iterator[Suite]:
    """Start the four services as processes, each on its own database, on one Kafka topic prefix."""
    tag = uuid.uuid4().hex[:8]
    databases = _create_databases(pg_admin_url, tag)
    data_dir = tmp_path_factory.mktemp("e2e")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMS_") or k.startswith("CLAIMS_TEST_")}
    env.update(
        {
            "CLAIMS_ENV": "test",
            "CLAIMS_JWT_SECRET": jwt_secret,
            "CLAIMS_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "CLAIMS_KAFKA_TOPIC_PREFIX": f"e2e{tag}.",
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
    for service, port in SERVICES.items():
        env[f"CLAIMS_{service.upper()}_PORT"] = str(port)
        env[f"CLAIMS_{service.upper()}_DATABASE_URL"] = databases[service]
    suite = Suite({s: f"http://127.0.0.1:{p}" for s, p in SERVICES.items()}, env, data_dir)
    try:
        for service in SERVICES:
            suite.start(service)
        yield suite
    finally:
        for service in list(suite.procs):
            suite.stop(service)
        _drop_databases(pg_admin_url, tag)

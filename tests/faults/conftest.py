"""A private PostgreSQL and Kafka for the fault tests, and the four services as processes on them.

The fault tests kill the broker, restart PostgreSQL and redeliver every event, so they never touch the
shared infrastructure that other tests use: ``scripts/infra.sh`` runs here under its own directory and
ports, and is stopped again at the end of the module.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from claims_platform.localstack import LocalSuite, create_databases, drop_databases, service_env
from claims_platform.testing import delete_topics

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "infra.sh"
SERVICES = ("intake", "adjudication", "payment", "notification")

INFRA_ENV = {
    "CLAIMS_INFRA_DIR": "/tmp/claims-faults-infra",
    "CLAIMS_PG_PORT": "55442",
    "CLAIMS_KAFKA_PORT": "19192",
    "CLAIMS_KAFKA_CONTROLLER_PORT": "19193",
}
PORTS = {"intake": 18401, "adjudication": 18402, "payment": 18403, "notification": 18404}

# Fast background work, so a claim is paid within a second or two once nothing is broken.
FAST = {
    "CLAIMS_LOG_FORMAT": "json",
    "CLAIMS_RELAY_POLL_SECONDS": "0.2",
    "CLAIMS_PAYMENT_BANK_SETTLEMENT_DELAY_SECONDS": "0.2",
    "CLAIMS_PAYMENT_WORKER_POLL_SECONDS": "0.2",
    "CLAIMS_NOTIFICATION_WORKER_POLL_SECONDS": "0.2",
}


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


@dataclass
class PrivateInfra:
    """The fault tests' own PostgreSQL and Kafka, driven by ``scripts/infra.sh`` with their own env."""

    env: dict[str, str]
    values: dict[str, str]

    @property
    def dir(self) -> Path:
        """Where the infrastructure keeps its state and logs."""
        return Path(self.env["CLAIMS_INFRA_DIR"])

    @property
    def bootstrap(self) -> str:
        """Bootstrap servers of the private broker."""
        return self.values["CLAIMS_TEST_KAFKA_BOOTSTRAP_SERVERS"]

    @property
    def pg_admin_url(self) -> str:
        """Superuser URL of the private PostgreSQL."""
        return self.values["CLAIMS_TEST_PG_ADMIN_URL"]

    @property
    def jwt_secret(self) -> str:
        """The JWT secret of the private environment."""
        return self.values["CLAIMS_TEST_JWT_SECRET"]

    def service_url(self, service: str) -> str:
        """A service's own role on the private PostgreSQL."""
        return self.values[f"CLAIMS_TEST_{service.upper()}_DATABASE_URL"]

    def run(self, command: str, timeout: float = 120.0) -> str:
        """Run one subcommand of ``scripts/infra.sh``; fail with its output and the logs' tails."""
        try:
            done = subprocess.run(
                [str(SCRIPT), command],
                env=self.env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"infra.sh {command} did not finish within {timeout}s\n{self.logs()}") from exc
        if done.returncode != 0:
            raise AssertionError(
                f"infra.sh {command} exited with {done.returncode}\n{done.stdout}\n{done.stderr}\n{self.logs()}"
            )
        return done.stdout.strip()

    def logs(self) -> str:
        """The last lines of the broker's and the database's logs."""
        return (
            f"--- kafka log ---\n{_tail(self.dir / 'kafka' / 'server.log')}\n"
            f"--- postgres log ---\n{_tail(self.dir / 'pg' / 'server.log')}"
        )

    def kafka_kill(self) -> None:
        """SIGKILL the broker (waits until its port is closed)."""
        self.run("kafka-kill", timeout=60)

    def kafka_start(self) -> None:
        """Start the broker again (waits until its port is open)."""
        self.run("kafka-start", timeout=120)

    def pg_stop(self) -> None:
        """Stop PostgreSQL (fast shutdown: open connections are cut)."""
        self.run("pg-stop", timeout=60)

    def pg_start(self) -> None:
        """Start PostgreSQL again."""
        self.run("pg-start", timeout=90)


def _read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("export ") and "=" in line:
            key, _, value = line[len("export ") :].partition("=")
            values[key] = shlex.split(value)[0] if value else ""
    return values


@pytest.fixture(scope="module")
def private_infra() -> Iterator[PrivateInfra]:
    """PostgreSQL and Kafka of the fault tests alone, started for the module and stopped after it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMS_")}
    env.update(INFRA_ENV)
    infra = PrivateInfra(env, {})
    try:
        infra.run("up", timeout=240)
        infra.values = _read_env_file(Path(infra.run("env", timeout=30)))
        yield infra
    finally:
        infra.run("down", timeout=120)


@pytest.fixture(scope="module")
def fault_suite(private_infra: PrivateInfra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSuite]:
    """The four services as processes on the private infrastructure: fresh databases, fresh topics."""
    busy = []
    for service, port in PORTS.items():
        try:
            httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1)
            busy.append(f"{service}:{port}")
        except httpx.HTTPError:
            pass
    assert not busy, f"ports of the fault suite already in use: {busy}"
    tag = f"faults_{uuid.uuid4().hex[:8]}"
    own = {s: private_infra.service_url(s) for s in SERVICES}
    databases = create_databases(private_infra.pg_admin_url, tag, own)
    env = {k: v for k, v in service_env().items() if not k.startswith("CLAIMS_")}
    env.update(FAST)
    env.update(
        {
            "CLAIMS_ENV": "test",
            "CLAIMS_JWT_SECRET": private_infra.jwt_secret,
            "CLAIMS_KAFKA_BOOTSTRAP_SERVERS": private_infra.bootstrap,
            "CLAIMS_KAFKA_TOPIC_PREFIX": f"{tag}.",
            "CLAIMS_KAFKA_TOPIC_PARTITIONS": "3",
            "CLAIMS_INTAKE_PII_KEY": Fernet.generate_key().decode(),
            "CLAIMS_PAYMENT_ACCOUNT_KEY": Fernet.generate_key().decode(),
            "CLAIMS_NOTIFICATION_SURVEY_SECRET": Fernet.generate_key().decode(),
        }
    )
    log_dir = tmp_path_factory.mktemp("faults")
    env["CLAIMS_DATA_DIR"] = str(log_dir)
    for service, port in PORTS.items():
        env[f"CLAIMS_{service.upper()}_PORT"] = str(port)
        env[f"CLAIMS_{service.upper()}_DATABASE_URL"] = databases[service]
    suite = LocalSuite({s: f"http://127.0.0.1:{p}" for s, p in PORTS.items()}, env, log_dir)
    started = time.monotonic()
    try:
        for service in SERVICES:
            suite.start(service, timeout=90)
        print(f"\n[faults] services up in {time.monotonic() - started:.1f}s; logs in {log_dir}")
        yield suite
    finally:
        suite.stop_all()
        delete_topics(private_infra.bootstrap, [env["CLAIMS_KAFKA_TOPIC_PREFIX"]])
        try:
            drop_databases(private_infra.pg_admin_url, tag, list(SERVICES))
        except Exception as exc:
            print(f"[faults] could not drop the databases {tag}_*: {exc}")

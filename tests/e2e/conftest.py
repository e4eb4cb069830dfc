"""The suite for end-to-end tests, in its two ways to run.

- ``processes``: the four services as separate processes on the real PostgreSQL and Kafka.
- ``embedded``: ``scripts/run_embedded.py`` (what ``make run`` starts) as one subprocess, with SQLite
  files and the in-process bus.

Flows take a :class:`Stack`, a view of either: base URLs, tokens, a way to restart the payment service
with other settings, and the services' logs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import pytest
from cryptography.fernet import Fernet

from claims_platform.localstack import LocalSuite, create_databases, drop_databases, service_env
from claims_platform.testing import bearer, new_topic_prefix

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "adjudication", "payment", "notification")

# Faster background work than the defaults, so a claim is paid within a second or two.
FAST = {
    "CLAIMS_LOG_FORMAT": "json",
    "CLAIMS_RELAY_POLL_SECONDS": "0.2",
    "CLAIMS_PAYMENT_BANK_SETTLEMENT_DELAY_SECONDS": "0.2",
    "CLAIMS_PAYMENT_WORKER_POLL_SECONDS": "0.2",
    "CLAIMS_NOTIFICATION_WORKER_POLL_SECONDS": "0.2",
}

# Who acts in the flows: each role with its own user id (four eyes and disputes need different people).
USERS: dict[str, tuple[str, str, dict[str, str]]] = {
    "admin": ("admin", "admin-1", {}),
    "partner": ("partner", "his-h001", {"provider_id": "H-001"}),
    "auditor": ("auditor", "audit-1", {}),
    "finance": ("finance", "fin-1", {}),
    "adjuster": ("adjuster", "u-adj1", {}),
    "adjuster2": ("adjuster", "u-adj2", {}),
    "supervisor": ("supervisor", "u-sup1", {}),
}


def free_ports(n: int) -> list[int]:
    """``n`` ports free on loopback right now (other engineers' suites run on this machine too)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def make_tokens(jwt_secret: str) -> dict[str, dict[str, str]]:
    """Authorization headers for every user of :data:`USERS`."""
    return {name: bearer(jwt_secret, role, sub=sub, **claims) for name, (role, sub, claims) in USERS.items()}


@dataclass
class Stack:
    """A running suite as a flow sees it, whichever way it runs."""

    mode: str
    urls: dict[str, str]
    tokens: dict[str, dict[str, str]]
    restart_payment: Callable[[dict[str, str]], None]
    """Restart the payment service with these settings on top of the suite's own."""
    logs: Callable[[], dict[str, str]]
    """Every service's log so far, by service (in the embedded mode one log for all four)."""


@contextlib.contextmanager
def process_suite(pg_admin_url: str, kafka_bootstrap: str, jwt_secret: str, data_dir: Path) -> Iterator[LocalSuite]:
    """The four services as processes, each on a fresh database of its own role, on fresh topics."""
    tag = f"e2e_{uuid.uuid4().hex[:8]}"
    ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
    own = {s: os.environ[f"CLAIMS_TEST_{s.upper()}_DATABASE_URL"] for s in SERVICES}
    databases = create_databases(pg_admin_url, tag, own)
    env = service_env()
    env.update(FAST)
    env.update(
        {
            "CLAIMS_ENV": "test",
            "CLAIMS_JWT_SECRET": jwt_secret,
            "CLAIMS_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "CLAIMS_KAFKA_TOPIC_PREFIX": new_topic_prefix(f"{tag}_"),
            "CLAIMS_KAFKA_TOPIC_PARTITIONS": "3",
            "CLAIMS_DATA_DIR": str(data_dir),
            "CLAIMS_INTAKE_PII_KEY": Fernet.generate_key().decode(),
            "CLAIMS_PAYMENT_ACCOUNT_KEY": Fernet.generate_key().decode(),
            "CLAIMS_NOTIFICATION_SURVEY_SECRET": Fernet.generate_key().decode(),
        }
    )
    for service, port in ports.items():
        env[f"CLAIMS_{service.upper()}_PORT"] = str(port)
        env[f"CLAIMS_{service.upper()}_DATABASE_URL"] = databases[service]
    suite = LocalSuite({s: f"http://127.0.0.1:{p}" for s, p in ports.items()}, env, data_dir)
    try:
        for service in SERVICES:
            suite.start(service)
        yield suite
    finally:
        suite.stop_all()
        drop_databases(pg_admin_url, tag, list(SERVICES))


@dataclass
class EmbeddedSuite:
    """``scripts/run_embedded.py`` as a subprocess: the four services in one process on SQLite files."""

    urls: dict[str, str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self, extra_env: dict[str, str] | None = None, timeout: float = 60.0) -> None:
        """Start the process (over the same data dir) and wait until all four services are ready."""
        if self._log is not None:
            self._log.close()
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "run_embedded.py")],
            env={**self.env, **(extra_env or {})},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        waiting = set(self.urls)
        while waiting and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"embedded suite exited with {self.proc.returncode}: {self.tail()}")
            for service in sorted(waiting):
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{self.urls[service]}/health/ready", timeout=2).status_code == 200:
                        waiting.discard(service)
            time.sleep(0.2)
        if waiting:
            raise AssertionError(f"embedded {sorted(waiting)} not ready within {timeout}s: {self.tail()}")

    def stop(self) -> int | None:
        """Stop the process as Ctrl-C would; its exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"embedded suite did not stop on SIGINT: {self.tail()}") from None
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None

    def tail(self, lines: int = 40) -> str:
        """The last lines of the log."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def embedded_suite(jwt_secret: str, data_dir: Path) -> Iterator[EmbeddedSuite]:
    """The embedded mode on free ports, its data under ``data_dir``, the tests' JWT secret."""
    ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
    env = service_env()
    env.update(FAST)
    env.update({"CLAIMS_ENV": "development", "CLAIMS_JWT_SECRET": jwt_secret, "CLAIMS_DATA_DIR": str(data_dir)})
    env.update({f"CLAIMS_{s.upper()}_PORT": str(p) for s, p in ports.items()})
    suite = EmbeddedSuite({s: f"http://127.0.0.1:{p}" for s, p in ports.items()}, env, data_dir / "embedded.log")
    try:
        suite.start()
        yield suite
    finally:
        suite.stop()


@pytest.fixture(scope="module")
def suite(pg_admin_url: str, kafka_bootstrap: str, jwt_secret: str, tmp_path_factory) -> Iterator[LocalSuite]:
    """The four services as processes on PostgreSQL and Kafka."""
    with process_suite(pg_admin_url, kafka_bootstrap, jwt_secret, tmp_path_factory.mktemp("e2e")) as running:
        yield running


MODES = ("processes", "embedded")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that takes ``stack`` in both modes, or in those its ``modes`` attribute names."""
    if "stack" in metafunc.fixturenames:
        modes = getattr(metafunc.function, "modes", MODES)
        metafunc.parametrize("stack", modes, indirect=True, scope="module")


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, jwt_secret: str, tmp_path_factory) -> Iterator[Stack]:
    """The suite in one of its two ways to run (parametrized above); the same flows run against both."""
    tokens = make_tokens(jwt_secret)
    data_dir = tmp_path_factory.mktemp(f"e2e-{request.param}")
    if request.param == "processes":
        pg_admin_url = request.getfixturevalue("pg_admin_url")
        kafka_bootstrap = request.getfixturevalue("kafka_bootstrap")
        with process_suite(pg_admin_url, kafka_bootstrap, jwt_secret, data_dir) as procs:

            def restart_payment(extra: dict[str, str]) -> None:
                procs.stop("payment")
                procs.start("payment", extra_env=extra)

            def process_logs() -> dict[str, str]:
                return {s: (procs.log_dir / f"{s}.log").read_text(errors="replace") for s in SERVICES}

            yield Stack("processes", procs.urls, tokens, restart_payment, process_logs)
    else:
        with embedded_suite(jwt_secret, data_dir) as emb:

            def restart_embedded(extra: dict[str, str]) -> None:
                code = emb.stop()
                assert code == 0, f"embedded suite exited with {code}: {emb.tail()}"
                emb.start(extra_env=extra)

            def embedded_logs() -> dict[str, str]:
                return {"embedded": emb.log_path.read_text(errors="replace")}

            yield Stack("embedded", emb.urls, tokens, restart_embedded, embedded_logs)

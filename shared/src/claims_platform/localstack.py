"""The four services as separate local processes on PostgreSQL and Kafka (end-to-end tests, faults, bench).

Services are started as ``python -m claims_<service>``; nothing here imports them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
from sqlalchemy import create_engine, text

SERVICES: dict[str, int] = {"intake": 8001, "adjudication": 8002, "payment": 8003, "notification": 8004}


@dataclass
class LocalSuite:
    """Running service processes: base URLs, their environment, logs, and start/stop of each."""

    urls: dict[str, str]
    env: dict[str, str]
    log_dir: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _logs: dict[str, IO[bytes]] = field(default_factory=dict)

    def start(self, service: str, extra_env: dict[str, str] | None = None, timeout: float = 60.0) -> None:
        """Start (or restart) one service process and wait until it is ready."""
        if service in self._logs:
            self._logs[service].close()
        log = (self.log_dir / f"{service}.log").open("ab")
        self._logs[service] = log
        self.procs[service] = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", f"claims_{service}"],
            env={**self.env, **(extra_env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.wait_ready(service, timeout)

    def wait_ready(self, service: str, timeout: float = 60.0) -> None:
        """Wait for a service's /health/ready."""
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
        if proc.poll() is None:
            proc.send_signal(sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop_all(self) -> None:
        """Stop every service and close the logs."""
        for service in list(self.procs):
            self.stop(service)
        for log in self._logs.values():
            log.close()

    def tail(self, service: str, lines: int = 30) -> str:
        """The last lines of a service's log."""
        path = self.log_dir / f"{service}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def create_databases(admin_url: str, tag: str, service_urls: dict[str, str]) -> dict[str, str]:
    """A fresh database per service named ``<tag>_<service>``, owned by that service's own role.

    ``service_urls`` are the services' usual URLs (their role and password); the answer has the same
    credentials pointing at the new databases.
    """
    engine = create_engine(admin_url.replace("+asyncpg", "+psycopg2"), isolation_level="AUTOCOMMIT")
    urls = {}
    with engine.connect() as conn:
        for service, own in service_urls.items():
            name = f"{tag}_{service}"
            conn.execute(text(f'CREATE DATABASE "{name}" OWNER claims_{service}'))
            conn.execute(text(f'REVOKE ALL ON DATABASE "{name}" FROM PUBLIC'))
            urls[service] = own.rsplit("/", 1)[0] + f"/{name}"
    engine.dispose()
    return urls


def drop_databases(admin_url: str, tag: str, services: list[str]) -> None:
    """Drop the databases made by :func:`create_databases`."""
    engine = create_engine(admin_url.replace("+asyncpg", "+psycopg2"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for service in services:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{tag}_{service}" WITH (FORCE)'))
    engine.dispose()


def service_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The current environment without any CLAIMS_ setting except the test infrastructure's."""
    source = os.environ if base is None else base
    return {k: v for k, v in source.items() if not k.startswith("CLAIMS_") or k.startswith("CLAIMS_TEST_")}

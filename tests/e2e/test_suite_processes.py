"""The suite as separate processes on PostgreSQL and Kafka: up, ready, and back after a crash."""

from __future__ import annotations

import json
import signal

import httpx


def test_four_services_are_ready_on_postgres_and_kafka(suite):
    for service, url in suite.urls.items():
        body = httpx.get(f"{url}/health/ready", timeout=5).json()
        assert body == {
            "status": "ok",
            "service": service,
            "checks": {"database": True, "migrations": True, "bus": True},
        }


def test_a_killed_service_comes_back_ready(suite):
    suite.stop("payment", signal.SIGKILL)
    suite.start("payment")
    assert httpx.get(f"{suite.urls['payment']}/health/ready", timeout=5).status_code == 200


def test_logs_are_json_lines_without_secrets(suite):
    for service in suite.urls:
        lines = [line for line in suite.tail(service, 200).splitlines() if line.strip()]
        assert lines, f"{service} logged nothing"
        for line in lines:
            json.loads(line)
        assert suite.env["CLAIMS_JWT_SECRET"] not in "\n".join(lines)

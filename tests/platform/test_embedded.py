"""The embedded mode: SQLite files and the in-process bus behind the same outbox and inbox."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

from claims_contracts.topics import INTAKE_TOPIC
from claims_platform.bus.base import Message
from claims_platform.bus.memory import InMemoryBus
from claims_platform.outbox import envelope_headers

ROOT = Path(__file__).resolve().parents[2]


async def test_event_from_one_service_reaches_another_services_subscriber(
    tmp_path, make_runtime, make_event, counting_handler, effects, wait_for
):
    bus = InMemoryBus()
    producer = await make_runtime(f"sqlite+aiosqlite:///{tmp_path}/producer.db", bus=bus)
    consumer = await make_runtime(
        f"sqlite+aiosqlite:///{tmp_path}/consumer.db",
        bus=bus,
        consumers={"payment-probe": ([INTAKE_TOPIC], {"ClaimWithdrawn": counting_handler})},
    )
    await bus.start()
    claim = f"C-{uuid.uuid4().hex[:8]}"
    async with producer.db.uow() as uow:
        env = uow.publish(make_event(claim), claim_id=claim)

    async def arrived() -> bool:
        return await effects(consumer, claim) == 1

    await wait_for(arrived, timeout=10)
    assert await producer.relay.backlog() == 0
    # Delivered again (as after a crash of the relay before its delete): applied once all the same.
    await bus.publish(
        [
            Message(
                INTAKE_TOPIC,
                claim.encode(),
                env.model_dump_json().encode(),
                envelope_headers(env.event_type, env.correlation_id, str(env.event_id)),
            )
        ]
    )
    await bus.idle()
    assert await effects(consumer, claim) == 1
    await bus.stop()


def test_make_run_brings_up_four_healthy_services(tmp_path):
    ports = {"INTAKE": 18101, "ADJUDICATION": 18102, "PAYMENT": 18103, "NOTIFICATION": 18104}
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMS_")}
    env.update({f"CLAIMS_{name}_PORT": str(port) for name, port in ports.items()})
    env["CLAIMS_DATA_DIR"] = str(tmp_path / "data")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "run_embedded.py")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        ready: dict[int, dict] = {}
        while time.monotonic() < deadline and len(ready) < 4:
            for port in ports.values():
                try:
                    r = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1)
                    if r.status_code == 200:
                        ready[port] = r.json()
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
        assert len(ready) == 4, proc.stdout.read1().decode() if proc.stdout else ""
        assert {v["service"] for v in ready.values()} == {"intake", "adjudication", "payment", "notification"}
        assert sorted(p.name for p in (tmp_path / "data").glob("*.db")) == [
            "adjudication.db",
            "intake.db",
            "notification.db",
            "payment.db",
        ]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0

"""The embedded quick start: the four services in one process, SQLite files, the in-process bus.

Ports: intake 8001, adjudication 8002, payment 8003, notification 8004 (override with
``CLAIMS_<SERVICE>_PORT``). Data under ``CLAIMS_DATA_DIR`` (default ``.data/``).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys

import uvicorn

from claims_adjudication.app import create_app as adjudication_app
from claims_adjudication.config import AdjudicationSettings
from claims_intake.app import create_app as intake_app
from claims_intake.config import IntakeSettings
from claims_notification.app import create_app as notification_app
from claims_notification.config import NotificationSettings
from claims_payment.app import create_app as payment_app
from claims_payment.config import PaymentSettings
from claims_platform.bus.memory import InMemoryBus
from claims_platform.logging import configure_logging, get_logger
from claims_platform.runner import event_loop_factory, settle_garbage_collector


async def main() -> None:
    """Build the four apps on one in-process bus and serve them until interrupted."""
    bus = InMemoryBus()
    services = [
        (IntakeSettings(), intake_app),
        (AdjudicationSettings(), adjudication_app),
        (PaymentSettings(), payment_app),
        (NotificationSettings(), notification_app),
    ]
    configure_logging(services[0][0].log_format, services[0][0].log_level)
    log = get_logger("embedded")
    servers = []
    for settings, factory in services:
        if settings.kafka_bootstrap_servers:
            log.warning("CLAIMS_KAFKA_BOOTSTRAP_SERVERS is ignored in the embedded mode")
        app = factory(settings, bus)  # type: ignore[operator]
        config = uvicorn.Config(
            app, host=settings.host, port=settings.listen_port, log_config=None, access_log=False, lifespan="on"
        )
        servers.append(uvicorn.Server(config))
    settle_garbage_collector()
    await bus.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, lambda: [setattr(s, "should_exit", True) for s in servers])
    for s in servers:  # one process-wide handler above stops all four, instead of each server's own
        s.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
    log.info("embedded suite starting", ports={s.service_name: s.listen_port for s, _ in services})
    try:
        await asyncio.gather(*(s.serve() for s in servers))
    finally:
        await bus.stop()
    if any(not s.started for s in servers):
        sys.exit(1)


if __name__ == "__main__":
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(main())

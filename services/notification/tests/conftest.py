"""Fixtures of the notification service's tests: settings on real PostgreSQL and Kafka, a real SMTP server
(aiosmtpd), a real local HTTP SMS gateway, and builders of the events other services publish."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI

from claims_contracts import examples
from claims_contracts.envelope import EventEnvelope, EventPayload
from claims_contracts.events import (
    Adjustment,
    ClaimAdjudicated,
    ClaimDocumentsRequested,
    ClaimReceived,
    DecisionLine,
    PaymentCompleted,
)
from claims_notification.app import create_app
from claims_notification.config import NotificationSettings
from claims_platform.testing import serve

SURVEY_SECRET = "survey-secret-for-tests-0123456789abcdef"

logging.getLogger("mail.log").setLevel(logging.WARNING)  # the test SMTP server's chatter


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- SMTP


class _Inbox:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.mails: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.mails.append(mail)
        return "250 OK"


@dataclass
class SmtpServer:
    """A real SMTP server on 127.0.0.1 that can be started late (to play an outage)."""

    port: int
    inbox: _Inbox = field(default_factory=_Inbox)
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def mails(self) -> list[EmailMessage]:
        with self.inbox.lock:
            return list(self.inbox.mails)

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.mails if m["To"] == address]


@pytest.fixture
def smtp_server() -> Any:
    """A started SMTP server; ``smtp_server.stop()`` / ``start()`` play an outage."""
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_down() -> Any:
    """An SMTP server that is not started yet."""
    server = SmtpServer(free_port())
    yield server
    server.stop()


# ---------------------------------------------------------------- SMS gateway


@dataclass
class SmsGateway:
    """A real HTTP server on 127.0.0.1 that records the texts posted to it."""

    port: int
    status: int = 200
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    server: asyncio.AbstractServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/send"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.headers.append(headers)
            self.received.append(json.loads(body))
            reply = b'{"status":"accepted"}' if self.status == 200 else b'{"error":"invalid number"}'
            writer.write(
                f"HTTP/1.1 {self.status} X\r\n".encode()
                + b"Content-Type: application/json\r\nConnection: close\r\n"
                + f"Content-Length: {len(reply)}\r\n\r\n".encode()
                + reply
            )
            await writer.drain()
        finally:
            writer.close()

    def to(self, phone: str) -> list[dict[str, Any]]:
        return [m for m in self.received if m["to"] == phone]


@pytest.fixture
async def sms_gateway() -> AsyncIterator[SmsGateway]:
    """A started SMS gateway."""
    gateway = SmsGateway(free_port())
    await gateway.start()
    yield gateway
    await gateway.stop()


@pytest.fixture
async def sms_down() -> AsyncIterator[SmsGateway]:
    """An SMS gateway that is not started yet."""
    gateway = SmsGateway(free_port())
    yield gateway
    await gateway.stop()


# ---------------------------------------------------------------- the service


@pytest.fixture
def make_settings(fresh_pg_url, kafka_bootstrap, topic_prefix, jwt_secret, tmp_path) -> Callable[..., Any]:
    """Settings on the test's own database and topics, with fast retries."""

    def _make(**overrides: Any) -> NotificationSettings:
        values: dict[str, Any] = {
            "environment": "test",
            "database_url": fresh_pg_url,
            "kafka_bootstrap_servers": kafka_bootstrap,
            "kafka_topic_prefix": topic_prefix,
            "kafka_topic_partitions": 2,
            "jwt_secret": jwt_secret,
            "data_dir": tmp_path,
            "relay_poll_seconds": 0.1,
            "consumer_backoff_seconds": 0.01,
            "worker_poll_seconds": 0.05,
            "send_backoff_seconds": 0.2,
            "send_backoff_max_seconds": 0.5,
            "survey_secret": SURVEY_SECRET,
            "public_base_url": "https://claims.example.com",
            "smtp_starttls": False,
        }
        values.update(overrides)
        return NotificationSettings(**values)

    return _make


@dataclass
class Running:
    """The running service: an HTTP client and its app."""

    client: httpx.AsyncClient
    app: FastAPI

    def consumed(self, event_type: str, result: str = "applied") -> float:
        """How many events of a type the consumer applied (or saw as duplicates)."""
        counter = self.app.state.runtime.metrics.events_consumed
        return float(counter.labels("notification", event_type, result)._value.get())


@pytest.fixture
def start_service(make_settings) -> Callable[..., Any]:
    """``async with start_service(**settings) as svc:`` the app with its lifespan (and worker) running."""

    @asynccontextmanager
    async def _start(**overrides: Any) -> AsyncIterator[Running]:
        app = create_app(make_settings(**overrides))
        async with serve(app) as client:
            yield Running(client, app)

    return _start


@dataclass
class Publisher:
    """Plays the other services: puts real envelopes on their topics."""

    bootstrap: str
    prefix: str
    produce: Callable[..., Awaitable[None]]

    async def send(self, payload: EventPayload, *, producer: str = "intake") -> bytes:
        envelope = EventEnvelope.wrap(payload, claim_id=payload.claim_id, producer=producer)
        raw = envelope.model_dump_json().encode()
        await self.redeliver(payload, raw)
        return raw

    async def redeliver(self, payload: EventPayload, raw: bytes) -> None:
        await self.produce(self.bootstrap, self.prefix + payload.topic, (payload.claim_id.encode(), raw))


@pytest.fixture
def publisher(kafka_bootstrap, topic_prefix, kafka_produce) -> Publisher:
    """Put events on the test's topics."""
    return Publisher(kafka_bootstrap, topic_prefix, kafka_produce)


# ---------------------------------------------------------------- events


def new_claim_id() -> str:
    return f"C-{uuid.uuid4().hex[:10]}"


def member(member_id: str = "M-1001", **over: Any) -> dict[str, Any]:
    values = {
        "member_id": member_id,
        "name": "张三",
        "phone": "+8613800000000",
        "email": "zhangsan@example.com",
        "locale": "zh-CN",
    }
    values.update(over)
    return values


def claim_received(claim_id: str, **member_over: Any) -> ClaimReceived:
    return ClaimReceived.model_validate(
        {
            "claim_id": claim_id,
            "submitted_at": datetime(2026, 3, 11, 2, 30, tzinfo=UTC),
            "policy_number": "POL-2026-0001",
            "member": member(**member_over),
            "provider": {"provider_id": "H-001", "name": "北京协和医院"},
            "submitted_by_provider": False,
            "claim_type": "outpatient",
            "accident": False,
            "diagnoses": [{"code": "J18.9", "primary": True}],
            "lines": examples.worked_example_lines(),
            "currency": "CNY",
            "payee": "member",
            "bank_account": {"holder": "张三", "account_number": "6222020200001234567", "bank_code": "ICBC"},
            "charged": "1100.00",
        }
    )


def documents_requested(claim_id: str, **member_over: Any) -> ClaimDocumentsRequested:
    return ClaimDocumentsRequested.model_validate(
        {
            "claim_id": claim_id,
            "claim_type": "outpatient",
            "missing_documents": ["id_proof", "itemized_bill", "invoice", "medical_record"],
            "member": member(**member_over),
            "provider": {"provider_id": "H-001", "name": "北京协和医院"},
            "deadline": (date(2026, 4, 10)).isoformat(),
        }
    )


def _adj(reason: str, group: str, carc: str, amount: str, zh: str, en: str) -> Adjustment:
    return Adjustment(reason=reason, group=group, carc=carc, amount=amount, explanation_zh=zh, explanation_en=en)


def claim_adjudicated(claim_id: str, *, outcome: str = "approved", version: int = 1) -> ClaimAdjudicated:
    """The worked example of DOMAIN.md §5 (or a denial of it)."""
    if outcome == "denied":
        lines = [
            DecisionLine(
                line_no=n,
                category=c,
                charged=a,
                allowed="0.00",
                payable="0.00",
                adjustments=[_adj("EXCLUDED_CONDITION", "CO", "96", a, "该疾病属于责任免除", "Excluded condition")],
            )
            for n, c, a in ((1, "consultation", "200.00"), (2, "examination", "600.00"), (3, "drugs", "300.00"))
        ]
        payable, responsibility, reasons = "0.00", "1100.00", ["EXCLUDED_CONDITION"]
    else:
        lines = [
            DecisionLine(
                line_no=1,
                category="consultation",
                charged="200.00",
                allowed="200.00",
                payable="0.00",
                adjustments=[_adj("DEDUCTIBLE", "PR", "1", "200.00", "计入年度免赔额", "Applied to the deductible")],
            ),
            DecisionLine(
                line_no=2,
                category="examination",
                charged="600.00",
                allowed="600.00",
                payable="240.00",
                adjustments=[
                    _adj("DEDUCTIBLE", "PR", "1", "300.00", "计入年度免赔额", "Applied to the deductible"),
                    _adj("COINSURANCE", "PR", "2", "60.00", "个人自付20%", "Your 20% coinsurance share"),
                ],
            ),
            DecisionLine(
                line_no=3,
                category="drugs",
                charged="300.00",
                allowed="300.00",
                payable="210.00",
                adjustments=[_adj("COINSURANCE", "PR", "2", "90.00", "个人自付30%", "Your 30% coinsurance share")],
            ),
        ]
        payable, responsibility, reasons = "450.00", "650.00", []
    return ClaimAdjudicated.model_validate(
        {
            "claim_id": claim_id,
            "decision_version": version,
            "outcome": outcome,
            "plan_code": "STD-2026",
            "plan_version": 1,
            "policy_number": "POL-2026-0001",
            "member_id": "M-1001",
            "provider_id": "H-001",
            "payee": "member",
            "currency": "CNY",
            "charged": "1100.00",
            "allowed": "1100.00",
            "payable": payable,
            "member_responsibility": responsibility,
            "other_insurance": "0.00",
            "lines": lines,
            "denial_reasons": reasons,
            "decided_by": "system",
            "automatic": True,
            "decided_at": datetime.now(UTC),
        }
    )


def payment_completed(claim_id: str, version: int = 1) -> PaymentCompleted:
    return PaymentCompleted(
        claim_id=claim_id,
        payment_id=f"P-{uuid.uuid4().hex[:8]}",
        decision_version=version,
        amount="450.00",
        currency="CNY",
        payee="member",
        settled_at=datetime.now(UTC) - timedelta(minutes=1),
    )


@pytest.fixture
def events() -> Any:
    """Builders of the events other services publish."""

    class _Events:
        new_claim_id = staticmethod(new_claim_id)
        claim_received = staticmethod(claim_received)
        documents_requested = staticmethod(documents_requested)
        claim_adjudicated = staticmethod(claim_adjudicated)
        payment_completed = staticmethod(payment_completed)

    return _Events


async def list_messages(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    resp = await client.get("/v1/notifications", params=params, headers=headers)
    assert resp.status_code == 200, resp.text
    return list(resp.json()["items"])


@pytest.fixture
def messages() -> Callable[..., Awaitable[list[dict[str, Any]]]]:
    """``await messages(client, headers, claim_id=…, channel=…)``."""
    return list_messages

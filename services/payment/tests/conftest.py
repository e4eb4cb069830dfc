"""Fixtures of the payment service's tests: the service on real PostgreSQL and Kafka, events to feed it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI

from claims_contracts.envelope import EventEnvelope, EventPayload
from claims_contracts.events import ClaimAdjudicated, ClaimReceived, DecisionLine
from claims_contracts.topics import ADJUDICATION_TOPIC, INTAKE_TOPIC, PAYMENT_TOPIC
from claims_payment.app import create_app
from claims_payment.config import PaymentSettings
from claims_payment.domain.ledger import Account, expected_balances
from claims_payment.domain.model import PaymentStatus
from claims_platform.testing import bearer, eventually, produce, read_topic, serve

MEMBER_ACCOUNT = "6222020200001234567"
HOSPITAL_ACCOUNT = "6222020200009876543"


def claim_received(claim_id: str, *, payee: str = "member", provider_id: str = "H-001") -> ClaimReceived:
    """The intake event with the member's bank account (required when the member is paid)."""
    account = {"holder": "张三", "account_number": MEMBER_ACCOUNT, "bank_code": "ICBC"} if payee == "member" else None
    return ClaimReceived.model_validate(
        {
            "claim_id": claim_id,
            "submitted_at": datetime.now(UTC),
            "policy_number": "POL-2026-0001",
            "member": {"member_id": "M-1001", "name": "张三"},
            "provider": {"provider_id": provider_id, "name": "北京协和医院"},
            "submitted_by_provider": payee == "provider",
            "claim_type": "outpatient",
            "accident": False,
            "diagnoses": [{"code": "J18.9", "primary": True}],
            "lines": [
                {
                    "line_no": 1,
                    "service_date": "2026-03-10",
                    "category": "examination",
                    "code": "E-100",
                    "description": "胸部CT",
                    "quantity": "1",
                    "unit_price": "1100.00",
                    "amount": "1100.00",
                }
            ],
            "currency": "CNY",
            "payee": payee,
            "bank_account": account,
            "charged": "1100.00",
        }
    )


def claim_adjudicated(
    claim_id: str, version: int, payable: str, *, payee: str = "member", provider_id: str = "H-001"
) -> ClaimAdjudicated:
    """A decision paying ``payable``."""
    amount = Decimal(payable)
    return ClaimAdjudicated(
        claim_id=claim_id,
        decision_version=version,
        outcome="approved",
        plan_code="STD-2026",
        plan_version=1,
        policy_number="POL-2026-0001",
        member_id="M-1001",
        provider_id=provider_id,
        payee=payee,
        currency="CNY",
        charged=Decimal("1100.00"),
        allowed=Decimal("1100.00"),
        payable=amount,
        member_responsibility=Decimal("1100.00") - amount,
        other_insurance=Decimal("0.00"),
        lines=[
            DecisionLine(
                line_no=1,
                category="examination",
                charged=Decimal("1100.00"),
                allowed=Decimal("1100.00"),
                payable=amount,
            )
        ],
        decided_by="adjudication" if version == 1 else "reviewer-2",
        automatic=version == 1,
        decided_at=datetime.now(UTC),
    )


def raw(payload: EventPayload, claim_id: str, producer: str) -> tuple[bytes, bytes]:
    """A Kafka message as the producing service would put it on its topic."""
    return claim_id.encode(), EventEnvelope.wrap(
        payload, claim_id=claim_id, producer=producer
    ).model_dump_json().encode()


def new_claim_id() -> str:
    """A fresh claim id."""
    return f"C-{uuid.uuid4().hex[:12]}"


@dataclass
class PaymentHarness:
    """The payment service under test, the broker around it, and the helpers a test needs."""

    pg_url: str
    bootstrap: str
    prefix: str
    jwt_secret: str
    data_dir: Path
    account_key: str = field(default_factory=lambda: Fernet.generate_key().decode())
    stack: AsyncExitStack = field(default_factory=AsyncExitStack)
    apps: list[FastAPI] = field(default_factory=list)

    # Helpers, reachable from test modules (which cannot import this conftest under importlib mode).
    received = staticmethod(claim_received)
    adjudicated = staticmethod(claim_adjudicated)
    new_claim_id = staticmethod(new_claim_id)
    only = staticmethod(lambda items: only(items))
    status_is = staticmethod(lambda *statuses: status_is(*statuses))

    def settings(self, **overrides: Any) -> PaymentSettings:
        """Test settings: this test's database and topics, short delays."""
        values: dict[str, Any] = {
            "environment": "test",
            "database_url": self.pg_url,
            "kafka_bootstrap_servers": self.bootstrap,
            "kafka_topic_prefix": self.prefix,
            "kafka_topic_partitions": 2,
            "jwt_secret": self.jwt_secret,
            "data_dir": self.data_dir,
            "account_key": self.account_key,
            "consumer_group": f"payment-{self.prefix.rstrip('.')}",
            "relay_poll_seconds": 0.1,
            "consumer_backoff_seconds": 0.01,
            "worker_poll_seconds": 0.05,
            "bank_settlement_delay_seconds": 0.2,
            "bank_return_delay_seconds": 0.2,
            "return_check_seconds": 0.05,
            "send_backoff_seconds": 0.05,
            "send_backoff_max_seconds": 0.2,
            "log_format": "json",
        }
        values.update(overrides)
        return PaymentSettings(**values)

    async def start(self, **overrides: Any) -> tuple[FastAPI, httpx.AsyncClient]:
        """Start one instance of the service (its consumer, relay and bank worker) and a client for it."""
        app = create_app(self.settings(**overrides))
        client = await self.stack.enter_async_context(serve(app))
        self.apps.append(app)
        return app, client

    def auth(self, *roles: str, **claims: Any) -> dict[str, str]:
        """An Authorization header."""
        return bearer(self.jwt_secret, *roles, **claims)

    @property
    def finance(self) -> dict[str, str]:
        """A finance officer's header."""
        return self.auth("finance", sub="fin-1")

    async def send(self, *events: tuple[EventPayload, str]) -> None:
        """Put events on the topic of the service that owns them, as that service would."""
        for payload, claim_id in events:
            producer = "intake" if payload.topic == INTAKE_TOPIC else "adjudication"
            topic = INTAKE_TOPIC if payload.topic == INTAKE_TOPIC else ADJUDICATION_TOPIC
            await produce(self.bootstrap, self.prefix + topic, raw(payload, claim_id, producer))

    async def payments(self, client: httpx.AsyncClient, claim_id: str | None = None) -> list[dict[str, Any]]:
        """The payments the API lists (of a claim, or all)."""
        params = {"limit": 500, **({"claim_id": claim_id} if claim_id else {})}
        response = await client.get("/v1/payments", params=params, headers=self.finance)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def wait_payments(
        self,
        client: httpx.AsyncClient,
        claim_id: str,
        check: Callable[[list[dict[str, Any]]], bool],
        timeout: float = 20,  # noqa: ASYNC109
    ) -> list[dict[str, Any]]:
        """Wait until a claim's payments satisfy ``check``; returns them."""
        seen: list[dict[str, Any]] = []

        async def ok() -> bool:
            nonlocal seen
            seen = await self.payments(client, claim_id)
            return check(seen)

        try:
            await eventually(ok, timeout=timeout)
        except AssertionError:
            raise AssertionError(f"payments of {claim_id} never matched: {seen}") from None
        return seen

    async def payment_events(self, expect: int) -> list[dict[str, Any]]:
        """What the service published on its topic (envelopes)."""
        records = await read_topic(self.bootstrap, self.prefix + PAYMENT_TOPIC, expect=expect, idle_s=1.0)
        return [orjson.loads(r.value) for r in records]

    async def assert_ledger_balanced(self, client: httpx.AsyncClient) -> dict[str, Decimal]:
        """Every movement sums to zero, and the accounts say exactly what the payments and overpayments say."""
        response = await client.get("/v1/ledger/balances", headers=self.finance)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["balanced"] is True, body
        assert body["unbalanced_movements"] == 0
        assert Decimal(body["total"]) == 0
        payments = await self.payments(client)
        overpaid = (await client.get("/v1/overpayments", params={"limit": 500}, headers=self.finance)).json()["items"]
        expected = expected_balances(
            (
                (PaymentStatus(p["status"]), Decimal(p["amount"]), p["superseded_by_decision"] is not None)
                for p in payments
            ),
            sum((Decimal(o["amount"]) for o in overpaid), Decimal("0.00")),  # no test waives a recovery
        )
        actual = {Account(k): Decimal(v) for k, v in body["accounts"].items()}
        assert actual == expected, f"ledger {actual} != payments {expected}"
        return actual


@pytest.fixture
async def harness(
    fresh_pg_url: str, kafka_bootstrap: str, topic_prefix: str, jwt_secret: str, tmp_path: Path
) -> AsyncIterator[PaymentHarness]:
    """The payment service harness; every instance started is stopped after the test."""
    h = PaymentHarness(fresh_pg_url, kafka_bootstrap, topic_prefix, jwt_secret, tmp_path)
    async with h.stack:
        yield h


def only(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The one item of a list."""
    assert len(items) == 1, items
    return items[0]


def status_is(*statuses: str) -> Callable[[list[dict[str, Any]]], bool]:
    """A check: the claim's payments have exactly these statuses, in order."""
    return lambda items: [p["status"] for p in items] == list(statuses)

"""Fixtures of the adjudication service's tests: the service on real PostgreSQL and Kafka, driven by HTTP and
by intake's events on Kafka."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import httpx
import pytest

from claims_adjudication.app import create_app
from claims_adjudication.config import AdjudicationSettings
from claims_contracts import examples
from claims_contracts.envelope import EventEnvelope, EventPayload
from claims_contracts.events import ClaimReceived
from claims_contracts.topics import ADJUDICATION_TOPIC, INTAKE_TOPIC
from claims_platform.testing import bearer, eventually, produce, read_topic, serve

PLAN: dict[str, Any] = {
    "name": "Standard medical 2026",
    "currency": "CNY",
    "annual_deductible": "500.00",
    "annual_limit": "200000.00",
    "per_claim_limit": None,
    "waiting_period_days": 30,
    "excluded_diagnoses": ["O", "K02", "Z41"],
    "review_threshold": "50000.00",
    "categories": {
        "consultation": {"coinsurance": "0.80"},
        "examination": {"coinsurance": "0.80"},
        "imaging": {"coinsurance": "0.80"},
        "surgery": {"coinsurance": "0.90"},
        "drugs": {"coinsurance": "0.70", "annual_sublimit": "20000.00"},
        "room": {"coinsurance": "1.00", "per_day_limit": "300.00", "deductible_applies": False},
        "nursing": {"coinsurance": "0.80"},
        "consumables": {"coinsurance": "0.50"},
    },
}

POLICY: dict[str, Any] = {
    "plan_code": "STD-2026",
    "holder_name": "张三",
    "effective_date": "2026-01-01",
    "expiry_date": "2026-12-31",
    "status": "active",
    "members": [{"member_id": "M-1001", "name": "张三"}],
}

CLAIM: dict[str, Any] = {
    "claim_id": "CLM-1",
    "submitted_at": "2026-03-11T08:00:00Z",
    "policy_number": "POL-2026-0001",
    "member": {"member_id": "M-1001", "name": "张三", "phone": "+8613800000000", "email": "zhangsan@example.com"},
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


def claim_event(claim_id: str | None = None, **overrides: Any) -> ClaimReceived:
    """The claim of DOMAIN §3 as intake publishes it, with fields overridden; ``charged`` follows the lines."""
    data = copy.deepcopy(CLAIM)
    data["claim_id"] = claim_id or f"CLM-{uuid.uuid4().hex[:10]}"
    data.update(overrides)
    if "charged" not in overrides:
        data["charged"] = str(sum(Decimal(str(line["amount"])) for line in data["lines"]))
    return ClaimReceived.model_validate(data)


def line(line_no: int, category: str, amount: str, day: str = "2026-03-10", **extra: Any) -> dict[str, Any]:
    """A bill line of quantity 1."""
    return {
        "line_no": line_no,
        "service_date": day,
        "category": category,
        "code": extra.pop("code", f"X-{category[:3].upper()}"),
        "description": category,
        "quantity": extra.pop("quantity", "1"),
        "unit_price": extra.pop("unit_price", amount),
        "amount": amount,
        **extra,
    }


class Service:
    """The adjudication service under test, and the intake side of Kafka played by the test."""

    def __init__(self, client: httpx.AsyncClient, app: Any, secret: str, bootstrap: str, prefix: str) -> None:
        self.client = client
        self.app = app
        self.secret = secret
        self.bootstrap = bootstrap
        self.prefix = prefix

    def auth(self, *roles: str, sub: str = "u-1", provider_id: str | None = None) -> dict[str, str]:
        """An Authorization header."""
        return bearer(self.secret, *roles, sub=sub, provider_id=provider_id)

    @property
    def admin(self) -> dict[str, str]:
        return self.auth("admin", sub="admin-1")

    @property
    def auditor(self) -> dict[str, str]:
        return self.auth("auditor", sub="auditor-1")

    async def load_products(
        self, plan: dict[str, Any] | None = None, policy: dict[str, Any] | None = None, number: str = "POL-2026-0001"
    ) -> None:
        """PUT the plan and policy of DOMAIN §4 (or the given ones)."""
        plan = plan or PLAN
        policy = policy or POLICY
        r = await self.client.put(f"/v1/plans/{policy['plan_code']}", json=plan, headers=self.admin)
        assert r.status_code in (200, 201), r.text
        r = await self.client.put(f"/v1/policies/{number}", json=policy, headers=self.admin)
        assert r.status_code in (200, 201), r.text

    async def send(self, *payloads: EventPayload) -> None:
        """Publish intake events to Kafka as intake would."""
        messages = []
        for payload in payloads:
            claim_id = payload.claim_id  # type: ignore[attr-defined]
            env = EventEnvelope.wrap(payload, claim_id=claim_id, producer="intake")
            messages.append((claim_id.encode(), env.model_dump_json().encode()))
        await produce(self.bootstrap, self.prefix + INTAKE_TOPIC, *messages)

    async def adjudication(self, claim_id: str, *, decisions: int = 1, pended: bool = False) -> dict[str, Any]:
        """The claim's adjudication once it has ``decisions`` decisions (or an open review, when ``pended``)."""
        result: dict[str, Any] = {}

        async def ready() -> bool:
            r = await self.client.get(f"/v1/adjudications/{claim_id}", headers=self.auditor)
            if r.status_code != 200:
                return False
            result.update(r.json())
            if pended:
                return result["open_review_id"] is not None
            return len(result["decisions"]) >= decisions

        await eventually(ready, timeout=30)
        return result

    async def review(self, review_id: str) -> dict[str, Any]:
        """A review's detail."""
        r = await self.client.get(f"/v1/reviews/{review_id}", headers=self.auditor)
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def published(self, expect: int) -> list[dict[str, Any]]:
        """The envelopes this service published, as JSON."""
        records = await read_topic(self.bootstrap, self.prefix + ADJUDICATION_TOPIC, expect=expect, idle_s=1.0)
        return [json.loads(r.value) for r in records]

    def metric(self, name: str, **labels: str) -> float:
        """A sample of the service's metrics registry."""
        value = self.app.state.runtime.metrics.registry.get_sample_value(name, labels)
        return float(value or 0.0)


ServiceFactory = Callable[..., Any]


@pytest.fixture
def settings_for(
    fresh_pg_url: str, kafka_bootstrap: str, topic_prefix: str, jwt_secret: str
) -> Callable[..., AdjudicationSettings]:
    """Settings of the service under test, with overrides."""

    def _make(**overrides: Any) -> AdjudicationSettings:
        values: dict[str, Any] = {
            "environment": "test",
            "database_url": fresh_pg_url,
            "kafka_bootstrap_servers": kafka_bootstrap,
            "kafka_topic_prefix": topic_prefix,
            "kafka_topic_partitions": 2,
            "jwt_secret": jwt_secret,
            "relay_poll_seconds": 0.1,
            "consumer_backoff_seconds": 0.01,
            "consumer_max_attempts": 2,
        }
        values.update(overrides)
        return AdjudicationSettings(**values)

    return _make


@pytest.fixture
def service(
    settings_for: Callable[..., AdjudicationSettings], jwt_secret: str, kafka_bootstrap: str, topic_prefix: str
) -> Callable[..., Any]:
    """``async with service(**settings) as svc``: the app running, with its HTTP client."""

    @asynccontextmanager
    async def _run(**overrides: Any) -> AsyncIterator[Service]:
        app = create_app(settings_for(**overrides))
        async with serve(app) as client:
            yield Service(client, app, jwt_secret, kafka_bootstrap, topic_prefix)

    return _run


@pytest.fixture
def samples() -> Any:
    """The plan, policy and claim of DOMAIN §3-4, and builders: ``samples.claim_event(...)``, ``samples.line(...)``."""
    from types import SimpleNamespace

    return SimpleNamespace(PLAN=copy.deepcopy(PLAN), POLICY=copy.deepcopy(POLICY), claim_event=claim_event, line=line)

"""Fixtures of the intake service's tests: one app per module on its own PostgreSQL database and topics."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from claims_contracts import examples
from claims_contracts.envelope import EventEnvelope, EventPayload
from claims_contracts.topics import INTAKE_TOPIC
from claims_intake.app import create_app
from claims_intake.config import IntakeSettings
from claims_platform.testing import bearer, new_topic_prefix, produce, read_topic, serve

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 40
TIFF = b"II*\x00\x08\x00\x00\x00" + b"\x00" * 40

ALL_OUTPATIENT_DOCS = ("claim_form", "id_proof", "itemized_bill", "invoice", "medical_record")


class MutableClock:
    """A clock the test moves by hand: shifted by ``offset``, or stopped at ``pinned`` when set."""

    def __init__(self) -> None:
        self.offset = timedelta()
        self.pinned: datetime | None = None

    def __call__(self) -> datetime:
        if self.pinned is not None:
            return self.pinned
        return datetime.now(UTC) + self.offset


@dataclass
class Intake:
    """A running intake service and what a test needs to talk to it."""

    client: httpx.AsyncClient
    secret: str
    db_url: str
    prefix: str
    bootstrap: str
    data_dir: Path
    clock: MutableClock
    seen: dict[str, list[Any]] = field(default_factory=dict)
    runtime: Any = None  # the service's ServiceRuntime (its consumers, to hand them a batch directly)

    def auth(self, *roles: str, sub: str = "u-1", provider_id: str | None = None, member_id: str | None = None):
        """An Authorization header."""
        return bearer(self.secret, *roles, sub=sub, provider_id=provider_id, member_id=member_id)

    def partner(self, provider_id: str = "H-001") -> dict[str, str]:
        """A hospital's token."""
        return self.auth("partner", sub=f"hospital-{provider_id}", provider_id=provider_id)

    async def supply(self, claim_id: str, doc_type: str, content: bytes, content_type: str) -> httpx.Response:
        """The claim's hospital supplies a document (multipart, as ``<type>.bin``); the answer."""
        return await self.client.post(
            f"/v1/claims/{claim_id}/documents",
            data={"type": doc_type},
            files={"file": (f"{doc_type}.bin", content, content_type)},
            headers=self.partner(),
        )

    def admin(self) -> dict[str, str]:
        """An administrator's token."""
        return self.auth("admin", sub="admin-1")

    async def published(self, claim_id: str, expect: int, within: float = 30.0) -> list[EventEnvelope]:
        """The events intake published for a claim (waits until ``expect`` are there, then a moment more)."""
        deadline = time.monotonic() + within
        while True:
            records = await read_topic(self.bootstrap, self.prefix + INTAKE_TOPIC, expect=0, idle_s=0.3, timeout_s=30)
            mine = [EventEnvelope.model_validate_json(r.value) for r in records if r.key and r.key.decode() == claim_id]
            if len(mine) >= expect or time.monotonic() > deadline:
                return mine
            await asyncio.sleep(0.2)

    async def feed(self, topic: str, payload: EventPayload, claim_id: str, producer: str, **kw: Any) -> EventEnvelope:
        """Put another service's event on its topic."""
        envelope = EventEnvelope.wrap(payload, claim_id=claim_id, producer=producer, **kw)
        await produce(self.bootstrap, self.prefix + topic, (claim_id.encode(), envelope.model_dump_json().encode()))
        return envelope

    async def sql(self, query: str, **params: Any) -> list[Any]:
        """Rows of a query against the service's database (to prove that nothing was stored)."""
        engine = create_async_engine(self.db_url)
        try:
            async with engine.connect() as conn:
                return list((await conn.execute(text(query), params)).all())
        finally:
            await engine.dispose()

    async def wait_status(self, claim_id: str, status: str, headers: dict[str, str], within: float = 30.0) -> dict:
        """Poll the claim until it shows ``status``."""
        deadline = time.monotonic() + within
        body: dict = {}
        while time.monotonic() < deadline:
            resp = await self.client.get(f"/v1/claims/{claim_id}", headers=headers)
            body = resp.json()
            if body.get("status") == status:
                return body
            await asyncio.sleep(0.1)
        raise AssertionError(f"claim {claim_id} never became {status}; last: {body.get('status')}")


@pytest.fixture(scope="module")
async def intake(pg_admin_url, kafka_bootstrap, jwt_secret, tmp_path_factory) -> AsyncIterator[Intake]:
    """One intake service per test module: a fresh database, its own topics, an injectable clock."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = pg_admin_url.rsplit("/", 1)[0] + f"/{name}"
    prefix = new_topic_prefix()
    data_dir = tmp_path_factory.mktemp("intake")
    clock = MutableClock()
    settings = IntakeSettings(
        environment="test",
        database_url=url,
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_prefix=prefix,
        kafka_topic_partitions=2,
        jwt_secret=jwt_secret,
        data_dir=data_dir,
        relay_poll_seconds=0.1,
        consumer_backoff_seconds=0.01,
        expiry_job_enabled=False,
    )
    app = create_app(settings, clock=clock)
    try:
        async with serve(app) as client:
            yield Intake(client, jwt_secret, url, prefix, kafka_bootstrap, data_dir, clock, runtime=app.state.runtime)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


def b64(content: bytes) -> str:
    """Base64 text."""
    return base64.b64encode(content).decode()


def inline(doc_type: str, content: bytes = PDF, content_type: str = "application/pdf") -> dict[str, str]:
    """An inline document."""
    return {
        "type": doc_type,
        "filename": f"{doc_type}.pdf",
        "content_type": content_type,
        "content_base64": b64(content),
    }


BASE_CLAIM: dict[str, Any] = {
    "policy_number": "POL-2026-0001",
    "member": {
        "member_id": "M-1001",
        "name": "张三",
        "id_type": "resident_id",
        "id_number": "110101199003071234",
        "phone": "+8613800000000",
        "email": "zhangsan@example.com",
    },
    "provider": {"provider_id": "H-001", "name": "北京协和医院"},
    "claim_type": "outpatient",
    "accident": False,
    "diagnoses": [{"code": "J18.9", "primary": True}],
    "lines": examples.worked_example_lines(),
    "currency": "CNY",
    "payee": "member",
    "bank_account": {"holder": "张三", "account_number": "6222020200001234567", "bank_code": "ICBC"},
    "documents": [inline("claim_form")],
}


def unique(tag: str = "") -> str:
    """A short unique suffix, so tests sharing a service never see each other's claims."""
    return f"{tag}{uuid.uuid4().hex[:8]}"


def make_claim(
    *, member_id: str | None = None, provider_id: str = "H-001", docs: Any = None, **overrides: Any
) -> dict[str, Any]:
    """A valid claim body: ``make_claim(member_id=…, provider_id=…, docs=[…], **top_level_overrides)``."""
    body = copy.deepcopy(BASE_CLAIM)
    body["member"]["member_id"] = member_id or f"M-{unique()}"
    body["provider"]["provider_id"] = provider_id
    if docs is not None:
        body["documents"] = [inline(d) for d in docs]
    body.update(overrides)
    return body


@pytest.fixture
def claim() -> Callable[..., dict[str, Any]]:
    """``claim(member_id=…, provider_id=…, docs=[…], **top_level_overrides)``: a valid claim body."""
    return make_claim


def dumps(body: Any) -> str:
    """JSON text of a body."""
    return json.dumps(body, ensure_ascii=False)


def today() -> date:
    """Today (UTC)."""
    return datetime.now(UTC).date()


@pytest.fixture(scope="session")
def kit() -> Any:
    """Test helpers and sample documents (tests cannot import conftest under --import-mode=importlib)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        PDF=PDF,
        PNG=PNG,
        JPEG=JPEG,
        TIFF=TIFF,
        ALL_OUTPATIENT_DOCS=ALL_OUTPATIENT_DOCS,
        b64=b64,
        inline=inline,
        unique=unique,
        dumps=dumps,
        today=today,
        make_claim=make_claim,
    )

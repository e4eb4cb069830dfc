"""The HTTP surface every service shares: auth, problem+json errors, body guards, health, metrics."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Annotated

import httpx
import jwt
import pytest
from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from claims_intake.app import MIGRATIONS
from claims_intake.config import IntakeSettings
from claims_platform.auth import Principal, mint_token, require_roles
from claims_platform.service import ServiceRuntime


class ThingCreate(BaseModel):
    name: str = Field(min_length=1, max_length=20)
    amount: Decimal = Field(gt=0, decimal_places=2)


router = APIRouter()


@router.post("/v1/things", status_code=201)
async def create_thing(body: ThingCreate, who: Annotated[Principal, Depends(require_roles("admin"))]) -> dict:
    return {"name": body.name, "amount": f"{body.amount:.2f}", "by": who.sub}


@router.get("/v1/boom")
async def boom(_: Annotated[Principal, Depends(require_roles("admin"))]) -> dict:
    raise RuntimeError("secret connection string postgres://user:hunter2@db")


@pytest.fixture
async def client(tmp_path, jwt_secret) -> AsyncIterator[httpx.AsyncClient]:
    settings = IntakeSettings(
        environment="test",
        database_url=f"sqlite+aiosqlite:///{tmp_path}/t.db",
        jwt_secret=jwt_secret,
        max_body_bytes=64 * 1024,
    )
    runtime = ServiceRuntime(settings, migrations=MIGRATIONS)
    app = runtime.create_app(title="t", description="t", routers=[router])
    async with runtime.lifespan(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


def _auth(secret: str, *roles: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(secret, 'u-1', list(roles), **extra)}"}


def _problem(resp: httpx.Response, status: int) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert body["status"] == status
    assert body["title"]
    return body


async def test_health_and_metrics_need_no_token(client):
    assert (await client.get("/health/live")).json()["status"] == "ok"
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": True, "migrations": True, "bus": True}
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert 'http_requests_total{method="GET",route="/health/ready",status="200"} 1.0' in metrics.text
    assert (await client.get("/openapi.json")).status_code == 200


async def test_missing_bad_and_expired_tokens_are_401(client, jwt_secret):
    _problem(await client.post("/v1/things", json={"name": "a", "amount": "1.00"}), 401)
    _problem(await client.post("/v1/things", json={}, headers={"Authorization": "Bearer nonsense"}), 401)
    forged = _auth("another-secret-that-is-long-enough-for-hs256!", "admin")
    _problem(await client.post("/v1/things", json={}, headers=forged), 401)
    expired = jwt.encode({"sub": "u", "roles": ["admin"], "exp": int(time.time()) - 10}, jwt_secret)
    resp = await client.post("/v1/things", json={}, headers={"Authorization": f"Bearer {expired}"})
    assert "ExpiredSignature" in _problem(resp, 401)["detail"]
    assert resp.headers["www-authenticate"] == "Bearer"


async def test_wrong_role_is_403_and_right_role_passes(client, jwt_secret):
    _problem(
        await client.post("/v1/things", json={"name": "a", "amount": "1.00"}, headers=_auth(jwt_secret, "auditor")), 403
    )
    ok = await client.post("/v1/things", json={"name": "a", "amount": "1.50"}, headers=_auth(jwt_secret, "admin"))
    assert ok.status_code == 201
    assert ok.json() == {"name": "a", "amount": "1.50", "by": "u-1"}


async def test_partner_token_without_provider_is_refused(client, jwt_secret):
    token = jwt.encode({"sub": "h", "roles": ["partner"], "exp": int(time.time()) + 60}, jwt_secret)
    _problem(await client.post("/v1/things", json={}, headers={"Authorization": f"Bearer {token}"}), 401)


async def test_validation_errors_name_each_field(client, jwt_secret):
    resp = await client.post("/v1/things", json={"name": "", "amount": "1.234"}, headers=_auth(jwt_secret, "admin"))
    body = _problem(resp, 422)
    assert {e["field"] for e in body["errors"]} == {"name", "amount"}


async def test_malformed_json_is_400(client, jwt_secret):
    resp = await client.post(
        "/v1/things",
        content=b'{"name": "a",',
        headers={**_auth(jwt_secret, "admin"), "content-type": "application/json"},
    )
    assert _problem(resp, 400)["title"] == "Malformed JSON"


async def test_absurd_nesting_is_400(client, jwt_secret):
    deep = b"[" * 5000 + b"]" * 5000
    resp = await client.post(
        "/v1/things", content=deep, headers={**_auth(jwt_secret, "admin"), "content-type": "application/json"}
    )
    assert "nests deeper" in _problem(resp, 400)["detail"]


async def test_oversized_body_is_413(client, jwt_secret):
    big = b'{"name": "' + b"a" * (70 * 1024) + b'"}'
    resp = await client.post(
        "/v1/things", content=big, headers={**_auth(jwt_secret, "admin"), "content-type": "application/json"}
    )
    _problem(resp, 413)


async def test_unexpected_error_is_500_without_details(client, jwt_secret):
    resp = await client.get("/v1/boom", headers=_auth(jwt_secret, "admin"))
    body = _problem(resp, 500)
    assert "hunter2" not in resp.text
    assert "Traceback" not in resp.text
    assert body["detail"] == "The request could not be completed."


async def test_correlation_id_is_echoed_or_made(client):
    given = await client.get("/health/live", headers={"X-Correlation-ID": "abc-123"})
    assert given.headers["x-correlation-id"] == "abc-123"
    made = await client.get("/health/live", headers={"X-Correlation-ID": "bad value\n"})
    assert made.headers["x-correlation-id"] != "bad value\n"
    assert len(made.headers["x-correlation-id"]) == 36


@router.get("/v1/outage")
async def outage(_: Annotated[Principal, Depends(require_roles("admin"))]) -> dict:
    raise ConnectionRefusedError("connect call failed ('127.0.0.1', 55432)")


async def test_an_outage_is_503_with_retry_after(client, jwt_secret):
    resp = await client.get("/v1/outage", headers=_auth(jwt_secret, "admin"))
    body = _problem(resp, 503)
    assert resp.headers["retry-after"] == "2"
    assert "55432" not in resp.text
    assert "retry" in body["detail"]


async def test_a_request_log_line_carries_its_correlation_id(client, jwt_secret, capsys):
    import json

    await client.get("/v1/boom", headers={**_auth(jwt_secret, "admin"), "X-Correlation-ID": "corr-from-portal-9"})
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    errors = [x for x in lines if x.get("event") == "unhandled error"]
    assert errors, lines
    assert errors[0]["correlation_id"] == "corr-from-portal-9"

"""``claims-admin load-plans`` against a small real HTTP server that records what it is sent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from typer.testing import CliRunner

from claims_platform.auth import Authenticator
from claims_platform.cli import app

SECRET = "load-plans-test-secret-0123456789abcdef"

PLAN = {
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
POLICY = {
    "plan_code": "STD-2026",
    "holder_name": "张三",
    "effective_date": "2026-01-01",
    "expiry_date": "2026-12-31",
    "status": "active",
    "members": [{"member_id": "M-1001", "name": "张三"}],
}

# The same plan and policy as a person would write them in YAML: unquoted decimals and dates.
YAML_DOCUMENT = """\
policies:
  POL-2026-0001:
    plan_code: STD-2026
    holder_name: 张三
    effective_date: 2026-01-01
    expiry_date: 2026-12-31
    status: active
    members:
      - {member_id: M-1001, name: 张三}
plans:
  STD-2026:
    name: Standard medical 2026
    currency: CNY
    annual_deductible: 500.00
    annual_limit: 200000.00
    per_claim_limit: null
    waiting_period_days: 30
    excluded_diagnoses: [O, K02, Z41]
    review_threshold: 50000.00
    categories:
      consultation: {coinsurance: 0.80}
      examination: {coinsurance: 0.80}
      imaging: {coinsurance: 0.80}
      surgery: {coinsurance: 0.90}
      drugs: {coinsurance: 0.70, annual_sublimit: 20000.00}
      room: {coinsurance: 1.00, per_day_limit: 300.00, deductible_applies: false}
      nursing: {coinsurance: 0.80}
      consumables: {coinsurance: 0.50}
"""


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeAdjudication:
    url: str
    requests: list[Recorded] = field(default_factory=list)
    # path -> (status, problem body) for answers other than 200
    failures: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)


@pytest.fixture
def adjudication() -> Iterator[FakeAdjudication]:
    server_state: dict[str, FakeAdjudication] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            state = server_state["fake"]
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.requests.append(
                Recorded("PUT", self.path, {k.lower(): v for k, v in self.headers.items()}, json.loads(raw))
            )
            status, body = state.failures.get(self.path, (200, json.loads(raw)))
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if status < 400 else "application/problem+json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state["fake"] = FakeAdjudication(f"http://127.0.0.1:{server.server_port}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server_state["fake"]
    finally:
        server.shutdown()
        server.server_close()


def run(args: list[str], monkeypatch: pytest.MonkeyPatch, **env: str) -> Any:
    monkeypatch.delenv("CLAIMS_ADMIN_TOKEN", raising=False)
    monkeypatch.setenv("CLAIMS_JWT_SECRET", SECRET)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return CliRunner().invoke(app, args)


def test_yaml_file_puts_plans_then_policies_with_an_admin_token(adjudication, tmp_path, monkeypatch):
    path = tmp_path / "products.yaml"
    path.write_text(YAML_DOCUMENT, encoding="utf-8")
    result = run(["load-plans", str(path), "--url", adjudication.url], monkeypatch)
    assert result.exit_code == 0, result.output
    assert [(r.method, r.path) for r in adjudication.requests] == [
        ("PUT", "/v1/plans/STD-2026"),
        ("PUT", "/v1/policies/POL-2026-0001"),
    ]
    assert adjudication.requests[0].body == PLAN
    assert adjudication.requests[1].body == POLICY
    for request in adjudication.requests:
        scheme, _, token = request.headers["authorization"].partition(" ")
        assert scheme == "Bearer"
        assert "admin" in Authenticator(secret=SECRET).verify(token).roles
        assert request.headers["content-type"].startswith("application/json")
    assert "loaded 1 plan(s) and 1 policy" in result.output


def test_json_files_are_sent_exactly_and_codes_are_escaped_in_the_path(adjudication, tmp_path, monkeypatch):
    plans = tmp_path / "plans.json"
    plans.write_text(json.dumps({"plans": {"STD-2026": PLAN, "GOLD/2026 A": {**PLAN, "name": "Gold"}}}))
    policies = tmp_path / "policies.json"
    policies.write_text(json.dumps({"policies": {"POL-2026-0001": POLICY, "POL-2026-0002": POLICY}}))
    result = run(
        ["load-plans", str(policies), str(plans), "--token", "given-token"],
        monkeypatch,
        CLAIMS_ADMIN_ADJUDICATION_URL=adjudication.url + "/",
    )
    assert result.exit_code == 0, result.output
    assert [r.path for r in adjudication.requests] == [
        "/v1/plans/STD-2026",
        "/v1/plans/GOLD%2F2026%20A",
        "/v1/policies/POL-2026-0001",
        "/v1/policies/POL-2026-0002",
    ]
    assert [r.body for r in adjudication.requests] == [PLAN, {**PLAN, "name": "Gold"}, POLICY, POLICY]
    assert {r.headers["authorization"] for r in adjudication.requests} == {"Bearer given-token"}


def test_a_refused_plan_stops_the_load_and_shows_the_problem(adjudication, tmp_path, monkeypatch):
    adjudication.failures["/v1/plans/STD-2026"] = (
        422,
        {
            "type": "about:blank",
            "title": "Unprocessable Entity",
            "status": 422,
            "errors": [{"field": "currency", "message": "not an ISO 4217 code"}],
        },
    )
    path = tmp_path / "products.yml"
    path.write_text(YAML_DOCUMENT, encoding="utf-8")
    result = run(["load-plans", str(path), "--url", adjudication.url], monkeypatch)
    assert result.exit_code == 1
    assert "plan STD-2026: 422" in result.output
    assert "currency: not an ISO 4217 code" in result.output
    assert [r.path for r in adjudication.requests] == ["/v1/plans/STD-2026"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("- just\n- a list\n", "expected a mapping"),
        ("plans: {A: 1}\n", "must be a mapping"),
        ("products: {}\n", "unknown top-level key"),
        ("plans: [1, 2]\n", "must map each code"),
        ("plans: {A: {name: x}\n", "cannot read it as YAML"),
        ("{}\n", "no plans and no policies"),
    ],
)
def test_a_malformed_file_is_refused_before_anything_is_sent(adjudication, tmp_path, monkeypatch, content, message):
    good = tmp_path / "good.yaml"
    good.write_text(YAML_DOCUMENT if message != "no plans and no policies" else "{}\n", encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(content, encoding="utf-8")
    result = run(["load-plans", str(good), str(bad), "--url", adjudication.url], monkeypatch)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert adjudication.requests == []


def test_a_plan_defined_in_two_files_is_refused(adjudication, tmp_path, monkeypatch):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps({"plans": {"STD-2026": PLAN}}))
    second.write_text(json.dumps({"plans": {"STD-2026": {**PLAN, "name": "other"}}}))
    result = run(["load-plans", str(first), str(second), "--url", adjudication.url], monkeypatch)
    assert result.exit_code == 2
    assert "defined in both" in result.output
    assert adjudication.requests == []


def test_an_unreachable_service_is_reported(tmp_path, monkeypatch):
    path = tmp_path / "plans.json"
    path.write_text(json.dumps({"plans": {"STD-2026": PLAN}}))
    result = run(["load-plans", str(path), "--url", "http://127.0.0.1:9", "--timeout", "2"], monkeypatch)
    assert result.exit_code == 1
    assert "cannot reach" in result.output


def test_the_existing_commands_are_still_there():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("token", "dlq-replay", "outbox-backlog", "load-plans"):
        assert command in result.output

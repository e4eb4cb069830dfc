"""Traces: a request, the event it records and the handler in another service are one trace (real Kafka)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest
from fastapi import APIRouter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from claims_contracts.envelope import EventEnvelope, EventPayload
from claims_contracts.topics import INTAKE_TOPIC
from claims_intake.app import MIGRATIONS
from claims_intake.config import IntakeSettings
from claims_platform.db import UnitOfWork
from claims_platform.deps import UnitOfWorkDep
from claims_platform.service import ServiceRuntime
from claims_platform.testing import serve
from claims_platform.tracing import Tracing, current_trace_context

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def _service_a(fresh_pg_url: str, kafka: str, prefix: str, jwt_secret: str, tracing: Tracing | None) -> ServiceRuntime:
    """A service whose one route records an event, as any service's route does."""
    settings = IntakeSettings(
        environment="test",
        database_url=fresh_pg_url,
        kafka_bootstrap_servers=kafka,
        kafka_topic_prefix=prefix,
        kafka_topic_partitions=2,
        jwt_secret=jwt_secret,
        relay_poll_seconds=0.1,
    )
    return ServiceRuntime(settings, migrations=MIGRATIONS, tracing=tracing)


def _app(runtime: ServiceRuntime, make_event):  # type: ignore[no-untyped-def]
    router = APIRouter()

    @router.post("/v1/probe/{claim_id}/withdraw", status_code=202)
    async def withdraw(claim_id: str, uow: UnitOfWorkDep) -> dict[str, str]:
        uow.publish(make_event(claim_id), claim_id=claim_id)
        return {"claim_id": claim_id}

    return runtime.create_app(title="probe", description="probe", routers=[router])


async def test_request_event_and_handler_in_another_service_are_one_trace(
    fresh_pg_url,
    kafka_bootstrap,
    topic_prefix,
    jwt_secret,
    auth_header,
    make_runtime,
    make_event,
    counting_handler,
    kafka_records,
    wait_for,
):
    spans_a, spans_b = InMemorySpanExporter(), InMemorySpanExporter()
    await make_runtime(
        fresh_pg_url,
        kafka=kafka_bootstrap,
        prefix=topic_prefix,
        consumers={"probe": ([INTAKE_TOPIC], {"ClaimWithdrawn": counting_handler})},
        tracing=Tracing("probe-b", exporter=spans_b),
    )
    runtime_a = _service_a(fresh_pg_url, kafka_bootstrap, topic_prefix, jwt_secret, Tracing("intake", exporter=spans_a))
    claim = f"C-{uuid.uuid4().hex[:8]}"
    async with serve(_app(runtime_a, make_event)) as client:
        response = await client.post(
            f"/v1/probe/{claim}/withdraw", headers={**auth_header("adjuster"), "traceparent": CALLER}
        )
        assert response.status_code == 202, response.text

        def consumer_spans() -> list:  # type: ignore[type-arg]
            return [s for s in spans_b.get_finished_spans() if s.attributes.get("claims.claim_id") == claim]

        async def handled() -> bool:
            return len(consumer_spans()) == 1

        await wait_for(handled)

    (server,) = [s for s in spans_a.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert server.name == "POST /v1/probe/{claim_id}/withdraw"
    assert server.attributes["http.route"] == "/v1/probe/{claim_id}/withdraw"
    assert server.attributes["http.response.status_code"] == 202
    assert server.resource.attributes["service.name"] == "intake"
    # The caller's trace is continued by the request...
    assert format(server.context.trace_id, "032x") == TRACE_ID
    assert server.parent is not None
    assert format(server.parent.span_id, "016x") == "00f067aa0ba902b7"

    # ...travels in the Kafka headers of the event it recorded...
    (record,) = [r for r in await kafka_records(kafka_bootstrap, topic_prefix + INTAKE_TOPIC, expect=1) if r.key]
    headers = dict(record.headers)
    assert headers["traceparent"].decode() == f"00-{TRACE_ID}-{server.context.span_id:016x}-01"
    assert orjson.loads(record.value)["trace_context"]["traceparent"] == headers["traceparent"].decode()

    # ...and the handler in the other service runs in a consumer span of the same trace.
    (consumer,) = consumer_spans()
    assert consumer.kind is SpanKind.CONSUMER
    assert consumer.name == f"process {INTAKE_TOPIC}"
    assert consumer.resource.attributes["service.name"] == "probe-b"
    assert consumer.context.trace_id == server.context.trace_id
    assert consumer.parent is not None
    assert consumer.parent.is_remote
    assert consumer.parent.span_id == server.context.span_id
    assert consumer.attributes["messaging.consumer.group.name"] == "probe"
    assert consumer.attributes["claims.event_type"] == "ClaimWithdrawn"
    assert consumer.attributes["claims.consumer.result"] == "applied"


async def test_without_an_endpoint_nothing_is_exported_but_the_context_still_travels(
    fresh_pg_url,
    kafka_bootstrap,
    topic_prefix,
    jwt_secret,
    auth_header,
    make_runtime,
    make_event,
    kafka_records,
    wait_for,
    monkeypatch,
):
    exported: list[object] = []
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.setattr(OTLPSpanExporter, "export", lambda self, spans: exported.append(spans))
    seen_by_handler: list[dict[str, str] | None] = []

    async def remember(uow: UnitOfWork, envelope: EventEnvelope, payload: EventPayload) -> None:
        seen_by_handler.append(current_trace_context())

    runtime_b = await make_runtime(
        fresh_pg_url,
        kafka=kafka_bootstrap,
        prefix=topic_prefix,
        consumers={"probe": ([INTAKE_TOPIC], {"ClaimWithdrawn": remember})},
    )
    runtime_a = _service_a(fresh_pg_url, kafka_bootstrap, topic_prefix, jwt_secret, None)
    assert not runtime_a.tracing.enabled
    assert not runtime_b.tracing.enabled
    assert runtime_a.tracing.provider is None

    traced, untraced = f"C-{uuid.uuid4().hex[:8]}", f"C-{uuid.uuid4().hex[:8]}"
    async with serve(_app(runtime_a, make_event)) as client:
        headers = auth_header("adjuster")
        traced_response = await client.post(f"/v1/probe/{traced}/withdraw", headers={**headers, "traceparent": CALLER})
        assert traced_response.is_success
        assert (await client.post(f"/v1/probe/{untraced}/withdraw", headers=headers)).is_success

        async def both_handled() -> bool:
            return len(seen_by_handler) == 2

        await wait_for(both_handled)

    records = {r.key.decode(): r for r in await kafka_records(kafka_bootstrap, topic_prefix + INTAKE_TOPIC, expect=2)}
    # No span is recorded: the caller's context is passed on as it came, to the handler and its events.
    assert dict(records[traced].headers)["traceparent"].decode() == CALLER
    assert {c["traceparent"] for c in seen_by_handler if c} == {CALLER}
    # Outside any trace the wire is exactly what it was before tracing existed.
    assert "traceparent" not in dict(records[untraced].headers)
    assert "trace_context" not in orjson.loads(records[untraced].value)
    assert seen_by_handler.count(None) == 1
    assert exported == []


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, str, int]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.received.append((self.path, self.headers.get("Content-Type", ""), len(body)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, str, int]]]]:
    """A stand-in OpenTelemetry collector (OTLP over HTTP) on a loopback port."""
    _Collector.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Collector.received
    server.shutdown()
    server.server_close()


async def test_with_an_endpoint_request_spans_are_exported_over_otlp_http(
    fresh_pg_url, jwt_secret, auth_header, make_event, collector, monkeypatch
):
    base, received = collector
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored.invalid:4318")
    settings = IntakeSettings(
        environment="test",
        database_url=fresh_pg_url,
        jwt_secret=jwt_secret,
        otel_exporter_otlp_endpoint=base + "/",
    )
    assert settings.otlp_traces_endpoint == f"{base}/v1/traces"
    runtime = ServiceRuntime(settings, migrations=MIGRATIONS)
    assert runtime.tracing.enabled
    async with serve(_app(runtime, make_event)) as client:
        response = await client.post(f"/v1/probe/C-{uuid.uuid4().hex[:8]}/withdraw", headers=auth_header("adjuster"))
        assert response.status_code == 202
        assert (await client.get("/health/live")).status_code == 200
    # Stopping the runtime flushed the batch to the collector.
    assert received, "no span reached the collector"
    assert {(path, ctype) for path, ctype, _ in received} == {("/v1/traces", "application/x-protobuf")}
    assert all(size > 0 for *_, size in received)


def test_the_standard_otel_variable_is_honoured(monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    assert IntakeSettings().otlp_traces_endpoint == "http://collector:4318/v1/traces"
    monkeypatch.setenv("CLAIMS_INTAKE_OTEL_EXPORTER_OTLP_ENDPOINT", "http://mine:4318/v1/traces")
    assert IntakeSettings().otlp_traces_endpoint == "http://mine:4318/v1/traces"
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT")
    monkeypatch.delenv("CLAIMS_INTAKE_OTEL_EXPORTER_OTLP_ENDPOINT")
    assert IntakeSettings().otlp_traces_endpoint is None


async def test_events_applied_in_one_batch_each_get_a_consumer_span_in_their_own_trace(
    fresh_pg_url, kafka_bootstrap, topic_prefix, make_runtime, make_event, counting_handler, kafka_produce, wait_for
):
    await make_runtime(fresh_pg_url, kafka=kafka_bootstrap, prefix=topic_prefix)  # creates the topics
    traces = {f"C-{uuid.uuid4().hex[:8]}": uuid.uuid4().hex for _ in range(6)}
    records = []
    for claim, trace_id in traces.items():
        envelope = EventEnvelope.wrap(make_event(claim), claim_id=claim, producer="test").model_copy(
            update={"trace_context": {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}}
        )
        records.append((claim.encode(), envelope.model_dump_json().encode()))
    await kafka_produce(kafka_bootstrap, topic_prefix + INTAKE_TOPIC, *records)  # waiting before the consumer starts
    spans = InMemorySpanExporter()
    runtime = await make_runtime(
        fresh_pg_url,
        kafka=kafka_bootstrap,
        prefix=topic_prefix,
        consumers={"probe": ([INTAKE_TOPIC], {"ClaimWithdrawn": counting_handler})},
        tracing=Tracing("probe", exporter=spans),
    )

    async def all_traced() -> bool:
        return len([s for s in spans.get_finished_spans() if s.kind is SpanKind.CONSUMER]) == len(traces)

    await wait_for(all_traced)
    by_claim = {s.attributes["claims.claim_id"]: s for s in spans.get_finished_spans() if s.kind is SpanKind.CONSUMER}
    assert {claim: format(s.context.trace_id, "032x") for claim, s in by_claim.items()} == traces
    assert all(s.attributes["claims.consumer.result"] == "applied" for s in by_claim.values())
    applied = runtime.metrics.events_consumed.labels("probe", "ClaimWithdrawn", "applied")._value.get()
    assert applied == len(traces)

"""OpenTelemetry traces: a span per HTTP request and per consumed event, one trace across services.

The W3C trace context travels with each event: ``UnitOfWork.publish`` captures the current
``traceparent``/``tracestate`` into the envelope (``trace_context``), the outbox relay copies it into the
message headers, and the consumer continues the trace from the headers (or the envelope) in a CONSUMER
span around the handler. So a request, the event it records and the handler in another service are one
trace.

Spans are exported (OTLP over HTTP, batched in a background thread) only when an endpoint is configured.
Without one the tracer is the API's no-op tracer: nothing is recorded or exported, and a trace context that
arrives (an HTTP ``traceparent`` header, an event's headers) is still passed on to the events recorded
under it, so a service without a collector does not break the traces of the others.

Each runtime owns its tracer provider (the embedded mode runs four services in one process, each with its
own ``service.name``); the global provider is left alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import orjson
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from claims_platform.context import correlation_id_var

if TYPE_CHECKING:
    from claims_platform.settings import ServiceSettings

__all__ = [
    "TRACE_HEADERS",
    "Tracing",
    "TracingMiddleware",
    "current_trace_context",
    "extract_context",
    "trace_headers",
    "trace_headers_of_json",
]

TRACE_HEADERS = ("traceparent", "tracestate")
_PROPAGATOR = TraceContextTextMapPropagator()
_UNTRACED_PATHS = ("/health/", "/metrics")
_INSTRUMENTATION = "claims_platform"


class Tracing:
    """The tracer of one service: recording and exporting when configured, the no-op tracer otherwise."""

    def __init__(self, service_name: str, *, endpoint: str | None = None, exporter: SpanExporter | None = None) -> None:
        self.service_name = service_name
        self.endpoint = endpoint
        processor: SpanProcessor | None = None
        if exporter is not None:  # tests: an in-memory exporter, spans handed over as they end
            processor = SimpleSpanProcessor(exporter)
        elif endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=10))
        self.provider: TracerProvider | None = None
        self.tracer: trace.Tracer = trace.NoOpTracer()
        if processor is not None:
            # The sampler comes from OTEL_TRACES_SAMPLER (default: parent-based, always on).
            self.provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
            self.provider.add_span_processor(processor)
            self.tracer = self.provider.get_tracer(_INSTRUMENTATION)

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> Tracing:
        """Tracing as the settings configure it (an exporter only when an endpoint is set)."""
        return cls(settings.service_name, endpoint=settings.otlp_traces_endpoint)

    @property
    def enabled(self) -> bool:
        """Whether spans are recorded (and exported)."""
        return self.provider is not None

    def flush(self, timeout_ms: int = 5000) -> None:
        """Export the spans that are still queued."""
        if self.provider is not None:
            self.provider.force_flush(timeout_ms)

    def shutdown(self) -> None:
        """Flush and stop the exporter; the tracer records nothing afterwards."""
        if self.provider is not None:
            self.provider.shutdown()


NO_TRACING = Tracing("unconfigured")


def current_trace_context() -> dict[str, str] | None:
    """The W3C ``traceparent`` (and ``tracestate``) of the current span, or None outside a trace."""
    if not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier or None


def trace_headers(trace_context: Mapping[str, str] | None) -> tuple[tuple[str, bytes], ...]:
    """Message headers carrying a trace context."""
    if not trace_context:
        return ()
    return tuple((name, value.encode()) for name in TRACE_HEADERS if (value := trace_context.get(name)))


def trace_headers_of_json(message: str) -> tuple[tuple[str, bytes], ...]:
    """The trace headers of a serialized envelope; parses it only when it carries a trace context."""
    if '"trace_context"' not in message:
        return ()
    value = orjson.loads(message).get("trace_context")
    if not isinstance(value, dict):
        return ()
    return trace_headers({k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)})


def extract_context(headers: Iterable[tuple[str, bytes]], fallback: Mapping[str, str] | None = None) -> Context | None:
    """The remote parent named by message headers (or else ``fallback``, the envelope's), if valid."""
    carrier: dict[str, str] = {}
    for key, value in headers:  # a plain loop: this runs for every message, traced or not
        if key == "traceparent" or key == "tracestate":
            carrier[key] = value.decode(errors="replace")
    if "traceparent" not in carrier:
        if not fallback or "traceparent" not in fallback:
            return None
        carrier = {k: v for k, v in fallback.items() if k in TRACE_HEADERS}
    ctx = _PROPAGATOR.extract(carrier)
    return ctx if trace.get_current_span(ctx).get_span_context().is_valid else None


class TracingMiddleware:
    """A SERVER span per HTTP request, continuing the caller's ``traceparent``; named by route template.

    With tracing off it only carries an incoming ``traceparent`` over to the events the request records.
    Health probes and metric scrapes are not traced.
    """

    def __init__(self, app: ASGIApp, tracing: Tracing) -> None:
        self.app = app
        self.tracing = tracing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_UNTRACED_PATHS):
            await self.app(scope, receive, send)
            return
        carrier = {
            key.decode("latin-1"): value.decode("latin-1")
            for key, value in scope.get("headers") or ()
            if key in (b"traceparent", b"tracestate")
        }
        parent = _PROPAGATOR.extract(carrier) if carrier else None
        if not self.tracing.enabled:
            if parent is None:
                await self.app(scope, receive, send)
                return
            token = otel_context.attach(parent)
            try:
                await self.app(scope, receive, send)
            finally:
                otel_context.detach(token)
            return
        await self._traced(scope, receive, send, parent)

    async def _traced(self, scope: Scope, receive: Receive, send: Send, parent: Context | None) -> None:
        method = scope.get("method", "GET")
        status = 500
        attributes = {"http.request.method": method, "url.path": scope["path"], "url.scheme": scope.get("scheme", "")}
        correlation_id = correlation_id_var.get()
        if correlation_id:
            attributes["claims.correlation_id"] = correlation_id
        with self.tracing.tracer.start_as_current_span(
            method,
            context=parent,
            kind=SpanKind.SERVER,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:

            async def _send(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await self.app(scope, receive, _send)
            except Exception as exc:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise
            finally:
                template = getattr(scope.get("route"), "path", None)
                if isinstance(template, str):
                    span.update_name(f"{method} {template}")
                    span.set_attribute("http.route", template)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))

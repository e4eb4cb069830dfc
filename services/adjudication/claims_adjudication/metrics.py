"""The service's own metrics: the auto-adjudication rate and why claims pend."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class AdjudicationMetrics:
    """Counters of first decisions and pends, registered on the runtime's registry.

    ``adjudication_auto_rate`` is this process's share of claims decided with no human touch (automatic
    first decisions over claims that reached a first outcome here: decided automatically or pended).
    Across replicas, compute it from the counters: ``sum(adjudication_claims_total{path="automatic"}) /
    sum(adjudication_claims_total)``.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.claims = Counter(
            "adjudication_claims",
            "Claims that reached their first outcome: decided automatically or pended for review",
            ["path"],
            registry=registry,
        )
        self.pend_reasons = Counter(
            "adjudication_pend_reasons",
            "Reasons claims were pended for human review (a claim may have several)",
            ["reason"],
            registry=registry,
        )
        self.decisions = Counter(
            "adjudication_decisions",
            "Decisions published, by outcome and whether a human made them",
            ["outcome", "automatic"],
            registry=registry,
        )
        self.auto_rate = Gauge(
            "adjudication_auto_rate",
            "Share of claims decided with no human touch (this process, since start)",
            registry=registry,
        )
        for path in ("automatic", "pended"):
            self.claims.labels(path)

    def automatic(self, outcome: str) -> None:
        """A claim decided with no human touch."""
        self.claims.labels("automatic").inc()
        self.decisions.labels(outcome, "true").inc()
        self._rate()

    def pended(self, reasons: list[str]) -> None:
        """A claim sent to human review."""
        self.claims.labels("pended").inc()
        for reason in reasons:
            self.pend_reasons.labels(reason).inc()
        self._rate()

    def manual(self, outcome: str) -> None:
        """A decision made by a reviewer."""
        self.decisions.labels(outcome, "false").inc()

    def _rate(self) -> None:
        auto = self.claims.labels("automatic")._value.get()
        pended = self.claims.labels("pended")._value.get()
        self.auto_rate.set(auto / (auto + pended) if auto + pended else 0.0)

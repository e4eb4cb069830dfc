"""Request and event context (correlation id, causation id, claim id) carried in contextvars."""

from __future__ import annotations

from contextvars import ContextVar

correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)
causation_id_var: ContextVar[str | None] = ContextVar("causation_id", default=None)
claim_id_var: ContextVar[str | None] = ContextVar("claim_id", default=None)

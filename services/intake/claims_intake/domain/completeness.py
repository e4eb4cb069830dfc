"""The completeness checklist of DOMAIN.md §3 and the deadline for missing documents."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

ALWAYS_REQUIRED: tuple[str, ...] = ("claim_form", "id_proof", "itemized_bill", "invoice")

EXTRA_REQUIRED: dict[str, tuple[str, ...]] = {
    "outpatient": ("medical_record",),
    "emergency": ("medical_record",),
    "inpatient": ("medical_record", "discharge_summary"),
    "pharmacy": ("prescription",),
}


def required_documents(claim_type: str) -> tuple[str, ...]:
    """The documents a claim of this type needs, in the order the claimant is told."""
    if claim_type not in EXTRA_REQUIRED:
        raise ValueError(f"unknown claim type {claim_type!r}")
    return ALWAYS_REQUIRED + EXTRA_REQUIRED[claim_type]


def missing_documents(claim_type: str, present: Iterable[str]) -> list[str]:
    """The required document types not among ``present``, in checklist order."""
    have = set(present)
    return [doc for doc in required_documents(claim_type) if doc not in have]


def documents_deadline(requested_on: date, days: int = 30) -> date:
    """The last day to supply requested documents."""
    return requested_on + timedelta(days=days)


def is_overdue(deadline: date, today: date) -> bool:
    """Whether the deadline has passed (the deadline day itself still counts)."""
    return today > deadline

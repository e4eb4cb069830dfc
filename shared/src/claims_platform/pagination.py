"""Cursor pagination: opaque cursors and the page envelope of every list endpoint."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from claims_platform.errors import ProblemError

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """A page of items and the cursor of the next page (null on the last page)."""

    items: list[T]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` to get the next page.")


def encode_cursor(position: dict[str, Any]) -> str:
    """An opaque cursor for a position (e.g. the last item's sort key and id)."""
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    """The position in a cursor; a 400 problem for a cursor that was not made here."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        value = None
    if not isinstance(value, dict):
        raise ProblemError(
            400,
            "Bad request",
            "The cursor is not valid.",
            errors=[{"field": "cursor", "message": "not a cursor from this API"}],
        )
    return value

"""Building blocks shared by the event modules."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

__all__ = ["Actor", "ContractModel", "LongText", "Name", "Reason"]


class ContractModel(BaseModel):
    """Base of the value objects nested in payloads: immutable, tolerant of unknown fields."""

    model_config = ConfigDict(extra="ignore", frozen=True)


Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
"""A person's or organisation's name."""

Actor = Annotated[str, StringConstraints(min_length=1, max_length=100)]
"""Who did something: a user's ``sub`` or a system id."""

Reason = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
"""A free-text reason."""

LongText = Annotated[str, StringConstraints(min_length=1, max_length=4000)]
"""A longer free-text message."""

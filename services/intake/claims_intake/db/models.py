"""Tables of the intake service."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from claims_platform.db import new_metadata

metadata = new_metadata()


class Base(DeclarativeBase):
    """Declarative base of the intake service's tables."""

    metadata = metadata

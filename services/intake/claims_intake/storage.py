"""Where document contents live: an interface, and the filesystem store used by default.

An S3-compatible store implements the same three methods (``put`` as PutObject, ``get`` as GetObject,
``delete`` as DeleteObject, keys as object names).
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from pathlib import Path
from typing import Protocol

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


class DocumentStore(Protocol):
    """Stores document contents by key; metadata stays in the database."""

    async def put(self, key: str, content: bytes) -> None:
        """Store ``content`` under ``key`` (atomically: a reader sees all of it or nothing)."""

    async def get(self, key: str) -> bytes:
        """The content under ``key``; ``KeyError`` when there is none."""

    async def delete(self, key: str) -> None:
        """Remove the content under ``key`` if present."""


class FilesystemDocumentStore:
    """Documents as files under a root folder, written to a temporary name and renamed."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if not _KEY.match(key) or ".." in key:
            raise ValueError("invalid document key")
        return self.root / key

    async def put(self, key: str, content: bytes) -> None:
        """Write the file atomically."""
        await asyncio.to_thread(self._put, self._path(key), content)

    @staticmethod
    def _put(path: Path, content: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)

    async def get(self, key: str) -> bytes:
        """Read the file."""
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise KeyError(key) from None

    async def delete(self, key: str) -> None:
        """Remove the file."""
        await asyncio.to_thread(self._path(key).unlink, True)

"""Where document contents live: an interface, and the filesystem store used by default.

An S3-compatible store implements the same methods (``put`` as PutObject, ``put_many`` as one PutObject
each, ``get`` as GetObject, ``delete`` as DeleteObject, keys as object names).
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


class DocumentStore(Protocol):
    """Stores document contents by key; metadata stays in the database, and so do the contents of documents of
    at most ``inline_document_max_bytes`` (``document_contents``), which never come here."""

    async def put(self, key: str, content: bytes) -> None:
        """Store ``content`` under ``key``, durably. Replacing a key is atomic (a reader sees the old content or
        all of the new); a new key must not be read before ``put`` returns (intake names it in a row it
        commits afterwards)."""

    async def put_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Store each ``(key, content)`` as ``put`` does; every one is durable when this returns."""

    async def get(self, key: str) -> bytes:
        """The content under ``key``; ``KeyError`` when there is none."""

    async def delete(self, key: str) -> None:
        """Remove the content under ``key`` if present."""


class FilesystemDocumentStore:
    """Documents as files under a root folder: a new key's file written in place, an existing key's replaced
    by writing a temporary name and renaming it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if not _KEY.match(key) or ".." in key:
            raise ValueError("invalid document key")
        return self.root / key

    async def put(self, key: str, content: bytes) -> None:
        """Write the file atomically and durably."""
        await self.put_many([(key, content)])

    async def put_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Write the files atomically and durably, in one worker-thread call (one hand-off, not one per file)."""
        if items:
            await asyncio.to_thread(self._put_all, [(self._path(key), content) for key, content in items])

    @classmethod
    def _put_all(cls, items: Sequence[tuple[Path, bytes]]) -> None:
        """Each file written and fsynced (``_put``); then each changed folder fsynced.

        A new file's name, a rename and a new folder are on disk only once the folder holding them is fsynced.
        """
        changed: dict[Path, None] = {}
        for path, content in items:
            if path.parent not in changed:
                for made in cls._make_dirs(path.parent):
                    changed[made.parent] = None
            cls._put(path, content)
            changed[path.parent] = None
        for folder in changed:
            cls._fsync_dir(folder)

    @staticmethod
    def _make_dirs(folder: Path) -> list[Path]:
        """Create ``folder`` and its missing parents; the ones that were missing."""
        missing: list[Path] = []
        while not folder.is_dir() and folder.parent != folder:
            missing.append(folder)
            folder = folder.parent
        for each in reversed(missing):
            each.mkdir(exist_ok=True)
        return missing

    @classmethod
    def _put(cls, path: Path, content: bytes) -> None:
        """A new key's file is created in place (nobody can know the key before ``put`` returns: intake
        commits the row naming it afterwards); an existing key's is replaced through a temporary name."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
            cls._write(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600), content)
            os.replace(tmp, path)
        else:
            cls._write(fd, content)

    @staticmethod
    def _write(fd: int, content: bytes) -> None:
        """Write all of ``content`` to ``fd``, fsync and close it."""
        try:
            view = memoryview(content)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)

    @staticmethod
    def _fsync_dir(folder: Path) -> None:
        if os.name == "nt":  # pragma: no cover - a folder cannot be opened (nor needs fsyncing) there
            return
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

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

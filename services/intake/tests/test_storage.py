"""The filesystem document store: what a caller reads back, and what is left on disk."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from claims_intake.storage import FilesystemDocumentStore


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def test_a_claims_documents_are_stored_in_its_folder_and_read_back(tmp_path: Path):
    store = FilesystemDocumentStore(tmp_path)
    big = os.urandom(3 * 1024 * 1024 + 7)  # more than one write() may take at once
    await store.put_many([("CLM-1/DOC-a", b"%PDF-1.4 a"), ("CLM-1/DOC-b", big)])

    assert await store.get("CLM-1/DOC-a") == b"%PDF-1.4 a"
    assert await store.get("CLM-1/DOC-b") == big
    assert _files(tmp_path) == ["CLM-1/DOC-a", "CLM-1/DOC-b"]
    for name in ("CLM-1/DOC-a", "CLM-1/DOC-b"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, "contents are readable by the owner only"


async def test_putting_a_key_again_replaces_its_content_and_leaves_no_temporary_file(tmp_path: Path):
    store = FilesystemDocumentStore(tmp_path)
    await store.put("CLM-2/DOC-a", b"first")
    await store.put("CLM-2/DOC-a", b"second, longer than the first")

    assert await store.get("CLM-2/DOC-a") == b"second, longer than the first"
    assert _files(tmp_path) == ["CLM-2/DOC-a"]
    assert stat.S_IMODE((tmp_path / "CLM-2/DOC-a").stat().st_mode) == 0o600


async def test_missing_and_deleted_keys_are_key_errors_and_bad_keys_are_refused(tmp_path: Path):
    store = FilesystemDocumentStore(tmp_path)
    await store.put("CLM-3/DOC-a", b"x")
    await store.delete("CLM-3/DOC-a")
    await store.delete("CLM-3/DOC-a")  # deleting twice is not an error
    with pytest.raises(KeyError):
        await store.get("CLM-3/DOC-a")
    for bad in ("../etc/passwd", "/abs", "CLM-3/../x", ""):
        with pytest.raises(ValueError, match="invalid document key"):
            await store.put(bad, b"x")
    assert _files(tmp_path) == []

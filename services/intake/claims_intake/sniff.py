"""What a document really is, from its first bytes (through ``filetype``), never from what it claims."""

from __future__ import annotations

import filetype

ALLOWED_CONTENT_TYPES = frozenset({"application/pdf", "image/jpeg", "image/png", "image/tiff"})


def sniff(content: bytes) -> str | None:
    """The MIME type the content's signature shows, or None when unknown."""
    kind = filetype.guess(content[:8192])
    return kind.mime if kind is not None else None


def check_document(content: bytes, declared: str | None, max_bytes: int) -> tuple[str | None, str | None]:
    """``(sniffed content type, None)`` for an acceptable document, ``(None, problem)`` otherwise."""
    if not content:
        return None, "is empty"
    if len(content) > max_bytes:
        return None, f"exceeds {max_bytes} bytes"
    actual = sniff(content)
    if actual not in ALLOWED_CONTENT_TYPES:
        return None, "is not a PDF, JPEG, PNG or TIFF file"
    if declared is not None:
        base = declared.split(";")[0].strip().lower()
        if base == "image/jpg":
            base = "image/jpeg"
        if base and base != "application/octet-stream" and base != actual:
            return None, f"is {actual}, not {base} as declared"
    return actual, None

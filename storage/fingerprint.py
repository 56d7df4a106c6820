"""Fingerprints for exact dedup: the SHA-256 of an article's normalized text.

Normalization folds what differs between two copies of one wire text that are otherwise the
same: Unicode form (NFKC), case, whitespace, punctuation and typographic quotes, and the
wire furniture around the body (a leading dateline such as "TOKYO (Kyodo) --", credit and
copyright lines). Pure functions, no IO.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_DATELINE = re.compile(
    r"^\s*[A-ZА-ЯЁ][A-ZА-ЯЁ .,'-]{1,40}"  # place, in capitals
    r"(?:,\s*[A-Za-z]{3,9}\.?\s+\d{1,2})?"  # optional date: ", March 28"
    r"\s*(?:\([^)]{1,40}\))?"  # optional agency: "(Kyodo)"
    r"\s*(?:--|—|–|-|:)\s*"
)
_BOILERPLATE_LINE = re.compile(
    r"^\s*(?:©|\(c\)|copyright\b|all rights reserved|reporting by\b|editing by\b|"
    r"advertisement\b|- advertisement -|subscribe to\b|sign up\b|read more\b|related:)",
    re.IGNORECASE,
)
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalize_text(text: str) -> str:
    """The text with wire furniture removed and form, case and punctuation folded."""
    lines = [line for line in text.splitlines() if line.strip()]
    lines = [line for line in lines if not _BOILERPLATE_LINE.match(line)]
    if lines:
        lines[0] = _DATELINE.sub("", lines[0], count=1)
    folded = unicodedata.normalize("NFKC", " ".join(lines)).casefold()
    return " ".join(_NON_WORD.sub(" ", folded).split())


def content_hash(text: str) -> str:
    """SHA-256 (hex) of `normalize_text(text)`."""
    return hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()


def body_hash(body: bytes) -> str:
    """SHA-256 (hex) of raw bytes, for index documents that send no validators."""
    return hashlib.sha256(body).hexdigest()

"""Fingerprints for dedup: the SHA-256 of an article's normalized text, and a MinHash print.

The hash finds exact copies; the print (`near_print`, further down) finds copies that
differ a little, for a story to fold them in.

Normalization folds what differs between two copies of one wire text that are otherwise the
same: Unicode form (NFKC), case, whitespace, punctuation and typographic quotes, and the
wire furniture around the body (a leading dateline such as "TOKYO (Kyodo) --", credit and
copyright lines). Pure functions, no IO.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

_DATELINE = re.compile(
    r"^\s*[A-ZА-ЯЁ][A-ZА-ЯЁ .,'-]{1,40}"  # place, in capitals
    r"(?:,\s*[A-Za-z]{3,9}\.?\s+\d{1,2})?"  # optional date: ", March 28"
    r"\s*(?:\([^)]{1,40}\))?"  # optional agency: "(Kyodo)"
    r"\s*(?:--|—|–|-|:)\s*"
)
_DATELINE_RU = (
    re.compile(  # "МОСКВА, 27 ноября. /ТАСС/." or "ЮЖНО-САХАЛИНСК, 27 ноя - РИА Новости."
        r"^\s*[А-ЯЁ][А-ЯЁ .-]{1,40},\s*\d{1,2}\s+[а-яё]{3,8}\.?"
        r"\s*(?:/\s*[А-ЯЁA-Z][^/]{1,20}/\.?|(?:--|—|–|-)\s*[А-ЯЁA-Z][\w ]{1,25}\.)\s*"
    )
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
        lines[0] = _DATELINE_RU.sub("", _DATELINE.sub("", lines[0], count=1), count=1)
    folded = unicodedata.normalize("NFKC", " ".join(lines)).casefold()
    return " ".join(_NON_WORD.sub(" ", folded).split())


def content_hash(text: str) -> str:
    """SHA-256 (hex) of `normalize_text(text)`."""
    return hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()


def body_hash(body: bytes) -> str:
    """SHA-256 (hex) of raw bytes, for index documents that send no validators."""
    return hashlib.sha256(body).hexdigest()


# --- Near-duplicate fingerprints -----------------------------------------------------------
#
# Copies of one wire text that differ by more than normalization folds (a sentence cut, a
# footer `normalize_text` does not know, a dateline in another form) are found by MinHash
# over shingles of the normalized text: `near_print` gives a signature, kept with the story
# to estimate Jaccard similarity, and band hashes, kept in an index to find candidates. A
# candidate joins the story when `similarity` of the two signatures is at least
# NEAR_THRESHOLD. Japanese and Chinese text has no spaces, so its shingles are character
# k-grams; every other script shingles words.
#
# Why these values. `python bench/near_duplicates.py` measures them and checks that its rule
# still picks them; the Jaccard figures are exact, over ../shared/eval/kurils_dev.jsonl (63
# real excerpts) and syndicated copies of tests/support/stories.py, at the chosen sizes.
# - SHINGLE = 5 words (tried 3, 4, 5): the widest gap between the lowest pair that should
#   merge (a fixture story with its longest sentence cut: 0.699; 3 words: 0.726) and the
#   highest pair that must not (two agencies' rewrites of one announcement, `same_event`:
#   0.489; 3 words: 0.578). Different story groups reach 0.036, look-alikes 0.269.
# - SHINGLE_CJK = 5 characters (tried 2 to 5) for Japanese: the real Kyodo near-duplicate
#   pair scores 0.747 (2: 0.818) and two different Kyodo drill notices in the same template
#   0.173 on the dev set and 0.276 in the tests' look-alikes (2: 0.360 and 0.497).
# - NEAR_THRESHOLD = 0.6: the middle of the narrower gap (0.489..0.699; that same_event pair
#   is estimated at 0.555 and shares no band, so it is not even a candidate). Copies that
#   only change furniture score 0.75 or more, and a copy keeping 80% of the text ~0.72;
#   0.8 (the usual default for full-length pages) would lose most cut copies of these short
#   texts (33 of 66 one-sentence cuts) and the dev set's one near-duplicate pair.
# - NUM_PERM = 128: the estimate's standard error at 0.6 is 0.043 (64: 0.061), so the gap's
#   ends lie 2.3 and 2.6 of them away; it costs ~0.05 ms more of ~0.75 ms per 600 words.
# - BANDS x ROWS = 25 x 5 = datasketch `_optimal_param(0.6, 128, 0.1, 0.9)`: weighted to
#   miss few candidates, since a false candidate costs one signature comparison and a
#   missed one a missed merge. A pair is a candidate with probability 0.87 at Jaccard 0.6,
#   0.99 at 0.7, and 0.06 at 0.3.
# - MIN_SHINGLES = 20: below 5 (1 + 0.6) / (1 - 0.6) = 20 shingles one changed word takes a
#   copy under the threshold, so a print adds nothing to the exact hash; template leads
#   ("ロシア政府が、北方領土の…") cut to 5 shingles merge across stories, at 10 none do.
# - SEED, scheme "affine32" and sha1_hash32 are pinned: stored signatures stay comparable
#   only while all three (and datasketch's permutation generation) stay the same.
NUM_PERM = 128
SHINGLE = 5
SHINGLE_CJK = 5
NEAR_THRESHOLD = 0.6
BANDS = 25
ROWS = 5
MIN_SHINGLES = 20
SEED = 1

_CJK_CHARS = "\u3005-\u3007\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK_CHARS}]|[^\s{_CJK_CHARS}]+")
_CJK_TOKEN = re.compile(rf"[{_CJK_CHARS}]")
_BAND_PERSON = b"kurilwatch-nd-v1"  # in every band hash: a new scheme never meets old bands


@dataclass(frozen=True, slots=True, kw_only=True)
class NearPrint:
    """The near-duplicate fingerprint of one text.

    Attributes:
        signature: NUM_PERM MinHash values, little-endian uint32, for `similarity`.
        bands: One signed 64-bit hash per LSH band (BANDS of them), the band index mixed in,
            for a candidate lookup: two texts are candidates when any band hash is equal.
    """

    signature: bytes
    bands: tuple[int, ...]


def _tokens(normalized: str) -> tuple[list[str], bool]:
    """Words, with each Han or kana character its own token; and whether CJK dominates."""
    tokens = _TOKEN.findall(normalized)
    cjk = sum(1 for token in tokens if _CJK_TOKEN.match(token))
    return tokens, cjk * 2 >= len(tokens) > 0


def shingles(text: str, *, words: int = SHINGLE, chars: int = SHINGLE_CJK) -> set[bytes]:
    """The shingles of `normalize_text(text)`: runs of `words` words, UTF-8 encoded.

    Text written mostly in Han or kana (Japanese, Chinese) shingles runs of `chars`
    characters instead; words in other scripts inside it count as one character each. A text
    shorter than one shingle is one shingle; an empty text has none.
    """
    return set(shingle_sequence(normalize_text(text), words=words, chars=chars))


def shingle_sequence(
    normalized: str, *, words: int = SHINGLE, chars: int = SHINGLE_CJK
) -> list[bytes]:
    """The shingles of already normalized text in text order, repeats kept (see `shingles`)."""
    return [
        " ".join(run).encode("utf-8") for run in shingle_runs(normalized, words=words, chars=chars)
    ]


def shingle_runs(
    normalized: str, *, words: int = SHINGLE, chars: int = SHINGLE_CJK
) -> list[tuple[str, ...]]:
    """`shingle_sequence` as tuples of tokens, not yet joined and encoded."""
    tokens, cjk = _tokens(normalized)
    size = chars if cjk else words
    if not tokens:
        return []
    if len(tokens) <= size:
        return [tuple(tokens)]
    return list(zip(*(tokens[start:] for start in range(size)), strict=False))


@functools.cache
def _blank_minhash(num_perm: int) -> Any:
    # Every knob pinned, none left to datasketch defaults: the same shingles give the same
    # signature in every process and release (tests/unit/test_near_duplicates.py pins one).
    # Imported here: `import datasketch` loads its LSH module and SciPy (~0.3 s), which
    # every command would pay at start-up; only a stored article needs a print.
    from datasketch import MinHash
    from datasketch.hashfunc import sha1_hash32

    return MinHash(num_perm=num_perm, seed=SEED, scheme="affine32", hashfunc=sha1_hash32)


def signature(shingle_set: set[bytes], *, num_perm: int = NUM_PERM) -> bytes:
    """The MinHash signature of a shingle set: `num_perm` little-endian uint32 values."""
    import numpy as np  # loaded with datasketch by _blank_minhash; not at start-up

    minhash = _blank_minhash(num_perm).copy()
    minhash.update_batch(list(shingle_set))
    return np.asarray(minhash.hashvalues, dtype="<u4").tobytes()


def band_hashes(sig: bytes, *, bands: int = BANDS, rows: int = ROWS) -> tuple[int, ...]:
    """One signed 64-bit hash per band of `rows` signature values, the band index mixed in.

    Raises:
        ValueError: If the signature has fewer than `bands * rows` values.
    """
    width = rows * 4
    if len(sig) < bands * width:
        raise ValueError(f"signature of {len(sig) // 4} values is too short for {bands}x{rows}")
    return tuple(
        int.from_bytes(
            hashlib.blake2b(
                band.to_bytes(2, "little") + sig[band * width : (band + 1) * width],
                digest_size=8,
                person=_BAND_PERSON,
            ).digest(),
            "little",
            signed=True,
        )
        for band in range(bands)
    )


def near_print(text: str) -> NearPrint | None:
    """The near-duplicate fingerprint of `text`, or None if it has under MIN_SHINGLES shingles."""
    shingle_set = shingles(text)
    if len(shingle_set) < MIN_SHINGLES:
        return None
    sig = signature(shingle_set)
    return NearPrint(signature=sig, bands=band_hashes(sig))


def similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of the texts behind two signatures (0.0 to 1.0).

    Raises:
        ValueError: If the signatures differ in length or are empty or ragged.
    """
    if len(a) != len(b) or not a or len(a) % 4:
        raise ValueError(f"signatures of {len(a)} and {len(b)} bytes cannot be compared")
    import numpy as np  # 0.04 s of start-up for polls that never compare signatures

    values_a = np.frombuffer(a, dtype="<u4")
    values_b = np.frombuffer(b, dtype="<u4")
    return float(np.count_nonzero(values_a == values_b)) / len(values_a)

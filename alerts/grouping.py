"""Event grouping: is a new story about an event that was alerted a moment ago?

Wire services and outlets rewrite one event in their own words; near-duplicate dedup does not
fold those (and must not: they are different texts), but a desk officer wants one alert per
event, as Alertmanager groups alerts. A story's *key terms* are the names and numbers that
pin an event down: capitalised words that do not start a sentence, numbers, and runs of
kanji/katakana, taken from the title and the text, without the country and island names every
story of the dispute mentions. `same_event` says two stories of one event type share enough
of them (Jaccard ≥ `GROUP_THRESHOLD`, looser than near-duplicate dedup). Pure.

Measured on ../shared/eval/kurils_dev.jsonl (pairs of items that share an event type):
at 0.25, 5 of 28 pairs of one story group (the same-day rewrites of one event) group, and 3
of 433 pairs of different groups would — all three years apart, which the 48-hour
`group_window` keeps apart. Stories in different languages do not group (names differ in
script); evidence sentences alone were too sparse (2 of 28).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

GROUP_THRESHOLD = 0.25
MIN_KEY_TERMS = 3
COMMON = frozenset(
    {
        "japan", "japanese", "russia", "russian", "russians", "tokyo", "moscow", "the", "a",
        "kuril", "kurils", "kurile", "islands", "island", "northern", "territories", "southern",
        "япония", "японии", "японский", "японская", "россия", "россии", "российский", "москва",
        "токио", "курилы", "курил", "日本", "ロシア", "政府", "北方領土", "北方四島",
    }
)  # fmt: skip
_WORD = re.compile(r"[^\W\d_][\w'-]*|\d[\d,.]*", re.UNICODE)
_POSSESSIVE = re.compile(r"['’]s$")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff\u30a0-\u30ff]{2,}")
_SENTENCE_START = re.compile(r"(?:^|[.!?。]\s*)$")


def key_terms(title: str | None, text: str) -> frozenset[str]:
    """The names and numbers of a story's title and text."""
    return frozenset(term for part in (title or "", text) for term in _terms(part))


def _terms(text: str) -> Iterable[str]:
    text = unicodedata.normalize("NFKC", text)
    for found in _WORD.finditer(text):
        word = _POSSESSIVE.sub("", found.group(0)).strip(",.'-")
        if not word:
            continue
        starts_sentence = bool(_SENTENCE_START.search(text[: found.start()]))
        if word[0].isdigit():
            if len(word.replace(",", "").replace(".", "")) >= 2:
                yield word.replace(",", "")
        elif word[0].isupper() and not starts_sentence and word.casefold() not in COMMON:
            yield word.casefold()
    for run in _CJK_RUN.findall(text):
        if run not in COMMON:
            yield run


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard similarity of two key-term sets (0 when either is too small to judge)."""
    if len(a) < MIN_KEY_TERMS or len(b) < MIN_KEY_TERMS:
        return 0.0
    return len(a & b) / len(a | b)


def same_event(
    events: Iterable[str], terms: frozenset[str], other_events: Iterable[str], other: frozenset[str]
) -> bool:
    """True when the two stories report a common event type with similar key terms."""
    return bool(set(events) & set(other_events)) and similarity(terms, other) >= GROUP_THRESHOLD

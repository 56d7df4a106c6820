"""Event grouping: is a new story about an event that was alerted a moment ago?

Wire services and outlets rewrite one event in their own words; near-duplicate dedup does not
fold those (and must not: they are different texts), but a desk officer wants one alert per
event, as Alertmanager groups alerts. A story's *key terms* are the names and numbers that
pin an event down: capitalised words that do not start a sentence, numbers, and runs of
kanji/katakana, taken from the title and the text, without the country and island names every
story of the dispute mentions. Words that name no event are left out: weekday and month names
(English, Russian, Japanese, including a number written as a Japanese month, 12月), since
every story of a week shares "Thursday" and two events a year apart share "March"; titles of
office ("Foreign Minister", "Chief Cabinet Secretary"), which every statement carries; and,
for Japanese, which has no capitals to tell names from nouns, the dispute's own vocabulary
(抗議, 射撃訓練, 外交ルート, 記者会見), cut out of the kanji/katakana runs it is written in.
`same_event` says two stories of one event type share enough of them (Jaccard ≥
`GROUP_THRESHOLD`, looser than near-duplicate dedup). Stories in different
languages do not group (names differ in script). Pure; measured in bench/README.md.
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
        # titles of office and institutions, capitalised in every statement
        "minister", "ministry", "prime", "foreign", "cabinet", "secretary", "chief", "deputy",
        "spokesman", "spokeswoman", "spokesperson", "president", "government", "defense",
        "defence", "military", "ambassador", "embassy", "press", "news", "agency", "national",
        "world", "war", "ii",
    }
)  # fmt: skip
_EN_CALENDAR = (
    "monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs "
    "fri sat sun january february march april may june july august september october november "
    "december jan feb mar apr jun jul aug sep sept oct nov dec"
)
_RU_CALENDAR = {
    # stem: endings of its case forms (and of the plural, for weekdays)
    "понедельник": ("", "а", "у", "ом", "е", "и", "ов", "ам"),
    "вторник": ("", "а", "у", "ом", "е", "и", "ов", "ам"),
    "четверг": ("", "а", "у", "ом", "е", "и", "ов", "ам"),
    "сред": ("а", "у", "ы", "е", "ой", "ам"),
    "пятниц": ("а", "у", "ы", "е", "ей", "ам"),
    "суббот": ("а", "у", "ы", "е", "ой", "ам"),
    "воскресень": ("е", "я", "ю", "ем", "ям"),
    "ма": ("й", "я", "е", "ю", "ем"),
    "март": ("", "а", "е", "у", "ом"),
    "август": ("", "а", "е", "у", "ом"),
    **{
        stem: ("ь", "я", "е", "ю", "ем", "ём")
        for stem in (
            "январ", "феврал", "апрел", "июн", "июл", "сентябр", "октябр", "ноябр", "декабр",
        )
    },
}  # fmt: skip
CALENDAR = frozenset(_EN_CALENDAR.split()) | frozenset(
    stem + ending for stem, endings in _RU_CALENDAR.items() for ending in endings
)
"""Weekday and month names (casefolded), which never pin an event down."""
_JA_NO_NAME = re.compile(
    r"[月火水木金土日]曜日?|[今先来前翌毎]月|[一二三四五六七八九十]{1,3}月|正月"
    r"|外交ルート|日本政府|ロシア政府|ロシア当局|ロシア側|外務省|防衛省|国防省|官房長官|首相|外相"
    r"|記者会見|実施|立場|軍事演習|射撃訓練|演習|訓練|軍備強化|航行警報|周辺海域|海域|通告|日付"
    r"|抗議|遺憾|申し入れ"
)
"""Japanese weekday and month names and the dispute's own nouns: cut out of kanji runs."""
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
            is_month = text.startswith("月", found.end())  # 12月: December, not a number
            if len(word.replace(",", "").replace(".", "")) >= 2 and not is_month:
                yield word.replace(",", "")
        elif word[0].isupper() and not starts_sentence:
            folded = word.casefold()
            if folded not in COMMON and folded not in CALENDAR:
                yield folded
    for run in _CJK_RUN.findall(text):
        for part in _JA_NO_NAME.split(run):  # 木原稔官房長官 -> 木原稔
            if len(part) >= 2 and part not in COMMON:
                yield part


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

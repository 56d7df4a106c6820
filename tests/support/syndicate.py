"""Syndicated copies of a wire story, made the way outlets make them.

One wire text reaches readers through many outlets, and each changes it a little: a
dateline with the agency's name goes in front, a copyright footer and a "follow us" line go
after, straight quotes become typographic ones, a sentence is trimmed for space, the
headline is rewritten, and the link carries tracking parameters. These functions make such
copies of the project's own fixture texts, so the near-duplicate fingerprints can be tested
against every kind of change. They are pure and deterministic: the same input gives the same
copy in every process.

A copy is a `(title, text)` pair; the headline never goes into the body text.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

Copy = tuple[str, str]
"""A syndicated copy: (headline, body text)."""

_CYRILLIC = re.compile(r"[А-Яа-яЁё]")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
_LEADING_DATELINE = re.compile(r"^[A-ZА-ЯЁ][A-ZА-ЯЁ .,'-]{1,40}\s+(?:--|—|–)\s+")
_SENTENCE = re.compile(
    r"\S.*?(?:[.!?][\"'”’»)]*(?=\s|\Z)|[。！？]」?|\Z)",
    re.DOTALL,
)
_WORD = re.compile(r"\w+")


def _script(text: str) -> str:
    """The script a text is mostly written in: "cjk", "cyrillic" or "latin"."""
    sample = text[:400]
    if len(_CJK.findall(sample)) * 4 > len(sample):
        return "cjk"
    if _CYRILLIC.search(sample):
        return "cyrillic"
    return "latin"


def with_dateline(text: str, place: str, agency: str) -> str:
    """The text with the agency's dateline in front, replacing a leading dateline it has.

    The form follows the text's script: "TOKYO (Kyodo) -- " for Latin text,
    "ЮЖНО-САХАЛИНСК — ТАСС. " for Russian (the form Russian agencies use, which
    `normalize_text` does not strip) and "【根室共同】" for Japanese.
    """
    body = _LEADING_DATELINE.sub("", text, count=1)
    script = _script(text)
    if script == "cjk":
        return f"【{place}{agency}】{body}"
    if script == "cyrillic":
        return f"{place.upper()} — {agency}. {body}"
    return f"{place.upper()} ({agency}) -- {body}"


def with_footer(text: str, outlet: str) -> str:
    """The text with a copyright line and an outlet's "follow us" line after it."""
    follow = {
        "cjk": f"{outlet}のニュースをもっと読む",
        "cyrillic": f"Читайте {outlet} в Telegram",
        "latin": f"Follow {outlet} for more news from the region",
    }[_script(text)]
    return f"{text}\n\n© 2025 {outlet}. All rights reserved.\n{follow}"


def with_typographic_quotes(text: str) -> str:
    """The text with straight quotes and apostrophes curled and double hyphens as dashes."""
    curled = re.sub(r"\"(?=\w)", "“", text)
    curled = curled.replace('"', "”")
    curled = re.sub(r"(?<=\w)'", "’", curled)
    curled = curled.replace("'", "‘")
    return curled.replace(" -- ", " — ")


def sentences(text: str) -> list[tuple[int, int]]:
    """The (start, end) offsets of each sentence in `text`, in order."""
    return [match.span() for match in _SENTENCE.finditer(text)]


def cut_sentence(text: str, index: int) -> str:
    """The text without its `index`-th sentence (negative counts from the end).

    Raises:
        IndexError: If the text has no such sentence.
    """
    start, end = sentences(text)[index]
    rest = f"{text[:start].rstrip(' ')} {text[end:].lstrip(' ')}"
    paragraphs = (paragraph.strip() for paragraph in rest.split("\n\n"))
    return "\n\n".join(paragraph for paragraph in paragraphs if paragraph)


def with_new_headline(copy: Copy, headline: str) -> Copy:
    """The copy under another headline; the text is unchanged."""
    return headline, copy[1]


def lead_headline(text: str, words: int = 9) -> str:
    """A headline an outlet might write from the lead: its first words, capitalised."""
    body = _LEADING_DATELINE.sub("", text, count=1)
    start, end = sentences(body)[0]
    lead = body[start:end]
    if _script(text) == "cjk":
        return lead[:24]
    head = " ".join(_WORD.findall(lead)[:words])
    return head[:1].upper() + head[1:]


def feed_summary(text: str, chars: int = 300) -> str:
    """What a feed gives as an entry's summary: the first `chars` characters of the text,
    cut at a word boundary, paragraphs run together, with an ellipsis when cut."""
    flat = " ".join(text.split())
    if len(flat) <= chars:
        return flat
    head = flat[:chars]
    if " " in head:
        head = head.rsplit(" ", 1)[0]
    return head.rstrip(",;:") + "…"


def with_tracking(url: str) -> str:
    """The URL with the utm_* and fbclid parameters a social-media share adds."""
    parts = urlsplit(url)
    query = [
        *parse_qsl(parts.query, keep_blank_values=True),
        ("utm_source", "facebook"),
        ("utm_medium", "social"),
        ("utm_campaign", "wire-share"),
        ("fbclid", "IwAR0kuril1watch2fixture3"),
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


_AGENCY = {
    "latin": ("Tokyo", "Kyodo"),
    "cyrillic": ("Южно-Сахалинск", "ТАСС"),
    "cjk": ("根室", "共同"),
}


def _wire(copy: Copy) -> Copy:
    """Every change at once, as a regional paper running the wire would make them."""
    text = copy[1]
    place, agency = _AGENCY[_script(text)]
    body = with_typographic_quotes(with_dateline(cut_sentence(text, -1), place, agency))
    return lead_headline(text), with_footer(body, "Hokkaido Daily")


def _dateline(copy: Copy) -> Copy:
    place, agency = _AGENCY[_script(copy[1])]
    return copy[0], with_dateline(copy[1], place, agency)


STYLES: tuple[str, ...] = (
    "dateline",
    "footer",
    "typographic_quotes",
    "new_headline",
    "cut_last_sentence",
    "cut_middle_sentence",
    "wire",
)
"""The named syndication styles `syndicate` makes, each one change or ("wire") all of them."""


def syndicate(title: str, text: str, style: str) -> Copy:
    """A syndicated copy of (title, text) in the named style from `STYLES`.

    Raises:
        ValueError: If the style is not one of `STYLES`.
    """
    copy = (title, text)
    if style == "dateline":
        return _dateline(copy)
    if style == "footer":
        return title, with_footer(text, "Hokkaido Daily")
    if style == "typographic_quotes":
        return title, with_typographic_quotes(text)
    if style == "new_headline":
        return with_new_headline(copy, lead_headline(text))
    if style == "cut_last_sentence":
        return title, cut_sentence(text, -1)
    if style == "cut_middle_sentence":
        return title, cut_sentence(text, len(sentences(text)) // 2)
    if style == "wire":
        return _wire(copy)
    raise ValueError(f"unknown syndication style {style!r}; known: {', '.join(STYLES)}")

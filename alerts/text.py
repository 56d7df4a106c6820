"""Article text as the keyword matcher sees it: normalized, tokenized and indexed.

Query terms and article text are normalized the same way (`normalize`): Unicode NFKC, case
folding, `ё` -> `е`. `tokenize` drops punctuation and splits Latin, Cyrillic and other spaced
scripts into words on word boundaries; CJK text (kanji, kana, hangul) has no spaces, so every
CJK character is one token, and punctuation between two CJK characters is a gap that no
phrase crosses. `TextIndex` holds one article's tokens sentence by sentence (the sentences
come from `alerts.rules.split_sentences`) with an inverted index; it decides which tokens a
term's pattern finds, keeps phrases and proximity from running from one sentence into the
next, and gives the windows of consecutive sentences as bit masks for `alerts.query` to
evaluate queries over.

The query language itself is described in `alerts.query`. Nothing here touches IO.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from alerts.morphology import fold_variants

__all__ = ["Span", "TextIndex", "normalize", "tokenize"]

_CJK = "\u3005\u3006\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_WORD_RE = re.compile(r"[^\W_]+")
CJK_RE = re.compile(f"[{_CJK}]")
CJK_SPLIT_RE = re.compile(f"[{_CJK}]|[^{_CJK}]+")
_RUN_RE = re.compile(f"[{_CJK}]+|[^{_CJK}]+")

Span = tuple[int, int]
"""An occurrence: the positions of its first and last token, both inclusive."""


def normalize(text: str) -> str:
    """Return `text` as the matcher compares it.

    NFKC, case-folded, `ё` as `е`, and the Japanese variant spellings of the islands' names
    folded (`alerts.morphology.fold_variants`).
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return fold_variants(unicodedata.normalize("NFKC", folded).replace("ё", "е"))


def tokenize(text: str) -> list[tuple[str, bool]]:
    """Split normalized text into tokens.

    Args:
        text: Text already passed through `normalize`.

    Returns:
        `(token, gap)` pairs; `gap` is True where punctuation separates two CJK characters
        (a phrase may not cross it).
    """
    out: list[tuple[str, bool]] = []
    gap = False
    for token in _sequence(text)[0]:
        if token:
            out.append((token, gap))
        gap = not token
    return out


GAP = "\x00"
"""In `TextIndex.chars`, a token that is not a CJK character (a word, a gap, a sentence break)."""


def _sequence(text: str) -> tuple[list[str], str, list[int]]:
    """The tokens of normalized `text`, with "" where punctuation separates CJK characters.

    Returns:
        The tokens; one character per token, the CJK character itself or `GAP`; and the
        offsets of the tokens that are words (not CJK characters, not gaps).
    """
    if not CJK_RE.search(text):  # no CJK character: every token is a word
        seq = _WORD_RE.findall(text)
        return seq, GAP * len(seq), list(range(len(seq)))
    seq = []
    chars: list[str] = []
    words: list[int] = []
    prev_cjk_end = -1
    for m in _WORD_RE.finditer(text):
        word = m.group()
        if not CJK_RE.search(word):
            words.append(len(seq))
            seq.append(word)
            chars.append(GAP)
            prev_cjk_end = -1
            continue
        for run in _RUN_RE.finditer(word):
            piece = run.group()
            if CJK_RE.match(piece):
                start = m.start() + run.start()
                if prev_cjk_end >= 0 and text[prev_cjk_end:start].strip():
                    seq.append("")
                    chars.append(GAP)
                seq.extend(piece)  # every CJK character is a token
                chars.append(piece)
                prev_cjk_end = start + len(piece)
            else:
                words.append(len(seq))
                seq.append(piece)
                chars.append(GAP)
                prev_cjk_end = -1
    return seq, "".join(chars), words


class TextIndex:
    """The tokens of one article, sentence by sentence, with an inverted index.

    Built once per article and queried by every query. Positions run over the whole
    article; `sentence_of` maps each position to its sentence. Lookups are cached, so a
    term that several queries share is resolved once.
    """

    __slots__ = (
        "_cache",
        "_chars",
        "_index",
        "_joined",
        "_starts",
        "_vocab",
        "_words",
        "memo",
        "sentence_of",
        "sentences",
        "tokens",
    )

    def __init__(self) -> None:
        """Create an empty index; fill it with `add_sentence`."""
        self.tokens: list[str] = []
        self.sentence_of: list[int] = []
        self.sentences = 0
        self._starts: list[int] = []
        self._index: dict[str, list[int]] = {}  # words; CJK characters are in `chars`
        self._chars: list[str] = []
        self._joined: str | None = None
        self._vocab: list[str] | None = None
        self._words: frozenset[str] | None = None
        self._cache: dict[object, Any] = {}
        self.memo: dict[object, Any] = {}
        """What the query nodes worked out for this article, by node (and window size)."""

    def add_sentence(self, text: str) -> bool:
        """Append raw `text` as the next sentence; False, adding nothing, if it has no words."""
        seq, chars, words = _sequence(normalize(text))
        if not seq:
            return False
        number = self.sentences
        self.sentences += 1
        self._starts.append(len(self.tokens))
        if number:  # an empty slot keeps phrases from running from one sentence into the next
            seq.insert(0, "")
            chars = GAP + chars
            words = [offset + 1 for offset in words]
        index, base = self._index, len(self.tokens)
        for offset in words:
            token = seq[offset]
            found = index.get(token)
            if found is None:
                index[token] = [base + offset]
            else:
                found.append(base + offset)
        self.tokens.extend(seq)
        self._chars.append(chars)
        self.sentence_of.extend([number] * len(seq))
        self._vocab = None
        self._words = None
        self._joined = None
        return True

    @property
    def chars(self) -> str:
        """One character per token: the CJK character itself, or `GAP` for any other token."""
        if self._joined is None:
            self._joined = "".join(self._chars)
        return self._joined

    @property
    def vocabulary(self) -> frozenset[str]:
        """Every distinct token of the article."""
        if self._words is None:
            self._words = frozenset(self._index).union(self.chars)
        return self._words

    def positions(self, pattern: TermPattern) -> list[int]:
        """Sorted positions of the tokens that `pattern` matches."""
        if pattern.forms is not None:
            return self.word_positions(pattern.forms)
        if pattern.prefix is None:
            if len(pattern.text) == 1 and CJK_RE.match(pattern.text):
                return self.find(pattern.text)
            return self._index.get(pattern.text, [])
        if self._vocab is None:
            self._vocab = sorted(self._index)
        start = bisect.bisect_left(self._vocab, pattern.prefix)
        found: list[int] = []
        for word in self._vocab[start:]:
            if not word.startswith(pattern.prefix):
                break
            if pattern.regex is None or pattern.regex.fullmatch(word):
                found.extend(self._index[word])
        found.sort()
        return found

    def find(self, cjk: str) -> list[int]:
        """Positions where the run of CJK characters `cjk` begins, in order."""
        key = ("find", cjk)
        done: list[int] | None = self._cache.get(key)
        if done is None:
            done, chars, at = [], self.chars, self.chars.find(cjk)
            while at >= 0:
                done.append(at)
                at = chars.find(cjk, at + 1)
            self._cache[key] = done
        return done

    def window_positions(self, start: int, size: int) -> Span:
        """The first and last token position of sentences `start` to `start + size - 1`."""
        end = start + size
        stop = self._starts[end] if end < self.sentences else len(self.tokens)
        return self._starts[start], stop - 1

    def all_windows(self, size: int) -> int:
        """The bit mask of every window of `size` sentences (bit i: the window starting at i)."""
        return (1 << max(self.sentences - size + 1, 0)) - 1

    def word_positions(self, forms: frozenset[str]) -> list[int]:
        """Sorted positions of the words (not CJK characters) that are one of `forms`."""
        done: list[int] | None = self._cache.get(forms)
        if done is None:
            index = self._index
            found = [index[form] for form in index.keys() & forms]  # a C loop over `forms`
            if len(found) == 1:
                done = found[0]
            else:
                done = sorted(p for positions in found for p in positions)
            self._cache[forms] = done
        return done

    def window_mask(self, spans: list[Span], size: int) -> int:
        """The windows of `size` sentences that hold at least one of `spans`."""
        return self.window_mask_at([start for start, _ in spans], size)

    def window_mask_at(self, positions: list[int], size: int) -> int:
        """The windows of `size` sentences that hold at least one of `positions`."""
        inside = 0  # the sentences holding a position
        sentence_of = self.sentence_of
        for position in positions:
            inside |= 1 << sentence_of[position]
        mask = inside
        for shift in range(1, size):
            mask |= inside >> shift
        return mask & self.all_windows(size)


@dataclass(frozen=True, slots=True)
class TermPattern:
    """One token of a term: exact text, its inflected forms, or a wildcard.

    `forms` (a bare word's inflections, `alerts.morphology.word_forms`) matches any of them
    exactly; a wildcard is a literal prefix plus a regex; otherwise `text` matches exactly.
    """

    text: str
    prefix: str | None = None
    regex: re.Pattern[str] | None = None
    forms: frozenset[str] | None = None

    @classmethod
    def of(cls, token: str) -> TermPattern:
        if "*" not in token and "?" not in token:
            return cls(token)
        prefix = re.split(r"[*?]", token, maxsplit=1)[0]
        if token == prefix + "*":
            return cls(token, prefix)
        body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in token)
        return cls(token, prefix, re.compile(body))

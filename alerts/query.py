"""The keyword query language: parse with luqum, compile once, evaluate over token windows.

A query is a boolean keyword query in the syntax media-monitoring users know. Parsing uses
luqum (Lucene syntax); the parse tree is compiled once into a small matcher tree that is then
evaluated against an indexed article (`TextIndex`) any number of times. Semantics, in order:

1. Normalization. Query terms and article text are normalized the same way: Unicode NFKC,
   case folding, `ё` -> `е`. Punctuation is dropped. Latin, Cyrillic and other spaced
   scripts are split into words on word boundaries (`anti-ship` -> `anti`, `ship`;
   `Russia's` -> `russia`, `s`). CJK text (kanji, kana, hangul) has no spaces, so every
   CJK character is one token; a CJK term therefore matches as a substring of the CJK text,
   but never across punctuation such as `、` or `」`.
2. Terms. A bare term matches the exact normalized token; there is no stemming in any
   language (a Russian stemmer would conflate `Курилы` with `курил`, "smoked"); inflections
   are written with wildcards. `*` matches any run of characters and `?` one character, at
   any place in a word (`учени*` matches `учения`, `учениях`, `учений`). A wildcard next to
   CJK characters is ignored: CJK terms already match as substrings. A term that normalizes
   to several tokens (`anti-ship`, `S-400`, `北方領土`) matches them as a phrase.
3. Phrases. `"lodged a protest"` matches the tokens in order, adjacent. Neither a phrase
   nor a proximity match ever runs from one sentence into the next.
4. Proximity. `"a b"~n` and `a NEAR/n b` match when an occurrence of each operand lies in
   a span of one sentence holding at most n other tokens, in any order (for CJK, n counts
   characters). `"a b"~0` is the exact phrase, a bare `~` is `~1`. NEAR binds tighter
   than every other operator, `a NEAR/3 b AND c` is `(a NEAR/3 b) AND c`, and chains nest
   to the left. The operands of NEAR are terms, phrases, proximity phrases, NEAR groups,
   or parenthesized OR groups of these; `NEAR/n` is case-insensitive.
5. Boolean operators. `AND`, `OR` and `NOT` (upper case, as in Lucene; `-term` is `NOT
   term`, `+term` is `term`), parentheses to group. `AND` binds tighter than `OR`; bare
   juxtaposition means AND and binds loosest of all: `a b OR c` is `a AND (b OR c)`.
6. Scope. A compiled query is evaluated over a window of consecutive sentences (see
   `alerts.rules` for the windows the rules use); `NOT` excludes only within that window.

Field searches (`title:x`), ranges, regular expressions, fuzzy terms (`x~2`) and boosts
(`x^2`) are rejected with a `RuleError` naming the rule, the 1-based column in the query as
the user wrote it, and what was expected. Nothing here touches IO.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from luqum import tree
from luqum.exceptions import IllegalCharacterError, ParseSyntaxError
from luqum.parser import lexer as _luqum_lexer
from luqum.thread import parse as _luqum_parse

from kurilwatch.errors import RuleError

__all__ = ["CompiledQuery", "TextIndex", "compile_query", "normalize", "tokenize"]

_CJK = "\u3005\u3006\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_WORD_RE = re.compile(r"[^\W_]+")
_CJK_RE = re.compile(f"[{_CJK}]")
_CJK_SPLIT_RE = re.compile(f"[{_CJK}]|[^{_CJK}]+")
_QUERY_WORD_RE = re.compile(r"(?:[^\W_]|[*?])+")
_NEAR_RE = re.compile(r"NEAR/(\d+)", re.IGNORECASE)

_T = TypeVar("_T")
Span = tuple[int, int]
"""An occurrence: the positions of its first and last token, both inclusive."""


def normalize(text: str) -> str:
    """Return `text` as the matcher compares it: NFKC, case-folded, `ё` as `е`."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return unicodedata.normalize("NFKC", folded).replace("ё", "е")


def tokenize(text: str) -> list[tuple[str, bool]]:
    """Split normalized text into tokens.

    Args:
        text: Text already passed through `normalize`.

    Returns:
        `(token, gap)` pairs; `gap` is True where punctuation separates two CJK characters
        (a phrase may not cross it).
    """
    out: list[tuple[str, bool]] = []
    prev_cjk_end = -1
    for m in _WORD_RE.finditer(text):
        word = m.group()
        if not _CJK_RE.search(word):
            out.append((word, False))
            prev_cjk_end = -1
            continue
        for part in _CJK_SPLIT_RE.finditer(word):
            start = m.start() + part.start()
            if len(part.group()) == 1 and _CJK_RE.match(part.group()):
                gap = prev_cjk_end >= 0 and bool(text[prev_cjk_end:start].strip())
                out.append((part.group(), gap))
                prev_cjk_end = start + 1
            else:
                out.append((part.group(), False))
                prev_cjk_end = -1
    return out


class TextIndex:
    """The tokens of one article, sentence by sentence, with an inverted index.

    Built once per article and queried by every query. Positions run over the whole
    article; `sentence_of` maps each position to its sentence. Lookups are cached, so a
    term that several queries share is resolved once.
    """

    __slots__ = ("_cache", "_index", "_starts", "_vocab", "sentence_of", "sentences", "tokens")

    def __init__(self) -> None:
        """Create an empty index; fill it with `add_sentence`."""
        self.tokens: list[str] = []
        self.sentence_of: list[int] = []
        self.sentences = 0
        self._starts: list[int] = []
        self._index: dict[str, list[int]] = {}
        self._vocab: list[str] | None = None
        self._cache: dict[object, Any] = {}

    def add_sentence(self, text: str) -> bool:
        """Append raw `text` as the next sentence; False, adding nothing, if it has no words."""
        tokens = tokenize(normalize(text))
        if not tokens:
            return False
        number = self.sentences
        self.sentences += 1
        self._starts.append(len(self.tokens))
        if number:
            self._slot(number)  # phrases never run from one sentence into the next
        for token, gap in tokens:
            if gap:
                self._slot(number)  # nor across punctuation between CJK characters
            self._index.setdefault(token, []).append(len(self.tokens))
            self.tokens.append(token)
            self.sentence_of.append(number)
        self._vocab = None
        return True

    def _slot(self, sentence: int) -> None:
        self.tokens.append("")
        self.sentence_of.append(sentence)

    def positions(self, pattern: _Pattern) -> list[int]:
        """Sorted positions of the tokens that `pattern` matches."""
        if pattern.prefix is None:
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

    def window_positions(self, start: int, size: int) -> Span:
        """The first and last token position of sentences `start` to `start + size - 1`."""
        end = start + size
        stop = self._starts[end] if end < self.sentences else len(self.tokens)
        return self._starts[start], stop - 1

    def all_windows(self, size: int) -> int:
        """The bit mask of every window of `size` sentences (bit i: the window starting at i)."""
        return (1 << max(self.sentences - size + 1, 0)) - 1

    def window_mask(self, spans: list[Span], size: int) -> int:
        """The windows of `size` sentences that hold at least one of `spans`."""
        inside = 0  # the sentences holding a span (no span crosses sentences)
        for start, _ in spans:
            inside |= 1 << self.sentence_of[start]
        mask = inside
        for shift in range(1, size):
            mask |= inside >> shift
        return mask & self.all_windows(size)

    def memo(self, key: object) -> Any:
        """The value computed earlier under `key`, or None."""
        return self._cache.get(key)

    def keep(self, key: object, value: _T) -> _T:
        """Remember `value` under `key` for this article and return it."""
        self._cache[key] = value
        return value


@dataclass(frozen=True, slots=True)
class _Pattern:
    """One token of a term: exact text, or a wildcard as a literal prefix plus a regex."""

    text: str
    prefix: str | None = None
    regex: re.Pattern[str] | None = None

    @classmethod
    def of(cls, token: str) -> _Pattern:
        if "*" not in token and "?" not in token:
            return cls(token)
        prefix = re.split(r"[*?]", token, maxsplit=1)[0]
        if token == prefix + "*":
            return cls(token, prefix)
        body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in token)
        return cls(token, prefix, re.compile(body))


# ---------------------------------------------------------------- the matcher tree


@dataclass(frozen=True, slots=True)
class _Term:
    """A word or phrase: its tokens adjacent and in order."""

    text: str
    patterns: tuple[_Pattern, ...]
    positional = True

    def spans(self, idx: TextIndex) -> list[Span]:
        key = ("spans", self.patterns)
        found: list[Span] | None = idx.memo(key)
        if found is not None:
            return found
        first = idx.positions(self.patterns[0])
        if len(self.patterns) == 1:
            return idx.keep(key, [(p, p) for p in first])
        rest = [set(idx.positions(p)) for p in self.patterns[1:]]
        found = [
            (p, p + len(rest))
            for p in first
            if all(p + i + 1 in positions for i, positions in enumerate(rest))
        ]
        return idx.keep(key, found)

    def mask(self, idx: TextIndex, size: int) -> int:
        return _memo_mask(self, ("mask", self.patterns, size), idx, size)

    def matched(self, idx: TextIndex, start: int, size: int) -> Iterator[str]:
        if self.mask(idx, size) >> start & 1:
            yield self.text

    def within(self, idx: TextIndex, lo: int, hi: int) -> Iterator[str]:
        if _spans_within(self.spans(idx), lo, hi):
            yield self.text


@dataclass(frozen=True, slots=True, eq=False)
class _Near:
    """Operands within a span holding at most `slop` other tokens, in any order."""

    operands: tuple[_Node, ...]
    slop: int
    text: str | None = None  # set for a proximity phrase, reported as one term
    positional = True

    def spans(self, idx: TextIndex) -> list[Span]:
        key = ("spans", id(self))
        done: list[Span] | None = idx.memo(key)
        if done is not None:
            return done
        lists = [_spans_of(op, idx) for op in self.operands]
        if not all(lists):
            return idx.keep(key, [])
        lengths = [min(e - s + 1 for s, e in spans) for spans in lists]
        limit = sum(lengths) + self.slop  # no match spans more tokens than this
        partial = {(s, e, e - s + 1) for s, e in lists[0]}
        for spans in lists[1:]:
            starts = [s for s, _ in spans]
            grown: set[tuple[int, int, int]] = set()
            for s0, e0, covered in partial:
                for s1, e1 in spans[bisect.bisect_left(starts, e0 - limit + 1) :]:
                    if s1 > s0 + limit:
                        break
                    s, e = min(s0, s1), max(e0, e1)
                    if e - s + 1 <= limit:
                        grown.add((s, e, covered + e1 - s1 + 1))
            partial = grown
        sentence_of = idx.sentence_of
        found = sorted(
            {
                (s, e)
                for s, e, covered in partial
                if e - s + 1 - covered <= self.slop and sentence_of[s] == sentence_of[e]
            }
        )
        return idx.keep(key, found)

    def mask(self, idx: TextIndex, size: int) -> int:
        return _memo_mask(self, ("mask", id(self), size), idx, size)

    def matched(self, idx: TextIndex, start: int, size: int) -> Iterator[str]:
        if self.mask(idx, size) >> start & 1:
            yield from self.within(idx, *idx.window_positions(start, size))

    def within(self, idx: TextIndex, lo: int, hi: int) -> Iterator[str]:
        for s, e in _spans_within(self.spans(idx), lo, hi):
            if self.text is not None:
                yield self.text
                return
            for op in self.operands:  # only the terms that make up this occurrence
                if isinstance(op, (_Term, _Near, _Or)):
                    yield from op.within(idx, s, e)


@dataclass(frozen=True, slots=True, eq=False)
class _Or:
    """Any child."""

    children: tuple[_Node, ...]
    positional: bool = False

    def spans(self, idx: TextIndex) -> list[Span]:
        key = ("spans", id(self))
        done: list[Span] | None = idx.memo(key)
        if done is not None:
            return done
        return idx.keep(key, sorted({s for c in self.children for s in _spans_of(c, idx)}))

    def mask(self, idx: TextIndex, size: int) -> int:
        mask = 0
        for c in self.children:
            mask |= c.mask(idx, size)
        return mask

    def matched(self, idx: TextIndex, start: int, size: int) -> Iterator[str]:
        for c in self.children:
            if c.mask(idx, size) >> start & 1:  # only the branches that hold
                yield from c.matched(idx, start, size)

    def within(self, idx: TextIndex, lo: int, hi: int) -> Iterator[str]:
        for c in self.children:
            if isinstance(c, (_Term, _Near, _Or)):
                yield from c.within(idx, lo, hi)


@dataclass(frozen=True, slots=True, eq=False)
class _And:
    """Every child."""

    children: tuple[_Node, ...]
    positional = False

    def mask(self, idx: TextIndex, size: int) -> int:
        mask = idx.all_windows(size)
        for c in self.children:
            mask &= c.mask(idx, size)
            if not mask:
                break
        return mask

    def matched(self, idx: TextIndex, start: int, size: int) -> Iterator[str]:
        for c in self.children:
            yield from c.matched(idx, start, size)


@dataclass(frozen=True, slots=True, eq=False)
class _Not:
    """Not the child, within the same window."""

    child: _Node
    positional = False

    def mask(self, idx: TextIndex, size: int) -> int:
        return idx.all_windows(size) & ~self.child.mask(idx, size)

    def matched(self, idx: TextIndex, start: int, size: int) -> Iterator[str]:
        return iter(())


_Node = _Term | _Near | _Or | _And | _Not


def _spans_of(node: _Node, idx: TextIndex) -> list[Span]:
    """The occurrences of a positional node (the compiler lets no other kind reach here)."""
    if isinstance(node, (_Term, _Near, _Or)):
        return node.spans(idx)
    raise TypeError(f"{type(node).__name__} has no positions")


def _spans_within(spans: list[Span], lo: int, hi: int) -> list[Span]:
    """The spans that lie inside positions `lo` to `hi`, both inclusive."""
    found = []
    for span in spans[bisect.bisect_left(spans, (lo, lo)) :]:
        if span[0] > hi:
            break
        if span[1] <= hi:
            found.append(span)
    return found


def _memo_mask(node: _Term | _Near, key: object, idx: TextIndex, size: int) -> int:
    done: int | None = idx.memo(key)
    if done is None:
        done = idx.keep(key, idx.window_mask(node.spans(idx), size))
    return done


@dataclass(frozen=True, slots=True)
class CompiledQuery:
    """A parsed and compiled query, ready to evaluate over any number of articles."""

    name: str
    source: str
    root: _Node = field(repr=False, compare=False)

    def windows(self, idx: TextIndex, size: int) -> int:
        """The windows of `size` sentences that satisfy the query, as a bit mask.

        Bit i is set when sentences i to i + size - 1 of `idx`, taken together, satisfy it.
        """
        return self.root.mask(idx, size)

    def matched_terms(self, idx: TextIndex, start: int, size: int) -> tuple[str, ...]:
        """The query's terms, as written, that count for its match in one window."""
        return tuple(dict.fromkeys(self.root.matched(idx, start, size)))


# ---------------------------------------------------------------- parsing and compiling


def compile_query(query: str, *, name: str = "query") -> CompiledQuery:
    """Parse and compile a keyword query.

    Args:
        query: The query as the user wrote it.
        name: The rule name that error messages mention.

    Returns:
        The compiled query.

    Raises:
        RuleError: The query does not parse or uses syntax that is not supported; the
            message names the rule, the 1-based column and what was expected.
    """
    if not query.strip():
        raise RuleError(f"rule {name!r}: query is empty")
    rewritten, origin = _group_near(query, name)
    try:
        parsed = _luqum_parse(rewritten)
    except (ParseSyntaxError, IllegalCharacterError) as exc:
        raise _syntax_error(query, rewritten, origin, name, exc) from None
    return CompiledQuery(name=name, source=query, root=_Compiler(query, origin, name).node(parsed))


def _error(name: str, column: int, what: str) -> RuleError:
    return RuleError(f"rule {name!r}: query does not parse at column {column}: {what}")


def _lex(text: str, name: str) -> list[tuple[str, str, int, int]]:
    """Luqum's tokens of `text` as `(type, text, start, end)`."""
    lx = _luqum_lexer.clone()
    lx.input(text)
    out: list[tuple[str, str, int, int]] = []
    try:
        while (tok := lx.token()) is not None:
            out.append((tok.type, text[tok.lexpos : lx.lexpos], tok.lexpos, lx.lexpos))
    except IllegalCharacterError as exc:
        m = re.search(r"at position (\d+)", str(exc))
        pos = int(m.group(1)) if m else 0
        what = (
            "unterminated phrase, expected a closing '\"'"
            if text[pos:].startswith('"')
            else f"illegal character {text[pos]!r}"
        )
        raise _error(name, pos + 1, what) from None
    return out


def _group_near(query: str, name: str) -> tuple[str, list[int]]:
    """Wrap every `a NEAR/n b` in parentheses so that NEAR binds tightest.

    Luqum parses `NEAR/n` as a plain word joined by the implicit operator, which binds
    loosest; the parentheses give it its operands back. Returns the rewritten query and,
    for each of its characters (plus one past the end), the column in `query` it came from.
    """
    # [type, text, start, end, synthetic]: synthetic parentheses are the ones inserted here
    toks: list[list[Any]] = [[*t, False] for t in _lex(query, name)]
    i = 0
    while i < len(toks):
        kind, text, start, _, synthetic = toks[i]
        if synthetic or kind != "TERM" or not _NEAR_RE.fullmatch(text):
            i += 1
            continue
        left = _atom_start(toks, i - 1)
        right = _atom_end(toks, i + 1)
        if left is None or right is None:
            raise _error(name, start + 1, f"{text} needs a term, phrase or (group) on each side")
        toks.insert(right + 1, ["RPAREN", ")", toks[right][3], toks[right][3], True])
        toks.insert(left, ["LPAREN", "(", toks[left][2], toks[left][2], True])
        i += 2
    out: list[str] = []
    origin: list[int] = []
    cursor = 0
    for kind, text, start, end, synthetic in toks:
        if not synthetic or kind == "LPAREN":
            out.append(query[cursor:start])
            origin.extend(range(cursor, start))
            cursor = start
        out.append(text)
        origin.extend([start] * len(text) if synthetic else range(start, end))
        cursor = max(cursor, end)
    out.append(query[cursor:])
    origin.extend(range(cursor, len(query) + 1))
    return "".join(out), origin


def _atom_start(toks: list[list[Any]], j: int) -> int | None:
    """Index of the first token of the operand that ends at token `j`."""
    if j >= 0 and toks[j][0] in ("APPROX", "BOOST"):
        j -= 1
    if j < 0:
        return None
    kind, text = toks[j][0], toks[j][1]
    if kind == "RPAREN":
        depth = 0
        for k in range(j, -1, -1):
            depth += {"RPAREN": 1, "LPAREN": -1}.get(toks[k][0], 0)
            if depth == 0:
                return k
        return None
    if kind == "PHRASE" or (kind == "TERM" and not _NEAR_RE.fullmatch(text)):
        return j
    return None


def _atom_end(toks: list[list[Any]], j: int) -> int | None:
    """Index of the last token of the operand that starts at token `j`."""
    if j >= len(toks):
        return None
    kind, text = toks[j][0], toks[j][1]
    if kind == "LPAREN":
        depth = 0
        for k in range(j, len(toks)):
            depth += {"LPAREN": 1, "RPAREN": -1}.get(toks[k][0], 0)
            if depth == 0:
                return k
        return None
    if kind == "PHRASE" or (kind == "TERM" and not _NEAR_RE.fullmatch(text)):
        while j + 1 < len(toks) and toks[j + 1][0] in ("APPROX", "BOOST"):
            j += 1
        return j
    return None


def _syntax_error(
    query: str, rewritten: str, origin: list[int], name: str, exc: Exception
) -> RuleError:
    message = str(exc)
    m = re.search(r"unexpected\s+'(.*)' at position (\d+)", message)
    if m is None:
        opened: list[int] = []
        for kind, _, start, _ in _lex(rewritten, name):
            if kind == "LPAREN":
                opened.append(start)
            elif kind == "RPAREN" and opened:
                opened.pop()
        what = "unexpected end of query, expected "
        if opened:
            what += f"')' to close the '(' at column {origin[opened[-1]] + 1}"
        else:
            what += "a term, phrase or '(' after the last operator"
        return _error(name, len(query) + 1, what)
    pos = int(m.group(2))
    before = [t for t in _lex(rewritten[:pos], name) if t[0] != "APPROX"]
    what = f"unexpected {m.group(1)!r}"
    if not before or before[-1][0] in ("AND_OP", "OR_OP", "NOT", "LPAREN", "PLUS", "MINUS"):
        what += ", expected a term, phrase or '('"
        if before:
            what += f" after {before[-1][1]!r}"
    return _error(name, origin[pos] + 1, what)


class _Compiler:
    """Turns a luqum tree into matcher nodes, reporting columns of the original query."""

    def __init__(self, query: str, origin: list[int], name: str) -> None:
        self.query = query
        self.origin = origin
        self.name = name

    def fail(self, node: tree.Item, what: str) -> RuleError:
        pos = getattr(node, "pos", None) or 0
        return _error(self.name, self.origin[min(pos, len(self.origin) - 1)] + 1, what)

    def written(self, node: tree.Item) -> str:
        start = self.origin[node.pos]
        end = self.origin[min(node.pos + node.size, len(self.origin) - 1)]
        return self.query[start:end]

    def node(self, item: tree.Item) -> _Node:
        if isinstance(item, tree.Group):
            return self.node(item.children[0])
        if isinstance(item, tree.Word):
            if _NEAR_RE.fullmatch(item.value):
                raise self.fail(item, f"{item.value} needs a term, phrase or (group) on each side")
            return self.term(item, item.value)
        if isinstance(item, tree.Phrase):
            return self.phrase(item, 0)
        if isinstance(item, tree.Proximity):
            return self.phrase(item.term, int(item.degree), self.written(item))  # bare ~ is 1
        if isinstance(item, tree.OrOperation):
            children = tuple(self.node(c) for c in item.children)
            return _Or(children, positional=all(c.positional for c in children))
        if isinstance(item, tree.AndOperation):
            return _And(tuple(self.node(c) for c in item.children))
        if isinstance(item, tree.UnknownOperation):
            return self.implicit(list(item.children))
        if isinstance(item, (tree.Not, tree.Prohibit)):
            return _Not(self.node(item.a))
        if isinstance(item, tree.Plus):
            return self.node(item.a)
        if isinstance(item, tree.SearchField):
            raise self.fail(item, "field searches ('name:') are not supported; use `where`")
        if isinstance(item, tree.Fuzzy):
            raise self.fail(item, "fuzzy terms ('word~n') are not supported; use a wildcard")
        if isinstance(item, tree.Boost):
            raise self.fail(item, "boosts ('^n') are not supported")
        if isinstance(item, tree.Regex):
            raise self.fail(item, "regular expressions are not supported; use a wildcard")
        raise self.fail(item, f"unsupported syntax {self.written(item)!r}")

    def implicit(self, items: list[tree.Item]) -> _Node:
        nodes: list[_Node] = []
        i = 0
        while i < len(items):
            item = items[i]
            m = _NEAR_RE.fullmatch(item.value) if isinstance(item, tree.Word) else None
            if m is None:
                nodes.append(self.node(item))
                i += 1
                continue
            if not nodes or i + 1 >= len(items):
                raise self.fail(item, f"{item.value} needs a term, phrase or (group) on each side")
            left, right = nodes.pop(), self.node(items[i + 1])
            for operand, source in ((left, items[i - 1]), (right, items[i + 1])):
                if not operand.positional:
                    raise self.fail(
                        source, f"{item.value} operands must be terms, phrases or OR groups of them"
                    )
            nodes.append(_Near((left, right), int(m.group(1))))
            i += 2
        return nodes[0] if len(nodes) == 1 else _And(tuple(nodes))

    def term(self, item: tree.Item, text: str) -> _Term:
        patterns: list[_Pattern] = []
        for m in _QUERY_WORD_RE.finditer(normalize(text)):
            word = m.group()
            if _CJK_RE.search(word):  # substring semantics: wildcards add nothing
                literal = word.replace("*", "").replace("?", "")
                patterns.extend(_Pattern(p.group()) for p in _CJK_SPLIT_RE.finditer(literal))
            elif word.strip("*?"):
                patterns.append(_Pattern.of(word))
            else:
                raise self.fail(item, f"wildcard {word!r} needs at least one letter or digit")
        if not patterns:
            hint = "; use AND" if text == "&&" else "; use OR" if text == "||" else ""
            raise self.fail(item, f"term {text!r} has no letters or digits{hint}")
        return _Term(self.written(item), tuple(patterns))

    def phrase(self, item: tree.Item, slop: int, written: str | None = None) -> _Node:
        inner = item.value[1:-1]
        if slop == 0:
            return self.term(item, inner)
        units = tuple(self.term(item, unit) for unit in inner.split())
        if len(units) < 2:
            return units[0] if units else self.term(item, inner)
        return _Near(units, slop, written or self.written(item))

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
2. Terms. A bare word matches every inflected form of it: in Russian every case, number,
   tense and participle of the words it is the dictionary form of (`учение` matches
   `учения`, `учениях`; `протестовать` matches `протестовали`, `протестующих`), in English
   its plural and verb forms (`protest` matches `protests`, `protested`, `protesting`), by
   the dictionaries of `alerts.morphology`; a word written inflected stands for its
   dictionary forms. Derived words are other words (`training` is not `train`). A quoted
   word or phrase matches exactly the forms written, as Elasticsearch's `quote_field_suffix`
   does (`"курилы"` matches `Курилы`, not the `курил` of "smoked", which is also a form of
   it). `*` matches any run of characters and `?` one character, at any place in a word
   (`учени*`), on the forms as written. Japanese matches on characters: a CJK term matches as
   a substring of the CJK text, its wildcards ignored, with the islands' katakana names
   folded to kanji (`エトロフ` is `択捉`). A term that normalizes to several tokens
   (`anti-ship`, `S-400`, `北方領土`) matches them as a phrase.
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
the user wrote it, and what was expected. Normalization, tokens and the per-article index
are in `alerts.text`; the NEAR rewrite and the columns of syntax errors are in
`alerts.syntax`. Nothing here touches IO.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from luqum import tree
from luqum.exceptions import IllegalCharacterError, ParseSyntaxError
from luqum.thread import parse as _luqum_parse

from alerts.morphology import word_forms
from alerts.syntax import NEAR_RE, group_near, rule_error, syntax_error
from alerts.text import CJK_RE, CJK_SPLIT_RE, Span, TermPattern, TextIndex, normalize, tokenize
from kurilwatch.errors import RuleError

__all__ = ["CompiledQuery", "TextIndex", "compile_query", "normalize", "tokenize"]

_QUERY_WORD_RE = re.compile(r"(?:[^\W_]|[*?])+")


# ---------------------------------------------------------------- the matcher tree


@dataclass(frozen=True, slots=True, eq=False)
class _Term:
    """A word or phrase: its tokens adjacent and in order."""

    text: str
    patterns: tuple[TermPattern, ...]
    needs: frozenset[str] | None = field(init=False, repr=False)
    _exact: tuple[str, ...] | None = field(init=False, repr=False)
    _all: frozenset[str] = field(init=False, repr=False)
    _cjk: str | None = field(init=False, repr=False)  # a run of CJK characters, found as such
    word: frozenset[str] | None = field(init=False, repr=False)  # one plain word: its forms
    positional = True

    def __post_init__(self) -> None:
        first = self.patterns[0]
        needs = first.forms or (frozenset({first.text}) if first.prefix is None else None)
        object.__setattr__(self, "needs", needs)
        exact = all(p.prefix is None and p.forms is None for p in self.patterns)
        object.__setattr__(self, "_exact", tuple(p.text for p in self.patterns) if exact else None)
        object.__setattr__(self, "_all", frozenset(self._exact or ()))
        cjk = self._exact is not None and all(len(t) == 1 and CJK_RE.match(t) for t in self._exact)
        object.__setattr__(self, "_cjk", "".join(self._exact or ()) if cjk else None)
        plain = len(self.patterns) == 1 and first.prefix is None and not CJK_RE.match(first.text)
        object.__setattr__(self, "word", needs if plain else None)

    def spans(self, idx: TextIndex) -> list[Span]:
        found: list[Span] | None = idx.memo.get(self)
        if found is None:
            found = idx.memo[self] = self._spans(idx)
        return found

    def _spans(self, idx: TextIndex) -> list[Span]:
        if _absent(self, idx):
            return []
        if self._cjk is not None:
            last = len(self._cjk) - 1
            return [(p, p + last) for p in idx.find(self._cjk)]
        if len(self.patterns) == 1:
            return [(p, p) for p in idx.positions(self.patterns[0])]
        size = len(self.patterns) - 1
        if self._exact is not None:  # look around the rarest token
            if not self._all <= idx.vocabulary:
                return []
            lists = [idx.positions(p) for p in self.patterns]
            rarest = min(range(len(lists)), key=lambda n: len(lists[n]))
            tokens, texts = idx.tokens, list(self._exact)
            found = [
                (p - rarest, p - rarest + size)
                for p in lists[rarest]
                if tokens[p - rarest : p - rarest + size + 1] == texts
            ]
            return found
        sets = [set(idx.positions(p)) for p in self.patterns[1:]]
        found = [
            (p, p + size)
            for p in idx.positions(self.patterns[0])
            if all(p + i + 1 in positions for i, positions in enumerate(sets))
        ]
        return found

    def mask(self, idx: TextIndex, size: int) -> int:
        return _memo_mask(self, idx, size)

    def matched(self, idx: TextIndex, start: int, size: int) -> Iterator[str]:
        yield from self.within(idx, *idx.window_positions(start, size))

    def within(self, idx: TextIndex, lo: int, hi: int) -> Iterator[str]:
        if self.word is not None:  # one token: a position is a span
            positions = idx.word_positions(self.word)
            at = bisect.bisect_left(positions, lo)
            if at < len(positions) and positions[at] <= hi:
                yield self.text
            return
        for span in self.spans(idx)[bisect.bisect_left(self.spans(idx), (lo, lo)) :]:
            if span[0] > hi:
                return
            if span[1] <= hi:
                yield self.text
                return


@dataclass(frozen=True, slots=True, eq=False)
class _Near:
    """Operands within a span holding at most `slop` other tokens, in any order."""

    operands: tuple[_Node, ...]
    slop: int
    text: str | None = None  # set for a proximity phrase, reported as one term
    needs: frozenset[str] | None = field(init=False, repr=False)
    positional = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "needs", _needs_all(self.operands))

    def spans(self, idx: TextIndex) -> list[Span]:
        found: list[Span] | None = idx.memo.get(self)
        if found is None:
            found = idx.memo[self] = self._spans(idx)
        return found

    def _spans(self, idx: TextIndex) -> list[Span]:
        if _absent(self, idx):
            return []
        lists = [_spans_of(op, idx) for op in self.operands]
        if not all(lists):
            return []
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
                    if s1 in (s0, e0) or e1 in (s0, e0):
                        continue  # one word never stands for two operands
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
        return found

    def mask(self, idx: TextIndex, size: int) -> int:
        return _memo_mask(self, idx, size)

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
    """Any child.

    Children that are one plain word (no wildcard, not CJK) are looked up together: their
    forms are one set, intersected with the article's words once, so an OR of many words
    costs one lookup rather than one per child.
    """

    children: tuple[_Node, ...]
    positional: bool = False
    needs: frozenset[str] | None = field(init=False, repr=False)
    _words: frozenset[str] = field(init=False, repr=False)  # the plain-word children's forms
    _rest: tuple[_Node, ...] = field(init=False, repr=False)  # the other children
    _tokens: frozenset[str] = field(init=False, repr=False)
    _by_token: dict[str, tuple[int, ...]] = field(init=False, repr=False)
    _always: tuple[int, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        words: set[str] = set()
        rest: list[_Node] = []
        for child in self.children:
            if isinstance(child, _Term) and child.word is not None:
                words |= child.word
            else:
                rest.append(child)
        by_token: dict[str, list[int]] = {}
        always = []
        for n, child in enumerate(rest):
            if child.needs is None:
                always.append(n)
            else:
                for token in child.needs:
                    by_token.setdefault(token, []).append(n)
        object.__setattr__(self, "needs", None if always else frozenset(by_token).union(words))
        object.__setattr__(self, "_words", frozenset(words))
        object.__setattr__(self, "_rest", tuple(rest))
        object.__setattr__(self, "_tokens", frozenset(by_token))
        object.__setattr__(self, "_by_token", {t: tuple(ns) for t, ns in by_token.items()})
        object.__setattr__(self, "_always", tuple(always))

    def live(self, idx: TextIndex) -> tuple[_Node, ...]:
        """The children that can match this article (the others lack every word they need)."""
        key = (self, "live")
        done: tuple[_Node, ...] | None = idx.memo.get(key)
        if done is not None:
            return done
        vocabulary = idx.vocabulary
        rest = {id(c) for c in self._live_rest(idx)}
        done = idx.memo[key] = tuple(
            c
            for c in self.children
            if id(c) in rest
            or (isinstance(c, _Term) and c.word and not c.word.isdisjoint(vocabulary))
        )
        return done

    def _live_rest(self, idx: TextIndex) -> list[_Node]:
        """The children other than plain words that can match this article."""
        key = (self, "rest")
        done: list[_Node] | None = idx.memo.get(key)
        if done is not None:
            return done
        numbers = set(self._always)
        for token in self._tokens & idx.vocabulary:
            numbers.update(self._by_token[token])
        done = idx.memo[key] = [self._rest[n] for n in sorted(numbers)]
        return done

    def spans(self, idx: TextIndex) -> list[Span]:
        done: list[Span] | None = idx.memo.get(self)
        if done is None:
            found = {(p, p) for p in idx.word_positions(self._words)}
            for c in self._live_rest(idx):
                found.update(_spans_of(c, idx))
            done = idx.memo[self] = sorted(found)
        return done

    def mask(self, idx: TextIndex, size: int) -> int:
        key = (self, size)
        done: int | None = idx.memo.get(key)
        if done is not None:
            return done
        mask = idx.window_mask_at(idx.word_positions(self._words), size)
        for c in self._live_rest(idx):
            mask |= c.mask(idx, size)
        idx.memo[key] = mask
        return mask

    def matched(self, idx: TextIndex, start: int, size: int) -> Iterator[str]:
        for c in self.live(idx):
            if isinstance(c, _Term) or c.mask(idx, size) >> start & 1:  # the branches that hold
                yield from c.matched(idx, start, size)

    def within(self, idx: TextIndex, lo: int, hi: int) -> Iterator[str]:
        for c in self.live(idx):
            if isinstance(c, (_Term, _Near, _Or)):
                yield from c.within(idx, lo, hi)


@dataclass(frozen=True, slots=True, eq=False)
class _And:
    """Every child."""

    children: tuple[_Node, ...]
    needs: frozenset[str] | None = field(init=False, repr=False)
    positional = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "needs", _needs_all(self.children))

    def mask(self, idx: TextIndex, size: int) -> int:
        if _absent(self, idx):
            return 0
        key = (self, size)
        done: int | None = idx.memo.get(key)
        if done is not None:
            return done
        mask = idx.all_windows(size)
        for c in self.children:
            mask &= c.mask(idx, size)
            if not mask:
                break
        idx.memo[key] = mask
        return mask

    def matched(self, idx: TextIndex, start: int, size: int) -> Iterator[str]:
        for c in self.children:
            yield from c.matched(idx, start, size)


@dataclass(frozen=True, slots=True, eq=False)
class _Not:
    """Not the child, within the same window."""

    child: _Node
    needs = None
    positional = False

    def mask(self, idx: TextIndex, size: int) -> int:
        return idx.all_windows(size) & ~self.child.mask(idx, size)

    def matched(self, idx: TextIndex, start: int, size: int) -> Iterator[str]:
        return iter(())


_Node = _Term | _Near | _Or | _And | _Not


def _needs_all(nodes: tuple[_Node, ...]) -> frozenset[str] | None:
    """Tokens of which a node that needs all of `nodes` needs at least one (None: unknown)."""
    known = [n.needs for n in nodes if n.needs is not None]
    return min(known, key=len) if known else None


def _absent(node: _Term | _Near | _Or | _And, idx: TextIndex) -> bool:
    """Whether the article lacks every token that `node` needs one of, so it cannot match.

    `needs` is worked out when the query is compiled: the tokens a term's first word can
    be, their union for an OR, the smallest of its operands' for a NEAR or an AND.
    """
    return node.needs is not None and node.needs.isdisjoint(idx.vocabulary)


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


def _memo_mask(node: _Term | _Near, idx: TextIndex, size: int) -> int:
    key = (node, size)
    done: int | None = idx.memo.get(key)
    if done is None:
        done = idx.memo[key] = idx.window_mask(node.spans(idx), size)
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
    rewritten, origin = group_near(query, name)
    try:
        parsed = _luqum_parse(rewritten)
    except (ParseSyntaxError, IllegalCharacterError) as exc:
        raise syntax_error(query, rewritten, origin, name, exc) from None
    return CompiledQuery(name=name, source=query, root=_Compiler(query, origin, name).node(parsed))


_GROUPS: dict[str, _Node] = {}
"""Parenthesized groups compiled so far, by their text: a definition used in many places
(`@islands`) is one node, so an article's index works its matches out once."""
_GROUPS_KEPT = 20_000


class _Compiler:
    """Turns a luqum tree into matcher nodes, reporting columns of the original query."""

    def __init__(self, query: str, origin: list[int], name: str) -> None:
        self.query = query
        self.origin = origin
        self.name = name

    def fail(self, node: tree.Item, what: str) -> RuleError:
        pos = getattr(node, "pos", None) or 0
        return rule_error(self.name, self.origin[min(pos, len(self.origin) - 1)] + 1, what)

    def written(self, node: tree.Item) -> str:
        start = self.origin[node.pos]
        end = self.origin[min(node.pos + node.size, len(self.origin) - 1)]
        return self.query[start:end]

    def node(self, item: tree.Item) -> _Node:
        if isinstance(item, tree.Group):  # the same group compiles to one shared node
            key = " ".join(self.written(item).split())
            done = _GROUPS.get(key)
            if done is None:
                if len(_GROUPS) > _GROUPS_KEPT:
                    _GROUPS.clear()
                done = _GROUPS[key] = self.node(item.children[0])
            return done
        if isinstance(item, tree.Word):
            if NEAR_RE.fullmatch(item.value):
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
            m = NEAR_RE.fullmatch(item.value) if isinstance(item, tree.Word) else None
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

    def term(self, item: tree.Item, text: str, *, exact: bool = False) -> _Term:
        patterns: list[TermPattern] = []
        for m in _QUERY_WORD_RE.finditer(normalize(text)):
            word = m.group()
            if CJK_RE.search(word):  # substring semantics: wildcards add nothing
                literal = word.replace("*", "").replace("?", "")
                patterns.extend(TermPattern(p.group()) for p in CJK_SPLIT_RE.finditer(literal))
            elif "*" in word or "?" in word:
                if not word.strip("*?"):
                    raise self.fail(item, f"wildcard {word!r} needs at least one letter or digit")
                patterns.append(TermPattern.of(word))
            elif exact:
                patterns.append(TermPattern(word))
            else:
                forms = word_forms(word)
                patterns.append(TermPattern(word, forms=forms if len(forms) > 1 else None))
        if not patterns:
            hint = "; use AND" if text == "&&" else "; use OR" if text == "||" else ""
            raise self.fail(item, f"term {text!r} has no letters or digits{hint}")
        return _Term(self.written(item), tuple(patterns))

    def phrase(self, item: tree.Item, slop: int, written: str | None = None) -> _Node:
        inner = item.value[1:-1]
        if slop == 0:
            return self.term(item, inner, exact=True)
        units = tuple(self.term(item, unit, exact=True) for unit in inner.split())
        if len(units) < 2:
            return units[0] if units else self.term(item, inner, exact=True)
        return _Near(units, slop, written or self.written(item))

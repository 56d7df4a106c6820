"""Alert rules: does an article concern the watched topic, and which events does it report.

The rules are keyword queries (see `alerts.query` for the language). An article is judged
in this order:

1. The article's title (if any) is one sentence; its text is split into paragraphs at line
   breaks and into sentences at `.`, `!`, `?`, `。`, `！`, `？` (not after abbreviations
   such as "Feb." or initials, not before a lower-case letter, not at a `。` that closes a
   quotation, as in `。」`).
   Sentences without a word are dropped.
2. Topic gate. The watch query is evaluated sentence by sentence over the title and the
   text: the article is on topic when at least one sentence satisfies it. A `NOT` in the
   watch therefore excludes a look-alike where it is written ("Kurile Lake") without
   dropping an article that also names the islands elsewhere. An article off topic has no
   events, whatever the rules say.
3. Event rules, in their configured order. A rule matches when some window of up to
   `window` (default 3) consecutive sentences of its `where` fields satisfies its query.
   The headline counts as a sentence with the lead as its context: a window may run from
   the title into the first sentences of the text (when a rule looks at both). The
   smallest window wins, then the earliest.
   Each matching rule adds its event once (events keep rule order, without repeats) and
   one `Evidence`: the sentences of that window (original text, whitespace collapsed, at
   most 3, each cut to about 400 characters) and the query terms, as written, that
   counted for the match in it.

Why windows of three sentences: the event and its object often sit in neighbouring
sentences ("Japan lodged a protest." after the sentence that names Kunashiri; Japanese wire
copy drops the object altogether: 「外交ルートを通じて抗議した」), while wider scopes join
unrelated sentences. The window is a scope, not a licence: the shipped rules also tie the act
to its place or its speaker inside one sentence (see `default_rules.yaml`). The measurements
behind the choice, with `python bench/eval_rules.py --window N --mix`, are in
`bench/README.md`.

Everything here is pure except `load_default_rules`, which reads the package's own
`default_rules.yaml`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any

import yaml

from alerts.definitions import expand, resolve
from alerts.query import CompiledQuery, compile_query
from alerts.text import TextIndex
from kurilwatch.config import YAML_LOADER, Settings
from kurilwatch.errors import RuleError
from kurilwatch.model import Evidence, Match, Rule

__all__ = [
    "CompiledQuery",
    "CompiledRule",
    "RuleSet",
    "compile_query",
    "compile_rules",
    "load_default_rules",
    "match_article",
    "rules_from_mapping",
    "split_sentences",
    "verdict",
]

DEFAULT_WINDOW = 3
"""Sentences an event rule may look across (see the module docstring)."""

FIELDS = ("title", "text")
SHIPPED = "alerts/default_rules.yaml"
EVIDENCE_SENTENCES = 3
EVIDENCE_CHARS = 400

_ABBREVIATIONS_TEXT = """
    mr mrs ms dr prof st gen lt col capt cmdr adm sgt gov sen rep jan feb mar apr jun jul aug
    sep sept oct nov dec no nos vol etc vs approx inc corp co ltd jr sr dept fig est
    г гг т тыс млн млрд руб ст им ул пр см напр др рис
"""
_ABBREVIATIONS = frozenset(_ABBREVIATIONS_TEXT.split())
_BOUNDARY = re.compile(r"(?P<latin>[.!?…]+[\"'»”’)\]]*)(?=\s)|(?P<cjk>[。！？]+)(?![」』）)”’])")
_LAST_WORD = re.compile(r"([^\W\d_]+)\W*$")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A configured rule with its compiled query."""

    rule: Rule
    query: CompiledQuery


@dataclass(frozen=True, slots=True)
class RuleSet:
    """The compiled topic gate and event rules, built once by `compile_rules`."""

    watch: CompiledQuery
    rules: tuple[CompiledRule, ...]
    window: int = DEFAULT_WINDOW
    watch_window: int = 1


@dataclass(frozen=True, slots=True)
class _Sentence:
    field: str
    text: str


def compile_rules(
    watch: str,
    rules: Sequence[Rule],
    *,
    window: int = DEFAULT_WINDOW,
    watch_window: int = 1,
) -> RuleSet:
    """Compile the topic gate and the event rules.

    Args:
        watch: The topic query every alert requires.
        rules: The event rules, in the order their events are reported.
        window: Sentences an event rule may look across.
        watch_window: Sentences the topic query may look across.

    Returns:
        The rule set for `match_article`.

    Raises:
        RuleError: A query does not parse, two rules share a name, a rule has no name or
            event, names an unknown field, or a window is smaller than one sentence.
    """
    if window < 1 or watch_window < 1:
        raise RuleError("rule windows must be at least one sentence")
    compiled: list[CompiledRule] = []
    seen: set[str] = set()
    for rule in rules:
        if not rule.name or not rule.event:
            raise RuleError(f"rule {rule.name!r}: a rule needs a name and an event")
        if rule.name in seen:
            raise RuleError(f"rule {rule.name!r}: the name is used twice")
        seen.add(rule.name)
        unknown = [f for f in rule.where if f not in FIELDS]
        if unknown or not rule.where:
            raise RuleError(
                f"rule {rule.name!r}: where must name fields among {', '.join(FIELDS)},"
                f" got {', '.join(unknown) or 'none'}"
            )
        compiled.append(CompiledRule(rule, compile_query(rule.query, name=rule.name)))
    return RuleSet(
        watch=compile_query(watch, name="watch"),
        rules=tuple(compiled),
        window=window,
        watch_window=watch_window,
    )


def match_article(
    ruleset: RuleSet, *, title: str | None, text: str, language: str | None = None
) -> Match:
    """Judge one article: on topic or not, and the events its rules find.

    Args:
        ruleset: From `compile_rules`.
        title: The headline, if any.
        text: The article text, paragraphs separated by line breaks.
        language: The article's language; matching does not depend on it (every query
            covers its own languages), it is accepted for callers that have it.

    Returns:
        The verdict, with one `Evidence` per matching rule.
    """
    del language  # tokenization handles Latin, Cyrillic and CJK text alike
    idx = TextIndex()
    sentences: list[_Sentence] = []
    for field, raw in (("title", title or ""), ("text", text)):
        for start, end in split_sentences(raw):
            if idx.add_sentence(raw[start:end]):
                sentences.append(_Sentence(field, raw[start:end]))
    if _search(ruleset.watch, idx, sentences, FIELDS, ruleset.watch_window) is None:
        return Match(topic=False)
    events: list[str] = []
    evidence: list[Evidence] = []
    for compiled in ruleset.rules:
        rule = compiled.rule
        hit = _search(compiled.query, idx, sentences, rule.where, ruleset.window)
        if hit is None:
            continue
        start, size = hit
        if rule.event not in events:
            events.append(rule.event)
        evidence.append(
            Evidence(
                rule=rule.name,
                event=rule.event,
                sentences=tuple(
                    _trim(s.text) for s in sentences[start : start + size][:EVIDENCE_SENTENCES]
                ),
                terms=compiled.query.matched_terms(idx, start, size),
            )
        )
    return Match(topic=True, events=tuple(events), evidence=tuple(evidence))


def _search(
    query: CompiledQuery,
    idx: TextIndex,
    sentences: Sequence[_Sentence],
    where: Iterable[str],
    window: int,
) -> tuple[int, int] | None:
    """The smallest, then earliest, window `(start, size)` of `where` satisfying `query`."""
    fields = set(where)
    for size in range(1, window + 1):
        allowed = 0
        for start in range(len(sentences) - size + 1):
            if all(s.field in fields for s in sentences[start : start + size]):
                allowed |= 1 << start
        if not allowed:
            break
        mask = query.windows(idx, size) & allowed
        if mask:
            return (mask & -mask).bit_length() - 1, size
    return None


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character ranges of the sentences of `text` (see the module docstring, step 1)."""
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text):
        start = line.start()
        for m in _BOUNDARY.finditer(text, line.start(), line.end()):
            if m.group("latin") and not _ends_sentence(text, m.start(), m.end(), line.end()):
                continue
            spans.append((start, m.end()))
            start = m.end()
        spans.append((start, line.end()))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def _ends_sentence(text: str, stop: int, end: int, line_end: int) -> bool:
    """Whether the Latin punctuation at `text[stop:end]` ends a sentence."""
    following = text[end:line_end].lstrip()[:1]
    if following and following.islower():
        return False
    if text[stop] != ".":
        return True
    word = _LAST_WORD.search(text, max(0, stop - 20), stop)
    if word is None:
        return True
    last = word.group(1)
    return not (last.casefold() in _ABBREVIATIONS or (len(last) == 1 and last.isupper()))


def _trim(sentence: str) -> str:
    """A sentence as evidence: whitespace collapsed, cut at a word near the length limit."""
    text = _SPACE.sub(" ", sentence).strip()
    if len(text) <= EVIDENCE_CHARS:
        return text
    cut = text.rfind(" ", 0, EVIDENCE_CHARS)
    return text[: cut if cut > EVIDENCE_CHARS // 2 else EVIDENCE_CHARS].rstrip() + " …"


def verdict(item_id: object, match: Match) -> dict[str, Any]:
    """The JSON object that `kurilwatch rules test` prints for one article.

    Args:
        item_id: The article's id as the input gave it.
        match: The verdict from `match_article`.

    Returns:
        `{"id", "topic", "events", "rules", "evidence": {rule: {"event", "sentences",
        "terms"}}}`, ready for `json.dumps`.
    """
    return {
        "id": item_id,
        "topic": match.topic,
        "events": list(match.events),
        "rules": list(match.rules),
        "evidence": {
            e.rule: {"event": e.event, "sentences": list(e.sentences), "terms": list(e.terms)}
            for e in match.evidence
        },
    }


def rules_from_mapping(
    data: Mapping[str, Any],
    *,
    origin: str = "rules",
    definitions: Mapping[str, str] | None = None,
) -> tuple[str, tuple[Rule, ...]]:
    """Read `{"define"?, "watch", "rules": [{name, event, query, where?, channels?, severity?}]}`.

    Args:
        data: The parsed YAML (or JSON) document.
        origin: Where it came from, for error messages.
        definitions: Definitions its own `define:` extends (see `alerts.definitions`).

    Returns:
        The watch query and the rules, not yet compiled, every `@name` expanded.

    Raises:
        RuleError: A key is missing or has the wrong type, or a query names an undefined
            `@name`.
    """
    watch = data.get("watch") if isinstance(data, Mapping) else None
    if not isinstance(watch, str):
        raise RuleError(f"{origin}: 'watch' must be a query string")
    defined = data.get("define") or {}
    if not isinstance(defined, Mapping):
        raise RuleError(f"{origin}: 'define' must be a mapping of names to queries")
    defs = resolve(defined, origin=origin, base=definitions)
    return _expanded(data, defs, origin=origin, watch=watch)


def _expanded(
    data: Mapping[str, Any], defs: Mapping[str, str], *, origin: str, watch: str
) -> tuple[str, tuple[Rule, ...]]:
    items = data.get("rules", [])
    if not isinstance(items, list):
        raise RuleError(f"{origin}: 'rules' must be a list")
    rules: list[Rule] = []
    for n, item in enumerate(items, 1):
        if not isinstance(item, Mapping):
            raise RuleError(f"{origin}: rule {n} must be a mapping")
        for key in ("name", "event", "query"):
            if not isinstance(item.get(key), str):
                raise RuleError(f"{origin}: rule {n}: {key!r} must be a string")
        where = item.get("where", FIELDS)
        channels = item.get("channels")
        severity = item.get("severity")
        if isinstance(where, str):
            where = (where,)
        if not isinstance(where, (list, tuple)) or not all(isinstance(w, str) for w in where):
            raise RuleError(f"{origin}: rule {item['name']!r}: 'where' must be a list of fields")
        if channels is not None and not (
            isinstance(channels, list) and all(isinstance(c, str) for c in channels)
        ):
            raise RuleError(f"{origin}: rule {item['name']!r}: 'channels' must be a list of names")
        if severity is not None and not isinstance(severity, str):
            raise RuleError(f"{origin}: rule {item['name']!r}: 'severity' must be a string")
        rules.append(
            Rule(
                name=item["name"],
                event=item["event"],
                query=expand(item["query"], defs, where=f"{origin}: rule {item['name']!r}"),
                where=tuple(where),
                channels=tuple(channels) if channels is not None else None,
                severity=severity,
            )
        )
    return expand(watch, defs, where=f"{origin}: watch"), tuple(rules)


def _shipped() -> Mapping[str, Any]:
    text = resources.files("alerts").joinpath("default_rules.yaml").read_text(encoding="utf-8")
    data: Mapping[str, Any] = yaml.load(text, Loader=YAML_LOADER)
    return data


def default_definitions() -> dict[str, str]:
    """The shipped `define:` entries as written: what a configuration's rules may refer to."""
    return dict(_shipped().get("define") or {})


def load_default_rules() -> tuple[str, tuple[Rule, ...]]:
    """The shipped topic gate and rules, from the package's `default_rules.yaml`.

    Returns:
        The watch query and the default rules (`protest`, `exercise`), expanded.
    """
    return rules_from_mapping(_shipped(), origin=SHIPPED)


def rules_in_force(settings: Settings) -> tuple[tuple[Rule, ...], RuleSet]:
    """The rules of `settings` (else the shipped defaults) with its `watch:`, compiled.

    A configuration's `watch:` and `rules:` may refer to the shipped definitions and to its
    own `define:` (see `alerts.definitions`).

    Raises:
        RuleError: a query does not parse or names an undefined `@name`; the message names
            the configuration file.
    """
    where = f"{settings.config_path}" if settings.config_path else "configuration"
    try:
        default_watch, default_rules = load_default_rules()
        defs = resolve(settings.define or {}, origin=where, base=default_definitions())
        rules = (
            default_rules
            if settings.rules is None
            else tuple(
                replace(r, query=expand(r.query, defs, where=f"{where}: rule {r.name!r}"))
                for r in (c.to_rule() for c in settings.rules)
            )
        )
        watch = expand(settings.watch, defs, where=f"{where}: watch") if settings.watch else None
        return rules, compile_rules(watch or default_watch, rules)
    except RuleError as exc:
        prefix = f"{settings.config_path}: " if settings.config_path else ""
        message = str(exc)
        raise RuleError(message if message.startswith(where) else prefix + message) from None

"""Every inflected form of a query word, in Russian and English, and Japanese name variants.

A bare word in a rule (`учение`, `протестовать`, `protest`) matches every form of the words it
is the dictionary form of: `word_forms` returns those forms, computed once when a rule is
compiled, so matching an article is a lookup of exact tokens and costs nothing per article.

- Russian (Cyrillic words): the lexemes of pymorphy3 (OpenCorpora dictionary) whose dictionary
  form is the word: `учение` gives `учения`, `учениях`, `учений` …; `протестовать` gives
  `протестовал`, `протестуют`, `протестующих` …. A word written in an inflected form
  (`учения`) stands for its dictionary forms. Words the dictionary does not know match only
  as written (pymorphy3's guesses for them are not used).
- English (Latin words): the inflections lemminflect (AGID lexicon) gives for the word as a
  noun, verb, adjective or adverb: `protest` gives `protests`, `protested`, `protesting`;
  `drill` gives `drills`, `drilled`, `drilling`. An inflected word (`protests`) stands for
  its dictionary forms. Derived words are other words: `training` does not match `train`,
  `protester` does not match `protest`.
- Japanese has no spaces and is matched on characters; `fold_variants` rewrites the katakana
  spellings of the islands' names to their kanji (`エトロフ` as `択捉`, `クナシリ` as `国後`,
  `シコタン` as `色丹`, `ハボマイ` as `歯舞`) and `北方4島` as `北方四島`, in queries and texts
  alike.

Forms are normalized as `alerts.text.normalize` does (case folded, `ё` as `е`), which this
module cannot import; the caller passes words already normalized. The forms of the shipped
rules' words are read from `word_forms.json` in this package, so the dictionaries load only
for words of a configuration's own rules. Nothing here touches IO beyond reading that table
and loading the two libraries' dictionaries once per process when needed.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from functools import cache, lru_cache
from importlib import resources
from typing import Any

__all__ = ["fold_variants", "word_forms"]

_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[a-z]")
_UPOS = ("NOUN", "VERB", "ADJ", "ADV", "AUX")

_VARIANTS = {
    "エトロフ": "択捉",
    "クナシリ": "国後",
    "シコタン": "色丹",
    "ハボマイ": "歯舞",
    "北方4島": "北方四島",
}
_VARIANT_RE = re.compile("|".join(map(re.escape, _VARIANTS)))


def fold_variants(text: str) -> str:
    """`text` with the Japanese variant spellings of the islands' names folded to one."""
    return _VARIANT_RE.sub(lambda m: _VARIANTS[m.group()], text)


@lru_cache(maxsize=65536)
def word_forms(word: str) -> frozenset[str]:
    """The forms a bare query word matches: itself and its inflections (see the module doc).

    Args:
        word: One normalized word, without wildcards.

    Returns:
        Normalized forms, `word` among them; just `{word}` when the word is neither Russian
        nor English or the dictionaries do not know it.
    """
    known = _shipped_forms().get(word)
    if known is not None:
        return frozenset({word, *known})
    return looked_up(word)


def looked_up(word: str) -> frozenset[str]:
    """`word_forms` from the dictionaries themselves, without the shipped table."""
    if _CYRILLIC.search(word):
        forms = _russian_forms(word)
    elif _LATIN.search(word):
        forms = _english_forms(word)
    else:
        forms = set()
    return frozenset({word} | {_fold(f) for f in forms})


FORMS_FILE = "word_forms.json"
"""The forms of every bare word of the shipped rules, looked up once (`python -m
alerts.morphology` writes it; a test checks it against the dictionaries), so that starting
kurilwatch with the shipped rules does not load the dictionaries (about a second)."""


@cache
def _shipped_forms() -> dict[str, list[str]]:
    text = resources.files("alerts").joinpath(FORMS_FILE).read_text(encoding="utf-8")
    table: dict[str, list[str]] = json.loads(text)
    return table


def shipped_table() -> dict[str, list[str]]:
    """The table `FORMS_FILE` should hold: every bare word of the shipped rules, its forms.

    Compiles the shipped rules with the table ignored and records each word looked up.
    """
    from alerts import query
    from alerts.rules import compile_rules, load_default_rules

    words: set[str] = set()
    original = query.word_forms

    def record(word: str) -> frozenset[str]:
        words.add(word)
        return looked_up(word)

    query.word_forms = record  # type: ignore[assignment]
    saved = dict(query._GROUPS)
    query._GROUPS.clear()
    try:
        compile_rules(*load_default_rules())
    finally:
        query.word_forms = original
        query._GROUPS.clear()
        query._GROUPS.update(saved)
    return {word: sorted(looked_up(word) - {word}) for word in sorted(words)}


def _fold(form: str) -> str:
    return unicodedata.normalize("NFKC", form).casefold().replace("ё", "е")


def _russian_forms(word: str) -> set[str]:
    morph = _russian()
    known = [p for p in morph.parse(word) if p.is_known]
    lemmas = [p for p in known if _fold(p.normal_form) == word] or known
    forms: set[str] = set()
    seen: set[tuple[str, str]] = set()
    for parse in lemmas:
        key = (parse.normal_form, str(parse.tag.POS))
        if key in seen:
            continue
        seen.add(key)
        forms.update(f.word for f in parse.lexeme)
    return forms


def _english_forms(word: str) -> set[str]:
    from lemminflect import getAllInflections, getAllLemmas

    lemmas: dict[str, tuple[str, ...]] = getAllLemmas(word)
    as_lemma = [upos for upos, found in lemmas.items() if word in found]
    roots = (
        [(word, upos) for upos in as_lemma]
        if as_lemma
        else [(lemma, upos) for upos, found in lemmas.items() for lemma in found]
    )
    forms: set[str] = set()
    for root, upos in roots:
        if upos not in _UPOS:
            continue
        forms.add(root)
        for inflected in getAllInflections(root, upos=upos).values():
            forms.update(inflected)
    return forms


@cache
def _russian() -> Any:
    """The pymorphy3 analyzer with its Russian dictionary (loaded once per process)."""
    import pymorphy3

    return pymorphy3.MorphAnalyzer(lang="ru")


if __name__ == "__main__":  # python -m alerts.morphology: write the shipped table
    path = resources.files("alerts").joinpath(FORMS_FILE)
    table = shipped_table()
    lines = [
        f"{json.dumps(w, ensure_ascii=False)}: {json.dumps(f, ensure_ascii=False)}"
        for w, f in table.items()
    ]
    with open(str(path), "w", encoding="utf-8") as out:
        out.write("{\n" + ",\n".join(lines) + "\n}\n")
    print(f"{path}: {len(table)} words", file=sys.stderr)

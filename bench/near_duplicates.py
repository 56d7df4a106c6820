"""Measure the near-duplicate fingerprint settings that storage/fingerprint.py fixes.

Usage:
    python bench/near_duplicates.py [FILE]

FILE defaults to ../shared/eval/kurils_dev.jsonl (from the repository root), read where it
lies; nothing is written to disk. Pairs that should end in one story:

- eval near-dup: two items of one `story_group` that are both `near_duplicate`;
- fixture copies: each story of tests/support/stories.py against each syndicated copy
  (tests/support/syndicate.py STYLES), and against the story with any one sentence cut;
- eval copies: each eval item against its copies in the styles that only add or change
  furniture (dateline, footer, quotes, headline), made in memory; cutting one of the two to
  four sentences of an excerpt removes a quarter to half of it, which is no longer "little
  change", so cuts are measured on the fixture stories and by trimming instead;
- eval trimmed: each eval item against its first 80% (an editor trims from the bottom).

Pairs that must stay apart: eval items of different story groups (an item without a group
is a story of its own), `same_event` rewrites within a group, different fixture stories,
and the look-alike pairs of tests/unit/test_near_duplicates.py.

A pair ends in one story when both texts have a print (at least MIN_SHINGLES shingles),
they share a band and the estimated similarity is at least the threshold. For each word
shingle size, permutation count and threshold the bands come from datasketch's
`_optimal_param` weighted 0.1 false positive / 0.9 false negative (a band candidate that
is not a duplicate costs one signature comparison; a missed candidate is a missed merge).
Prints that table, the exact Jaccard range of each pair kind per shingle size (Japanese
character k-grams separately), the short-text table behind MIN_SHINGLES, the time of one
`near_print` of a 600-word article, and the setting the rule in `choose` picks.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from datasketch.lsh import _optimal_param  # noqa: E402

from storage import fingerprint as fp  # noqa: E402
from tests.support.stories import STORIES  # noqa: E402
from tests.support.syndicate import STYLES, cut_sentence, sentences, syndicate  # noqa: E402
from tests.unit.test_near_duplicates import LOOKALIKES  # noqa: E402

DEFAULT_FILE = ROOT.parent / "shared" / "eval" / "kurils_dev.jsonl"
WORD_SIZES = (3, 4, 5)
CJK_SIZES = (2, 3, 4, 5)
NUM_PERMS = (64, 128)
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)
FP_WEIGHT, FN_WEIGHT = 0.1, 0.9
SHORT_SIZES = (5, 10, 15, 20, 25, 30, 40)
FURNITURE_STYLES = ("dateline", "footer", "typographic_quotes", "new_headline")
TRIM_KEEP = 0.8

Pair = tuple[str, str]
"""Two texts."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PairSet:
    """A named list of text pairs, and whether they should end in one story."""

    name: str
    pairs: list[Pair]
    merge: bool
    language: list[str]


def load_eval(path: Path) -> list[dict[str, Any]]:
    """The labelled items of the development set."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def pair_sets(items: list[dict[str, Any]]) -> list[PairSet]:
    """Every pair kind the bench scores, the ones to merge first."""
    group = {item["id"]: item["story_group"] or f"solo:{item['id']}" for item in items}
    nd, cross, same = [], [], []
    nd_lang, cross_lang, same_lang = [], [], []
    for a, b in itertools.combinations(items, 2):
        langs = a["language"] if a["language"] == b["language"] else "mixed"
        if group[a["id"]] != group[b["id"]]:
            cross.append((a["text"], b["text"]))
            cross_lang.append(langs)
        elif a["dup_type"] == b["dup_type"] == "near_duplicate":
            nd.append((a["text"], b["text"]))
            nd_lang.append(langs)
        else:
            same.append((a["text"], b["text"]))
            same_lang.append(langs)
    copies, copies_lang, cuts, cuts_lang = [], [], [], []
    for story in STORIES:
        for style in STYLES:
            copies.append((story.text, syndicate(story.title, story.text, style)[1]))
            copies_lang.append(story.language)
        for index in range(len(sentences(story.text))):
            cuts.append((story.text, cut_sentence(story.text, index)))
            cuts_lang.append(story.language)
    eval_copies, eval_copies_lang, trimmed, trimmed_lang = [], [], [], []
    for item in items:
        for style in FURNITURE_STYLES:
            eval_copies.append(
                (item["text"], syndicate(item["title"] or "", item["text"], style)[1])
            )
            eval_copies_lang.append(item["language"])
        trimmed.append((item["text"], trim(item["text"], TRIM_KEEP)))
        trimmed_lang.append(item["language"])
    fixture_cross = [(a.text, b.text) for a, b in itertools.combinations(STORIES, 2)]
    fixture_cross_lang = [
        a.language if a.language == b.language else "mixed"
        for a, b in itertools.combinations(STORIES, 2)
    ]
    lookalikes = [(a, b) for _, _, a, b in LOOKALIKES]
    lookalike_lang = [language for _, language, _, _ in LOOKALIKES]
    return [
        PairSet(name="eval near-dup", pairs=nd, merge=True, language=nd_lang),
        PairSet(name="fixture copies", pairs=copies, merge=True, language=copies_lang),
        PairSet(name="fixture cut-any", pairs=cuts, merge=True, language=cuts_lang),
        PairSet(name="eval copies", pairs=eval_copies, merge=True, language=eval_copies_lang),
        PairSet(name="eval trimmed", pairs=trimmed, merge=True, language=trimmed_lang),
        PairSet(name="eval cross-group", pairs=cross, merge=False, language=cross_lang),
        PairSet(name="eval same_event", pairs=same, merge=False, language=same_lang),
        PairSet(
            name="fixture cross", pairs=fixture_cross, merge=False, language=fixture_cross_lang
        ),
        PairSet(name="look-alikes", pairs=lookalikes, merge=False, language=lookalike_lang),
    ]


def trim(text: str, keep: float) -> str:
    """The first `keep` of a text's characters, ending at a word boundary if one is near."""
    head = text[: round(len(text) * keep)]
    return head.rsplit(" ", 1)[0] if " " in head[-30:] else head


def jaccard(a: set[bytes], b: set[bytes]) -> float:
    """Exact Jaccard similarity of two shingle sets."""
    return len(a & b) / len(a | b) if a | b else 1.0


def texts_of(sets: Iterable[PairSet]) -> set[str]:
    """Every distinct text in the pair sets."""
    return {text for pair_set in sets for pair in pair_set.pairs for text in pair}


def scoring_table(sets: list[PairSet]) -> list[dict[str, Any]]:
    """One row per (word shingle, num_perm, threshold): merged pairs per pair set."""
    texts = texts_of(sets)
    rows = []
    for size, num_perm in itertools.product(WORD_SIZES, NUM_PERMS):
        shingled = {text: fp.shingles(text, words=size) for text in texts}
        sigs = {
            text: fp.signature(s, num_perm=num_perm)
            for text, s in shingled.items()
            if len(s) >= fp.MIN_SHINGLES
        }
        for threshold in THRESHOLDS:
            bands, rows_per_band = _optimal_param(threshold, num_perm, FP_WEIGHT, FN_WEIGHT)
            keys = {
                text: set(fp.band_hashes(sig, bands=bands, rows=rows_per_band))
                for text, sig in sigs.items()
            }

            def merged(
                pair: Pair,
                t: float = threshold,
                k: dict[str, set[int]] = keys,
                sig: dict[str, bytes] = sigs,
            ) -> bool:
                a, b = pair
                if a not in sig or b not in sig:
                    return False
                return bool(k[a] & k[b]) and fp.similarity(sig[a], sig[b]) >= t

            counts = {s.name: sum(map(merged, s.pairs)) for s in sets}
            cross = next(s for s in sets if s.name == "eval cross-group")
            counts["cross-group in a band"] = sum(
                1 for a, b in cross.pairs if a in keys and b in keys and keys[a] & keys[b]
            )
            rows.append(
                {
                    "size": size,
                    "num_perm": num_perm,
                    "threshold": threshold,
                    "bands": (bands, rows_per_band),
                    "counts": counts,
                }
            )
    return rows


def print_scoring(sets: list[PairSet], rows: list[dict[str, Any]]) -> None:
    """The table of merged pairs per setting."""
    print("Pairs that end in one story (band shared and estimated similarity >= threshold)")
    names = [s.name for s in sets] + ["cross-group in a band"]
    header = f"{'k':>2} {'perm':>4} {'thr':>4} {'b x r':>7} " + " ".join(
        f"{n:>{max(len(n), 9)}}" for n in names
    )
    print(header)
    totals = {s.name: len(s.pairs) for s in sets}
    totals["cross-group in a band"] = totals["eval cross-group"]
    for row in rows:
        counts = row["counts"]
        cells = " ".join(f"{f'{counts[n]}/{totals[n]}':>{max(len(n), 9)}}" for n in names)
        b, r = row["bands"]
        print(
            f"{row['size']:>2} {row['num_perm']:>4} {row['threshold']:>4} {f'{b}x{r}':>7} {cells}"
        )
    print(
        "  merge sets: higher is better; keep-apart sets: must be 0; the last column counts\n"
        "  different-group pairs that share a band (candidates the signature check rejects)"
    )


def gap(
    sets: list[PairSet], shingler: Callable[[str], set[bytes]], languages: set[str] | None
) -> tuple[float, float, dict[str, float]]:
    """(lowest exact Jaccard of a pair to merge, highest of a pair to keep apart, per set).

    Only pairs in `languages` count (None: all). Per set: the minimum for merge sets, the
    maximum for keep-apart sets.
    """
    per_set = {}
    for pair_set in sets:
        scores = [
            jaccard(shingler(a), shingler(b))
            for (a, b), lang in zip(pair_set.pairs, pair_set.language, strict=True)
            if languages is None or lang in languages
        ]
        if scores:
            per_set[pair_set.name] = min(scores) if pair_set.merge else max(scores)
    low = min(v for s in sets if s.merge and s.name in per_set for v in [per_set[s.name]])
    high = max(v for s in sets if not s.merge and s.name in per_set for v in [per_set[s.name]])
    return low, high, per_set


def word_gaps(sets: list[PairSet]) -> dict[int, tuple[float, float, dict[str, float]]]:
    """`gap` over texts in every script but Japanese, per word shingle size."""
    words_only = {"en", "ru", "mixed"}
    return {k: gap(sets, partial(fp.shingles, words=k), words_only) for k in WORD_SIZES}


def cjk_gaps(sets: list[PairSet]) -> dict[int, tuple[float, float, dict[str, float]]]:
    """`gap` over Japanese pairs, per character k-gram size."""
    return {k: gap(sets, partial(fp.shingles, chars=k), {"ja"}) for k in CJK_SIZES}


def print_gaps(title: str, gaps: dict[int, tuple[float, float, dict[str, float]]]) -> None:
    """One line per size: the gap and the per-set extremes."""
    print(f"\n{title}")
    for size, (low, high, per_set) in gaps.items():
        cells = "; ".join(f"{name} {value:.3f}" for name, value in per_set.items())
        print(f"  k={size}: gap {high:.3f}..{low:.3f} (width {low - high:.3f})  {cells}")


def short_text_table(
    items: list[dict[str, Any]], sets: list[PairSet]
) -> list[tuple[int, int, list[str], int]]:
    """Per N: (N, false merges, first few, eval items under N) when texts are cut to N shingles.

    Each text of a keep-apart pair is cut to its first N shingles; a pair whose cut texts
    have exact Jaccard >= NEAR_THRESHOLD would merge if texts that short were printed.
    """
    apart = [s for s in sets if not s.merge and s.name != "eval same_event"]
    pairs = [pair for s in apart for pair in s.pairs]
    label = {item["text"]: item["id"] for item in items}
    full = [fp.shingles(item["text"]) for item in items]
    table = []
    for n in SHORT_SIZES:
        heads = {text: _head(text, n) for pair in pairs for text in pair}
        merged = [
            f"{label.get(a, a[:12])}~{label.get(b, b[:12])}"
            for a, b in pairs
            if jaccard(heads[a], heads[b]) >= fp.NEAR_THRESHOLD
        ]
        table.append((n, len(merged), merged[:3], sum(1 for s in full if len(s) < n)))
    return table


def _head(text: str, n: int) -> set[bytes]:
    """The first `n` shingles of a text."""
    tokens, cjk = fp._tokens(fp.normalize_text(text))
    size = fp.SHINGLE_CJK if cjk else fp.SHINGLE
    return fp.shingles(" ".join(tokens[: n + size - 1]))


def print_short_texts(table: list[tuple[int, int, list[str], int]]) -> None:
    """The short-text table."""
    print("\nShort texts: keep-apart pairs (cross-group, fixture cross, look-alikes) cut to their")
    print(f"first N shingles that reach NEAR_THRESHOLD {fp.NEAR_THRESHOLD}; eval items under N")
    for n, count, shown, under in table:
        cells = f"false merges {count:>2} {', '.join(shown):<36}"
        print(f"  N={n:>2}: {cells} eval items under N: {under}")


def time_near_print(num_perm: int) -> float:
    """Median seconds of one MinHash print (shingles, signature, bands) of 600 English words."""
    words = " ".join(story.text for story in STORIES if story.language == "en").split()
    article = " ".join(words[:600])
    bands, rows = _optimal_param(fp.NEAR_THRESHOLD, num_perm, FP_WEIGHT, FN_WEIGHT)
    runs = []
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(100):
            sig = fp.signature(fp.shingles(article), num_perm=num_perm)
            fp.band_hashes(sig, bands=bands, rows=rows)
        runs.append((time.perf_counter() - start) / 100)
    return statistics.median(runs)


def choose(
    word: dict[int, tuple[float, float, dict[str, float]]],
    cjk: dict[int, tuple[float, float, dict[str, float]]],
    short: list[tuple[int, int, list[str], int]],
) -> dict[str, Any]:
    """The setting the measurements give, by this rule.

    1. Shingle sizes: per script, the size with the widest gap between the lowest exact
       Jaccard of a pair to merge and the highest of a pair to keep apart.
    2. Threshold: the value in THRESHOLDS nearest the middle of the narrower of the two gaps,
       so that the estimate's error counts the same on both sides.
    3. Permutations: the most in NUM_PERMS; the standard error of the estimate,
       sqrt(J(1 - J) / num_perm), is what eats the margin, and 128 costs ~0.1 ms more.
    4. Bands and rows: datasketch's `_optimal_param` at the threshold, weighted
       FP_WEIGHT / FN_WEIGHT.
    5. MIN_SHINGLES: the fewest shingles a text needs for a copy with one word changed
       (k shingles lost, k new) to stay at or above the threshold: (n - k) / (n + k) >= t,
       so n >= k (1 + t) / (1 - t); and above every N at which a keep-apart pair cut to N
       shingles would merge. A shorter text gains nothing over the exact hash.
    """
    size = max(word, key=lambda k: word[k][0] - word[k][1])
    cjk_size = max(cjk, key=lambda k: cjk[k][0] - cjk[k][1])
    narrow = min((word[size][:2], cjk[cjk_size][:2]), key=lambda g: g[0] - g[1])
    middle = (narrow[0] + narrow[1]) / 2
    threshold = min(THRESHOLDS, key=lambda t: abs(t - middle))
    num_perm = max(NUM_PERMS)
    bands, rows = _optimal_param(threshold, num_perm, FP_WEIGHT, FN_WEIGHT)
    edit_safe = math.ceil(max(size, cjk_size) * (1 + threshold) / (1 - threshold) - 1e-9)
    unsafe = max((n for n, count, _, _ in short if count), default=0)
    min_shingles = max(edit_safe, unsafe + 1)
    return {
        "SHINGLE": size,
        "SHINGLE_CJK": cjk_size,
        "NEAR_THRESHOLD": threshold,
        "NUM_PERM": num_perm,
        "BANDS": bands,
        "ROWS": rows,
        "MIN_SHINGLES": min_shingles,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the measurement and print the tables; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT_FILE)
    args = parser.parse_args(argv)
    if not args.file.is_file():
        print(f"no such file: {args.file}", file=sys.stderr)
        return 2
    items = load_eval(args.file)
    sets = pair_sets(items)
    print_scoring(sets, scoring_table(sets))
    word, cjk = word_gaps(sets), cjk_gaps(sets)
    print_gaps("Exact Jaccard, English and Russian pairs, per word shingle size", word)
    print_gaps("Exact Jaccard, Japanese pairs, per character k-gram size", cjk)
    short = short_text_table(items, sets)
    print_short_texts(short)
    print("\nnear_print of a 600-word article (median of 7 x 100):")
    for num_perm in NUM_PERMS:
        sigma = math.sqrt(fp.NEAR_THRESHOLD * (1 - fp.NEAR_THRESHOLD) / num_perm)
        ms = time_near_print(num_perm) * 1000
        print(f"  num_perm={num_perm:>3}: {ms:.2f} ms; standard error at the threshold {sigma:.3f}")
    chosen = choose(word, cjk, short)
    print("\nchosen by the rule in choose():", " ".join(f"{k}={v}" for k, v in chosen.items()))
    current = {name: getattr(fp, name) for name in chosen}
    print("in storage/fingerprint.py:      ", " ".join(f"{k}={v}" for k, v in current.items()))
    if current != chosen:
        print("MISMATCH: update the constants in storage/fingerprint.py or the rule")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Measure the containment settings that storage/containment.py fixes, and the alternative.

Usage:
    python bench/containment.py [FILE ...]

FILE defaults to ../shared/eval/kurils_dev.jsonl and kurils_dev2.jsonl (from the repository
root), read where they lie; nothing is written to disk. A story group is a group within its
file. Pairs, compared as `storage.containment` compares them (shingles without a headline on
its own first line; the shorter text's share found in the longer):

- to merge: each item longer than its summary against its feed text (its title on a line,
  then its first 300 characters: tests/support/syndicate.py `feed_summary`); each item of
  five or more sentences against a copy with a new headline, any one sentence cut and a
  footer;
- to keep apart: items of different story groups (both ways round, and the summary of one
  against the text of the other), the look-alike pairs of tests/unit/test_near_duplicates.py
  and different fixture stories (tests/support/stories.py); and, synthetic, members of one
  template family of bench/dedup_scale.py (five shared sentences with two words changed per
  member, one to three of its own: press releases from one template, about 70% shared);
- shown only: same_event pairs (one event in other words; merging them is no false merge).

Prints the containment range of each pair kind, the threshold and the shortest text the
rules in `choose` pick, the anchor table (winnowing window and lead: pairs to merge that share
no anchor, pairs to keep apart that do, anchor rows per text), and datasketch's
MinHashLSHEnsemble on the same queries (candidates found, false candidates, index entries,
query time) against the anchors.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.dedup_scale import template_members  # noqa: E402
from storage import containment as ct  # noqa: E402
from storage import fingerprint as fp  # noqa: E402
from tests.support.stories import STORIES  # noqa: E402
from tests.support.syndicate import (  # noqa: E402
    cut_sentence,
    feed_summary,
    lead_headline,
    sentences,
    with_footer,
)
from tests.unit.test_near_duplicates import LOOKALIKES  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
DEFAULT = (EVAL / "kurils_dev.jsonl", EVAL / "kurils_dev2.jsonl")
SUMMARY_CHARS = 300
MIN_SENTENCES = 5
STEPS = [round(0.4 + 0.05 * i, 2) for i in range(9)]  # 0.4 .. 0.8
REWORD_EVERY = 15
FAMILIES, MEMBERS = 40, 12
REAL_APART = ("cross-group", "look-alikes", "fixture cross")  # for heads and anchors
TEMPLATE_BUDGET = 0.05  # chance that a new template member joins one of its siblings
FAMILY_SIZE = 30  # stories per template family in bench/dedup_scale.py
HEAD_SIZES = (10, 15, 20, 25, 30, 35, 40, 50, 60)
WINDOWS = (4, 8, 12, 16, 24)
LEADS = (100, 200, 10_000)
FLOORS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)

Text = tuple[str, str]
"""A headline and a text."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PairSet:
    """Named pairs of texts, and whether they should end in one story."""

    name: str
    pairs: list[tuple[Text, Text]]
    merge: bool | None  # None: shown only


def load(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """The items, each with a file-scoped `group`."""
    items = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                group = item.get("story_group")
                item["group"] = f"{path.name}:{group}" if group else f"alone:{item['id']}"
                items.append(item)
    return items


def _full(item: dict[str, Any]) -> Text:
    return item["title"] or "", item["text"]


def _feed(item: dict[str, Any]) -> Text:
    title = item["title"] or ""
    summary = feed_summary(item["text"], SUMMARY_CHARS)
    return title, f"{title}\n\n{summary}" if title else summary


def pair_sets(items: list[dict[str, Any]]) -> list[PairSet]:
    """Every pair kind scored, those to merge first."""
    summaries = [(_full(i), _feed(i)) for i in items if len(i["text"]) > SUMMARY_CHARS + 20]
    cuts = []
    for item in items:
        if len(sentences(item["text"])) >= MIN_SENTENCES:
            for index in range(len(sentences(item["text"]))):
                body = with_footer(cut_sentence(item["text"], index), "Hokkaido Daily")
                cuts.append((_full(item), (lead_headline(item["text"]), body)))
    reworded = [
        (_full(item), (item["title"] or "", reword(item["text"])))
        for item in items
        if len(sentences(item["text"])) >= MIN_SENTENCES and item["language"] != "ja"
    ]
    cross, cross_feed, same = [], [], []
    for a, b in itertools.combinations(items, 2):
        if a["group"] != b["group"]:
            cross.append((_full(a), _full(b)))
            cross_feed += [(_feed(a), _full(b)), (_feed(b), _full(a))]
        elif "same_event" in (a.get("dup_type"), b.get("dup_type")):
            same.append((_full(a), _full(b)))
    lookalikes = [(("", a), ("", b)) for _, _, a, b in LOOKALIKES]
    siblings = []
    for family in range(FAMILIES):
        texts = [("", text) for text in template_members(f"containment:{family}", MEMBERS)]
        siblings += list(itertools.combinations(texts, 2))
    fixtures = [
        ((a.title, a.text), (b.title, b.text)) for a, b in itertools.combinations(STORIES, 2)
    ]
    return [
        PairSet(name="summary", pairs=summaries, merge=True),
        PairSet(name="cut copy", pairs=cuts, merge=True),
        PairSet(name="reworded copy", pairs=reworded, merge=True),
        PairSet(name="cross-group", pairs=cross, merge=False),
        PairSet(name="summary x other", pairs=cross_feed, merge=False),
        PairSet(name="look-alikes", pairs=lookalikes, merge=False),
        PairSet(name="fixture cross", pairs=fixtures, merge=False),
        PairSet(name="template sibling", pairs=siblings, merge=False),
        PairSet(name="same_event", pairs=same, merge=None),
    ]


def reword(text: str, every: int = REWORD_EVERY) -> str:
    """The text with every `every`-th word changed (spelled backwards), starting halfway into
    the first stretch: a heavy edit that containment still admits (it keeps about
    1 - SHINGLE / `every` of the shingles), so the anchors must find it too."""
    words = text.split(" ")
    for index in range(every // 2, len(words), every):
        words[index] = words[index][::-1] + "x"
    return " ".join(words)


_SHINGLES: dict[Text, frozenset[int]] = {}


def shingled(text: Text) -> frozenset[int]:
    if text not in _SHINGLES:
        _SHINGLES[text] = ct.body_shingles(*text)
    return _SHINGLES[text]


def scores(pair_set: PairSet, min_shingles: int) -> list[float]:
    """Containment of each pair whose shorter side has at least `min_shingles` shingles."""
    out = []
    for a, b in pair_set.pairs:
        sa, sb = shingled(a), shingled(b)
        if min(len(sa), len(sb)) >= min_shingles:
            out.append(ct.containment(sa, sb))
    return out


_SEQUENCES: dict[Text, tuple[list[tuple[str, ...]], bool]] = {}


def sequence(text: Text) -> tuple[list[tuple[str, ...]], bool]:
    """The shingles of a text in order, and whether it is shingled by characters (CJK)."""
    if text not in _SEQUENCES:
        body = ct.body_text(*text)
        _SEQUENCES[text] = (fp.shingle_runs(body), fp._tokens(body)[1])
    return _SEQUENCES[text]


def head(text: Text, n: int) -> frozenset[int]:
    """The shingles of a text's first `n` shingle positions (its first words or characters)."""
    return frozenset(map(hash, sequence(text)[0][:n]))


def head_table(sets: list[PairSet], threshold: float) -> list[tuple[int, str, float, int]]:
    """Per script and N: the highest containment of a keep-apart text cut to N shingles."""
    apart = [pair for s in sets if s.name in REAL_APART for pair in s.pairs]
    table = []
    for n in HEAD_SIZES:
        best: dict[str, float] = defaultdict(float)
        hits: dict[str, int] = defaultdict(int)
        heads = {t: head(t, n) for pair in apart for t in pair}
        for a, b in apart:
            for short, other in ((a, b), (b, a)):
                cut = heads[short]
                if len(sequence(short)[0]) < n:
                    continue
                script = "cjk" if sequence(short)[1] else "words"
                score = ct.containment(cut, shingled(other))
                best[script] = max(best[script], score)
                hits[script] += score >= threshold
        for script in ("words", "cjk"):
            table.append((n, script, best[script], hits[script]))
    return table


_HASHES: dict[Text, list[int]] = {}


def anchors_of(text: Text, window: int, lead: int) -> set[int]:
    """The anchors of a text at this window and lead (storage.containment's, parametrized)."""
    if text not in _HASHES:
        _HASHES[text] = [ct.anchor_hash(" ".join(run).encode()) for run in sequence(text)[0]]
    return ct.winnow(_HASHES[text][:lead], window)


@dataclass(frozen=True, slots=True)
class AnchorRow:
    """One (window, lead) of the anchor table."""

    window: int
    lead: int
    missed: int  # pairs to merge sharing no anchor
    of: int
    apart_sharing: int  # keep-apart pairs sharing an anchor
    lowest_share: float  # lowest shared / smaller anchor count of a pair to merge
    floor: float  # the highest of FLOORS at or under lowest_share
    apart_passing: int  # keep-apart pairs sharing at least `floor` of their anchors
    mean_rows: float
    max_rows: int


def anchor_table(sets: list[PairSet], threshold: float, min_shingles: int) -> list[AnchorRow]:
    """Per (window, lead): how the anchors find the pairs to merge that containment admits
    (shorter side of at least `min_shingles`, containment at least `threshold`)."""
    merge = [
        (a, b)
        for s in sets
        if s.merge
        for a, b in s.pairs
        if min(len(shingled(a)), len(shingled(b))) >= min_shingles
        and ct.containment(shingled(a), shingled(b)) >= threshold
    ]
    apart = [pair for s in sets if s.name in REAL_APART for pair in s.pairs]
    texts = {t for pair in merge + apart for t in pair}
    rows = []
    for window, lead in itertools.product(WINDOWS, LEADS):
        anchors = {t: anchors_of(t, window, lead) for t in texts}
        shares = [
            len(anchors[a] & anchors[b]) / min(len(anchors[a]), len(anchors[b])) for a, b in merge
        ]
        counts = [len(v) for v in anchors.values()]
        floor = max((f for f in FLOORS if f <= min(shares) + 1e-9), default=0.0)
        apart_shares = [
            len(anchors[a] & anchors[b]) / max(1, min(len(anchors[a]), len(anchors[b])))
            for a, b in apart
        ]
        rows.append(
            AnchorRow(
                window=window,
                lead=lead,
                missed=sum(1 for share in shares if share == 0),
                of=len(merge),
                apart_sharing=sum(1 for a, b in apart if anchors[a] & anchors[b]),
                lowest_share=min(shares),
                floor=floor,
                apart_passing=sum(1 for share in apart_shares if share and share >= floor),
                mean_rows=statistics.mean(counts),
                max_rows=max(counts),
            )
        )
    return rows


def sibling_join_chance(siblings: list[float], step: float) -> float:
    """The chance that a new member of a template family joins one of the FAMILY_SIZE - 1
    siblings stored before it, when each pair reaches `step` independently at the measured
    rate."""
    rate = sum(v >= step for v in siblings) / len(siblings)
    return 1 - (1 - rate) ** (FAMILY_SIZE - 1)


def pick_threshold(sets: list[PairSet]) -> float:
    """Rule 1 of `choose`."""
    for step in STEPS:
        real = [s for s in sets if s.merge is False and s.name != "template sibling"]
        if any(v >= step for s in real for v in scores(s, fp.MIN_SHINGLES)):
            continue
        siblings = scores(next(s for s in sets if s.name == "template sibling"), 0)
        if sibling_join_chance(siblings, step) <= TEMPLATE_BUDGET:
            return step
    return STEPS[-1]


def choose(
    sets: list[PairSet], heads: list[tuple[int, str, float, int]], anchors: list[AnchorRow]
) -> dict[str, Any]:
    """The setting the measurements give, by this rule.

    1. Threshold (`pick_threshold`): the lowest step of STEPS (most merges) that no real
       keep-apart pair reaches and at which a new member of a template family joins one of
       its siblings with a chance of at most TEMPLATE_BUDGET (`sibling_join_chance`):
       a false merge hides an event, a missed one costs a second alert.
    2. MIN_CONTAINED: the smallest N of HEAD_SIZES from which on no keep-apart text cut to
       its first N shingles (any script) reaches the threshold.
    3. ANCHOR_FLOOR, per window at the lead ANCHOR_LEAD: the highest of FLOORS at or under
       the lowest share of anchors (of the smaller anchor set) that a pair to merge which
       containment admits has in common, reworded copies included.
    4. ANCHOR_WINDOW: the widest window (fewest anchor rows) with which every such pair
       shares an anchor. Keep-apart pairs that reach the floor only cost an exact check of
       at most MAX_CONTAINERS fetched texts; rows are paid by every stored article.
    """
    threshold = pick_threshold(sets)
    unsafe = [n for n, _, best, _ in heads if best >= threshold]
    min_contained = min(n for n in HEAD_SIZES if all(n > u for u in unsafe))
    at_lead = [row for row in anchors if row.lead == ct.ANCHOR_LEAD and row.missed == 0]
    chosen = max(at_lead, key=lambda row: row.window)
    return {
        "CONTAIN_THRESHOLD": threshold,
        "MIN_CONTAINED": min_contained,
        "ANCHOR_WINDOW": chosen.window,
        "ANCHOR_FLOOR": chosen.floor,
    }


def ensemble_vs_anchors(items: list[dict[str, Any]], sets: list[PairSet]) -> None:
    """Index every item's full text; query with the derived texts to merge that containment
    admits and count what is found: its own original (recall), originals of other groups
    (false candidates)."""
    from datasketch import MinHashLSHEnsemble

    originals = {_full(i): i["group"] for i in items}
    queries = [
        (b, originals[a])
        for s in sets
        if s.merge
        for a, b in s.pairs
        if a in originals
        and min(len(shingled(a)), len(shingled(b))) >= ct.MIN_CONTAINED
        and ct.containment(shingled(a), shingled(b)) >= ct.CONTAIN_THRESHOLD
    ]
    keyed = {text: n for n, text in enumerate(originals)}
    group = {keyed[t]: g for t, g in originals.items()}
    print(
        f"\nCandidates for the {len(queries)} summaries and copies containment admits,"
        f" against {len(keyed)} texts"
    )
    print(f"{'index':34} {'found':>9} {'false cand./query':>18} {'entries':>9} {'query ms':>9}")
    sigs = {
        t: fp.signature({" ".join(run).encode() for run in sequence(t)[0]})
        for t in list(originals) + [q for q, _ in queries]
    }
    for num_part in (8, 16):
        ensemble = MinHashLSHEnsemble(
            threshold=ct.CONTAIN_THRESHOLD, num_perm=fp.NUM_PERM, num_part=num_part
        )
        ensemble.index(
            (keyed[t], _minhash(sigs[t]), len(shingled(t))) for t in originals if shingled(t)
        )
        found, false, spent = 0, 0, 0.0
        for query, own in queries:
            started = time.perf_counter()
            hits = set(ensemble.query(_minhash(sigs[query]), len(shingled(query))))
            spent += time.perf_counter() - started
            found += any(group[h] == own for h in hits)
            false += sum(1 for h in hits if group[h] != own)
        entries = sum(
            len(table.keys())
            for partition in ensemble.indexes
            for lsh in partition.values()
            for table in lsh.hashtables
        )
        print(
            f"{f'MinHashLSHEnsemble(num_part={num_part})':34} {found:>5}/{len(queries)}"
            f" {false / len(queries):>18.2f} {entries:>9} {spent / len(queries) * 1e3:>9.3f}"
        )
    postings: dict[int, set[int]] = defaultdict(set)
    stored = {t: anchors_of(t, ct.ANCHOR_WINDOW, ct.ANCHOR_LEAD) for t in originals}
    size = {keyed[t]: len(a) for t, a in stored.items()}
    for text, anchor_set in stored.items():
        for anchor in anchor_set:
            postings[anchor].add(keyed[text])
    found, false, spent = 0, 0, 0.0
    floor_found, floor_false = 0, 0
    for query, own in queries:
        started = time.perf_counter()
        mine = anchors_of(query, ct.ANCHOR_WINDOW, ct.ANCHOR_LEAD)
        shared: dict[int, int] = defaultdict(int)
        for anchor in mine:
            for hit in postings.get(anchor, ()):
                shared[hit] += 1
        kept = {h for h, n in shared.items() if n >= ct.ANCHOR_FLOOR * min(len(mine), size[h])}
        spent += time.perf_counter() - started
        found += any(group[h] == own for h in shared)
        false += sum(1 for h in shared if group[h] != own)
        floor_found += any(group[h] == own for h in kept)
        floor_false += sum(1 for h in kept if group[h] != own)
    entries = sum(len(v) for v in stored.values())
    label = f"anchors (window {ct.ANCHOR_WINDOW}, lead {ct.ANCHOR_LEAD})"
    print(
        f"{label:34} {found:>5}/{len(queries)}"
        f" {false / len(queries):>18.2f} {entries:>9} {spent / len(queries) * 1e3:>9.3f}"
    )
    print(
        f"{f'  and sharing >= {ct.ANCHOR_FLOOR} of them':34} {floor_found:>5}/{len(queries)}"
        f" {floor_false / len(queries):>18.2f}"
    )
    print(
        "  found: queries whose own original is a candidate; entries: hash-table keys (one"
        " per band and partition) or anchor rows. The ensemble is built once over a fixed"
        " set (`index` may be called once), in memory or Redis/Cassandra: no PostgreSQL"
    )


def _minhash(sig: bytes) -> Any:
    import numpy as np
    from datasketch import LeanMinHash

    values = np.frombuffer(sig, dtype="<u4").astype(np.uint64)
    return LeanMinHash(seed=fp.SEED, hashvalues=values, scheme="affine32")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, default=list(DEFAULT))
    args = parser.parse_args(argv)
    missing = [str(f) for f in args.files if not f.is_file()]
    if missing:
        print(f"no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    items = load(args.files)
    sets = pair_sets(items)
    print(f"{len(items)} items. Containment of the shorter text in the longer, per pair kind")
    print(f"{'pairs':16} {'n':>6} {'min':>6} {'p5':>6} {'median':>7} {'max':>6}  merge")
    for s in sets:
        values = sorted(scores(s, fp.MIN_SHINGLES))
        if not values:
            continue
        p5 = values[len(values) // 20]
        print(
            f"{s.name:16} {len(values):>6} {values[0]:>6.3f} {p5:>6.3f}"
            f" {statistics.median(values):>7.3f} {values[-1]:>6.3f}  {s.merge}"
        )
    print(f"  (pairs whose shorter text has at least {fp.MIN_SHINGLES} shingles)")
    threshold = pick_threshold(sets)
    siblings = scores(next(s for s in sets if s.name == "template sibling"), 0)
    print(f"Pairs at or over each step (shorter side >= {ct.MIN_CONTAINED}), and the chance that")
    print(f"a new template member joins one of {FAMILY_SIZE - 1} siblings")
    for t in STEPS:
        line = ", ".join(
            f"{s.name} {sum(v >= t for v in scores(s, ct.MIN_CONTAINED))}" for s in sets
        )
        print(f"  {t:.2f}: {line}; join chance {sibling_join_chance(siblings, t):.1%}")
    heads = head_table(sets, threshold)
    print("\nKeep-apart texts cut to their first N shingles: highest containment in the other")
    for n, script, best, hits in heads:
        print(f"  N={n:>2} {script:5}: {best:.3f} ({hits} at or over {threshold})")
    anchors = anchor_table(sets, ct.CONTAIN_THRESHOLD, ct.MIN_CONTAINED)
    print("\nAnchors: pairs to merge sharing no anchor, lowest share of the smaller anchor set;")
    print("keep-apart pairs sharing one; anchor rows per text")
    for row in anchors:
        print(
            f"  window {row.window:>2} lead {row.lead:>5}: missed {row.missed}/{row.of},"
            f" lowest share {row.lowest_share:.2f} (floor {row.floor}); keep-apart sharing"
            f" {row.apart_sharing}, {row.apart_passing} at the floor;"
            f" rows per text {row.mean_rows:.1f} (max {row.max_rows})"
        )
    ensemble_vs_anchors(items, sets)
    chosen = choose(sets, heads, anchors)
    print("\nchosen by the rule in choose():", " ".join(f"{k}={v}" for k, v in chosen.items()))
    current = {name: getattr(ct, name) for name in chosen}
    print("in storage/containment.py:      ", " ".join(f"{k}={v}" for k, v in current.items()))
    if current != chosen:
        print("MISMATCH: update the constants in storage/containment.py or the rule")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

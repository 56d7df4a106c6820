"""Containment: is the shorter of two texts (nearly) all inside the longer one?

A feed's summary, an excerpt and a copy cut for space are short next to the full article, so
their Jaccard similarity to it is low however faithful they are; what they share is that most
of their shingles occur in it. `containment(a, b)` is |A ∩ B| / |A| for the smaller shingle set
A, and `best_container` decides, over stored candidates, which story a new text belongs to by
it. Pure functions, no IO; `storage.assign` finds the candidates and acts on the decision.

Candidates come from anchors, not MinHash bands: a 300-character summary against a 600-word
article has a Jaccard similarity near 0.1, which the bands (tuned for 0.6) almost never find.
The anchors of a text are its winnowed shingle hashes (Schleimer, Wilkerson and Aiken, SIGMOD
2003): in every run of ANCHOR_WINDOW consecutive shingles the smallest hash is an anchor, so
two texts that share a run of ANCHOR_WINDOW + SHINGLE - 1 words (28) share an anchor, whatever
else differs. Only the first ANCHOR_LEAD shingles are anchored, which bounds the rows a long
article adds (about one in twelve shingles, at most ~18): a summary is the article's lead,
and a copy of a longer article is similar enough for the bands to find. datasketch's
MinHashLSHEnsemble finds the same candidates but is built once over a fixed set, in memory
(or Redis/Cassandra), with ~20 times the entries; the anchors live in PostgreSQL beside the
bands and grow with each article.

Texts are compared without their headline: a feed-text article may carry the entry's title on
a line of its own in front of its summary, a full article does not.

Why these values. `python bench/containment.py` measures them on ../shared/eval (both files,
229 real excerpts) and on template look-alikes, and checks that its rules still pick them.
- CONTAIN_THRESHOLD = 0.75: no pair of different real stories comes near (different story
  groups, either way round and as a summary: 0.397; look-alikes: 0.441), but members of one
  synthetic template do (press releases sharing five sentences, two words changed: 70% of
  their text): a new member of a family of 30 would join one of its siblings' stories with
  a chance of 34% at 0.7 and 2.2% at 0.75. A false merge hides an event; a missed one costs
  a second alert. So: the lowest 0.05 step that keeps that chance under 5%. Every summary
  merges (1.0), and 213 of 219 copies of excerpts of five or more sentences with any one
  sentence cut, a new headline and a footer (0.636 to 0.991, median 0.883).
- MIN_CONTAINED = 25 shingles on the shorter side: texts of different stories cut to their
  first 20 character shingles (two Japanese government notices in one template) reach 0.75
  in another's text; from 25 on none reaches 0.75 (0.64; words: 0.52). The first 300
  characters of the excerpts give 37 to 52 shingles in English, 28 to 44 in Russian.
- ANCHOR_WINDOW = 24: the widest window with which every pair that containment admits
  shares an anchor (copies with every fifteenth word changed included); ~5 anchors per
  excerpt.
- ANCHOR_FLOOR = 0.25: those pairs share at least 0.25 of the smaller anchor set; 25 of
  25,729 pairs of different real stories reach the floor. MAX_CONTAINERS = 5 caps the texts
  fetched and checked per lookup.
- CLEAR_MARGIN = 2: a summary is far closer to its own article than to a roundup that also
  quotes it (their Jaccard similarities differ by the ratio of the two lengths), while
  members of one template are about equally close to each other; `python
  bench/dedup_scale.py` counts what its template families do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from storage.fingerprint import normalize_text, shingle_runs

CONTAIN_THRESHOLD = 0.75
MIN_CONTAINED = 25
ANCHOR_WINDOW = 24
ANCHOR_LEAD = 200
ANCHOR_FLOOR = 0.25
MAX_CONTAINERS = 5
CLEAR_MARGIN = 2.0

_ANCHOR_PERSON = b"kurilwatch-an-v1"  # anchors never meet band hashes or another scheme's


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainPrint:
    """What containment needs of one text.

    Attributes:
        shingles: The shingles of the text without its headline, for the exact check, as
            Python hashes: comparable within one process only, never stored.
        anchors: The winnowed hashes of its first ANCHOR_LEAD shingles, signed 64-bit,
            ascending, for the candidate lookup: stable, stored.
    """

    shingles: frozenset[int]
    anchors: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Container:
    """A stored text that shares anchors with a new one."""

    article_id: int
    story_id: int
    shingles: frozenset[int]


@dataclass(frozen=True, slots=True, kw_only=True)
class Contained:
    """Which story a text joins by containment (None: none) and why.

    Attributes:
        story_id: The story to join, or None.
        score: The containment of the shorter text in the longer one, if joined.
        reason: "contained", "none" (no candidate reaches the threshold) or
            "ambiguous" (candidates of several stories reach it, none clearly closest).
        stories: The stories that reached the threshold, closest first.
    """

    story_id: int | None
    score: float | None = None
    reason: str = "none"
    stories: tuple[int, ...] = ()


def body_text(title: str, text: str) -> str:
    """`normalize_text(text)` without a first line that repeats `title`.

    Only a whole line counts: a headline is often the lead's first words, which a text that
    merely starts with them keeps.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if title and lines and normalize_text(lines[0]) == normalize_text(title):
        lines = lines[1:]
    return normalize_text("\n".join(lines))


def body_shingles(title: str, text: str) -> frozenset[int]:
    """The shingles of a text without its headline (see `body_text`), as in `ContainPrint`."""
    return frozenset(map(hash, shingle_runs(body_text(title, text))))


def anchor_hash(shingle: bytes) -> int:
    """A shingle's signed 64-bit hash, as anchors are stored and compared."""
    digest = hashlib.blake2b(shingle, digest_size=8, person=_ANCHOR_PERSON).digest()
    return int.from_bytes(digest, "little", signed=True)


def winnow(hashes: list[int], window: int = ANCHOR_WINDOW) -> set[int]:
    """The smallest hash of every run of `window` consecutive hashes (all of a shorter list)."""
    if len(hashes) <= window:
        return {min(hashes)} if hashes else set()
    return {min(hashes[start : start + window]) for start in range(len(hashes) - window + 1)}


def contain_print(title: str, text: str) -> ContainPrint | None:
    """The containment print of a text, or None under MIN_CONTAINED shingles.

    A shorter text can take part in no containment decision: neither as the contained text
    nor, being shorter than any text it could contain, as the container.
    """
    runs = shingle_runs(body_text(title, text))
    distinct = frozenset(map(hash, runs))
    if len(distinct) < MIN_CONTAINED:
        return None
    lead = [anchor_hash(" ".join(run).encode("utf-8")) for run in runs[:ANCHOR_LEAD]]
    return ContainPrint(shingles=distinct, anchors=tuple(sorted(winnow(lead))))


def containment(a: frozenset[int], b: frozenset[int]) -> float:
    """|A ∩ B| / |A| for the smaller set A of the two (0.0 when either is empty)."""
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    if not small:
        return 0.0
    return len(small & large) / len(small)


def best_container(
    text: frozenset[int],
    candidates: Iterable[Container],
    *,
    threshold: float = CONTAIN_THRESHOLD,
    min_shingles: int = MIN_CONTAINED,
) -> Contained:
    """The story whose stored text contains the new one, or is held in it. Pure.

    A candidate qualifies when the shorter of the two texts has at least `min_shingles`
    shingles and its containment in the longer reaches `threshold`. When the qualifying
    candidates belong to one story, the text joins it. When they belong to several, the
    text is shared by them (the boilerplate of one template, a roundup quoting several
    stories) and containment cannot tell which is its own: the text joins the story of the
    closest candidate only if that candidate's Jaccard similarity is at least CLEAR_MARGIN
    times any other story's (a summary next to its article and a long roundup), else none.
    """
    best: dict[int, tuple[float, float]] = {}  # story -> (Jaccard, containment) of its best
    for candidate in candidates:
        if min(len(text), len(candidate.shingles)) < min_shingles:
            continue
        score = containment(text, candidate.shingles)
        if score < threshold:
            continue
        shared = len(text & candidate.shingles)
        jaccard = shared / (len(text) + len(candidate.shingles) - shared)
        best[candidate.story_id] = max(best.get(candidate.story_id, (0.0, 0.0)), (jaccard, score))
    if not best:
        return Contained(story_id=None)
    ranked = sorted(best, key=lambda story: best[story], reverse=True)
    first = ranked[0]
    if len(ranked) > 1 and best[first][0] < CLEAR_MARGIN * best[ranked[1]][0]:
        return Contained(story_id=None, reason="ambiguous", stories=tuple(ranked))
    return Contained(
        story_id=first, score=round(best[first][1], 3), reason="contained", stories=tuple(ranked)
    )

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
two texts that share a run of ANCHOR_WINDOW + SHINGLE - 1 words (16) share an anchor, whatever
else differs. Only the first ANCHOR_LEAD shingles are anchored, which bounds the rows a long
article adds; a summary is the article's lead, and a copy of an article longer than that is
similar enough for the bands to find.

Texts are compared without their headline: a feed-text article carries the entry's title in
front of its summary, a full article does not, and a rewritten headline changes nothing here.

Why these values. `python bench/containment.py` measures them on ../shared/eval (both files,
229 real excerpts) and checks that its rule still picks them.
- CONTAIN_THRESHOLD = 0.6: every pair that must merge (each excerpt against its first 300
  characters; each excerpt of five or more sentences against a copy with one sentence cut and
  a footer added) scores 0.636 or more; every pair that must not (different story groups,
  either way round and as a summary, look-alikes, different fixture stories) 0.441 or less.
  The rule takes the highest 0.05 step at or under the lowest merge, keeping the most margin
  from different stories on the same islands, where a false merge would hide an event.
- MIN_CONTAINED = 30 shingles on the shorter side: the first 25 characters of two Kyodo
  notices in one template contain each other's texts at 0.64, from 30 on no pair of
  different stories reaches 0.6 (words: 25 shingles, 0.52). A 300-character summary has
  35 to 45 word shingles, or ~290 Japanese character shingles.
- ANCHOR_WINDOW = 12, ANCHOR_LEAD = 200: every summary and all but the shortest cut copy share
  an anchor with their original; ~12 anchor rows per excerpt, at most 34 per text (16: 5 cut
  copies lost; 8: 17 rows per excerpt for none gained).
- ANCHOR_FLOOR = 0.3 and MAX_CONTAINERS = 5: a candidate is fetched when it shares at least
  0.3 of the smaller anchor set, the 5 highest first; the exact check then decides.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from storage.fingerprint import normalize_text, shingle_sequence

CONTAIN_THRESHOLD = 0.6
MIN_CONTAINED = 30
ANCHOR_WINDOW = 12
ANCHOR_LEAD = 200
ANCHOR_FLOOR = 0.3
MAX_CONTAINERS = 5

_ANCHOR_PERSON = b"kurilwatch-an-v1"  # anchors never meet band hashes or another scheme's


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainPrint:
    """What containment needs of one text.

    Attributes:
        shingles: The shingle set of the text without its headline, for the exact check.
        anchors: The winnowed hashes of its first ANCHOR_LEAD shingles, signed 64-bit,
            ascending, for the candidate lookup.
    """

    shingles: frozenset[bytes]
    anchors: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Container:
    """A stored text that shares anchors with a new one."""

    article_id: int
    story_id: int
    shingles: frozenset[bytes]


@dataclass(frozen=True, slots=True, kw_only=True)
class Contained:
    """Which story a text joins by containment (None: none) and why.

    Attributes:
        story_id: The story to join, or None.
        score: The containment of the shorter text in the longer one, if joined.
        reason: "contained", "none" (no candidate reaches the threshold) or
            "ambiguous" (the new text holds the texts of several stories: a digest).
        stories: The stories that reached the threshold, best first.
    """

    story_id: int | None
    score: float | None = None
    reason: str = "none"
    stories: tuple[int, ...] = ()


def body_text(title: str, text: str) -> str:
    """`normalize_text(text)` without a leading copy of `title` (own line or run-in)."""
    headline = normalize_text(title) if title else ""
    lines = [line for line in text.splitlines() if line.strip()]
    if headline and lines and normalize_text(lines[0]) == headline:
        lines = lines[1:]
    normalized = normalize_text("\n".join(lines))
    if headline and normalized.startswith(headline + " "):
        normalized = normalized[len(headline) + 1 :]
    return normalized


def body_shingles(title: str, text: str) -> frozenset[bytes]:
    """The shingle set of a text without its headline (see `body_text`)."""
    return frozenset(shingle_sequence(body_text(title, text)))


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
    sequence = shingle_sequence(body_text(title, text))
    distinct = frozenset(sequence)
    if len(distinct) < MIN_CONTAINED:
        return None
    anchors = winnow([anchor_hash(s) for s in sequence[:ANCHOR_LEAD]])
    return ContainPrint(shingles=distinct, anchors=tuple(sorted(anchors)))


def containment(a: frozenset[bytes], b: frozenset[bytes]) -> float:
    """|A ∩ B| / |A| for the smaller set A of the two (0.0 when either is empty)."""
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    if not small:
        return 0.0
    return len(small & large) / len(small)


def best_container(
    text: frozenset[bytes],
    candidates: Iterable[Container],
    *,
    threshold: float = CONTAIN_THRESHOLD,
    min_shingles: int = MIN_CONTAINED,
) -> Contained:
    """The story whose stored text contains the new one, or holds it, at `threshold`. Pure.

    A candidate qualifies when the shorter of the two texts has at least `min_shingles`
    shingles and its containment in the longer reaches `threshold`. The best qualifying
    candidate (highest containment, then highest Jaccard similarity, so the closest in size)
    gives the story, unless the new text is the longer side for qualifying candidates of
    two or more stories: a roundup that quotes several stories joins none of them.
    """
    scored: list[tuple[float, float, int, bool]] = []
    for candidate in candidates:
        if min(len(text), len(candidate.shingles)) < min_shingles:
            continue
        score = containment(text, candidate.shingles)
        if score < threshold:
            continue
        shared = len(text & candidate.shingles)
        jaccard = shared / (len(text) + len(candidate.shingles) - shared)
        holds = len(text) > len(candidate.shingles)
        scored.append((score, jaccard, candidate.story_id, holds))
    if not scored:
        return Contained(story_id=None)
    scored.sort(key=lambda item: (item[0], item[1]), reverse=True)
    stories = tuple(dict.fromkeys(story for _, _, story, _ in scored))
    held = {story for _, _, story, holds in scored if holds}
    if len(held) > 1:
        return Contained(story_id=None, reason="ambiguous", stories=stories)
    best = scored[0]
    return Contained(story_id=best[2], score=round(best[0], 3), reason="contained", stories=stories)

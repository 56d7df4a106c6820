"""Scoring verdicts against truth: the one place precision and recall are counted.

`score` takes one `Scored` item per article or story (its truth per label, the labels the
rules predicted, its language) and counts, per label, true and false positives and
negatives, overall and per language. An item is scored only on the labels its truth names:
a label it does not carry is neither right nor wrong for it.

Conventions: precision is 1.0 when nothing was predicted (no false alarm among none), recall
is 1.0 when nothing was true (no miss among none), F1 is their harmonic mean (0.0 when both
are 0). A language is its primary subtag, lower case ("ja-JP" counts as "ja"); an item
without one counts as "?".

`kurilwatch rules test`, `kurilwatch rules backtest` and `bench/eval_rules.py` all score
with it, so a figure means the same wherever it is printed. Everything here is pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

UNKNOWN_LANGUAGE = "?"
TOPIC = "topic"
"""The label scored for the topic gate; the development sets call it `kurils_relevant`."""
_TOPIC_KEY = "kurils_relevant"


@dataclass(frozen=True, slots=True, kw_only=True)
class Scored:
    """One judged item: what is true, what the rules said, in which language.

    Attributes:
        id: The item's id, listed among the false positives or negatives it makes.
        truth: Per label, whether the item really has it; labels absent are not scored.
        predicted: The labels the rules gave it.
        language: Its language code, if known.
    """

    id: object
    truth: Mapping[str, bool]
    predicted: frozenset[str]
    language: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Score:
    """The counts of one label over a set of items, with the ids of the mistakes."""

    label: str
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    false_positives: tuple[object, ...] = ()
    false_negatives: tuple[object, ...] = ()

    @property
    def precision(self) -> float:
        """TP / (TP + FP); 1.0 when nothing was predicted."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """TP / (TP + FN); 1.0 when nothing was true."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        """The harmonic mean of precision and recall; 0.0 when both are 0."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Scores:
    """Every label's `Score`, overall and per language (languages sorted, labels in order)."""

    items: int
    overall: tuple[Score, ...]
    by_language: tuple[tuple[str, tuple[Score, ...]], ...]

    def get(self, label: str) -> Score:
        """The overall score of `label` (all zero if no item carried it)."""
        return next((s for s in self.overall if s.label == label), Score(label=label))


def language_of(code: str | None) -> str:
    """The language an item is counted under: the primary subtag, lower case, or "?"."""
    primary = (code or "").strip().split("-")[0].split("_")[0].lower()
    return primary or UNKNOWN_LANGUAGE


def labels_truth(labels: Mapping[str, object]) -> dict[str, bool]:
    """The truth of an item's `labels` (as in the development sets and `labels export`).

    `kurils_relevant` becomes `TOPIC`, every other key an event; keys whose value is not a
    boolean (or null) are not labels and are left out.
    """
    return {
        (TOPIC if key == _TOPIC_KEY else key): value
        for key, value in labels.items()
        if isinstance(value, bool)
    }


def predicted_labels(topic: bool, events: Iterable[str]) -> frozenset[str]:
    """The labels a verdict gives: `TOPIC` when on topic, and its events."""
    return frozenset(events) | ({TOPIC} if topic else frozenset())


def score(items: Iterable[Scored], labels: Sequence[str] | None = None) -> Scores:
    """Count every label's outcomes over `items`, overall and per language.

    Args:
        items: The judged items.
        labels: The labels to score, in the order to report them; default: every label
            some item's truth names, in the order first seen. A label listed that no item
            carries is reported with zero counts.

    Returns:
        The scores; `items` counts the items scored on at least one of the labels.
    """
    cells: dict[tuple[str | None, str], dict[str, list[object]]] = {}
    order: list[str] = list(labels) if labels is not None else []
    wanted = set(order) if labels is not None else None
    counted = 0
    for item in items:
        scored = False
        language = language_of(item.language)
        for label, truth in item.truth.items():
            if wanted is not None and label not in wanted:
                continue
            if wanted is None and label not in order:
                order.append(label)
            guess = label in item.predicted
            cell = ("tp" if guess else "fn") if truth else ("fp" if guess else "tn")
            for key in ((None, label), (language, label)):
                cells.setdefault(key, {"tp": [], "fp": [], "fn": [], "tn": []})[cell].append(
                    item.id
                )
            scored = True
        counted += scored
    languages = sorted({lang for lang, _ in cells if lang is not None})
    return Scores(
        items=counted,
        overall=tuple(_score(label, cells.get((None, label))) for label in order),
        by_language=tuple(
            (
                lang,
                tuple(
                    _score(label, cells[lang, label]) for label in order if (lang, label) in cells
                ),
            )
            for lang in languages
        ),
    )


def _score(label: str, cell: dict[str, list[object]] | None) -> Score:
    if cell is None:
        return Score(label=label)
    return Score(
        label=label,
        tp=len(cell["tp"]),
        fp=len(cell["fp"]),
        fn=len(cell["fn"]),
        tn=len(cell["tn"]),
        false_positives=tuple(cell["fp"]),
        false_negatives=tuple(cell["fn"]),
    )


def score_table(scores: Scores) -> list[str]:
    """The overall table: one header line, then per label precision, recall, F1, TP FP FN TN."""
    lines = [
        f"{'label':<10}{'precision':>10}{'recall':>8}{'F1':>7}{'TP':>5}{'FP':>5}{'FN':>5}{'TN':>5}"
    ]
    lines.extend(f"{s.label:<10}{_row(s)}" for s in scores.overall)
    return lines


def language_table(scores: Scores) -> list[str]:
    """The same figures per language and label, one line each, languages sorted."""
    lines = [
        f"{'language':<10}{'label':<10}{'precision':>10}{'recall':>8}{'F1':>7}"
        f"{'TP':>5}{'FP':>5}{'FN':>5}{'TN':>5}"
    ]
    for language, rows in scores.by_language:
        lines.extend(f"{language:<10}{s.label:<10}{_row(s)}" for s in rows)
    return lines


def _row(s: Score) -> str:
    return f"{s.precision:>10.3f}{s.recall:>8.3f}{s.f1:>7.3f}{s.tp:>5}{s.fp:>5}{s.fn:>5}{s.tn:>5}"


def score_json(s: Score) -> dict[str, Any]:
    """One label's figures as JSON: precision, recall, f1 (3 decimals) and the four counts."""
    return {
        "precision": round(s.precision, 3),
        "recall": round(s.recall, 3),
        "f1": round(s.f1, 3),
        "tp": s.tp,
        "fp": s.fp,
        "fn": s.fn,
        "tn": s.tn,
    }


def scores_json(scores: Scores) -> dict[str, Any]:
    """`{"items", "labels": {label: figures}, "by_language": {language: {label: figures}}}`."""
    return {
        "items": scores.items,
        "labels": {s.label: score_json(s) for s in scores.overall},
        "by_language": {
            language: {s.label: score_json(s) for s in rows}
            for language, rows in scores.by_language
        },
    }

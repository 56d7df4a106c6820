"""Scoring verdicts against truth (alerts.score) and the desk's truth (storage.labels)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerts.score import (
    TOPIC,
    Score,
    Scored,
    labels_truth,
    language_of,
    language_table,
    predicted_labels,
    score,
    score_json,
    score_table,
)
from storage.labels import Label, Verdict, desk_truth

NOW = datetime(2026, 4, 3, 9, 0, tzinfo=UTC)


def _item(
    item_id: str, truth: dict[str, bool], predicted: set[str], language: str | None = "en"
) -> Scored:
    return Scored(id=item_id, truth=truth, predicted=frozenset(predicted), language=language)


@pytest.mark.parametrize(
    ("truth", "predicted", "cell"),
    [
        (True, True, "tp"),
        (False, True, "fp"),
        (True, False, "fn"),
        (False, False, "tn"),
    ],
)
def test_each_outcome_lands_in_its_cell(truth: bool, predicted: bool, cell: str) -> None:
    scores = score([_item("a", {"protest": truth}, {"protest"} if predicted else set())])
    counts = scores.get("protest")
    assert {c: getattr(counts, c) for c in ("tp", "fp", "fn", "tn")} == {
        c: int(c == cell) for c in ("tp", "fp", "fn", "tn")
    }
    assert counts.false_positives == (("a",) if cell == "fp" else ())
    assert counts.false_negatives == (("a",) if cell == "fn" else ())


@pytest.mark.parametrize(
    ("tp", "fp", "fn", "precision", "recall", "f1"),
    [
        (3, 1, 0, 0.75, 1.0, 6 / 7),
        (1, 0, 3, 1.0, 0.25, 0.4),
        (0, 0, 0, 1.0, 1.0, 1.0),  # nothing predicted, nothing true: no mistake
        (0, 2, 0, 0.0, 1.0, 0.0),
        (0, 0, 2, 1.0, 0.0, 0.0),
        (0, 2, 2, 0.0, 0.0, 0.0),
    ],
)
def test_precision_recall_and_f1(
    tp: int, fp: int, fn: int, precision: float, recall: float, f1: float
) -> None:
    s = Score(label="protest", tp=tp, fp=fp, fn=fn)
    assert (s.precision, s.recall, s.f1) == pytest.approx((precision, recall, f1))


def test_items_are_scored_only_on_the_labels_they_carry() -> None:
    scores = score(
        [
            _item("a", {"protest": True}, {"protest", "exercise"}),
            _item("b", {"exercise": False}, {"exercise"}),
            _item("c", {}, {"protest"}),
        ]
    )
    assert [s.label for s in scores.overall] == ["protest", "exercise"]
    assert (scores.get("protest").tp, scores.get("protest").fp) == (1, 0)
    assert (scores.get("exercise").tp, scores.get("exercise").fp) == (0, 1)
    assert scores.items == 2


def test_listed_labels_set_the_order_and_a_missing_one_scores_zero() -> None:
    scores = score(
        [_item("a", {"protest": True, "quake": True}, {"protest"})], ["exercise", "protest"]
    )
    assert [s.label for s in scores.overall] == ["exercise", "protest"]
    assert scores.get("exercise") == Score(label="exercise")
    assert scores.get("quake") == Score(label="quake")  # not asked for: not counted


def test_per_language_counts_add_up_to_the_overall_ones() -> None:
    items = [
        _item("e1", {"protest": True}, {"protest"}, "en"),
        _item("e2", {"protest": True}, set(), "en-GB"),
        _item("j1", {"protest": False}, {"protest"}, "ja"),
        _item("r1", {"protest": True}, {"protest"}, "RU"),
        _item("x1", {"protest": False}, set(), None),
    ]
    scores = score(items)
    by_language = dict(scores.by_language)
    assert list(by_language) == ["?", "en", "ja", "ru"]
    assert (by_language["en"][0].tp, by_language["en"][0].fn) == (1, 1)
    assert by_language["en"][0].false_negatives == ("e2",)
    assert by_language["ja"][0].fp == 1 and by_language["?"][0].tn == 1
    for cell in ("tp", "fp", "fn", "tn"):
        assert sum(getattr(rows[0], cell) for rows in by_language.values()) == getattr(
            scores.get("protest"), cell
        )


@pytest.mark.parametrize(
    ("code", "language"),
    [("en", "en"), ("ja-JP", "ja"), ("ru_RU", "ru"), ("EN", "en"), (None, "?"), ("", "?")],
)
def test_language_of(code: str | None, language: str) -> None:
    assert language_of(code) == language


@pytest.mark.parametrize(
    ("labels", "truth"),
    [
        (
            {"kurils_relevant": True, "protest": False, "exercise": True},
            {TOPIC: True, "protest": False, "exercise": True},
        ),
        ({"protest": None, "exercise": "yes", "quake": True}, {"quake": True}),
        ({}, {}),
    ],
)
def test_labels_truth_reads_the_development_set_format(
    labels: dict[str, object], truth: dict[str, bool]
) -> None:
    assert labels_truth(labels) == truth


@pytest.mark.parametrize(
    ("topic", "events", "predicted"),
    [
        (True, ("protest",), {TOPIC, "protest"}),
        (True, (), {TOPIC}),
        (False, (), set()),
    ],
)
def test_predicted_labels(topic: bool, events: tuple[str, ...], predicted: set[str]) -> None:
    assert predicted_labels(topic, events) == predicted


def test_tables_and_json_show_the_same_figures() -> None:
    scores = score(
        [
            _item("a", {"protest": True}, {"protest"}, "en"),
            _item("b", {"protest": True}, set(), "ja"),
        ]
    )
    assert score_table(scores) == [
        "label      precision  recall     F1   TP   FP   FN   TN",
        "protest        1.000   0.500  0.667    1    0    1    0",
    ]
    assert language_table(scores)[1:] == [
        "en        protest        1.000   1.000  1.000    1    0    0    0",
        "ja        protest        1.000   0.000  0.000    0    0    1    0",
    ]
    assert score_json(scores.get("protest")) == {
        "precision": 1.0,
        "recall": 0.5,
        "f1": 0.667,
        "tp": 1,
        "fp": 0,
        "fn": 1,
        "tn": 0,
    }


def _label(event: str, verdict: Verdict) -> Label:
    return Label(
        story_id=1,
        story_title="t",
        event=event,
        verdict=verdict,
        note=None,
        created_at=NOW,
        updated_at=NOW,
    )


@pytest.mark.parametrize(
    ("stored", "labels", "truth"),
    [
        # the desk corrected only what was wrong: the rest is the stored verdict
        (("exercise",), [_label("protest", "missed")], {"protest": True, "exercise": True}),
        (("protest",), [_label("protest", "wrong")], {"protest": False, "exercise": False}),
        (
            ("protest", "exercise"),
            [_label("protest", "wrong"), _label("exercise", "wrong")],
            {"protest": False, "exercise": False},
        ),
        # a labelled event the rules no longer have is kept
        ((), [_label("quake", "missed")], {"protest": False, "exercise": False, "quake": True}),
    ],
)
def test_desk_truth(stored: tuple[str, ...], labels: list[Label], truth: dict[str, bool]) -> None:
    assert desk_truth(("protest", "exercise"), stored, labels) == truth


def test_eval_rules_prints_the_helpers_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.eval_rules import main

    items = [
        {
            "id": "e1",
            "title": "Rally in Nemuro",
            "text": "Residents of Nemuro rallied.",
            "language": "en",
            "labels": {"kurils_relevant": True, "protest": True},
        },
        {
            "id": "j1",
            "title": None,
            "text": "根室で集会が開かれた。",
            "language": "ja",
            "labels": {"kurils_relevant": False, "protest": False, "exercise": False},
        },
    ]
    path = tmp_path / "set.jsonl"
    path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), "utf-8")
    assert main([str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    table = out[out.index(score_table(score([]))[0]) + 1 :][:3]
    assert [row.split()[0] for row in table] == ["topic", "protest", "exercise"]
    # every item is counted once per label it carries, overall and in its language
    assert [sum(map(int, row.split()[-4:])) for row in table] == [2, 2, 1]
    per_language = out[out.index("per language:") + 2 :]
    rows = [row.split() for row in per_language if row[:2] in ("en", "ja")]
    assert sorted((row[0], row[1]) for row in rows) == [
        ("en", "protest"),
        ("en", "topic"),
        ("ja", "exercise"),
        ("ja", "protest"),
        ("ja", "topic"),
    ]

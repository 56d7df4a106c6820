"""Word forms: the dictionaries' answers, and the shipped table that spares loading them."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from alerts.morphology import FORMS_FILE, fold_variants, looked_up, shipped_table, word_forms


@pytest.mark.parametrize(
    ("word", "has", "lacks"),
    [
        ("учение", {"учения", "учениях", "учений"}, {"учить"}),
        ("протестовать", {"протестовали", "протестующих"}, {"протест"}),
        ("учения", {"учение", "учениями"}, set()),  # written inflected: its dictionary form
        ("посол", {"посла", "послу"}, set()),
        ("protest", {"protests", "protested", "protesting"}, {"protester"}),
        ("training", {"trainings"}, {"train", "trained"}),
        ("protests", {"protest", "protested"}, set()),
        ("kunashiri", set(), set()),  # not in the dictionary: as written
        ("ёлка", {"елки"}, set()),  # forms are normalized, ё as е
    ],
)
def test_forms(word: str, has: set[str], lacks: set[str]) -> None:
    forms = looked_up(word)
    assert word in forms
    assert has <= forms
    assert not lacks & forms


def test_unknown_words_match_only_as_written() -> None:
    assert looked_up("kunashiri") == {"kunashiri"}
    assert looked_up("北方") == {"北方"}


def test_the_shipped_table_is_what_the_dictionaries_say() -> None:
    """Regenerate with `python -m alerts.morphology` after changing the shipped rules."""
    text = resources.files("alerts").joinpath(FORMS_FILE).read_text(encoding="utf-8")
    assert json.loads(text) == shipped_table()


def test_the_table_answers_for_the_shipped_words() -> None:
    assert word_forms("учение") == looked_up("учение")
    assert word_forms("deploy") == looked_up("deploy")


def test_katakana_names_fold_to_kanji() -> None:
    assert fold_variants("エトロフ島とクナシリ島、シコタン、ハボマイ、北方4島") == (
        "択捉島と国後島、色丹、歯舞、北方四島"
    )

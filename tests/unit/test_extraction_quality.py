"""Our extraction path against trafilatura's annotated evaluation pages, read where they lie.

`../shared/corpora/trafilatura-eval/` (from the repository root) holds third-party pages with
segments that must and must not appear in the extracted text; they are never copied here.
The text of `extract_article` must reach F1 0.90 over all segments (trafilatura's own CI
floors on its full corpus are about 0.92). `python bench/extraction_f1.py` prints the table.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.extraction_eval import (
    ANNOTATIONS,
    CORPUS,
    EvalPage,
    Score,
    count_segments,
    score,
)

MIN_F1 = 0.90

pytestmark = pytest.mark.skipif(
    not (CORPUS / ANNOTATIONS).is_file(),
    reason=f"trafilatura evaluation corpus not found at {CORPUS}",
)


@pytest.fixture(scope="module")
def result() -> Score:
    """The score of extract_article over every annotated page present."""
    return score()


def test_extraction_reaches_f1_floor(result: Score) -> None:
    assert result.pages >= 150, f"only {result.pages} annotated pages found"
    assert result.f1 >= MIN_F1, (
        f"F1 {result.f1:.4f} < {MIN_F1} (precision {result.precision:.4f}, "
        f"recall {result.recall:.4f}, {result.rejected} pages rejected)"
    )


def test_scoring_counts_segments_like_trafilatura() -> None:
    page = EvalPage(
        url="https://example.org/",
        path=Path("unused"),
        with_=("first  line", "missing"),
        without=("menu", "footer"),
    )
    assert count_segments(page, "first\nline and the menu") == (1, 1, 1, 1)
    assert count_segments(page, None) == (0, 0, 2, 2)

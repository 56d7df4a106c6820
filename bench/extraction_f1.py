"""Measure article extraction on trafilatura's annotated evaluation pages.

Usage:
    python bench/extraction_f1.py [--compare]

Runs our extraction path (`crawler.extract.extract_article(...).text`; the title is not
scored, as in trafilatura's own evaluation) over the pages listed in
`../shared/corpora/trafilatura-eval/evaldata-present.json` (from the repository root) and
prints precision, recall, F1, the segment counts, the pages (and how many were rejected as
holding no article text) and the median time per page. `--compare` also scores trafilatura
option sets (fast or with fallbacks, tables, favor_precision / favor_recall) called the
same way, which is how `EXTRACTION_OPTIONS` in `crawler/extract.py` was chosen. The scoring
lives in `tests/support/extraction_eval.py`, shared with the quality test. Nothing is
written to disk; the pages are read where they lie.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402

from crawler.extract import EXTRACTION_OPTIONS, MIN_TEXT_CHARS  # noqa: E402
from tests.support.extraction_eval import (  # noqa: E402
    ANNOTATIONS,
    CORPUS,
    Score,
    article_text,
    load_pages,
    score,
)

ALTERNATIVES: dict[str, dict[str, Any]] = {
    "fallbacks, tables": {"fast": False, "include_tables": True},
    "fallbacks, no tables": {"fast": False, "include_tables": False},
    "fast, tables": {"fast": True, "include_tables": True},
    "fast, no tables": {"fast": True, "include_tables": False},
    "favor_precision, tables": {"favor_precision": True, "include_tables": True},
    "favor_recall, tables": {"favor_recall": True, "include_tables": True},
    "favor_precision, fast": {"favor_precision": True, "fast": True, "include_tables": True},
    "favor_recall, fast": {"favor_recall": True, "fast": True, "include_tables": True},
}


def trafilatura_runner(options: dict[str, Any]) -> Callable[[bytes, str], str | None]:
    """Trafilatura called as our path calls it, with other options."""

    def run(body: bytes, url: str) -> str | None:
        try:
            doc = trafilatura.bare_extraction(
                body, url=url, with_metadata=True, include_comments=False, **options
            )
        except Exception:
            return None
        text = (getattr(doc, "text", None) or "").strip()
        return text if len(text) >= MIN_TEXT_CHARS else None

    return run


def row(name: str, result: Score) -> str:
    """One line of the table."""
    return (
        f"{name:<26} {result.precision:>9.4f} {result.recall:>7.4f} {result.f1:>7.4f} "
        f"{result.tp:>5} {result.fp:>4} {result.fn:>4} {result.tn:>4} "
        f"{result.pages:>5} {result.rejected:>4} {result.median_ms:>9.1f}"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the measurement and print the table; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--compare", action="store_true", help="also score other trafilatura option sets"
    )
    args = parser.parse_args(argv)
    if not (CORPUS / ANNOTATIONS).is_file():
        print(f"no evaluation corpus at {CORPUS}", file=sys.stderr)
        return 2
    pages = load_pages()
    print(f"options: {EXTRACTION_OPTIONS}")
    header = f"{'extractor':<26} precision  recall      F1    TP   FP   FN   TN pages  rej  ms/page"
    print(header)
    print("-" * len(header))
    print(row("kurilwatch extract_article", score(article_text, pages)))
    if args.compare:
        for name, options in ALTERNATIVES.items():
            print(row(name, score(trafilatura_runner(options), pages)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

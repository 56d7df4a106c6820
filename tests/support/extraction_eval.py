"""Score an article extractor on trafilatura's annotated evaluation pages.

The pages and annotations live in `../shared/corpora/trafilatura-eval/` (from the repository
root) and belong to their publishers; they are read where they lie, never copied here.
`evaldata-present.json` maps each page's original URL to its file name (looked up in
`cache/`, then `eval/`), the segments that must appear in the extracted text ("with") and
the boilerplate that must not ("without"). As in trafilatura's own evaluation
(`tests/eval_common.py`): both sides whitespace-normalized, substring match; a "with" found
is a true positive, missing a false negative; a "without" found is a false positive, absent
a true negative; a page the extractor rejects counts as nothing found. Only the text is
scored, not the title, as trafilatura scores the output of `extract()` (text only).

Used by `bench/extraction_f1.py` and `tests/unit/test_extraction_quality.py`.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from crawler.extract import extract_article
from kurilwatch.errors import ExtractionError

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpora" / "trafilatura-eval"
ANNOTATIONS = "evaldata-present.json"

Extractor = Callable[[bytes, str], str | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class EvalPage:
    """One annotated page: where it came from, its file, and the segments to judge by."""

    url: str
    path: Path
    with_: tuple[str, ...]
    without: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Score:
    """Segment counts over all pages, with the time each page took."""

    tp: int
    fp: int
    fn: int
    tn: int
    pages: int
    rejected: int
    millis: tuple[float, ...]

    @property
    def precision(self) -> float:
        """Share of judged segments found in the text that belong there."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        """Share of the segments that belong in the text that were found."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else 0.0

    @property
    def median_ms(self) -> float:
        """Median extraction time per page, in milliseconds."""
        return statistics.median(self.millis) if self.millis else 0.0


def normalize(text: str) -> str:
    """Whitespace collapsed, so line breaks do not cost a match."""
    return re.sub(r"\s+", " ", text).strip()


def load_pages(corpus: Path = CORPUS) -> list[EvalPage]:
    """The annotated pages whose file is present (in `cache/`, else `eval/`)."""
    annotations = json.loads((corpus / ANNOTATIONS).read_text(encoding="utf-8"))
    pages = []
    for url, item in annotations.items():
        path = _locate(corpus, item["file"])
        if path is not None:
            pages.append(
                EvalPage(
                    url=url, path=path, with_=tuple(item["with"]), without=tuple(item["without"])
                )
            )
    return pages


def _locate(corpus: Path, name: str) -> Path | None:
    for folder in ("cache", "eval"):
        if (corpus / folder / name).is_file():
            return corpus / folder / name
    return None


def count_segments(page: EvalPage, text: str | None) -> tuple[int, int, int, int]:
    """(tp, fp, fn, tn) of one page for the extracted text (None: nothing extracted)."""
    found = normalize(text) if text else ""
    tp = sum(1 for s in page.with_ if found and normalize(s) in found)
    fp = sum(1 for s in page.without if found and normalize(s) in found)
    return tp, fp, len(page.with_) - tp, len(page.without) - fp


def article_text(body: bytes, url: str) -> str | None:
    """Our extraction path: the text of `extract_article`, None when it rejects the page."""
    try:
        return extract_article(body, url, source="eval").text
    except ExtractionError:
        return None


def score(extract: Extractor = article_text, pages: list[EvalPage] | None = None) -> Score:
    """Run `extract` over the pages and add up the segment counts."""
    tp = fp = fn = tn = rejected = 0
    millis = []
    for page in load_pages() if pages is None else pages:
        body = page.path.read_bytes()
        started = time.perf_counter()
        text = extract(body, page.url)
        millis.append((time.perf_counter() - started) * 1000)
        rejected += text is None
        counts = count_segments(page, text)
        tp, fp, fn, tn = (a + b for a, b in zip((tp, fp, fn, tn), counts, strict=True))
    return Score(
        tp=tp, fp=fp, fn=fn, tn=tn, pages=len(millis), rejected=rejected, millis=tuple(millis)
    )

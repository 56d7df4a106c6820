"""Pure reading of PDF files: whether a body is a PDF, and its text, title and date, capped.

Takes bytes, never a Scrapy response; touches nothing (no network, no files). pypdf reads the
file; `crawler.extract.extract_pdf` turns what it read into an `Article`.

A PDF is untrusted input that can ask for far more work than its size: a FlateDecode stream
of a few hundred kilobytes that inflates to gigabytes, thousands of pages, or many medium
streams that add up. Every cap stops the work where it is reached:

- the input is at most `crawl.max_size` bytes (the download stops there);
- `MAX_INFLATED_BYTES` across all the document's streams except images (which text
  extraction never decodes): `read_pdf` first inflates each FlateDecode stream into nothing,
  counting, and refuses the document once the count passes the cap, so a bomb costs the time
  to inflate that many bytes and a constant amount of memory;
- `MAX_STREAM_BYTES` for any one stream as pypdf decodes it (its own limits, for every filter
  and the decoding work), for what the count cannot see (LZW, run-length, chained filters): a
  page that passes it ends the reading there, and the document is refused if it is the first;
- at most `MAX_PAGE_TREE` pages in the document (by its declared `/Count`, and pypdf refuses
  larger page trees whatever they declare), of which the first `MAX_PAGES` are read;
- at most `MAX_TEXT_CHARS` characters of text: reading stops at the page that reaches it;
- at most `MAX_SECONDS` of reading: no page is begun after that (one page's work is bounded
  by the stream caps, not by the clock).

pypdf is imported on the first PDF only, so that a daemon that never meets a PDF does not pay
for its slow import.
"""

from __future__ import annotations

import io
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crawler.dates import as_utc
from kurilwatch.errors import ExtractionError

MAX_PAGES = 30
"""Pages read from the start of a document; a press release is one to three."""
MAX_TEXT_CHARS = 200_000
"""Characters of text kept; reading stops at the page that reaches it."""
MAX_INFLATED_BYTES = 64 * 1024 * 1024
"""Bytes that all the document's non-image FlateDecode streams may inflate to, together."""
MAX_STREAM_BYTES = 16 * 1024 * 1024
"""Bytes one stream may decode to in pypdf, whatever its filters (a page of text is a few
hundred kilobytes; pypdf holds up to twice this while it decodes)."""
_STREAM_CAPS = (
    "maximum_declared_stream_length",
    "array_based_stream_maximum_output_length",
    "zlib_maximum_output_length",
    "lzw_maximum_output_length",
    "run_length_maximum_output_length",
    "brotli_maximum_output_length",
    "jbig2_maximum_output_length",
    "image_maximum_buffer_size",
    "stream_decoding_work_maximum_length",
    "xfa_decoding_work_maximum_length",
)
"""pypdf's per-stream limits (`pypdf.Configuration`), all set to `MAX_STREAM_BYTES`."""
MAX_PAGE_TREE = 2_000
"""Pages a document may have at all: pypdf reads every page object (~1 ms each) before the
first page's text, so a file of many thousand pages is refused rather than listed."""
MAX_SECONDS = 10.0
"""Reading stops at the first page that ends past this many seconds (a page's fonts can ask
for much parsing: pypdf reads a font's ToUnicode map again on each page)."""

_PDF_TYPES = ("application/pdf", "application/x-pdf")
_STREAM = re.compile(rb">>\s*stream(?:\r\n|\n|\r)")
_IMAGE = re.compile(rb"/Subtype\s*/Image\b")
_DICT_LOOKBACK = 4096
_INPUT_PIECE = 64 * 1024
_OUTPUT_PIECE = 1024 * 1024
_FILE_TITLE = re.compile(
    r"^(?:microsoft (?:word|powerpoint|excel) - .*|untitled|無題|без названия"
    r"|.*\.(?:docx?|pdf|jtdc?|xlsx?|pptx?|rtf|odt|indd))$",
    re.IGNORECASE,
)
"""Metadata titles that name the file or the lack of a title, not the document."""
_SPACES = re.compile(r"[ \t\u3000]+")


@dataclass(frozen=True, slots=True, kw_only=True)
class PdfText:
    """What a PDF gave: its text (pages joined by blank lines), title and creation date."""

    text: str
    title: str | None
    """The metadata title when it is one, else the first line of the text (None if empty)."""
    created: datetime | None
    """The metadata creation date, timezone-aware (UTC when the file names no offset)."""
    pages: int
    """Pages in the document."""
    pages_read: int
    """Pages whose text was read (at most `max_pages`, fewer when the text cap is reached)."""


def is_pdf(body: bytes, content_type: str | None) -> bool:
    """Whether a fetched body is a PDF: by its Content-Type, or by the `%PDF-` signature."""
    kind = (content_type or "").split(";")[0].strip().lower()
    return kind in _PDF_TYPES or body[:1024].lstrip()[:5] == b"%PDF-"


def read_pdf(
    body: bytes,
    *,
    max_pages: int = MAX_PAGES,
    max_chars: int = MAX_TEXT_CHARS,
    max_inflated: int = MAX_INFLATED_BYTES,
    max_stream: int = MAX_STREAM_BYTES,
    max_page_tree: int = MAX_PAGE_TREE,
    max_seconds: float = MAX_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> PdfText:
    """The text, title and date of the PDF in `body`, within the caps (see the module).

    Raises:
        ExtractionError: the file inflates past `max_inflated` bytes, has more than
            `max_page_tree` pages, is encrypted with a password, cannot be read, or its first
            page passes a per-stream cap.
    """
    if inflated_size(body, limit=max_inflated) > max_inflated:
        raise ExtractionError(f"the PDF inflates past {max_inflated} bytes")
    from pypdf import PdfReader, apply_configuration
    from pypdf.errors import LimitReachedError

    caps: dict[str, Any] = {
        **dict.fromkeys(_STREAM_CAPS, max_stream),
        "page_tree_maximum_entries": max_page_tree,
        "jbig2dec_binary": None,  # never run an outside program on a fetched file
    }
    try:
        with apply_configuration(**caps):
            deadline = clock() + max_seconds
            reader = PdfReader(io.BytesIO(body), strict=False)
            if reader.is_encrypted and not reader.decrypt(""):
                raise ExtractionError("the PDF is encrypted")
            declared = _declared_pages(reader)
            if declared > max_page_tree:
                raise ExtractionError(f"the PDF has {declared} pages, more than {max_page_tree}")
            pages = len(reader.pages)
            parts: list[str] = []
            size = 0
            for page in reader.pages[:max_pages]:
                try:
                    part = _tidy(page.extract_text() or "")
                except LimitReachedError:
                    if not parts:
                        raise
                    break  # a later page passes a cap: the text so far is the article
                parts.append(part)
                size += len(part) + 2
                if size >= max_chars or clock() > deadline:
                    break
            info = reader.metadata
            title = " ".join(str(info.title).split()) or None if info and info.title else None
            created = _created(info)
    except ExtractionError:
        raise
    except LimitReachedError as exc:
        raise ExtractionError(f"the PDF passes a reading cap: {str(exc)[:120]}") from exc
    except Exception as exc:  # pypdf raises many kinds (and builtins) on hostile files
        raise ExtractionError(f"the PDF could not be read: {type(exc).__name__}") from exc
    text = "\n\n".join(part for part in parts if part)[:max_chars]
    if title is None or _FILE_TITLE.match(title):
        title = next((line.strip() for line in text.splitlines() if line.strip()), None)
    return PdfText(text=text, title=title, created=created, pages=pages, pages_read=len(parts))


def inflated_size(body: bytes, *, limit: int) -> int:
    """The bytes the FlateDecode streams of a PDF inflate to, images left out.

    Counts without keeping what it inflates, and stops as soon as the count passes `limit`
    (the result is then above `limit`, not the full size). A stream that is not zlib data, or
    is corrupt, counts what it gave until then.
    """
    total = 0
    view = memoryview(body)
    for found in _STREAM.finditer(body):
        start = found.end()
        head = body[max(0, found.start() - _DICT_LOOKBACK) : found.start()]
        if _IMAGE.search(head, head.rfind(b"obj") + 1):  # the stream's own dictionary
            continue
        total += _inflate_count(view, start, limit - total)
        if total > limit:
            break
    return total


def _inflate_count(body: memoryview, start: int, budget: int) -> int:
    """Bytes the zlib stream at `start` inflates to, counting past `budget` by one piece."""
    inflater = zlib.decompressobj()
    count = 0
    position = start
    try:
        while not inflater.eof and position < len(body):
            pending: bytes | memoryview = body[position : position + _INPUT_PIECE]
            position += len(pending)
            while pending and not inflater.eof:
                count += len(inflater.decompress(pending, _OUTPUT_PIECE))
                if count > budget:
                    return count
                pending = inflater.unconsumed_tail
    except zlib.error:
        pass
    return count


def _declared_pages(reader: object) -> int:
    """The page count the document's page tree declares (0 when it declares none)."""
    try:
        count = reader.trailer["/Root"]["/Pages"].get("/Count", 0)  # type: ignore[attr-defined]
        return int(count)
    except Exception:  # a broken or hostile catalog: pypdf's own reading will tell
        return 0


def _tidy(text: str) -> str:
    """Runs of spaces made one, lines stripped, runs of blank lines made one."""
    lines = [_SPACES.sub(" ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _created(info: object) -> datetime | None:
    """The metadata creation date; None when absent or malformed."""
    try:
        created = getattr(info, "creation_date", None)
    except Exception:  # a malformed date string
        return None
    if not isinstance(created, datetime):
        return None
    return as_utc(created)

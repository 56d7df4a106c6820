"""PDF articles: text, title, date and language from our own PDFs, and every cap on bombs."""

from __future__ import annotations

import io
import itertools
import tracemalloc
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader, PdfWriter

from crawler.extract import extract_page, extract_pdf
from crawler.pdf import (
    MAX_INFLATED_BYTES,
    MAX_STREAM_BYTES,
    PdfText,
    inflated_size,
    is_pdf,
    read_pdf,
)
from kurilwatch.errors import ExtractionError
from kurilwatch.model import FeedEntry
from tests.support.pdfs import (
    pdf_bomb,
    pdf_many_pages,
    pdf_many_streams,
    pdf_with_image,
    render_pdf,
)
from tests.support.releases import JST, RELEASES, Release, release_by_key, release_pdf

URL = "https://www.example-mod.test/js/pdf/2026/p20260312_01.pdf"
CREATED = datetime(2026, 3, 12, 9, 30, tzinfo=JST)
MB = 1 << 20


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"%PDF-1.7\n...", None, True),
        (b"%PDF-1.4\n...", "application/octet-stream", True),
        (b"\r\n %PDF-1.4\n...", "binary/octet-stream", True),  # leading junk some servers send
        (b"...", "application/pdf; charset=binary", True),
        (b"...", "Application/X-PDF", True),
        (b"<html></html>", "text/html", False),
        (b"<html>%PDF-1.7</html>", "text/html", False),
        (b"", None, False),
    ],
)
def test_a_pdf_is_known_by_its_content_type_or_signature(
    body: bytes, content_type: str | None, expected: bool
) -> None:
    assert is_pdf(body, content_type) is expected


@pytest.mark.parametrize("release", RELEASES, ids=lambda r: r.key)
def test_each_release_extracts_with_its_title_date_and_language(release: Release) -> None:
    article = extract_pdf(release_pdf(release, created=CREATED), URL, source="js")
    assert article.title == release.title  # metadata title, else the first line
    assert article.language == release.language
    assert article.published_at == CREATED
    assert article.outlet == "example-mod.test"
    assert article.url == URL and article.text_source == "page"
    for line in release.lines:
        assert line in article.text


def test_extract_page_sends_pdfs_to_pypdf_and_html_to_trafilatura() -> None:
    release = release_by_key("ru-vvo-kurils-drill")
    body = release_pdf(release)
    as_typed = extract_page(body, URL, source="s", content_type="application/pdf")
    by_signature = extract_page(body, URL, source="s", content_type="application/octet-stream")
    assert as_typed == by_signature and as_typed.language == "ru"
    with pytest.raises(ExtractionError, match="no article text"):
        extract_page(b"<html><body><p>short</p></body></html>", URL, source="s")


@pytest.mark.parametrize(
    "metadata_title",
    [None, "", "Microsoft Word - 20260312_ロシア艦艇.docx", "p20260312_01.pdf", "untitled"],
)
def test_a_missing_or_file_name_title_gives_way_to_the_first_line(
    metadata_title: str | None,
) -> None:
    lines = ["", "Russian ships near Kunashiri Island", "Second line of the release text."]
    got = read_pdf(render_pdf([lines], title=metadata_title))
    assert got.title == "Russian ships near Kunashiri Island"


def test_the_entry_date_serves_when_the_pdf_has_none() -> None:
    release = release_by_key("en-mod-iturup-live-fire")
    body = render_pdf([release.lines], title=release.title)
    listed = datetime(2026, 3, 12, tzinfo=UTC)
    entry = FeedEntry(url=URL, title="link text", published_at=listed)
    assert extract_pdf(body, URL, source="s", entry=entry).published_at == listed
    assert extract_pdf(body, URL, source="s").published_at is None
    dated = release_pdf(release, created=CREATED)
    assert extract_pdf(dated, URL, source="s", entry=entry).published_at == CREATED


def test_uncompressed_content_streams_read_as_well() -> None:
    release = release_by_key("ja-js-frigates-kunashiri")
    got = read_pdf(render_pdf([release.lines], compress=False))
    assert got.text == release.text


def test_only_the_first_pages_are_read() -> None:
    pages = [[f"Page {n} of the annual report, paragraph text."] for n in range(1, 41)]
    got = read_pdf(render_pdf(pages), max_pages=30)
    assert (got.pages, got.pages_read) == (40, 30)
    assert "Page 30 of" in got.text and "Page 31 of" not in got.text


def test_reading_stops_at_the_page_that_reaches_the_text_cap() -> None:
    pages = [[f"Page {n} " + "x" * 90] for n in range(1, 11)]
    got = read_pdf(render_pdf(pages), max_chars=250)
    assert got.pages_read == 3 and len(got.text) == 250
    assert got.text.startswith("Page 1 ") and "Page 4 " not in got.text


def test_no_page_is_begun_after_the_time_cap() -> None:
    ticks = itertools.count(step=4.0)  # each look at the clock: four seconds later
    pages = [[f"Page {n} of a slow document."] for n in range(1, 6)]
    got = read_pdf(render_pdf(pages), max_seconds=10.0, clock=lambda: next(ticks))
    assert got.pages_read == 3 and got.pages == 5  # page 3 began at 8 s, ended at 12 s


def test_a_pdf_without_a_text_layer_is_unusable() -> None:
    with pytest.raises(ExtractionError, match="no text layer"):
        extract_pdf(render_pdf([[]]), URL, source="s")


@pytest.mark.parametrize(
    "body",
    [
        b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
        b"%PDF-1.7\n" + b"\x00\xff garbage " * 50,
        render_pdf([["Cut short in the middle of the file."]])[:300],
    ],
    ids=["no-pages", "garbage", "truncated"],
)
def test_broken_pdfs_raise_extraction_error(body: bytes) -> None:
    with pytest.raises(ExtractionError, match="PDF"):
        extract_pdf(body, URL, source="s")


def test_an_encrypted_pdf_opens_with_the_empty_password_and_not_with_another() -> None:
    release = release_by_key("en-mod-iturup-live-fire")
    body = release_pdf(release)

    def encrypted(user_password: str) -> bytes:
        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(body)))
        writer.encrypt(user_password, "owner-secret", algorithm="AES-128")
        out = io.BytesIO()
        writer.write(out)
        return out.getvalue()

    assert read_pdf(encrypted("")).text == release.text
    with pytest.raises(ExtractionError, match="encrypted"):
        read_pdf(encrypted("reader-secret"))


def _peak(call: object) -> tuple[object, int]:
    """What `call()` returned or raised, and the peak of Python memory it allocated."""
    tracemalloc.start()
    try:
        try:
            result: object = call()  # type: ignore[operator]
        except ExtractionError as exc:
            result = exc
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_flate_bomb_is_refused_at_the_inflation_cap_in_constant_memory() -> None:
    bomb = pdf_bomb(400)  # 400 MiB from about 400 KB
    assert len(bomb) < MB
    refused, peak = _peak(lambda: read_pdf(bomb))
    assert isinstance(refused, ExtractionError)
    assert str(refused) == f"the PDF inflates past {MAX_INFLATED_BYTES} bytes"
    assert peak < 8 * MB  # inflated into nothing: a piece at a time, never kept
    counted = inflated_size(bomb, limit=MAX_INFLATED_BYTES)
    assert MAX_INFLATED_BYTES < counted <= MAX_INFLATED_BYTES + MB  # stopped one piece past


def test_a_small_flate_stream_under_the_cap_is_read() -> None:
    got = read_pdf(pdf_bomb(3, lines=["Three mebibytes of spaces after this line."]))
    assert got.text == "Three mebibytes of spaces after this line."


def test_many_medium_streams_count_together() -> None:
    body = pdf_many_streams(200, 512)  # 100 MiB in 200 forms of 512 KiB
    counted = inflated_size(body, limit=10**12)
    assert 200 * 512 * 1024 <= counted < 200 * 512 * 1024 + 64 * 1024  # forms, text, font map
    with pytest.raises(ExtractionError, match="inflates past"):
        read_pdf(body)
    assert read_pdf(pdf_many_streams(20, 512)).text == "Many"


def test_a_bomb_the_count_cannot_see_stops_at_pypdfs_own_cap() -> None:
    bomb = pdf_bomb(400, hex_wrapped=True)  # hex first: not zlib data as it stands
    assert inflated_size(bomb, limit=MAX_INFLATED_BYTES) < 64 * 1024  # the font map only
    refused, peak = _peak(lambda: read_pdf(bomb))
    assert isinstance(refused, ExtractionError) and "reading cap" in str(refused)
    assert peak < 3 * MAX_STREAM_BYTES  # stopped near the 16 MiB cap, far from 400 MiB


def test_a_later_page_past_a_cap_ends_the_reading_there() -> None:
    first = ["Russian frigates exercised near Kunashiri Island, the ministry said."]
    bomb = pdf_bomb(400, hex_wrapped=True, pages_before=[first])
    got = read_pdf(bomb)
    assert got.text == first[0] and (got.pages, got.pages_read) == (2, 1)


def test_images_are_neither_counted_nor_decoded() -> None:
    body = pdf_with_image(["The map shows the ships' track east of Nemuro."], 200)
    assert inflated_size(body, limit=MAX_INFLATED_BYTES) < MB
    got, peak = _peak(lambda: read_pdf(body))
    assert isinstance(got, PdfText)
    assert got.text == "The map shows the ships' track east of Nemuro."
    assert peak < 32 * MB  # the 200 MiB of pixels were never inflated


def test_thousands_of_pages_are_refused_before_pypdf_lists_them() -> None:
    with pytest.raises(ExtractionError, match="has 5000 pages, more than 2000"):
        read_pdf(pdf_many_pages(5000))
    got = read_pdf(pdf_many_pages(50, lines=["Same page again."]))
    assert (got.pages, got.pages_read) == (50, 30)


def test_a_page_tree_larger_than_it_declares_stops_at_pypdfs_cap() -> None:
    body = pdf_many_pages(300).replace(b"/Count 300", b"/Count 3  ")
    with pytest.raises(ExtractionError, match="reading cap"):
        read_pdf(body, max_page_tree=100)

"""Small PDF files written by hand for tests: text in any script, metadata, and bombs.

`render_pdf` writes a PDF whose pages show the given lines of text in a Type0 font with an
Identity-H encoding and a ToUnicode map from each two-byte code to the same Unicode code
point, so Japanese and Russian text extract as written without embedding a font. `pdf_bomb`
writes a one-page PDF whose content stream inflates to hundreds of megabytes from a few
hundred kilobytes. Pure: builds bytes, touches nothing.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import datetime

__all__ = [
    "pdf_bomb",
    "pdf_many_pages",
    "pdf_many_streams",
    "pdf_text_string",
    "pdf_with_image",
    "render_pdf",
]

_MB = 1 << 20
_FORM = b" /Type /XObject /Subtype /Form /BBox [0 0 1 1]"
_ASCII = ("".join(chr(c) for c in range(32, 127)),)
"""What the bombs and long files may show: printable ASCII."""


def render_pdf(
    pages: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    created: datetime | None = None,
    compress: bool = True,
) -> bytes:
    """A PDF with one page per item of `pages`, each showing its lines top to bottom.

    Args:
        pages: The lines of each page (characters of the Basic Multilingual Plane).
        title: The metadata title (`/Title` in the document information).
        created: The metadata creation date, written as `D:YYYYMMDDHHmmSS+HH'mm'`.
        compress: FlateDecode the content streams.
    """
    contents = [_page_content(lines) for lines in pages]
    return _assemble(
        contents, title=title, created=created, compress=compress, to_unicode=_to_unicode(contents)
    )


def pdf_bomb(
    inflated_mb: int = 400,
    *,
    lines: Sequence[str] = ("Bomb",),
    hex_wrapped: bool = False,
    pages_before: Sequence[Sequence[str]] = (),
) -> bytes:
    """A PDF whose last page's content stream inflates to `inflated_mb` MiB (of spaces).

    `pages_before` are ordinary pages (their lines) before the bomb's.

    The stream opens with `lines` shown as text, then only spaces; it is a few hundred
    kilobytes: after the first mebibyte every further one compresses to the same ~1 KB of
    deflate blocks (a sync flush leaves a window of spaces behind), repeated, with the
    Adler-32 trailer computed for the whole. `hex_wrapped` writes the deflate data in hex
    under `[/ASCIIHexDecode /FlateDecode]`, so that it is not zlib data as it stands.
    """
    head = _page_content(lines)
    stream = _repeat_deflate(head + b" " * (_MB - len(head)), inflated_mb, b" " * _MB)
    before = [zlib.compress(_page_content(page)) for page in pages_before]
    if hex_wrapped:
        stream = stream.hex().encode() + b">"
    return _assemble([*before, stream], compressed=True, hex_wrapped=hex_wrapped)


def pdf_many_streams(count: int, inflated_kb: int, *, lines: Sequence[str] = ("Many",)) -> bytes:
    """A one-page PDF with `count` form XObjects, each inflating to `inflated_kb` KiB."""
    form = zlib.compress(b" " * (inflated_kb * 1024), 9)
    content = _page_content(lines) + b"".join(b"/X%d Do\n" % i for i in range(count))
    return _assemble([zlib.compress(content)], compressed=True, xobjects=[(_FORM, form)] * count)


def pdf_with_image(lines: Sequence[str], inflated_mb: int) -> bytes:
    """A one-page PDF showing `lines` and an image whose pixels inflate to `inflated_mb` MiB."""
    side = 1024
    rows = inflated_mb  # one mebibyte of 8-bit grey per 1024 rows
    image = (
        b" /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray"
        b" /BitsPerComponent 8" % (side, side * rows)
    )
    data = _repeat_deflate(b"\0" * _MB, rows)
    content = _page_content(lines) + b"q 100 0 0 100 50 50 cm /X0 Do Q\n"
    return _assemble(
        [zlib.compress(content)],
        compressed=True,
        xobjects=[(image, data)],
        to_unicode=_to_unicode([_page_content(lines)]),
    )


def pdf_many_pages(count: int, *, lines: Sequence[str] = ("Page",)) -> bytes:
    """A PDF of `count` pages, each showing `lines` from its own content stream."""
    content = zlib.compress(_page_content(lines), 9)
    return _assemble([content] * count, compressed=True)


def pdf_text_string(value: str) -> bytes:
    """`value` as a PDF text string: UTF-16BE with a byte-order mark, in hex."""
    return b"<FEFF" + value.encode("utf-16-be").hex().upper().encode() + b">"


def _page_content(lines: Sequence[str]) -> bytes:
    parts = [b"BT /F1 11 Tf 14 TL 50 790 Td"]
    for line in lines:
        parts.append(b"<" + line.encode("utf-16-be").hex().upper().encode() + b"> Tj T*")
    parts.append(b"ET\n")
    return b"\n".join(parts)


def _repeat_deflate(first: bytes, count: int, chunk: bytes | None = None) -> bytes:
    """zlib data for `first` then `count - 1` copies of `chunk` (default `first`), built from
    one compressed copy: after a sync flush, a chunk of one repeated byte compresses to the
    same blocks each time. The Adler-32 trailer is computed for the whole."""
    chunk = first if chunk is None else chunk
    deflate = zlib.compressobj(9)
    start = deflate.compress(first) + deflate.flush(zlib.Z_SYNC_FLUSH)
    repeat = deflate.compress(chunk) + deflate.flush(zlib.Z_SYNC_FLUSH)
    end = deflate.flush()[:-4]
    adler = _adler_of(first, chunk, count - 1)
    return start + repeat * (count - 1) + end + adler.to_bytes(4, "big")


def _adler_of(first: bytes, chunk: bytes, repeats: int) -> int:
    """Adler-32 of `first` followed by `repeats` copies of `chunk`, without building them."""
    value = zlib.adler32(first)
    for _ in range(repeats):
        value = zlib.adler32(chunk, value)
    return value


def _to_unicode(contents: Sequence[bytes]) -> bytes:
    """A ToUnicode CMap mapping each two-byte code the pages show to the same code point."""
    codes = sorted({code for content in contents for code in _shown_codes(content)})
    blocks = [codes[i : i + 100] for i in range(0, len(codes), 100)]
    return (
        b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        b"/CMapName /Adobe-Identity-UCS def /CMapType 2 def\n"
        b"1 begincodespacerange <0000> <FFFF> endcodespacerange\n"
        + b"".join(
            b"%d beginbfchar\n" % len(block)
            + b"".join(b"<%04X> <%04X>\n" % (code, code) for code in block)
            + b"endbfchar\n"
            for block in blocks
        )
        + b"endcmap CMapName currentdict /CMap defineresource pop end end\n"
    )


def _shown_codes(content: bytes) -> set[int]:
    """The two-byte codes in the hex strings of an uncompressed content stream."""
    found: set[int] = set()
    for part in content.split(b"<")[1:]:
        digits = part.split(b">")[0]
        found.update(int(digits[i : i + 4], 16) for i in range(0, len(digits) - 3, 4))
    return found


def _assemble(
    contents: Sequence[bytes],
    *,
    title: str | None = None,
    created: datetime | None = None,
    compress: bool = True,
    compressed: bool = False,
    xobjects: Sequence[tuple[bytes, bytes]] = (),
    hex_wrapped: bool = False,
    to_unicode: bytes | None = None,
) -> bytes:
    """Objects, cross-reference table and trailer around the pages' content streams
    (`hex_wrapped`: the last one is in hex, under `[/ASCIIHexDecode /FlateDecode]`)."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    def stream(data: bytes, extra: bytes = b"", *, flate: bool, hexed: bool = False) -> bytes:
        fil = b" /Filter /FlateDecode" if flate else b""
        fil = b" /Filter [/ASCIIHexDecode /FlateDecode]" if hexed else fil
        return b"<< /Length %d%s%s >>\nstream\n%s\nendstream" % (len(data), fil, extra, data)

    catalog = add(b"")
    tree = add(b"")
    cmap = to_unicode if to_unicode is not None else _to_unicode([_page_content(_ASCII)])
    to_unicode_ref = add(stream(zlib.compress(cmap), flate=True))
    cid_font = add(
        b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /KWSans"
        b" /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >>"
        b" /FontDescriptor << /Type /FontDescriptor /FontName /KWSans /Flags 4"
        b" /FontBBox [0 -200 1000 900] /ItalicAngle 0 /Ascent 900 /Descent -200"
        b" /CapHeight 700 /StemV 80 >> /DW 1000 /CIDToGIDMap /Identity >>"
    )
    font = add(
        b"<< /Type /Font /Subtype /Type0 /BaseFont /KWSans /Encoding /Identity-H"
        b" /DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>" % (cid_font, to_unicode_ref)
    )
    resources = b""
    if xobjects:
        refs = []
        for index, (entries, data) in enumerate(xobjects):
            ref = add(stream(data, entries, flate=True))
            refs.append(b"/X%d %d 0 R" % (index, ref))
        resources = b" /XObject << " + b" ".join(refs) + b" >>"
    kids = []
    for content in contents:
        flate = compressed or compress
        data = content if compressed or not compress else zlib.compress(content, 9)
        last = len(kids) == len(contents) - 1
        body = add(stream(data, flate=flate, hexed=hex_wrapped and last))
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842]"
                b" /Resources << /Font << /F1 %d 0 R >>%s >> /Contents %d 0 R >>"
                % (tree, font, resources, body)
            )
        )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % tree
    objects[tree - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    info_fields = []
    if title is not None:
        info_fields.append(b"/Title " + pdf_text_string(title))
    if created is not None:
        offset = created.strftime("%z") or "+0000"
        stamp = created.strftime("D:%Y%m%d%H%M%S") + f"{offset[:3]}'{offset[3:]}'"
        info_fields.append(b"/CreationDate (" + stamp.encode() + b")")
    info = add(b"<< " + b" ".join(info_fields) + b" >>") if info_fields else None

    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    trailer = b"/Size %d /Root %d 0 R" % (len(objects) + 1, catalog)
    if info is not None:
        trailer += b" /Info %d 0 R" % info
    out += b"trailer\n<< %s >>\nstartxref\n%d\n%%%%EOF\n" % (trailer, xref)
    return bytes(out)

"""Real-world feed and sitemap files polled twice: how many unchanged ones are answered 304.

What. The feed and sitemap documents of other projects' test suites, read where they lie
under `../shared/corpora` (see each folder's SOURCE.md; nothing is copied here):

- `feedparser-tests/`: every document with an `<item>` or `<entry>` element, except the
  three suites that repeat one tiny feed with a different text payload (`wellformed/sanitize`,
  `wellformed/amp`, `entities`), plus the JSON Feed example;
- `trafilatura-eval/resources/`: `feed1.atom`, `feed2.rss`, `feed.json` and the sitemaps
  (`sitemap.xml`, `sitemap2.xml`, `sitemap-hreflang.xml`, `sitemap.xml.gz`);
- `scrapy-sample-data/feeds/feed-sample2.xml` (RSS 2.0) and newspaper4k's
  `current/html/sample_rss.html` (an RSS 2.0 document).

Each file is one source (`kind: sitemap` for a `<urlset>` / `<sitemapindex>`, else `feed`),
served on 127.0.0.1 by a server in this process with an ETag (hash of the served body) and a
fixed Last-Modified, answering 304 to a matching `If-None-Match` or a not-older
`If-Modified-Since`. feedparser's `Header:` lines are sent with their file (Content-Type,
Content-Language, Content-Location; their own ETag / Last-Modified are not). Every absolute
http(s) URL in a served body (and in Content-Location) has its scheme and host replaced by
`http://127.0.0.1:<pages port>`, its path kept; XML namespace names, DOCTYPE identifiers
and JSON Feed's version URL are left as they are (identifiers, never fetched; changing them
would change how the document parses). The pages port, and any other path on the feed port
(relative links), answer 503 to everything but `/robots.txt` (404) and count the requests:
every article page and child sitemap fails transiently, as an unresolvable host does,
without any traffic beyond 127.0.0.1. Before serving, each document is parsed with the
measured code's own feed / sitemap parser and every entry and child-sitemap URL must be on
127.0.0.1; a file where one is not is left out and named (none is, with the files above).

Run: a fresh database (`bench.benchdb`), `listen: off`, no channel, `crawl.timeout: 20s`,
all other settings default (for the after code, the default entry retry settings). Then
`kurilwatch --config C --log-format json run --once` twice (`--gap S` seconds apart, 0 by
default), and the `source.polled` events of each run are read. Reported: sources polled,
ok on the first poll, and of those the share answered not_modified on the second; the same
split by whether the first poll's index listed entries (the sources whose pages fail);
article page requests (hits on the 503 paths) in each run, and robots.txt requests.

Usage: .venv/bin/python bench/poll_corpus.py [--code DIR] [--gap S] [--json]
`--code DIR` runs another checkout's code (e.g. `/work/before`, a worktree of an older
commit) with this venv. `--json` adds one final line of the key figures. Needs PostgreSQL
(KURILWATCH_BENCH_DATABASE_URL, default the local trust-auth server); it creates and drops
a database of its own. Exit status: 0 done, 1 a check failed (a run exited non-zero, or a
source logged no `source.polled` event).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.codepath import (  # noqa: E402
    kurilwatch_command,
    kurilwatch_env,
    stop_cleanly_on_signals,
    use_code,
)

CORPORA = ROOT.parent / "shared" / "corpora"
FEEDPARSER = "feedparser-tests"
PAYLOAD_SUITES = ("wellformed/sanitize", "wellformed/amp", "entities")
"""feedparser suites that repeat one tiny feed with a different text payload in each file."""
EXTRA = (
    ("trafilatura-eval/resources/feed1.atom", "feed"),
    ("trafilatura-eval/resources/feed2.rss", "feed"),
    ("trafilatura-eval/resources/feed.json", "feed"),
    ("trafilatura-eval/resources/sitemap.xml", "sitemap"),
    ("trafilatura-eval/resources/sitemap2.xml", "sitemap"),
    ("trafilatura-eval/resources/sitemap-hreflang.xml", "sitemap"),
    ("trafilatura-eval/resources/sitemap.xml.gz", "sitemap"),
    ("scrapy-sample-data/feeds/feed-sample2.xml", "feed"),
    ("newspaper4k-testdata/current/html/sample_rss.html", "feed"),
)
LAST_MODIFIED = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
TIMEOUT = "20s"

_ITEM = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s>/]")
_HEADER = re.compile(r"^Header:\s*([A-Za-z-]+):\s*(.*?)\s*$", re.M)
_KEEP_HEADERS = frozenset({"content-type", "content-language", "content-location"})
# A URL's scheme and host (with port or user info; `https:\/\/` as JSON may write it); `&`
# ends it, so an escaped attribute (`href=&quot;http://a.example&quot;`) loses only its host.
_ORIGIN = re.compile(r"(?i)https?:(?://|\\/\\/)[A-Za-z0-9.\-_~%:@\[\]\u0080-\U0010ffff]+")
# Spans left alone: XML namespace declarations, the DOCTYPE, JSON Feed's version URL.
_IDENTIFIERS = re.compile(
    r"""(?is)xmlns(?::[\w.-]+)?\s*=\s*(["']).*?\1|<!DOCTYPE[^>]*>|https?:(?://|\\/\\/)jsonfeed\.org(?:/|\\/)version"""
)
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True, slots=True)
class Doc:
    """One corpus file as served."""

    index: int
    rel: str
    kind: str
    path: str
    body: bytes
    headers: tuple[tuple[str, str], ...]
    etag: str

    @property
    def name(self) -> str:
        """The source's name: its number and a readable slug of the file's path."""
        slug = _NAME_CHARS.sub("-", self.rel.removeprefix(FEEDPARSER + "/")).strip("-.")
        return f"c{self.index:03d}-{slug}"[:64].rstrip("-.")


def corpus_files(corpora: Path) -> list[tuple[Path, str]]:
    """The files measured, each with its source kind, in a fixed order."""
    found: list[tuple[Path, str]] = []
    root = corpora / FEEDPARSER
    for path in sorted(root.rglob("*.xml")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(PAYLOAD_SUITES):
            continue
        body = path.read_bytes()
        if _ITEM.search(body.replace(b"\x00", b"")):
            found.append((path, _kind(body)))
    found.append((root / "json" / "example.json", "feed"))
    found.extend((corpora / rel, kind) for rel, kind in EXTRA)
    return found


def _kind(body: bytes) -> str:
    head = body.replace(b"\x00", b"")[:4096]
    return "sitemap" if b"<urlset" in head or b"<sitemapindex" in head else "feed"


def _codec(body: bytes) -> str:
    """The codec a body's text is written in, as far as URL rewriting needs to know it."""
    for bom, codec in (
        (b"\x00\x00\xfe\xff", "utf-32-be"),
        (b"\xff\xfe\x00\x00", "utf-32-le"),
        (b"\xfe\xff", "utf-16-be"),
        (b"\xff\xfe", "utf-16-le"),
    ):
        if body.startswith(bom):
            return codec
    for start, codec in (
        (b"\x00\x00\x00<", "utf-32-be"),
        (b"<\x00\x00\x00", "utf-32-le"),
        (b"\x00<", "utf-16-be"),
        (b"<\x00", "utf-16-le"),
    ):
        if body.startswith(start):
            return codec
    return "latin-1"  # byte for byte: ASCII-compatible encodings keep every other byte


def rewrite_urls(text: str, origin: str) -> str:
    """Every absolute http(s) URL's scheme and host replaced by `origin`, paths kept."""
    out: list[str] = []
    last = 0
    for kept in _IDENTIFIERS.finditer(text):
        out.append(_ORIGIN.sub(origin, text[last : kept.start()]))
        out.append(kept.group(0))
        last = kept.end()
    out.append(_ORIGIN.sub(origin, text[last:]))
    return "".join(out)


def rewrite_body(body: bytes, origin: str) -> bytes:
    """`rewrite_urls` on a document's bytes, in its own encoding (gzip inflated and redone)."""
    if body.startswith(b"\x1f\x8b"):
        return gzip.compress(rewrite_body(gzip.decompress(body), origin), mtime=0)
    codec = _codec(body)
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}.get(codec, b"")
    bom = {"utf-32-le": b"\xff\xfe\x00\x00", "utf-32-be": b"\x00\x00\xfe\xff"}.get(codec, bom)
    has_bom = bool(bom) and body.startswith(bom)
    text = body[len(bom) if has_bom else 0 :].decode(codec, errors="surrogateescape")
    return (bom if has_bom else b"") + rewrite_urls(text, origin).encode(
        codec, errors="surrogateescape"
    )


def _content_type(path: Path) -> str:
    return {
        ".json": "application/json",
        ".gz": "application/x-gzip",
        ".html": "text/html",
        ".rss": "application/rss+xml",
        ".atom": "application/atom+xml",
    }.get(path.suffix, "application/xml")


def build_docs(
    files: list[tuple[Path, str]], pages_origin: str, corpora: Path = CORPORA
) -> list[Doc]:
    """The served form of every file: body rewritten, headers chosen, ETag computed."""
    docs = []
    for index, (path, kind) in enumerate(files):
        raw = path.read_bytes()
        headers = {"Content-Type": _content_type(path)}
        comment = raw.replace(b"\x00", b"")[:2048].decode("latin-1")
        for name, value in _HEADER.findall(comment.split("-->", 1)[0]):
            if name.lower() in _KEEP_HEADERS:
                key = "Content-Type" if name.lower() == "content-type" else name
                headers[key] = rewrite_urls(value, pages_origin)
        body = rewrite_body(raw, pages_origin)
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        rel = path.relative_to(corpora).as_posix()
        docs.append(
            Doc(
                index=index,
                rel=rel,
                kind=kind,
                path=f"/corpus/{index}/{path.name}",
                body=body,
                headers=tuple(headers.items()),
                etag=etag,
            )
        )
    return docs


def off_host_urls(doc: Doc, base: str) -> list[str]:
    """URLs the crawler would fetch from `doc` (entries, child sitemaps) not on 127.0.0.1.

    Uses the measured code's own parsers, so it sees the URLs that code would see.
    """
    from crawler.feeds import parse_feed
    from crawler.index import parse_sitemap
    from kurilwatch.errors import ExtractionError

    url = base + doc.path
    urls: list[str] = []
    try:
        if doc.kind == "sitemap":
            page = parse_sitemap(doc.body, url)
            urls = [e.url for e in page.entries] + list(page.sitemaps)
        else:
            urls = [e.url for e in parse_feed(doc.body, url, dict(doc.headers))]
    except ExtractionError:  # not readable: the poll fails, nothing is fetched from it
        return []
    return [u for u in urls if urlsplit(u).hostname != "127.0.0.1"]


@dataclass(slots=True)
class Counts:
    """Requests the server answered, by kind (thread-safe)."""

    by_kind: Counter[str] = field(default_factory=Counter)
    page_urls: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, url: str | None = None) -> None:
        """Count one request of `kind` (and its URL, for pages)."""
        with self.lock:
            self.by_kind[kind] += 1
            if url is not None:
                self.page_urls[url] += 1

    def snapshot(self) -> tuple[Counter[str], Counter[str]]:
        """Copies of the counts so far."""
        with self.lock:
            return Counter(self.by_kind), Counter(self.page_urls)


def _handler(docs: dict[str, Doc], counts: Counts) -> type[BaseHTTPRequestHandler]:
    """Serves `docs` by path (an empty table: the dead pages server); 503 to anything else."""
    last_modified = format_datetime(LAST_MODIFIED, usegmt=True)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            doc = docs.get(path)
            if path == "/robots.txt":
                counts.add("robots")
                self._send(404, b"", {})
            elif doc is None:
                counts.add("page", f"{self.server.server_address[1]}{self.path}")
                self._send(503, b"unavailable", {"Content-Type": "text/plain"})
            elif _fresh(self.headers, doc.etag, LAST_MODIFIED):
                counts.add("index_304")
                self._send(304, b"", {"ETag": doc.etag, "Last-Modified": last_modified})
            else:
                counts.add("index_200")
                headers = {**dict(doc.headers), "ETag": doc.etag, "Last-Modified": last_modified}
                self._send(200, doc.body, headers)

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _fresh(headers: Any, etag: str, modified: datetime) -> bool:
    match = headers.get("If-None-Match")
    if match is not None:
        tags = [t.strip().removeprefix("W/") for t in match.split(",")]
        return etag in tags or "*" in tags
    since = headers.get("If-Modified-Since")
    if since:
        try:
            return parsedate_to_datetime(since) >= modified
        except (TypeError, ValueError):
            return False
    return False


@contextmanager
def servers(docs_for: Callable[[int], list[Doc]], counts: Counts) -> Iterator[tuple[int, int]]:
    """The pages server and the feed server on 127.0.0.1, in threads; yields their ports.

    `docs_for(pages_port)` builds the documents once the pages port is known.
    """
    table: dict[str, Doc] = {}
    pages = ThreadingHTTPServer(("127.0.0.1", 0), _handler({}, counts))
    feeds = ThreadingHTTPServer(("127.0.0.1", 0), _handler(table, counts))
    pages.daemon_threads = feeds.daemon_threads = True
    table.update((d.path, d) for d in docs_for(pages.server_address[1]))
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (pages, feeds)]
    for t in threads:
        t.start()
    try:
        yield feeds.server_address[1], pages.server_address[1]
    finally:
        for s in (pages, feeds):
            s.shutdown()
            s.server_close()


def run_once(
    command: list[str], config: Path, env: dict[str, str]
) -> tuple[dict[str, Any], float, int, str]:
    """One `run --once`: its `source.polled` events by source, wall time, status, stderr tail."""
    started = time.perf_counter()
    done = subprocess.run(
        [*command, "--config", str(config), "--log-format", "json", "run", "--once"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    wall = time.perf_counter() - started
    polled: dict[str, Any] = {}
    for line in done.stderr.splitlines():
        if '"source.polled"' not in line:
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if event.get("event") == "source.polled":
            polled[event["source"]] = event
    return polled, wall, done.returncode, "\n".join(done.stderr.splitlines()[-5:])


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100.0 * part / whole:.1f} %)" if whole else f"{part}/0"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, help="measure this checkout's code")
    parser.add_argument("--gap", type=float, default=0.0, help="seconds between the two runs")
    parser.add_argument("--corpora", type=Path, default=CORPORA)
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args()
    use_code(args.code)
    stop_cleanly_on_signals()
    from bench.benchdb import temporary_database

    files = corpus_files(args.corpora)
    counts = Counts()
    built: list[Doc] = []

    def docs_for(pages_port: int) -> list[Doc]:
        built.extend(build_docs(files, f"http://127.0.0.1:{pages_port}", args.corpora))
        return built

    with servers(docs_for, counts) as (feed_port, pages_port):
        base = f"http://127.0.0.1:{feed_port}"
        left_out = {d.rel: bad for d in built if (bad := off_host_urls(d, base))}
        docs = [d for d in built if d.rel not in left_out]
        for rel, bad in left_out.items():
            print(f"left out {rel}: would fetch off 127.0.0.1, e.g. {bad[0]}")
        kinds = Counter(d.kind for d in docs)
        print(
            f"{len(docs)} files ({kinds['feed']} feeds, {kinds['sitemap']} sitemaps) from "
            f"{args.corpora}; feeds on :{feed_port}, dead pages on :{pages_port}; "
            f"code: {args.code or ROOT}"
        )
        settings = {
            "listen": "off",
            "crawl": {"timeout": TIMEOUT},
            "sources": [{"name": d.name, "kind": d.kind, "url": base + d.path} for d in docs],
        }
        with (
            temporary_database("kw_bench_corpus") as database,
            tempfile.TemporaryDirectory() as tmp,
        ):
            config = Path(tmp) / "kurilwatch.yaml"
            config.write_text(yaml.safe_dump(settings, allow_unicode=True))
            env = kurilwatch_env(database, args.code)
            command = kurilwatch_command(args.code)
            runs = []
            for n in (1, 2):
                if n == 2 and args.gap:
                    time.sleep(args.gap)
                before_counts, before_urls = counts.snapshot()
                polled, wall, status, tail = run_once(command, config, env)
                after_counts, after_urls = counts.snapshot()
                runs.append((polled, wall, after_counts - before_counts, after_urls - before_urls))
                if status != 0:
                    print(f"run {n} exited {status}:\n{tail}")
                    return 1
    first, second = runs[0][0], runs[1][0]
    names = [d.name for d in docs]
    missing = [n for n in names if n not in first or n not in second]
    ok = [n for n in names if n in first and first[n]["ok"]]
    listed = [n for n in ok if first[n]["entries"]]
    unlisted = [n for n in ok if not first[n]["entries"]]
    nm = [n for n in ok if second.get(n, {}).get("not_modified")]
    nm_listed = [n for n in listed if n in nm]
    nm_unlisted = [n for n in unlisted if n in nm]
    errors = Counter(
        re.sub(r"\d+", "N", str(first[n]["error"]))[:70]
        for n in names
        if n in first and not first[n]["ok"]
    )
    print()
    print(f"{'':44} {'run 1':>12} {'run 2':>12}")
    for label, key in (
        ("sources polled", lambda r: len(r[0])),
        ("  ok", lambda r: sum(1 for e in r[0].values() if e["ok"])),
        ("  not_modified", lambda r: sum(1 for e in r[0].values() if e["not_modified"])),
        ("index requests answered 200", lambda r: r[2]["index_200"]),
        ("index requests answered 304", lambda r: r[2]["index_304"]),
        ("article page / child sitemap requests (503)", lambda r: r[2]["page"]),
        ("  distinct URLs", lambda r: len(r[3])),
        ("robots.txt requests", lambda r: r[2]["robots"]),
        ("wall time of run --once (s)", lambda r: f"{r[1]:.1f}"),
    ):
        print(f"{label:44} {key(runs[0])!s:>12} {key(runs[1])!s:>12}")
    print()
    print(f"ok on the first poll: {len(ok)} of {len(first)} polled ({len(docs)} configured)")
    print(f"  answered not_modified on the second: {_share(len(nm), len(ok))}")
    print(f"  of those whose index listed entries: {_share(len(nm_listed), len(listed))}")
    print(f"  of those whose index listed none:    {_share(len(nm_unlisted), len(unlisted))}")
    for n in [n for n in ok if n not in nm][:5]:
        event = second.get(n, {})
        print(
            f"  not 304 on the second poll: {n} (entries {first[n]['entries']}, "
            f"second poll ok={event.get('ok')} error={event.get('error')})"
        )
    if errors:
        print("first-poll errors: " + "; ".join(f"{c}× {e}" for e, c in errors.most_common(6)))
    if missing:
        print(f"no source.polled event for {len(missing)} sources, e.g. {missing[:3]}")
    if args.json:
        print(
            json.dumps(
                {
                    "code": str(args.code or ROOT),
                    "files": len(docs),
                    "polled": len(first),
                    "ok_first": len(ok),
                    "not_modified_second": len(nm),
                    "share_not_modified": round(len(nm) / len(ok), 4) if ok else None,
                    "listed_entries": len(listed),
                    "listed_not_modified_second": len(nm_listed),
                    "page_requests_first": runs[0][2]["page"],
                    "page_requests_second": runs[1][2]["page"],
                    "gap_seconds": args.gap,
                    "wall_seconds": [round(runs[0][1], 2), round(runs[1][1], 2)],
                }
            )
        )
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())

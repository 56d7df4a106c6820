"""A fast local news site for the speed benchmarks, served from a process of its own.

The test suite's `NewsSite` runs in the test process on `http.server`; a benchmark that
compares kurilwatch with a bare client needs a server that is never the bottleneck and does
not share a core's GIL with the driver. This one is aiohttp in a subprocess, listening on
`--hosts` loopback addresses (127.0.0.1, 127.0.0.2, …: all of 127/8 is the loopback
interface on Linux), so many sources can be many hosts, as they are in a real deployment.

Routes (the same on every host):

- `/poll/<i>.xml` — a small RSS 2.0 feed with a fixed ETag and Last-Modified; answers 304 to
  a matching `If-None-Match` or a not-older `If-Modified-Since`.
- `/ingest/feed.xml` — an RSS feed linking every page given with `--pages` (one path per
  line of that file), newest first, dated now.
- `/ingest/p/<n>.html` — page n's bytes, as stored.
- `/scale/<i>.xml` — feed i of the scale benchmarks (`bench/poll_scale.py`): empty at first,
  with a fixed ETag and Last-Modified, answering 304 to a matching conditional GET, after
  `--latency` seconds (also for 304s and /poll/ feeds): a host that takes its time.
- `POST /_publish/<i>` — a new alerting story in feed i (its ETag changes); answers the
  story's URL and headline as JSON. Each story is written afresh from a seed (`scale_story`),
  so no two are near-duplicates of each other and each alerts on its own.
- `/scale/<i>/<k>.html` — story k of feed i, as an HTML page.
- `/robots.txt` — allows everything.
- `/_counts` — the counts so far as JSON (not counted itself); `Site.snapshot()` reads it, so
  a benchmark can check what one run asked for.

With `--log FILE`, every feed request (`/poll/`, `/scale/`) is written to FILE as one line
`i<TAB>user agent<TAB>start<TAB>end<TAB>status` (times: `time.monotonic()`, which Linux shares
between processes), so a benchmark can check who polled which feed when.

Counts of requests and 304s are printed on SIGTERM as one JSON line. Use `Site` from Python:
it starts the process, waits for its "ready" line and stops it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from time import monotonic
from types import TracebackType
from typing import Self
from xml.sax.saxutils import escape

MODIFIED = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def poll_feed(i: int, base: str) -> bytes:
    """The small feed of poll source i: three items that never change."""
    items = "".join(
        f"<item><title>Poll feed {i} item {k}</title><link>{base}/poll/{i}/{k}.html</link>"
        f"<guid>{base}/poll/{i}/{k}.html</guid>"
        f"<pubDate>{format_datetime(MODIFIED)}</pubDate></item>"
        for k in range(3)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Poll feed {i}</title><link>{base}/</link><description>bench</description>"
        f"{items}</channel></rss>"
    ).encode()


def ingest_feed(count: int, base: str, now: datetime) -> bytes:
    """One feed linking every stored page."""
    items = "".join(
        f"<item><title>Page {n}</title><link>{base}/ingest/p/{n}.html</link>"
        f"<guid>{base}/ingest/p/{n}.html</guid>"
        f"<pubDate>{format_datetime(now)}</pubDate></item>"
        for n in range(count)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape('Ingest bench')}</title><link>{base}/</link>"
        f"<description>bench</description>{items}</channel></rss>"
    ).encode()


ISLANDS = ("Etorofu", "Kunashiri", "Shikotan", "Habomai", "Iturup", "Kunashir")
_WORDS = (
    "harbor council fishermen weather ferry winter schedule budget road school clinic "
    "airport runway supply cargo price fuel power grid village mayor governor survey "
    "museum archive festival season catch salmon crab kelp quota license vessel crew "
    "bridge tunnel pier storm snow fog wind coast shore lighthouse radio station signal "
    "market bakery teacher nurse doctor engineer pilot driver student family visitor "
    "report figure record estimate plan project contract tender repair upgrade delay "
    "morning evening week month quarter year decade local regional annual weekly daily "
    "new old small large quiet busy steady rising falling early late northern eastern"
)
WORDS = tuple(_WORDS.split())


def scale_story(i: int, k: int, base: str) -> tuple[str, str, bytes]:
    """Story k of scale feed i: its path, headline and page. Our own words, alerting.

    A protest over drills on one of the islands, said differently each time, with local
    filler drawn from a seeded generator, so two stories share too little to be folded
    into one by near-duplicate detection.
    """
    rng = random.Random(i * 1_000_003 + k)
    island = rng.choice(ISLANDS)
    troops = rng.randrange(300, 5000)
    day = rng.choice(("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"))
    title = f"Japan protests Russian drills on {island} ({troops} troops, dispatch {i}-{k})"
    core = (
        f"Japan lodged a formal protest with Russia on {day} after {troops} Russian troops "
        f"held military exercises on {island}, one of the disputed Kuril Islands that Tokyo "
        "calls the Northern Territories."
    )
    filler = [
        " ".join(rng.choice(WORDS) for _ in range(rng.randrange(8, 16))).capitalize() + "."
        for _ in range(24)
    ]
    paragraphs = [core, *(" ".join(filler[n : n + 4]) for n in range(0, 24, 4))]
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    path = f"/scale/{i}/{k}.html"
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<link rel='canonical' href='{base}{path}'></head><body><article>"
        f"<h1>{escape(title)}</h1>{body}</article></body></html>"
    ).encode()
    return path, title, page


def scale_feed(i: int, stories: list[tuple[str, str, datetime]], base: str) -> bytes:
    """Scale feed i: its published stories (path, headline, when), newest first."""
    items = "".join(
        f"<item><title>{escape(title)}</title><link>{base}{path}</link>"
        f"<guid>{base}{path}</guid><pubDate>{format_datetime(when)}</pubDate></item>"
        for path, title, when in reversed(stories)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Scale feed {i}</title><link>{base}/</link><description>bench</description>"
        f"{items}</channel></rss>"
    ).encode()


def serve(
    hosts: int, port: int, pages: list[Path], latency: float = 0.0, log: Path | None = None
) -> None:
    """Run the site until SIGTERM (called in the subprocess)."""
    import asyncio

    from aiohttp import web

    bodies = [p.read_bytes() for p in pages]
    counts: Counter[str] = Counter()
    etag_of: dict[int, str] = {}
    last_modified = format_datetime(MODIFIED, usegmt=True)
    started = datetime.now(UTC)
    published: dict[int, list[tuple[str, str, datetime]]] = {}
    story_pages: dict[str, bytes] = {}
    modified_of: dict[int, str] = {}
    journal = log.open("a", buffering=1 << 16) if log is not None else None

    def logged(
        handler: Callable[[web.Request], Awaitable[web.Response]],
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def wrapper(request: web.Request) -> web.Response:
            begun = monotonic()
            if latency:
                await asyncio.sleep(latency)
            response = await handler(request)
            if journal is not None:
                agent = request.headers.get("User-Agent", "").replace("\t", " ")
                journal.write(
                    f"{request.match_info['i']}\t{agent}\t{begun:.4f}\t{monotonic():.4f}"
                    f"\t{response.status}\n"
                )
            return response

        return wrapper

    def conditional(
        request: web.Request, etag: str, modified: str, body: Callable[[str], bytes]
    ) -> web.Response:
        if request.headers.get("If-None-Match") == etag or (
            "If-None-Match" not in request.headers
            and request.headers.get("If-Modified-Since") == modified
        ):
            counts["not_modified"] += 1
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(
            body=body(f"http://{request.host}"),
            content_type="application/rss+xml",
            headers={"ETag": etag, "Last-Modified": modified},
        )

    async def poll(request: web.Request) -> web.Response:
        i = int(request.match_info["i"])
        etag = etag_of.setdefault(i, f'"poll-{i}"')
        counts["poll"] += 1
        return conditional(request, etag, last_modified, lambda base: poll_feed(i, base))

    async def scale(request: web.Request) -> web.Response:
        i = int(request.match_info["i"])
        stories = published.get(i, [])
        counts["scale"] += 1
        return conditional(
            request,
            f'"scale-{i}-{len(stories)}"',
            modified_of.get(i, last_modified),
            lambda base: scale_feed(i, stories, base),
        )

    async def publish(request: web.Request) -> web.Response:
        i = int(request.match_info["i"])
        stories = published.setdefault(i, [])
        base = f"http://{request.host}"
        path, title, page = scale_story(i, len(stories), base)
        now = datetime.now(UTC).replace(microsecond=0)
        stories.append((path, title, now))
        story_pages[path] = page
        modified_of[i] = format_datetime(now, usegmt=True)
        counts["published"] += 1
        return web.json_response({"url": base + path, "title": title})

    async def story(request: web.Request) -> web.Response:
        body = story_pages.get(request.path)
        if body is None:
            raise web.HTTPNotFound()
        counts["story"] += 1
        return web.Response(body=body, content_type="text/html", charset="utf-8")

    async def feed(request: web.Request) -> web.Response:
        counts["feed"] += 1
        body = ingest_feed(len(bodies), f"http://{request.host}", started)
        return web.Response(body=body, content_type="application/rss+xml")

    async def page(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        if n >= len(bodies):
            raise web.HTTPNotFound()
        counts["page"] += 1
        return web.Response(body=bodies[n], content_type="text/html", charset="utf-8")

    async def robots(request: web.Request) -> web.Response:
        counts["robots"] += 1
        return web.Response(text="User-agent: *\nAllow: /\n")

    async def current(request: web.Request) -> web.Response:
        return web.json_response(dict(counts))

    app = web.Application()
    app.router.add_get("/poll/{i:\\d+}.xml", logged(poll))
    app.router.add_get("/scale/{i:\\d+}.xml", logged(scale))
    app.router.add_post("/_publish/{i:\\d+}", publish)
    app.router.add_get("/scale/{i:\\d+}/{k:\\d+}.html", story)
    app.router.add_get("/ingest/feed.xml", feed)
    app.router.add_get("/ingest/p/{n:\\d+}.html", page)
    app.router.add_get("/robots.txt", robots)
    app.router.add_get("/_counts", current)

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        bound = port
        for h in range(hosts):
            site = web.TCPSite(runner, f"127.0.0.{h + 1}", bound, backlog=1024)
            await site.start()
            if not bound:
                bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(json.dumps({"ready": True, "port": bound}), flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        if journal is not None:
            journal.close()
        print(json.dumps(dict(counts)), flush=True)
        await runner.cleanup()

    asyncio.run(main())


class Site:
    """The bench site in a subprocess: `with Site(hosts=50) as site: site.url(host, path)`."""

    def __init__(
        self,
        *,
        hosts: int = 1,
        pages: list[Path] | None = None,
        latency: float = 0.0,
        log: Path | None = None,
        cpus: str | None = None,
    ) -> None:
        self.hosts = hosts
        self.pages = pages or []
        self.latency = latency
        self.log = log
        self.cpus = cpus
        """`taskset -c` CPU list to run the site on (None: anywhere)."""
        self.port = 0
        self.counts: dict[str, int] = {}
        self._proc: subprocess.Popen[str] | None = None
        self._list: Path | None = None

    def url(self, path: str, *, host: int = 0) -> str:
        """The address of `path` on host number `host` (0-based)."""
        return f"http://127.0.0.{host % self.hosts + 1}:{self.port}{path}"

    def publish(self, i: int) -> dict[str, str]:
        """A new alerting story in scale feed i: its "url" and "title"."""
        from urllib.request import Request, urlopen

        request = Request(self.url(f"/_publish/{i}", host=i), method="POST", data=b"")
        with urlopen(request, timeout=10) as response:
            story: dict[str, str] = json.loads(response.read())
        return story

    def snapshot(self) -> dict[str, int]:
        """The counts so far (requests by route, 304s), read from the running site."""
        from urllib.request import urlopen

        with urlopen(self.url("/_counts"), timeout=10) as response:
            counts: dict[str, int] = json.loads(response.read())
        return counts

    def __enter__(self) -> Self:
        import tempfile

        fd, name = tempfile.mkstemp(prefix="kw_bench_pages_", suffix=".txt")
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(str(p) for p in self.pages))
        self._list = Path(name)
        command = [sys.executable, __file__, "--hosts", str(self.hosts), "--pages", name]
        command += ["--latency", str(self.latency)]
        if self.log is not None:
            command += ["--log", str(self.log)]
        if self.cpus is not None:
            command = ["taskset", "-c", self.cpus, *command]
        self._proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        self.port = int(json.loads(line)["port"])
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        self._proc.send_signal(signal.SIGTERM)
        try:
            out, _ = self._proc.communicate(timeout=10)
            lines = [x for x in out.splitlines() if x.strip()]
            self.counts = json.loads(lines[-1]) if lines else {}
        except subprocess.TimeoutExpired:
            self._proc.kill()
        if self._list is not None:
            self._list.unlink(missing_ok=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--pages", type=Path)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before a feed answers")
    parser.add_argument("--log", type=Path, help="write every feed request here")
    args = parser.parse_args()
    listed = args.pages.read_text().splitlines() if args.pages else []
    serve(args.hosts, args.port, [Path(p) for p in listed if p], args.latency, args.log)

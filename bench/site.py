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
- `/robots.txt` — allows everything.
- `/_counts` — the counts so far as JSON (not counted itself); `Site.snapshot()` reads it, so
  a benchmark can check what one run asked for.

Counts of requests and 304s are printed on SIGTERM as one JSON line. Use `Site` from Python:
it starts the process, waits for its "ready" line and stops it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
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


def serve(hosts: int, port: int, pages: list[Path]) -> None:
    """Run the site until SIGTERM (called in the subprocess)."""
    import asyncio

    from aiohttp import web

    bodies = [p.read_bytes() for p in pages]
    counts: Counter[str] = Counter()
    etag_of: dict[int, str] = {}
    last_modified = format_datetime(MODIFIED, usegmt=True)
    started = datetime.now(UTC)

    async def poll(request: web.Request) -> web.Response:
        i = int(request.match_info["i"])
        etag = etag_of.setdefault(i, f'"poll-{i}"')
        counts["poll"] += 1
        if request.headers.get("If-None-Match") == etag or (
            request.headers.get("If-Modified-Since") == last_modified
        ):
            counts["not_modified"] += 1
            return web.Response(status=304, headers={"ETag": etag})
        base = f"http://{request.host}"
        return web.Response(
            body=poll_feed(i, base),
            content_type="application/rss+xml",
            headers={"ETag": etag, "Last-Modified": last_modified},
        )

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
    app.router.add_get("/poll/{i:\\d+}.xml", poll)
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
        print(json.dumps(dict(counts)), flush=True)
        await runner.cleanup()

    asyncio.run(main())


class Site:
    """The bench site in a subprocess: `with Site(hosts=50) as site: site.url(host, path)`."""

    def __init__(self, *, hosts: int = 1, pages: list[Path] | None = None) -> None:
        self.hosts = hosts
        self.pages = pages or []
        self.port = 0
        self.counts: dict[str, int] = {}
        self._proc: subprocess.Popen[str] | None = None
        self._list: Path | None = None

    def url(self, path: str, *, host: int = 0) -> str:
        """The address of `path` on host number `host` (0-based)."""
        return f"http://127.0.0.{host % self.hosts + 1}:{self.port}{path}"

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
        self._proc = subprocess.Popen(
            [sys.executable, __file__, "--hosts", str(self.hosts), "--pages", name],
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
    args = parser.parse_args()
    listed = args.pages.read_text().splitlines() if args.pages else []
    serve(args.hosts, args.port, [Path(p) for p in listed if p])

"""`kurilwatch demo`: the whole pipeline in a minute, with nothing to set up.

Serves a small local news site (an RSS feed and article pages written for this demo, on
127.0.0.1 with a free port), points one source and a console channel at it, runs one pass
(poll, extract, gate, dedup, rules, outbox, delivery) on an embedded PostgreSQL of its own in
a temporary folder, and prints each alert as it would read in Slack. It never opens the
user's database (`KURILWATCH_DATABASE_URL` and `database_url:` are ignored). Three stories
are news the rules alert on (one carried by two outlets: one alert), two are look-alikes they
let pass; `demo_summary` then says what the run actually stored and sent.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEMO_STORIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "iturup-drills-protest",
        "Japan protests Russian artillery drills on Iturup",
        (
            "Japan lodged a protest with Russia through diplomatic channels on Monday after the Eastern Military District began artillery drills on Iturup, one of the islands Tokyo calls its Northern Territories.",
            "About 1,000 troops and coastal missile crews are taking part in the exercise, the district's press office said.",
            "The chief cabinet secretary told reporters the drills were unacceptable and contrary to Japan's position on the islands.",
        ),
    ),
    (
        "iturup-drills-protest-copy",
        "Tokyo protests Iturup drills",
        (
            "TOKYO (Demo Wire) -- Japan lodged a protest with Russia through diplomatic channels on Monday after the Eastern Military District began artillery drills on Iturup, one of the islands Tokyo calls its Northern Territories.",
            "About 1,000 troops and coastal missile crews are taking part in the exercise, the district's press office said.",
            "The chief cabinet secretary told reporters the drills were unacceptable and contrary to Japan's position on the islands.",
            "© Demo Wire. All rights reserved.",
        ),
    ),
    (
        "nemuro-rally",
        "Former islanders rally in Nemuro for the return of the Northern Territories",
        (
            "Several hundred former residents of the Northern Territories and their families held a rally in Nemuro on Sunday demanding the return of the four islands.",
            "Speakers urged the government to resume visa-free visits to the graves of relatives on Kunashiri and Shikotan.",
        ),
    ),
    (
        "ru-kunashir-exercise",
        "На Кунашире прошли учения береговых ракетных комплексов",
        (
            "Расчёты береговых ракетных комплексов «Бастион» провели учения на острове Кунашир, сообщили в Восточном военном округе.",
            "В учениях на Курилах приняли участие около 300 военнослужащих и 30 единиц военной техники.",
        ),
    ),
    (
        "kuril-earthquake",
        "Magnitude 5.8 earthquake strikes off the Kuril Islands",
        (
            "A magnitude 5.8 earthquake struck off the Kuril Islands early on Tuesday, the geophysical service said.",
            "No tsunami warning was issued and there were no reports of damage on Iturup or Kunashir.",
        ),
    ),
    (
        "tokyo-wage-rally",
        "Union members rally in Tokyo for higher wages",
        (
            "Thousands of union members rallied in central Tokyo on Saturday to demand wage increases that keep pace with prices.",
            "Organisers said the protest would be followed by talks with employers next month.",
        ),
    ),
)


def _article(slug: str, title: str, paragraphs: tuple[str, ...], published: datetime) -> bytes:
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)} | Demo News</title>"
        f"<meta property='og:site_name' content='Demo News'></head><body>"
        "<nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
        f"<article><h1>{html.escape(title)}</h1>"
        f"<time datetime='{published.isoformat()}'>{published:%d %B %Y}</time>{body}</article>"
        "<footer>Demo News, a site kurilwatch serves to itself</footer></body></html>"
    ).encode()


def _feed(base: str, published: datetime) -> bytes:
    items = "".join(
        f"<item><title>{html.escape(title)}</title><link>{base}/news/{slug}</link>"
        f"<guid>{base}/news/{slug}</guid>"
        f"<pubDate>{format_datetime(published - timedelta(minutes=n))}</pubDate></item>"
        for n, (slug, title, _) in enumerate(DEMO_STORIES)
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>Demo News</title><link>{base}/</link><description>kurilwatch demo</description>"
        f"{items}</channel></rss>"
    ).encode()


@contextmanager
def demo_site() -> Iterator[str]:
    """Serve the demo site on 127.0.0.1 (a free port) while the block runs; yield its feed URL."""
    published = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    pages: dict[str, tuple[bytes, str]] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body, kind = pages.get(self.path.split("?")[0], (b"not found", "text/plain"))
            self.send_response(200 if self.path.split("?")[0] in pages else 404)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    pages["/robots.txt"] = (b"User-agent: *\nAllow: /\n", "text/plain")
    pages["/rss.xml"] = (_feed(base, published), "application/rss+xml; charset=utf-8")
    for n, (slug, title, paragraphs) in enumerate(DEMO_STORIES):
        when = published - timedelta(minutes=n)
        pages[f"/news/{slug}"] = (
            _article(slug, title, paragraphs, when),
            "text/html; charset=utf-8",
        )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{base}/rss.xml"
    finally:
        server.shutdown()
        server.server_close()


def demo_summary(
    listed: int, stories: Sequence[Mapping[str, Any]], alerts: Sequence[Mapping[str, Any]]
) -> list[str]:
    """What the demo run did, counted from what it stored, as lines for the terminal.

    Args:
        listed: the articles the demo feed listed.
        stories: the stored stories, as `storage.stories.list_stories` gives them.
        alerts: the outbox rows, as `storage.outbox.list_alerts` gives them.
    """
    kept = sum(len(s["urls"]) for s in stories)
    line = (
        f"Done: the demo feed listed {_count(listed, 'article')}; {kept} kept as "
        f"{_count(len(stories), 'story', 'stories')}"
    )
    joined = [s for s in stories if len(s["urls"]) > 1]
    if joined:
        copies = ", ".join(str(len(s["urls"])) for s in joined)
        line += f" ({_count(len(joined), 'story', 'stories')} with {copies} copies)"
    if listed > kept:
        line += f", {listed - kept} not kept (off topic or unreadable)"
    by_status = {status: sum(a["status"] == status for a in alerts) for status in _STATUSES}
    sent = f"{_count(by_status['delivered'], 'alert')} printed above"
    if by_status["pending"]:
        sent += f"; {by_status['pending']} still pending"
    if by_status["dead"]:
        sent += f"; {by_status['dead']} could not be delivered"
    lines = [line + ".", sent + "."]
    alerted = {a["story_id"] for a in alerts}
    quiet = [s["title"] for s in stories if s["id"] not in alerted]
    if quiet:
        lines.append(f"Let pass (no rule matched): {'; '.join(quiet)}.")
    return lines


_STATUSES = ("delivered", "pending", "dead")


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"

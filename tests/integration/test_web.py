"""The web timeline, story page, feeds, export and API over real HTTP on the real PostgreSQL.

Stories are stored through the real ingest path (`tests.support.timeline`), the pages are
served by the daemon's own `listen` server, and httpx reads them as a client would. Feeds
are read back with feedparser (Atom) and kurilwatch's own feed reader (JSON Feed, which
feedparser 6 does not read), the export with the `csv` module.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator

import feedparser
import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.engine import Engine

from crawler.feeds import parse_feed
from kurilwatch.config import UiAuthConfig
from storage.labels import list_labels
from storage.tables import articles
from storage.timeline import search_clause
from tests.support.timeline import HOSTILE_TITLE, Seeded, ServedUi, seed_timeline


@pytest.fixture
def seeded(engine: Engine) -> Seeded:
    return seed_timeline(engine)


@pytest.fixture
def client(engine: Engine, seeded: Seeded) -> Iterator[httpx.Client]:
    with ServedUi(engine) as served, httpx.Client(base_url=served.url, timeout=30) as http:
        yield http


def _story_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<article class="story" id="story-(\d+)"', html)]


def test_the_timeline_lists_event_stories_newest_first_by_day_with_groups(
    client: httpx.Client, seeded: Seeded
) -> None:
    page = client.get("/")
    assert page.status_code == 200
    html = page.text
    # one row per event: the Japanese story is a member of the English story's event
    assert _story_ids(html) == [seeded.english, seeded.russian, seeded.hostile]
    assert "Ferry to Kunashiri" not in html  # no event, no row
    assert "1 more story of this event" in html
    assert "北方領土の択捉島での演習に日本政府が抗議" in html
    # days in Asia/Tokyo, newest first
    days = re.findall(r"<h2>(\w+day \d+ \w+ 2026)</h2>", html)
    assert days == ["Friday 3 April 2026", "Thursday 2 April 2026", "Wednesday 1 April 2026"]
    # outlets with their copies, evidence, and each channel's state
    assert "Wire One" in html and "+1 copy" in html
    assert "Japan lodged a protest with Russia." in html
    assert "desk: delivered" in html and "ops: pending" in html
    assert "desk: dead" in html
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "unsafe-inline" not in page.headers["Content-Security-Policy"]


def test_filters_live_in_the_url(client: httpx.Client, seeded: Seeded) -> None:
    assert _story_ids(client.get("/", params={"event": "exercise"}).text) == [
        seeded.english,
        seeded.hostile,
    ]
    assert _story_ids(client.get("/", params={"lang": "ru"}).text) == [seeded.russian]
    assert _story_ids(client.get("/", params={"status": "dead"}).text) == [seeded.russian]
    assert _story_ids(client.get("/", params={"source": "paper"}).text) == [seeded.english]
    # dates are days in ui.timezone, both ends included
    assert _story_ids(client.get("/", params={"from": "2026-04-02", "to": "2026-04-02"}).text) == [
        seeded.russian
    ]
    # the filters are echoed into the form and the feed links, so the view can be shared
    html = client.get("/", params={"event": "protest", "lang": "ru"}).text
    assert 'value="protest" checked' in html
    assert "/feeds/events.atom?event=protest&amp;lang=ru" in html
    # the choices offered: the events and languages of stories with an event
    languages = re.search(r'<select name="lang">(.*?)</select>', html, re.S)
    assert languages is not None
    assert re.findall(r'<option value="(\w+)"', languages.group(1)) == ["en", "ja", "ru"]
    assert re.findall(r'name="event" value="(\w+)"', html) == ["protest", "exercise"]
    bad = client.get("/", params={"from": "yesterday"})
    assert bad.status_code == 400 and "from: expected a date" in bad.text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("protests", "english"),  # English stemming: protest ~ protests
        ("exercise", "english"),
        ("учения", "russian"),  # Russian stemming: учениях ~ учения
        ("протестом", "russian"),
        ("抗議", "english"),  # a Japanese member's match shows its event's row
        ("択捉島", "english"),
        ("ロシア側 官房長官", "english"),  # every term, each a substring
        ("nhk", "english"),  # a word in Latin letters of a Japanese copy
    ],
)
def test_search_in_three_languages(
    client: httpx.Client, seeded: Seeded, query: str, expected: str
) -> None:
    html = client.get("/", params={"q": query}).text
    assert _story_ids(html) == [getattr(seeded, expected)]


def test_search_finds_nothing_for_absent_words(client: httpx.Client) -> None:
    html = client.get("/", params={"q": "sakhalin"}).text
    assert _story_ids(html) == []
    assert "No stories with an event match these filters." in html
    assert _story_ids(client.get("/", params={"q": "竹島"}).text) == []


@pytest.mark.parametrize(
    ("query", "indexes"),
    [
        ("protests", {"ix_articles_search_en", "ix_articles_search_ru"}),
        ("択捉島", {"ix_articles_search_trgm"}),
    ],
)
def test_search_conditions_match_the_partial_indexes(
    engine: Engine, seeded: Seeded, query: str, indexes: set[str]
) -> None:
    """Each copy is indexed in its own language only (partial indexes); the search states the
    same conditions, so PostgreSQL can answer it from those indexes."""
    select = sa.select(articles.c.id).where(search_clause(query))
    sql = select.compile(engine, compile_kwargs={"literal_binds": True})
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(conn.execute(sa.text(f"EXPLAIN {sql}")).scalars())
    assert set(re.findall(r"ix_articles_search_\w+", plan)) == indexes, plan


def test_story_page_shows_copies_evidence_alerts_and_records_a_label(
    client: httpx.Client, engine: Engine, seeded: Seeded
) -> None:
    page = client.get(f"/stories/{seeded.english}")
    assert page.status_code == 200
    html = page.text
    assert "https://paper.example/world/etorofu" in html and "Paper Two" in html
    assert "About 1,000 troops took part." in html
    assert "北方領土の択捉島での演習に日本政府が抗議" in html  # a story of the same event
    token = re.search(r'name="csrf" value="([^"]+)"', html)
    assert token is not None
    assert client.cookies.get("kw_csrf") == token.group(1)
    # without the token: refused, nothing stored
    refused = client.post(
        f"/stories/{seeded.english}/labels", data={"verdict": "wrong:exercise", "csrf": "x" * 43}
    )
    assert refused.status_code == 403
    assert list_labels(engine) == []
    done = client.post(
        f"/stories/{seeded.english}/labels",
        data={"verdict": "wrong:exercise", "csrf": token.group(1), "note": "a parade"},
    )
    assert done.status_code == 303
    stored = list_labels(engine)
    assert [(s.story_id, s.event, s.verdict, s.note) for s in stored] == [
        (seeded.english, "exercise", "wrong", "a parade")
    ]
    after = client.get(done.headers["location"]).text
    assert "Stored: exercise:wrong." in after
    # an event the rules in force do not report is refused, as `kurilwatch label` refuses it
    odd = client.post(
        f"/stories/{seeded.russian}/labels",
        data={"verdict": "missed", "missed_event": "earthquake", "csrf": token.group(1)},
    )
    assert odd.status_code == 400 and "not an event of the rules in force" in odd.text
    assert client.get("/stories/999999").status_code == 404


def test_a_label_from_another_origin_is_refused(
    client: httpx.Client, engine: Engine, seeded: Seeded
) -> None:
    html = client.get(f"/stories/{seeded.russian}").text
    token = re.search(r'name="csrf" value="([^"]+)"', html)
    assert token is not None
    cross = client.post(
        f"/stories/{seeded.russian}/labels",
        data={"verdict": "wrong:protest", "csrf": token.group(1)},
        headers={"Origin": "http://evil.example"},
    )
    assert cross.status_code == 403
    assert list_labels(engine) == []


def test_hostile_titles_are_escaped_and_javascript_links_dropped(
    client: httpx.Client, seeded: Seeded
) -> None:
    for path in ("/", f"/stories/{seeded.hostile}", "/?q=kunashiri"):
        html = client.get(path).text
        assert "<script>alert" not in html
        assert "<img src=x" not in html and "<svg onload" not in html
        assert 'href="javascript:' not in html
        assert "&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt;" in html
    story = client.get(f"/stories/{seeded.hostile}").text
    assert '<a class="original" href="#"' in story


def test_atom_and_json_feeds_read_back(client: httpx.Client, seeded: Seeded) -> None:
    atom = client.get("/feeds/events.atom")
    assert atom.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(atom.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    titles = [e.title for e in parsed.entries]
    assert titles[0] == "Japan protests Russian drills on Etorofu"
    assert HOSTILE_TITLE in titles  # kept as text, not markup
    first = parsed.entries[0]
    assert first.link == "https://wire.example/en/etorofu-protest"
    assert {t.term for t in first.tags} == {"protest", "exercise"}
    hostile = next(e for e in parsed.entries if e.title == HOSTILE_TITLE)
    assert hostile.link.endswith(f"/stories/{seeded.hostile}")  # not the javascript: URL

    protests = feedparser.parse(client.get("/feeds/events.atom?event=protest").content)
    assert {e.title for e in protests.entries} == {
        "Japan protests Russian drills on Etorofu",
        "北方領土の択捉島での演習に日本政府が抗議",
        "Япония заявила протест из-за учений на Итурупе",
    }

    body = client.get("/feeds/events.json", params={"event": "protest"})
    assert body.headers["content-type"].startswith("application/feed+json")
    # feedparser 6 reads no JSON Feed: kurilwatch's own feed reader reads it back
    entries = parse_feed(body.content, str(body.url), dict(body.headers))
    assert [e.title for e in entries] == [
        "Japan protests Russian drills on Etorofu",
        "北方領土の択捉島での演習に日本政府が抗議",
        "Япония заявила протест из-за учений на Итурупе",
    ]
    assert entries[0].url == "https://wire.example/en/etorofu-protest"
    assert entries[0].published_at is not None
    raw = body.json()
    assert raw["version"] == "https://jsonfeed.org/version/1.1"
    assert all(item["id"] and "protest" in item["tags"] for item in raw["items"])


def test_csv_export_reads_back(client: httpx.Client, seeded: Seeded) -> None:
    response = client.get("/export/events.csv")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [int(r["id"]) for r in rows] == [
        seeded.english,
        seeded.japanese,
        seeded.russian,
        seeded.hostile,
    ]
    english = rows[0]
    assert set(english["events"].split()) == {"protest", "exercise"}
    assert english["copies"] == "2"
    assert "desk:delivered" in english["channels"] and "ops:pending" in english["channels"]
    assert rows[1]["group_id"] == str(seeded.english)


def test_api_uses_the_webhook_field_names(client: httpx.Client, seeded: Seeded) -> None:
    listed = client.get("/api/stories").json()
    first = listed["stories"][0]
    assert {
        "id",
        "alert_id",
        "title",
        "url",
        "outlet",
        "published_at",
        "language",
        "urls",
        "events",
        "rules",
        "evidence",
        "text_source",
        "text_reason",
    } <= set(first)
    assert first["id"] == seeded.english
    assert first["urls"] == [
        "https://wire.example/en/etorofu-protest",
        "https://paper.example/world/etorofu",
    ]
    assert first["members"][0]["id"] == seeded.japanese
    assert listed["next"] is None
    paged = client.get("/api/stories", params={"limit": 1}).json()
    assert [s["id"] for s in paged["stories"]] == [seeded.english]
    second = client.get(paged["next"]).json()
    assert [s["id"] for s in second["stories"]] == [seeded.russian]

    one = client.get(f"/api/stories/{seeded.english}").json()
    assert one["story"]["id"] == seeded.english
    assert {m["rule"] for m in one["matches"]} == {"protest", "exercise"}
    assert {a["channel"]: a["status"] for a in one["alerts"]} == {
        "desk": "delivered",
        "ops": "pending",
    }
    assert client.get("/api/stories/999999").status_code == 404
    dead = client.get("/api/alerts", params={"status": "dead"}).json()["alerts"]
    assert [a["story_id"] for a in dead] == [seeded.russian]
    sources = client.get("/api/sources").json()
    assert "sources" in sources
    assert json.loads(client.get("/healthz").text)["database"] is True


def test_auth_guards_pages_but_not_health(engine: Engine, seeded: Seeded) -> None:
    auth = UiAuthConfig(token=SecretStr("s3cret-token-0123456789"))
    with ServedUi(engine, auth=auth) as served, httpx.Client(base_url=served.url) as http:
        for path in ("/", f"/stories/{seeded.english}", "/api/stories", "/feeds/events.atom"):
            refused = http.get(path)
            assert refused.status_code == 401, path
            assert refused.headers["WWW-Authenticate"].startswith("Basic")
        assert http.get("/healthz").status_code == 200
        assert http.get("/metrics").status_code == 200
        bearer = {"Authorization": "Bearer s3cret-token-0123456789"}
        assert http.get("/", headers=bearer).status_code == 200
        assert http.get("/", auth=("desk", "s3cret-token-0123456789")).status_code == 200
        assert http.get("/", auth=("desk", "wrong")).status_code == 401
        assert http.post(f"/stories/{seeded.english}/labels").status_code == 401

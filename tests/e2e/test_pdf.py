"""PDF articles end to end: a listing of release PDFs, polled by the real `kurilwatch run --once`.

The local site stands in for a ministry's press page: a list of release PDFs picked by a
`links:` selector (with a map image beside one of them), seven releases of our own in three
languages, and one PDF bomb. The event releases alert from their PDF text, exactly those that
`kurilwatch rules test` flags on the same extracted text; the bomb is recorded with its reason
and the rest carry on.
"""

from __future__ import annotations

import json
from datetime import datetime

from crawler.extract import extract_pdf
from tests.e2e.conftest import Kurilwatch, fast_delivery
from tests.support.newssite import NewsSite
from tests.support.pdfs import pdf_bomb
from tests.support.receiver import WebhookReceiver
from tests.support.releases import JST, RELEASES, release_pdf

BOMB_TITLE = "ロシア海軍艦艇の動向について（速報）"


def _listing(links: list[tuple[str, str]]) -> bytes:
    items = "\n".join(
        f'<li><a href="{path}">{text}</a> <a href="/js/img/{path.rsplit("/", 1)[1]}.jpg">地図</a>'
        "</li>"
        for path, text in links
    )
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>報道発表資料</title></head>'
        f'<body><main><h1>報道発表資料</h1><ul class="releases">\n{items}\n</ul></main>'
        "</body></html>"
    ).encode()


def test_a_listing_of_pdfs_alerts_from_their_text_and_refuses_the_bomb(kw: Kurilwatch) -> None:
    today = datetime.now(JST).strftime("%Y%m%d")
    with NewsSite(name="Joint Staff") as site, WebhookReceiver() as rx:
        paths: dict[str, str] = {}
        bodies: dict[str, bytes] = {}
        for number, release in enumerate(RELEASES, start=1):
            path = f"/js/pdf/{today[:4]}/p{today}_{number:02d}.pdf"
            paths[release.key] = path
            bodies[release.key] = release_pdf(release)
            site.serve_raw(path, bodies[release.key], "application/pdf")
        bomb_path = f"/js/pdf/{today[:4]}/p{today}_99.pdf"
        site.serve_raw(bomb_path, pdf_bomb(400, lines=["Bomb"]), "application/pdf")
        links = [(paths[r.key], r.title) for r in RELEASES]
        links.insert(3, (bomb_path, BOMB_TITLE))
        site.serve_raw("/js/press/", _listing(links), "text/html; charset=utf-8")
        kw.write_config(
            {
                "sources": [
                    {
                        "name": "joint-staff",
                        "kind": "listing",
                        "url": site.url + "/js/press/",
                        "links": "ul.releases li",
                    }
                ],
                "channels": [{"name": "ops", "kind": "webhook", "url": rx.url}],
                "delivery": fast_delivery(),
            }
        )
        done = kw.run("run", "--once")
        assert done.returncode == 0, done.stderr

        alerted = {p["story"]["url"].rsplit("/", 1)[1]: p for p in (r.json() for r in rx.received)}
        events = {r.key for r in RELEASES if r.events}
        assert set(alerted) == {paths[key].rsplit("/", 1)[1] for key in events}
        for release in RELEASES:
            if release.key not in events:
                continue
            payload = alerted[paths[release.key].rsplit("/", 1)[1]]
            assert set(payload["events"]) == set(release.events)
            story = payload["story"]
            assert story["title"] == release.title  # the PDF's, not the link text
            assert story["text_source"] == "page" and story["text_reason"] is None
        assert not any(r.path.endswith(".jpg") for r in site.requests)  # media stay dropped

        # the same verdicts as `rules test` on the text the PDFs carry
        lines = []
        for release in RELEASES:
            article = extract_pdf(bodies[release.key], site.url + paths[release.key], source="x")
            row = {"id": release.key, "title": article.title, "text": article.text}
            lines.append(json.dumps({**row, "language": article.language}, ensure_ascii=False))
        tested = kw.run("rules", "test", "-", stdin="\n".join(lines) + "\n")
        assert tested.returncode == 0, tested.stderr
        verdicts = {v["id"]: set(v["events"]) for v in map(json.loads, tested.stdout.splitlines())}
        assert {key for key, found in verdicts.items() if found} == events

        entries = {e["url"].rsplit("/", 1)[1]: e for e in kw.json("entries", "list")}
        bomb = entries[bomb_path.rsplit("/", 1)[1]]
        assert bomb["status"] == "feed" and bomb["verdict"] == "off_topic"
        assert bomb["reason"] == "the PDF inflates past 67108864 bytes"
        for release in RELEASES:
            entry = entries[paths[release.key].rsplit("/", 1)[1]]
            assert entry["status"] == "done", entry
        [health] = kw.json("sources", "list")
        assert health["last_error"] is None

        assert kw.run("run", "--once").returncode == 0  # nothing new: nothing fetched again
        assert site.hits(bomb_path) == 1
        assert len(rx.received) == len(events)

        ja_url = site.url + paths["ja-js-frigates-kunashiri"]
        explained = kw.run("rules", "test", "--url", ja_url)
        assert explained.returncode == 0, explained.stderr
        verdict = json.loads(explained.stdout)
        assert verdict["language"] == "ja" and verdict["events"] == ["exercise"]
        assert verdict["title"] == "ロシア海軍艦艇の動向について"

"""The web timeline in a real browser, served by a real `kurilwatch run`.

Three local news sites (English, Russian, Japanese) publish stories; the daemon polls them,
stores and alerts, and serves the pages on its `listen` address. Headless Chromium (the
distribution's, driven through Playwright) loads the timeline, applies filters, searches in
each language, opens a story, presses a label button, and saves screenshots in the test's
temporary folder. The XSS test serves hostile titles, texts and `javascript:` links and
checks in the browser that no script runs: no dialog opens, no inline script or event
handler reaches the page, and the Content-Security-Policy never has to block anything.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, sync_playwright

from storage.engine import database_url as sa_url
from tests.e2e.conftest import Kurilwatch, until
from tests.support.newssite import NewsSite
from tests.support.ports import free_port
from tests.support.stories import FixtureStory
from tests.support.timeline import HOSTILE_TITLE, seed_timeline

CHROMIUM = Path("/usr/bin/chromium")
# The test brings its own topic gate and rules, so it holds whatever the shipped ones become.
WATCH = "kuril* OR kunashir* OR etorofu* OR курил* OR итуруп* OR 択捉 OR 国後"
RULES = [
    {"name": "protest", "event": "protest", "query": "protest* OR протест* OR 抗議"},
    {"name": "exercise", "event": "exercise", "query": "drill* OR exercise* OR учени* OR 演習"},
]
EN = FixtureStory(
    key="etorofu-drills-protest",
    title="Japan protests Russian drills on Etorofu",
    language="en",
    expect_topic=True,
    expect_events=frozenset({"protest", "exercise"}),
    paragraphs=(
        "Japan lodged a protest with Russia on Monday over military drills held on Etorofu, "
        "the chief cabinet secretary told reporters in Tokyo.",
        "Russia's Eastern Military District said about 1,000 troops took part in the drills "
        "on the island, which Russia calls Iturup, and that they would end on Friday.",
    ),
)
RU = FixtureStory(
    key="iturup-protest",
    title="Япония заявила протест из-за учений на Итурупе",
    language="ru",
    expect_topic=True,
    expect_events=frozenset({"protest", "exercise"}),
    paragraphs=(
        "Министерство иностранных дел Японии заявило протест российской стороне в связи с "
        "учениями на Итурупе, сообщили в посольстве.",
        "В учениях на Курилах участвовали подразделения Восточного военного округа, "
        "говорится в сообщении ведомства.",
    ),
)
JA = FixtureStory(
    key="kunashiri-kogi",
    title="国後島の施設建設に日本政府が抗議",
    language="ja",
    expect_topic=True,
    expect_events=frozenset({"protest"}),
    paragraphs=(
        "日本政府は、国後島でロシアが進める新たな施設の建設について、外交ルートを通じて"
        "ロシア側に抗議した。",
        "官房長官は記者会見で、北方領土に関する日本の立場と相いれないと述べた。",
    ),
)
HOSTILE = FixtureStory(
    key="hostile-kunashiri",
    title="<script>alert('headline')</script> Kunashiri drills <img src=x onerror=alert(1)> "
    '"><b>broken <a href="javascript:alert(2)">markup',
    language="en",
    expect_topic=True,
    expect_events=frozenset({"exercise"}),
    paragraphs=(
        "Troops held drills on Kunashiri <script>alert('text')</script> on Monday, "
        '<a href="javascript:alert(3)">the ministry said</a>.',
        "</textarea></title><svg onload=alert(4)> The drills ended on Tuesday.",
    ),
)


@pytest.fixture
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), (
        f"{CHROMIUM} is missing: apt-get install chromium (scripts/test installs it as root)"
    )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


def _config(sites: list[NewsSite], port: int) -> dict[str, Any]:
    return {
        "sources": [
            {"name": f"site-{site.language}", "url": site.feed_url, "every": "1h"} for site in sites
        ],
        "channels": [{"name": "terminal", "kind": "console"}],
        "watch": WATCH,
        "rules": RULES,
        "listen": f"127.0.0.1:{port}",
        "ui": {"timezone": "Asia/Tokyo"},
        "delivery": {"interval": "200ms"},
    }


def _stop(proc: subprocess.Popen[str], log: Path) -> None:
    proc.terminate()
    proc.wait(timeout=60)
    assert proc.returncode == 0, log.read_text(encoding="utf-8")[-3000:]


def _stories(base: str) -> list[dict[str, Any]]:
    try:
        listed = httpx.get(f"{base}/api/stories", timeout=10).json()["stories"]
    except (httpx.HTTPError, ValueError):
        return []
    return [s for group in listed for s in (group, *group["members"])]


def _delivered(base: str, count: int) -> bool:
    stories = _stories(base)
    states = [c["status"] for s in stories for c in s["channels"]]
    return len(stories) >= count and states.count("delivered") >= count


def _titles(page: Page) -> list[str]:
    return page.locator("article.story h3 a.headline").all_inner_texts()


def _search(page: Page, text: str) -> list[str]:
    page.fill("input[name=q]", text)
    with page.expect_navigation():
        page.press("input[name=q]", "Enter")
    assert "q=" in page.url
    return _titles(page) + page.locator("details.members a").all_inner_texts()


def test_timeline_filters_search_story_and_label_in_a_browser(
    kw: Kurilwatch, tmp_path: Path, browser: Browser
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "daemon.log"
    with (
        NewsSite(name="Kuril Wire", language="en") as en,
        NewsSite(name="Курильские вести", language="ru") as ru,
        NewsSite(name="北方ニュース", language="ja") as ja,
    ):
        en.add_story(EN)
        ru.add_story(RU)
        ja.add_story(JA)
        kw.write_config(_config([en, ru, ja], port))
        proc = kw.popen_logged("run", log=log)
        try:
            until(lambda: _delivered(base, 3), timeout=120)
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(base + "/")
            everything = page.content()
            for story in (EN, RU, JA):
                assert story.title in everything
            assert "terminal: delivered" in everything
            page.screenshot(path=str(tmp_path / "timeline.png"), full_page=True)

            # filters: each change applies at once (app.js) and lands in the URL
            with page.expect_navigation():
                page.select_option("select[name=lang]", "ru")
            assert "lang=ru" in page.url
            assert _titles(page) == [RU.title]
            page.goto(base + "/")
            with page.expect_navigation():
                page.check("input[name=event][value=exercise]")
            assert "event=exercise" in page.url
            shown = page.content()
            assert EN.title in shown and RU.title in shown and JA.title not in shown
            # a bookmarked view opens as it was shared
            page.goto(base + "/?event=protest&lang=ja")
            assert _titles(page) == [JA.title]
            assert page.is_checked("input[name=event][value=protest]")

            # search in each language
            page.goto(base + "/")
            assert _search(page, "protests") == [EN.title]
            assert _search(page, "учения") == [RU.title]
            assert _search(page, "施設建設") == [JA.title]
            assert _search(page, "sakhalin") == []

            # the story page, and a label button
            page.goto(base + "/")
            page.click(f"a.headline:has-text('{EN.title}')")
            page.wait_for_url("**/stories/*")
            assert page.locator("h1").inner_text() == EN.title
            assert page.locator("table.copies").inner_text().count(en.base_url) >= 1
            assert "rule protest" in page.locator("div.rule").first.inner_text()
            story_id = int(page.url.rsplit("/", 1)[1])
            page.fill("input[name=note]", "a staff exercise, not drills")
            with page.expect_navigation():
                page.click("button[value='wrong:exercise']")
            assert "Stored: exercise:wrong." in page.locator("p.notice").inner_text()
            page.screenshot(path=str(tmp_path / "story.png"), full_page=True)
            phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
            phone.goto(base + "/")
            phone.screenshot(path=str(tmp_path / "timeline-phone.png"), full_page=True)
            # a phone shows the page without sideways scrolling
            assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        finally:
            _stop(proc, log)
    labels = kw.json("labels", "list")
    assert [(x["story_id"], x["event"], x["verdict"], x["note"]) for x in labels] == [
        (story_id, "exercise", "wrong", "a staff exercise, not drills")
    ]
    for name in ("timeline.png", "story.png", "timeline-phone.png"):
        assert (tmp_path / name).stat().st_size > 10_000


def test_hostile_titles_and_links_never_run_in_the_browser(
    kw: Kurilwatch, tmp_path: Path, browser: Browser, database_url: str
) -> None:
    engine = sa.create_engine(sa_url(database_url))
    seeded = seed_timeline(engine)  # adds a story whose URL is a javascript: link
    engine.dispose()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "daemon.log"
    ran: list[str] = []
    blocked: list[str] = []
    with NewsSite(name="Hostile <b>News</b>", language="en") as site:
        site.add_story(HOSTILE)
        kw.write_config(_config([site], port))
        proc = kw.popen_logged("run", log=log)
        try:
            until(
                lambda: any(
                    "Kunashiri drills" in s["title"]
                    for s in _stories(base)
                    if s["url"].startswith(site.base_url)
                ),
                timeout=120,
            )
            page = browser.new_page()
            page.on("dialog", lambda dialog: (ran.append(dialog.message), dialog.dismiss()))
            page.on(
                "console",
                lambda message: (
                    blocked.append(message.text)
                    if "Content Security Policy" in message.text
                    else None
                ),
            )
            pages = [
                "/",
                "/?q=kunashiri",
                f"/stories/{seeded.hostile}",
                "/sources",
            ]
            hostile_id = next(s["id"] for s in _stories(base) if s["url"].startswith(site.base_url))
            pages.append(f"/stories/{hostile_id}")
            for path in pages:
                page.goto(base + path)
                page.wait_for_load_state("load")
                html = page.content()
                assert page.evaluate("document.querySelectorAll('script:not([src])').length") == 0
                assert page.evaluate("document.querySelectorAll('[onerror],[onload]').length") == 0
                assert (
                    page.evaluate("document.querySelectorAll('a[href^=\"javascript:\" i]').length")
                    == 0
                )
                assert "<script>alert" not in html
            # the text is there, as text
            page.goto(base + f"/stories/{hostile_id}")
            assert "<script>alert('headline')</script>" in page.locator("h1").inner_text()
            page.goto(base + f"/stories/{seeded.hostile}")
            assert page.locator("h1").inner_text() == HOSTILE_TITLE
            # clicking the story's link goes nowhere rather than running its javascript: URL
            page.click("a.original")
            page.screenshot(path=str(tmp_path / "hostile.png"), full_page=True)
        finally:
            _stop(proc, log)
    assert ran == [], f"a script ran: {ran}"
    assert blocked == [], f"the CSP had to block something: {blocked}"

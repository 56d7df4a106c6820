"""A Telegram channel's web preview into posts: `crawler.telegram`, over pages of our own.

The pages come from `tests.support.telegram`, the markup t.me serves (as RSSHub's and
RSS-Bridge's bridges read it), with invented posts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerts.render import console_text, slack_preview, webhook_body
from crawler.telegram import (
    TITLE_MAX,
    ChannelPage,
    ChannelUnavailable,
    channel_name,
    page_back,
    page_url,
    parse_channel,
    post_article,
    post_title,
    preview_url,
)
from kurilwatch.config import load_config
from kurilwatch.errors import ConfigError, ExtractionError
from kurilwatch.model import Alert, Entry, FeedEntry, Notice, Story
from tests.support.telegram import Post, render_channel_page, render_no_channel

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
URL = "https://t.me/s/kuril_desk"


def page(*posts: Post, before: int | None = None, after: int | None = None) -> ChannelPage:
    body = render_channel_page("kuril_desk", "Kuril Desk", posts, before=before, after=after)
    return parse_channel(body, URL)


def test_posts_carry_text_date_address_and_channel() -> None:
    found = page(
        Post(id=41, text="Drills on Iturup\nTroops landed at dawn. #Kurils", published=NOW),
        Post(id=42, text="Second post", published=NOW + timedelta(minutes=5)),
        before=41,
    )
    assert found.name == "kuril_desk" and found.title == "Kuril Desk"
    assert found.before == 41
    first, second = found.posts
    assert first == FeedEntry(
        url="https://t.me/kuril_desk/41",
        guid="kuril_desk/41",
        title="Drills on Iturup",
        summary="Drills on Iturup\nTroops landed at dawn. #Kurils",
        published_at=NOW,
        outlet="Kuril Desk",
    )
    assert second.url == "https://t.me/kuril_desk/42"
    assert found.oldest == NOW


def test_a_date_with_an_offset_is_read_in_utc() -> None:
    tokyo = datetime.fromisoformat("2026-05-01T21:00:00+09:00")
    [post] = page(Post(id=1, text="x y z", published=tokyo)).posts
    assert post.published_at == datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    assert post.published_at.utcoffset() == timedelta(0)


def test_captions_and_link_previews_are_text_replies_media_and_service_are_not() -> None:
    found = page(
        Post(id=1, text="Caption of a photo of the landing", photo=True, published=NOW),
        Post(id=2, photo=True, published=NOW),  # media only: nothing to judge
        Post(id=3, service=True, published=NOW),
        Post(id=4, text="Our answer", reply_to="The quoted earlier post", published=NOW),
        Post(
            id=5,
            text="Read more:",
            link_preview=("Rally in Nemuro", "Hundreds marched."),
            published=NOW,
        ),
    )
    texts = {p.url.rsplit("/", 1)[1]: p.summary for p in found.posts}
    assert texts == {
        "1": "Caption of a photo of the landing",
        "4": "Our answer",
        "5": "Read more:\n\nRally in Nemuro\n\nHundreds marched.",
    }


def test_the_older_page_cursor_is_data_before_never_data_after() -> None:
    assert page(Post(id=7, text="a b", published=NOW), after=7).before is None
    assert page(Post(id=7, text="a b", published=NOW), before=7, after=30).before == 7


def test_an_empty_history_is_no_error() -> None:
    empty = page()
    assert empty.posts == () and empty.before is None and empty.oldest is None


def test_a_channel_without_a_public_preview_is_a_clear_error() -> None:
    with pytest.raises(ChannelUnavailable) as caught:
        parse_channel(render_no_channel("secret_ops"), "https://t.me/s/secret_ops")
    assert str(caught.value) == "telegram channel secret_ops is not public or does not exist"
    assert isinstance(caught.value, ExtractionError)  # a source error, as a broken feed is
    with pytest.raises(ChannelUnavailable):
        parse_channel(b"", URL)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://t.me/s/kuril_desk", "https://t.me/s/kuril_desk"),
        ("https://t.me/kuril_desk", "https://t.me/s/kuril_desk"),
        ("http://telegram.me/kuril_desk/", "https://t.me/s/kuril_desk"),
        ("https://t.me/s/kuril_desk?before=120#x", "https://t.me/s/kuril_desk"),
        ("http://127.0.0.1:8080/s/kuril_desk", "http://127.0.0.1:8080/s/kuril_desk"),
    ],
)
def test_preview_urls(url: str, expected: str) -> None:
    assert preview_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://t.me/",
        "https://t.me/s/",
        "https://t.me/joinchat/AAAAAE",
        "https://t.me/+AbCdEf",
        "https://t.me/kuril_desk/41",  # a post, not the channel
        "https://t.me/s/a-b",
        "http://127.0.0.1:8080/kuril_desk",  # off t.me, /s/NAME must be named
    ],
)
def test_urls_that_name_no_channel(url: str) -> None:
    assert channel_name(url) is None
    with pytest.raises(ValueError, match=r"t\.me/s/NAME"):
        preview_url(url)


def test_page_url_keeps_the_host() -> None:
    assert page_url("http://127.0.0.1:5/s/kuril_desk", 99) == (
        "http://127.0.0.1:5/s/kuril_desk?before=99"
    )


def _posts(n: int, newest: datetime) -> tuple[FeedEntry, ...]:
    return tuple(
        FeedEntry(url=f"https://t.me/c/{i}", published_at=newest - timedelta(hours=i))
        for i in range(n)
    )


SINCE = NOW - timedelta(hours=72)


@pytest.mark.parametrize(
    ("posts", "before", "new", "pages_read", "max_pages", "expected"),
    [
        (_posts(20, NOW), 100, 20, 1, 5, True),  # all new, more exist: go on
        (_posts(20, NOW), 100, 19, 1, 5, False),  # one seen: the rest was read before
        (_posts(20, NOW), None, 20, 1, 5, False),  # the channel's first posts
        (_posts(20, NOW), 100, 20, 5, 5, False),  # the cap
        (_posts(20, NOW), 100, 20, 4, 5, True),
        (_posts(20, NOW - timedelta(hours=60)), 100, 20, 1, 5, False),  # older than since
        ((), 100, 0, 1, 5, True),  # a page of media only: nothing seen, nothing to stop at
    ],
)
def test_page_back(
    posts: tuple[FeedEntry, ...],
    before: int | None,
    new: int,
    pages_read: int,
    max_pages: int,
    expected: bool,
) -> None:
    found = ChannelPage(name="c", posts=posts, before=before)
    decided = page_back(found, new=new, pages_read=pages_read, max_pages=max_pages, since=SINCE)
    assert decided is expected


def _entry(summary: str | None, title: str | None = None) -> Entry:
    return Entry(
        id=1,
        source="desk",
        url="https://t.me/kuril_desk/5",
        status="pending",
        first_seen_at=NOW,
        guid="kuril_desk/5",
        title=title,
        summary=summary,
        published_at=NOW,
        outlet="Kuril Desk",
    )


def test_a_post_is_the_whole_article() -> None:
    text = "Учения на Итурупе\nВ учениях задействовано более 300 военнослужащих и 40 машин."
    article = post_article(_entry(text, title="Учения на Итурупе"))
    assert article is not None
    assert (article.title, article.text, article.text_source) == ("Учения на Итурупе", text, "post")
    assert article.text_reason is None and article.outlet == "Kuril Desk"
    assert article.language == "ru" and article.published_at == NOW
    assert post_article(_entry("   ")) is None


def test_post_titles() -> None:
    assert post_title("\n  First   line \nsecond") == "First line"
    long = "word " * 60
    title = post_title(long)
    assert len(title) <= TITLE_MAX and title.endswith("word…")
    unbroken = "x" * 300
    assert post_title(unbroken) == "x" * (TITLE_MAX - 1) + "…"


def _config(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "kurilwatch.yaml"
    path.write_text(f"sources:\n  - name: desk\n{source}", encoding="utf-8")
    return path


def test_config_takes_a_channel_link_as_its_preview(tmp_path: Path) -> None:
    path = _config(tmp_path, "    kind: telegram\n    url: https://t.me/kuril_desk\n")
    [source] = load_config(path, {}).sources
    assert source.url == "https://t.me/s/kuril_desk"
    assert source.to_source().kind == "telegram" and source.to_source().max_pages is None
    path = _config(
        tmp_path, "    kind: telegram\n    url: https://t.me/s/x_y_z1\n    max_pages: 2\n"
    )
    assert load_config(path, {}).sources[0].to_source().max_pages == 2


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "    kind: telegram\n    url: https://t.me/joinchat/AAAA\n",
            "sources[0].url: expected a channel's web preview, https://t.me/s/NAME",
        ),
        (
            "    url: https://example.org/rss.xml\n    max_pages: 3\n",
            "max_pages: is only for kind: telegram",
        ),
        ("    kind: telegram\n    url: https://t.me/s/desk_x\n    max_pages: 0\n", "max_pages"),
    ],
)
def test_config_errors(tmp_path: Path, source: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected.replace("[", r"\[").replace("]", r"\]")):
        load_config(_config(tmp_path, source), {})


def test_an_alert_on_a_post_names_its_channel_and_no_feed_note() -> None:
    story = Story(
        id=1,
        title="Учения на Итурупе",
        url="https://t.me/kuril_desk/5",
        language="ru",
        published_at=NOW,
        first_seen_at=NOW,
        urls=("https://t.me/kuril_desk/5",),
        text_source="post",
        outlet="Kuril Desk",
    )
    alert = Alert(
        id="a1", channel="ops", story_id=1, events=("exercise",), rules=("exercise",),
        evidence=(), created_at=NOW,
    )  # fmt: skip
    notice = Notice(alert=alert, story=story)
    preview = slack_preview(notice)
    assert "Kuril Desk ·" in preview and "t.me ·" not in preview
    assert "feed" not in preview + console_text(notice)
    body = webhook_body(notice)
    assert body["story"]["text_source"] == "post" and body["stories"][0]["outlet"] == "Kuril Desk"

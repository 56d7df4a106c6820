"""Pure parsing of a public Telegram channel's web preview, `https://t.me/s/NAME`.

The preview is an index whose posts are the articles: each post's own text (a media post's
caption, plus the title and description of the link preview it shows) is the whole story,
so no page is fetched for it. `parse_channel(body, url)` takes the page's bytes and the URL
they came from and returns a `ChannelPage`: one `FeedEntry` per post with text, addressed
`https://t.me/NAME/ID` (wherever the preview was served from), dated by its `<time
datetime>`, and `before`, the id to ask `?before=` for the next older page (absent on the
channel's first page of history). Service messages (pinned, photo changed) and posts
without text are left out. A quoted reply's text is not the post's and is left out too.

A channel that is not public, has its preview turned off, or does not exist answers (after
t.me's redirect to `t.me/NAME`) with a page that has no message history: `ChannelUnavailable`.
`page_back` decides, purely, whether a poll reads the next older page; `post_article` turns a
kept post back into the `Article` it is judged as (`text_source="post"`).

The markup (`tgme_widget_message_wrap`, `data-post`, `tgme_widget_message_text`,
`a.tme_messages_more[data-before]`) is what RSSHub's and RSS-Bridge's Telegram bridges read.
No network, no files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from lxml import html as lxml_html
from w3lib.encoding import html_to_unicode

from crawler.dates import as_utc
from crawler.feeds import FeedUnreadable
from crawler.pages import guess_language
from kurilwatch.model import Article, Entry, FeedEntry

DEFAULT_MAX_PAGES = 5
"""Preview pages (about 20 posts each) a poll reads at most, the newest first."""
TITLE_MAX = 120
"""A post has no headline: its first line, cut at a word to this many characters, is one."""

_HOSTS = frozenset({"t.me", "telegram.me", "www.t.me", "www.telegram.me"})
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{3,31}")
_POST = re.compile(r"^(?P<name>[A-Za-z][A-Za-z0-9_]{3,31})/(?P<id>[0-9]{1,12})$")
_RESERVED = frozenset({"s", "joinchat", "addstickers", "share", "proxy", "socks", "iv", "c"})


def _has_class(name: str) -> str:
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


_WIDGET = f"//div[{_has_class('tgme_widget_message')}][@data-post]"
_HISTORY = f"//*[{_has_class('tgme_channel_history')}]"
_MORE = f"//a[{_has_class('tme_messages_more')}][@data-before]"
_CHANNEL_TITLE = f"//*[{_has_class('tgme_channel_info_header_title')}]"
_OWNER = f".//*[{_has_class('tgme_widget_message_owner_name')}]"
_SERVICE = f"descendant-or-self::*[{_has_class('service_message')}]"
_TEXT = (
    f".//div[{_has_class('tgme_widget_message_text')}]"
    f"[not(ancestor::*[{_has_class('tgme_widget_message_reply')}])]"
)
_PREVIEW = (
    f".//*[{_has_class('tgme_widget_message_link_preview')}]"
    f"//*[{_has_class('link_preview_title')} or {_has_class('link_preview_description')}]"
)
_DATE = f".//a[{_has_class('tgme_widget_message_date')}]//time[@datetime]"


class ChannelUnavailable(FeedUnreadable):
    """The Telegram channel is not public or does not exist."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelPage:
    """One page of a channel's preview: its posts in page order, and the older page's cursor."""

    name: str
    title: str | None = None
    posts: tuple[FeedEntry, ...] = ()
    before: int | None = None
    """Ask `?before=` this for the next older page; None when the page starts the history."""

    @property
    def oldest(self) -> datetime | None:
        """The date of the page's oldest dated post."""
        dates = [p.published_at for p in self.posts if p.published_at is not None]
        return min(dates) if dates else None


def channel_name(url: str) -> str | None:
    """The channel name a preview or channel URL names (`/s/NAME` or, on t.me, `/NAME`)."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    on_telegram = (parts.hostname or "").lower() in _HOSTS
    if len(segments) == 2 and segments[0] == "s":
        name = segments[1]
    elif len(segments) == 1 and on_telegram and segments[0].lower() not in _RESERVED:
        name = segments[0]
    else:
        return None
    return name if _NAME.fullmatch(name) else None


def preview_url(url: str) -> str:
    """`url` as the channel's web preview: `https://t.me/NAME` → `https://t.me/s/NAME`.

    t.me and telegram.me links go to `https://t.me/s/NAME`; any other host (a mirror, a local
    stand-in) keeps its scheme and host and must already name `/s/NAME`. Query and fragment
    are dropped.

    Raises:
        ValueError: the URL names no channel.
    """
    name = channel_name(url)
    if name is None:
        raise ValueError("expected a channel's web preview, https://t.me/s/NAME (or t.me/NAME)")
    parts = urlsplit(url)
    if (parts.hostname or "").lower() in _HOSTS:
        return f"https://t.me/s/{name}"
    return urlunsplit((parts.scheme, parts.netloc, f"/s/{name}", "", ""))


def page_url(url: str, before: int) -> str:
    """The preview page of the posts older than `before`, on `url`'s host."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, f"before={before}", ""))


def parse_channel(body: bytes, url: str) -> ChannelPage:
    """The posts of one preview page, and the cursor of the next older page.

    Args:
        body: the page as fetched; its encoding comes from a BOM or `<meta charset>` (UTF-8).
        url: the preview URL asked for (`/s/NAME`, perhaps with `?before=`): it names the
            channel, also when t.me answered with a redirect.

    Raises:
        ChannelUnavailable: the page shows no message history: t.me's answer for a channel
            that is private, has its preview off, or does not exist.
    """
    name = channel_name(url) or "?"
    _, text = html_to_unicode(None, body)
    root = lxml_html.document_fromstring(text or "<html></html>")
    widgets = root.xpath(_WIDGET)
    if not widgets and not root.xpath(_HISTORY):
        raise ChannelUnavailable(f"telegram channel {name} is not public or does not exist")
    title = _collapse(" ".join(t for node in root.xpath(_CHANNEL_TITLE) for t in node.itertext()))
    posts: dict[str, FeedEntry] = {}
    for widget in widgets:
        post = _post(widget, title)
        if post is not None:
            posts.setdefault(post.url, post)
    before = None
    for link in root.xpath(_MORE):
        value = (link.get("data-before") or "").strip()
        if value.isdigit():
            before = int(value)
            break
    return ChannelPage(name=name, title=title, posts=tuple(posts.values()), before=before)


def page_back(
    page: ChannelPage, *, new: int, pages_read: int, max_pages: int, since: datetime
) -> bool:
    """Whether a poll reads the page of posts older than `page`.

    It does while every post of this page was new, the channel has older posts, fewer than
    `max_pages` pages were read, and the page's oldest post is not older than `since` (what is
    older cannot alert). A post already seen means the rest was read by an earlier poll.
    """
    if page.before is None or pages_read >= max_pages or new < len(page.posts):
        return False
    oldest = page.oldest
    return oldest is None or oldest >= since


def post_article(entry: Entry) -> Article | None:
    """The post an entry keeps, as the article it is judged as; None if it has no text.

    The post's text is the whole article (`text_source="post"`): nothing else is fetched.
    """
    text = (entry.summary or "").strip()
    if not text:
        return None
    return Article(
        url=entry.url,
        source=entry.source,
        title=entry.title or post_title(text),
        text=text,
        language=entry.language or guess_language(text),
        published_at=entry.published_at,
        guid=entry.guid,
        outlet=entry.outlet,
        text_source="post",
    )


def post_title(text: str) -> str:
    """A headline for a post: its first non-empty line, cut at a word to `TITLE_MAX`."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    first = " ".join(first.split())
    if len(first) <= TITLE_MAX:
        return first
    cut = first[: TITLE_MAX - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > TITLE_MAX // 2 else cut).rstrip(" ,;:-–—") + "…"


def _post(widget: lxml_html.HtmlElement, channel_title: str | None) -> FeedEntry | None:
    found = _POST.match((widget.get("data-post") or "").strip())
    if found is None or widget.xpath(_SERVICE):
        return None
    parts = [_text(node) for node in widget.xpath(_TEXT)]
    parts += [_text(node) for node in widget.xpath(_PREVIEW)]
    text = "\n\n".join(dict.fromkeys(p for p in parts if p))
    if not text:
        return None
    owner = _collapse(" ".join(t for node in widget.xpath(_OWNER) for t in node.itertext()))
    name, number = found["name"], found["id"]
    return FeedEntry(
        url=f"https://t.me/{name}/{number}",
        guid=f"{name}/{number}",
        title=post_title(text),
        summary=text,
        published_at=_date(widget),
        outlet=channel_title or owner or f"@{name}",
    )


def _text(node: lxml_html.HtmlElement) -> str:
    """The text of a message element, a line per `<br>` and block, blank lines collapsed."""
    for br in node.iter("br"):
        br.tail = "\n" + (br.tail or "")
    lines = (" ".join(line.split()) for line in "".join(node.itertext()).splitlines())
    return "\n".join(line for line in lines if line)


def _date(widget: lxml_html.HtmlElement) -> datetime | None:
    for stamp in widget.xpath(_DATE):
        try:
            when = datetime.fromisoformat(stamp.get("datetime", "").strip())
        except ValueError:
            continue
        return as_utc(when)
    return None


def _collapse(value: str | None) -> str | None:
    return " ".join((value or "").split()) or None

"""A local stand-in for Telegram's channel web preview (`https://t.me/s/NAME`), for tests.

`render_channel_page` builds one preview page in t.me's markup (message widgets with
`data-post`, `tgme_widget_message_text`, `<time datetime>`, the `tme_messages_more` links with
`data-before` above and `data-after` below), `render_no_channel` the page t.me shows at
`t.me/NAME` for a channel without a public preview. `TelegramPreview` serves them from a real
HTTP server on 127.0.0.1, port 0: `/s/NAME` the newest `page_size` posts, `/s/NAME?before=ID`
the older ones, and for a channel that is private or unknown a 302 to `/NAME`, as t.me does.
It records every request path (`requests`). The HTML is our own, written after the markup
RSSHub's and RSS-Bridge's bridges read; no real channel's text is copied. Touches only the
loopback network.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from urllib.parse import parse_qs, urlsplit

from tests.support.localserver import Canned, LocalServer, RequestHandler

__all__ = ["Post", "TelegramPreview", "render_channel_page", "render_no_channel"]

_HTML = "text/html; charset=utf-8"


@dataclass(frozen=True, slots=True, kw_only=True)
class Post:
    """One channel post as the preview shows it.

    Attributes:
        id: The post's number in the channel.
        text: Its text (a caption when `photo`); newlines become `<br/>`. Empty: media only.
        published: When it was posted.
        photo: A photo post, `text` its caption.
        reply_to: The text of the post it replies to, quoted above it (not its own text).
        link_preview: (title, description) of the link preview it shows.
        service: A service message ("channel photo updated"), not a post.
    """

    id: int
    text: str = ""
    published: datetime
    photo: bool = False
    reply_to: str | None = None
    link_preview: tuple[str, str] | None = None
    service: bool = False


def render_channel_page(
    name: str,
    title: str,
    posts: Sequence[Post],
    *,
    before: int | None = None,
    after: int | None = None,
) -> bytes:
    """One preview page: `posts` oldest first, with the paging links t.me puts around them."""
    more = (
        '<div class="tgme_widget_message_centered js-messages_more_wrap">'
        f'<a href="/s/{name}?before={before}" class="tme_messages_more js-messages_more" '
        f'data-before="{before}"></a></div>'
        if before is not None
        else ""
    )
    later = (
        '<div class="tgme_widget_message_centered js-messages_more_wrap">'
        f'<a href="/s/{name}?after={after}" class="tme_messages_more js-messages_more" '
        f'data-after="{after}"></a></div>'
        if after is not None
        else ""
    )
    body = "\n".join(_render_post(name, title, post) for post in posts)
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{escape(title)} – Telegram</title>
<meta property="og:title" content="{escape(title)}"></head>
<body class="widget_frame_base tgme_webpreview_body">
<header class="tgme_header"><div class="tgme_header_search">
<form class="tgme_header_search_form" action="/s/{name}"><input name="q" placeholder="Search">
</form></div></header>
<main class="tgme_main" data-url="https://t.me/s/{name}"><div class="tgme_container">
<section class="tgme_right_column"><div class="tgme_channel_info">
<div class="tgme_channel_info_header"><div class="tgme_channel_info_header_title">
<span dir="auto">{escape(title)}</span></div>
<div class="tgme_channel_info_header_username"><a href="https://t.me/{name}">@{name}</a></div>
</div><div class="tgme_channel_info_description">Official news of the channel.</div>
<div class="tgme_channel_info_counters"><div class="tgme_channel_info_counter">
<span class="counter_value">12.3K</span> <span class="counter_type">subscribers</span></div>
</div></div></section>
<section class="tgme_channel_history js-message_history">
{more}
{body}
{later}
</section></div></main></body></html>
"""
    return page.encode("utf-8")


def render_no_channel(name: str) -> bytes:
    """What t.me shows at `/NAME` for a channel that is private, has no preview, or is none."""
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Telegram: Contact @{name}</title></head>
<body><div class="tgme_page_wrap"><div class="tgme_page">
<div class="tgme_page_title"><span dir="auto">Telegram</span></div>
<div class="tgme_page_description">If you have <strong>Telegram</strong>, you can contact
<a class="tgme_username_link" href="tg://resolve?domain={name}">@{name}</a> right away.</div>
<div class="tgme_page_action"><a class="tgme_action_button_new" href="tg://resolve?domain={name}">
Send Message</a></div></div></div></body></html>
""".encode()


def _render_post(name: str, title: str, post: Post) -> str:
    stamp = post.published.isoformat()
    link = f"https://t.me/{name}/{post.id}"
    if post.service:
        return (
            '<div class="tgme_widget_message_wrap js-widget_message_wrap">'
            f'<div class="tgme_widget_message service_message js-widget_message" '
            f'data-post="{name}/{post.id}"><div class="tgme_widget_message_bubble">'
            '<div class="tgme_widget_message_text js-message_text">Channel photo updated</div>'
            f'<a class="tgme_widget_message_date" href="{link}"><time datetime="{stamp}">'
            "</time></a></div></div></div>"
        )
    parts = [
        '<div class="tgme_widget_message_author accent_color">'
        f'<a class="tgme_widget_message_owner_name" href="https://t.me/{name}">'
        f'<span dir="auto">{escape(title)}</span></a></div>'
    ]
    if post.reply_to is not None:
        parts.append(
            f'<a class="tgme_widget_message_reply" href="https://t.me/{name}/{post.id - 1}">'
            '<div class="tgme_widget_message_author accent_color">'
            f'<span class="tgme_widget_message_author_name">{escape(title)}</span></div>'
            f'<div class="tgme_widget_message_text js-message_text">{escape(post.reply_to)}'
            "</div></a>"
        )
    if post.photo:
        parts.append(
            f'<a class="tgme_widget_message_photo_wrap" href="{link}" '
            "style=\"width:800px;background-image:url('https://cdn.example.test/p.jpg')\">"
            '<div class="tgme_widget_message_photo" style="padding-top:56%"></div></a>'
        )
    if post.text:
        lines = "<br/>".join(_inline(line) for line in post.text.split("\n"))
        parts.append(
            f'<div class="tgme_widget_message_text js-message_text" dir="auto">{lines}</div>'
        )
    if post.link_preview is not None:
        head, description = post.link_preview
        parts.append(
            '<a class="tgme_widget_message_link_preview" href="https://news.example.test/a">'
            '<div class="link_preview_site_name accent_color" dir="auto">News</div>'
            f'<div class="link_preview_title" dir="auto">{escape(head)}</div>'
            f'<div class="link_preview_description" dir="auto">{escape(description)}</div></a>'
        )
    parts.append(
        '<div class="tgme_widget_message_footer compact js-message_footer">'
        '<div class="tgme_widget_message_info short js-message_info">'
        '<span class="tgme_widget_message_views">4.1K</span>'
        '<span class="copyonclick tgme_widget_message_meta">'
        f'<a class="tgme_widget_message_date" href="{link}">'
        f'<time datetime="{stamp}" class="time">{post.published:%H:%M}</time></a></span>'
        "</div></div>"
    )
    return (
        '<div class="tgme_widget_message_wrap js-widget_message_wrap">'
        f'<div class="tgme_widget_message text_not_supported_wrap js-widget_message" '
        f'data-post="{name}/{post.id}" data-view="x">'
        '<div class="tgme_widget_message_user"><a href="https://t.me/'
        f'{name}"><i class="tgme_widget_message_user_photo"></i></a></div>'
        '<div class="tgme_widget_message_bubble"><i class="tgme_widget_message_bubble_tail"></i>'
        + "".join(parts)
        + "</div></div></div>"
    )


def _inline(line: str) -> str:
    """A line of post text with its hashtags linked, as t.me renders them."""
    words = [
        f'<a href="?q=%23{escape(w[1:])}">{escape(w)}</a>' if w.startswith("#") else escape(w)
        for w in line.split(" ")
    ]
    return " ".join(words)


class TelegramPreview(LocalServer):
    """Serves channels' previews as t.me does; `requests` lists every path asked for."""

    def __init__(self, *, page_size: int = 20, host: str = "127.0.0.1") -> None:
        """Serve no channel yet; each preview page shows `page_size` posts at most."""
        super().__init__(host=host)
        self.page_size = page_size
        self.channels: dict[str, tuple[str, list[Post]]] = {}
        self.hidden: set[str] = set()
        self.requests: list[str] = []
        self._record = threading.Lock()

    def add_channel(self, name: str, title: str, posts: Iterable[Post] = ()) -> str:
        """Publish a channel with `posts`; returns its preview URL."""
        self.channels[name] = (title, sorted(posts, key=lambda p: p.id))
        return self.preview_url(name)

    def add_post(self, name: str, post: Post) -> None:
        """Post to a published channel."""
        self.channels[name][1].append(post)
        self.channels[name][1].sort(key=lambda p: p.id)

    def hide(self, name: str) -> None:
        """Make a channel private: its preview redirects to `/NAME`."""
        self.hidden.add(name)

    def preview_url(self, name: str) -> str:
        """`http://HOST:PORT/s/NAME`."""
        return f"{self.base_url}/s/{name}"

    def page_requests(self, name: str) -> list[str]:
        """The preview pages of `name` asked for, in order (`/s/NAME`, `/s/NAME?before=…`)."""
        with self._record:
            return [p for p in self.requests if urlsplit(p).path == f"/s/{name}"]

    def handle(self, handler: RequestHandler) -> None:
        """Answer one request: a preview page, a redirect, the no-preview page, or 404."""
        with self._record:
            self.requests.append(handler.path)
        handler.send(self._answer(handler.path))

    def _answer(self, target: str) -> Canned:
        parts = urlsplit(target)
        segments = [s for s in parts.path.split("/") if s]
        if len(segments) == 2 and segments[0] == "s":
            name = segments[1]
            if name not in self.channels or name in self.hidden:
                return Canned(302, b"", {"Location": f"/{name}"})
            title, posts = self.channels[name]
            query = parse_qs(parts.query)
            before = int(query["before"][0]) if "before" in query else None
            older = [p for p in posts if before is None or p.id < before]
            shown = older[-self.page_size :]
            cursor = shown[0].id if shown and len(older) > len(shown) else None
            after = shown[-1].id if before is not None and shown else None
            body = render_channel_page(name, title, shown, before=cursor, after=after)
            return Canned(200, body, {"Content-Type": _HTML})
        if len(segments) == 1 and segments[0] != "robots.txt":
            return Canned(200, render_no_channel(segments[0]), {"Content-Type": _HTML})
        return Canned(404, b"not found", {"Content-Type": "text/plain"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelText:
    """An invented post of a news channel and the events it reports.

    Attributes:
        key: A short stable name.
        text: The post's text (a caption when `photo`).
        events: The events it reports; empty for on-topic news without one and for noise.
        photo: Posted as a photo with `text` as its caption.
        link_preview: (title, description) of a link preview shown under it.
    """

    key: str
    text: str
    events: frozenset[str] = frozenset()
    photo: bool = False
    link_preview: tuple[str, str] | None = None

    def shown(self) -> str:
        """The text a reader sees: the post's, then its link preview's title and description."""
        return "\n\n".join([self.text, *(self.link_preview or ())])


_EXERCISE = frozenset({"exercise"})
_PROTEST = frozenset({"protest"})
_BOTH = frozenset({"protest", "exercise"})

DESK_POSTS: tuple[ChannelText, ...] = (
    ChannelText(
        key="ru-bastion-drill",
        events=_EXERCISE,
        photo=True,
        text="На острове Итуруп расчёты береговых ракетных комплексов «Бастион» Тихоокеанского "
        "флота провели учения по отражению атаки условного противника.\nВ учениях задействовано "
        "более 300 военнослужащих и около 40 единиц техники.",
    ),
    ChannelText(
        key="ru-kunashir-landing",
        events=_EXERCISE,
        text="Морские пехотинцы ТОФ отработали высадку десанта на необорудованное побережье "
        "острова Кунашир. Учение прошло в рамках плановой боевой подготовки на Курилах.",
    ),
    ChannelText(
        key="en-air-defence",
        events=_EXERCISE,
        text="Pacific Fleet air defence crews on Iturup in the Kuril Islands held live-fire "
        "drills this week, repelling a simulated air raid with Tor-M2 systems.",
    ),
    ChannelText(
        key="ja-kunashiri-drill",
        events=_EXERCISE,
        text="ロシア軍が北方領土の国後島で軍事演習を実施しました。兵士約500人が参加し、"
        "砲撃訓練を行ったということです。",
    ),
    ChannelText(
        key="en-diplomatic-protest",
        events=_BOTH,
        text="Japan lodged a protest with Moscow through diplomatic channels over Russian "
        "military exercises on the disputed Kuril Islands, which Tokyo calls the Northern "
        "Territories.",
    ),
    ChannelText(
        key="ru-protest-rejected",
        events=_BOTH,
        text="МИД Японии заявил протест российской стороне в связи с проведением военных учений "
        "на южных Курилах. Москва протест отклонила, назвав острова своей территорией.",
    ),
    ChannelText(
        key="ja-nemuro-march",
        events=_PROTEST,
        text="北方領土の返還を求める住民大会が根室市で開かれ、元島民らおよそ300人が"
        "市内をデモ行進しました。",
    ),
    ChannelText(
        key="en-nemuro-rally-link",
        events=_PROTEST,
        text="From our partners:",
        link_preview=(
            "Former islanders march in Nemuro",
            "Hundreds of former island residents marched in Nemuro on Sunday demanding that "
            "Russia return the Northern Territories.",
        ),
    ),
    ChannelText(
        key="ru-blizzard",
        text="На Курилах ожидается сильный ветер и метель, в Южно-Курильске закрыты школы.",
    ),
    ChannelText(
        key="en-quake",
        text="A magnitude 5.8 earthquake struck off the Kuril Islands early on Tuesday. No "
        "damage or tsunami threat was reported.",
    ),
    ChannelText(
        key="ru-saury-quota",
        text="Рыбаки Курильского района выполнили квоту по добыче сайры досрочно.",
    ),
    ChannelText(
        key="en-band-concert",
        text="Navy band concert in Vladivostok this Saturday, admission free.",
    ),
)
"""A news channel's posts about the islands, in three languages, half of them events."""

PROTEST_POST = ChannelText(
    key="en-shikotan-protest",
    events=_PROTEST,
    text="Tokyo protested to Moscow on Friday after Russia opened a new border post on "
    "Shikotan, one of the Southern Kurils that Japan claims.",
)
"""A post that reports a protest, posted between two polls."""

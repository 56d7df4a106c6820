"""The pages and feeds of the local news site, rendered without a server.

`render_article` builds a story's page with the chrome of a real outlet (navigation, header,
related stories, footer) in the story's language; `render_home`, `render_rss`, `render_atom`
and `render_sitemap` build the home page, the RSS 2.0 and Atom 1.0 feeds and the XML sitemap
from `Posting`s. `tests.support.newssite.NewsSite` serves these bytes, and unit tests of
parsing and extraction use them directly. This module decides what those documents say and
touches nothing: every function returns bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from html import escape as html_escape
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

from tests.support.stories import FixtureStory

__all__ = [
    "Posting",
    "render_article",
    "render_atom",
    "render_home",
    "render_rss",
    "render_sitemap",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Posting:
    """A story as one site published it.

    Attributes:
        story: The fixture story.
        url: The article's absolute URL.
        published: When it was published, UTC.
        guid: The feed GUID if one was given; the URL stands in for it otherwise.
    """

    story: FixtureStory
    url: str
    published: datetime
    guid: str | None = None

    @property
    def id(self) -> str:
        """The entry's identity in feeds: the GUID, or the URL."""
        return self.guid or self.url


@dataclass(frozen=True, slots=True)
class _Chrome:
    """The words around a story on a page, in the page's language."""

    nav: tuple[str, ...]
    related: str
    related_items: tuple[str, ...]
    byline: str
    rights: str
    latest: str
    date_format: str


_NAV_PATHS = ("/", "/world/", "/asia/", "/politics/", "/business/", "/science/", "/opinion/")
_CHROME = {
    "en": _Chrome(
        nav=("Home", "World", "Asia-Pacific", "Politics", "Business", "Science", "Opinion"),
        related="Related stories",
        related_items=(
            "Cold front brings heavy snow to northern Hokkaido",
            "Nikkei ends higher as exporters gain",
            "Ferry operators add summer sailings to Rishiri",
        ),
        byline="By Staff Reporter",
        rights="All rights reserved.",
        latest="Latest news",
        date_format="%B %d, %Y %H:%M UTC",
    ),
    "ja": _Chrome(
        nav=("ホーム", "国際", "アジア", "政治", "経済", "科学", "オピニオン"),
        related="関連記事",
        related_items=(
            "北海道北部で大雪、交通に乱れ",
            "日経平均が反発、輸出関連株に買い",
            "利尻島へのフェリー、夏季は増便",
        ),
        byline="本社記者",
        rights="無断転載を禁じます。",
        latest="最新ニュース",
        date_format="%Y年%m月%d日 %H:%M",
    ),
    "ru": _Chrome(
        nav=("Главная", "В мире", "АТР", "Политика", "Экономика", "Наука", "Мнения"),
        related="Читайте также",
        related_items=(
            "На север Хоккайдо обрушился сильный снегопад",
            "Биржи Азии закрылись ростом",
            "Во Владивостоке открылась новая набережная",
        ),
        byline="Корреспондент редакции",
        rights="Все права защищены.",
        latest="Последние новости",
        date_format="%d.%m.%Y %H:%M",
    ),
}


def render_article(posting: Posting, *, site_name: str = "Kuril Test News") -> bytes:
    """Render a story's page as a real outlet would, chrome and all.

    The page has the metadata extractors read (`og:title`, `article:published_time`,
    canonical link) and the boilerplate they must drop: a navigation menu, a site header, a
    related-stories aside and a footer. Their words never touch the watched topic, so even a
    sloppy extraction cannot turn a negative story into a positive.

    Args:
        posting: The story and where and when it was published.
        site_name: The outlet's name.

    Returns:
        The page, UTF-8.
    """
    story, e = posting.story, html_escape
    chrome = _CHROME.get(story.language, _CHROME["en"])
    iso = posting.published.isoformat()
    nav = "".join(
        f'<li><a href="{href}">{e(label)}</a></li>'
        for href, label in zip(_NAV_PATHS, chrome.nav, strict=True)
    )
    paragraphs = "\n".join(f"<p>{e(p)}</p>" for p in story.paragraphs)
    related = "".join(
        f'<li><a href="/archive/{n}">{e(title)}</a></li>'
        for n, title in enumerate(chrome.related_items, start=1)
    )
    page = f"""<!DOCTYPE html>
<html lang="{e(story.language)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(story.title)} | {e(site_name)}</title>
<meta name="description" content="{e(story.lead)}">
<meta property="og:type" content="article">
<meta property="og:title" content="{e(story.title)}">
<meta property="og:url" content="{e(posting.url)}">
<meta property="og:site_name" content="{e(site_name)}">
<meta property="article:published_time" content="{iso}">
<link rel="canonical" href="{e(posting.url)}">
</head>
<body>
<header class="site-header">
<a class="logo" href="/">{e(site_name)}</a>
<nav class="main-menu"><ul>{nav}</ul></nav>
</header>
<main>
<article class="story">
<h1>{e(story.title)}</h1>
<p class="byline">{e(chrome.byline)} · <time datetime="{iso}">\
{posting.published.strftime(chrome.date_format)}</time></p>
{paragraphs}
</article>
<aside class="related"><h2>{e(chrome.related)}</h2><ul>{related}</ul></aside>
</main>
<footer class="site-footer">
<p>© {posting.published.year} {e(site_name)}. {e(chrome.rights)}</p>
<ul><li><a href="/about">About</a></li><li><a href="/privacy">Privacy</a></li>\
<li><a href="/contact">Contact</a></li></ul>
</footer>
</body>
</html>
"""
    return page.encode()


def render_home(
    postings: Iterable[Posting], *, site_url: str, site_name: str, language: str = "en"
) -> bytes:
    """Render the home page: a list of links to every story, newest first.

    Args:
        postings: The stories, in the order to list them.
        site_url: The site's base URL.
        site_name: The outlet's name.
        language: The page's language code.

    Returns:
        The page, UTF-8.
    """
    e = html_escape
    chrome = _CHROME.get(language, _CHROME["en"])
    items = "\n".join(
        f'<li><a href="{e(p.url)}">{e(p.story.title)}</a>'
        f'<time datetime="{p.published.isoformat()}"></time><p>{e(p.story.lead)}</p></li>'
        for p in postings
    )
    page = f"""<!DOCTYPE html>
<html lang="{e(language)}">
<head><meta charset="utf-8"><title>{e(site_name)}</title>
<link rel="canonical" href="{e(site_url)}/"></head>
<body><header><a class="logo" href="/">{e(site_name)}</a></header>
<main><h1>{e(chrome.latest)}</h1><ul class="stories">
{items}
</ul></main></body>
</html>
"""
    return page.encode()


def render_rss(
    postings: Iterable[Posting],
    *,
    site_url: str,
    site_name: str,
    language: str = "en",
    built: datetime,
) -> bytes:
    """Render an RSS 2.0 feed of the stories, in the order given.

    Args:
        postings: The stories, newest first.
        site_url: The site's base URL.
        site_name: The channel title.
        language: The channel language.
        built: The `lastBuildDate`.

    Returns:
        The feed, UTF-8.
    """
    x = xml_escape
    items = "".join(
        f"<item><title>{x(p.story.title)}</title><link>{x(p.url)}</link>"
        f'<guid isPermaLink="{"false" if p.guid else "true"}">{x(p.id)}</guid>'
        f"<pubDate>{format_datetime(p.published)}</pubDate>"
        f"<description>{x(p.story.lead)}</description></item>\n"
        for p in postings
    )
    feed = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
<title>{x(site_name)}</title>
<link>{x(site_url)}/</link>
<description>{x(f"Latest stories from {site_name}")}</description>
<language>{x(language)}</language>
<lastBuildDate>{format_datetime(built)}</lastBuildDate>
<atom:link href={quoteattr(site_url + "/rss.xml")} rel="self" type="application/rss+xml"/>
{items}</channel>
</rss>
"""
    return feed.encode()


def render_atom(
    postings: Iterable[Posting],
    *,
    site_url: str,
    site_name: str,
    language: str = "en",
    built: datetime,
) -> bytes:
    """Render an Atom 1.0 feed of the stories, in the order given.

    Args:
        postings: The stories, newest first.
        site_url: The site's base URL.
        site_name: The feed title.
        language: The feed's `xml:lang`.
        built: The feed's `updated`.

    Returns:
        The feed, UTF-8.
    """
    x = xml_escape
    entries = "".join(
        f"<entry><title>{x(p.story.title)}</title>"
        f'<link rel="alternate" type="text/html" href={quoteattr(p.url)}/>'
        f"<id>{x(p.id)}</id><published>{p.published.isoformat()}</published>"
        f"<updated>{p.published.isoformat()}</updated>"
        f"<summary>{x(p.story.lead)}</summary></entry>\n"
        for p in postings
    )
    feed = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang={quoteattr(language)}>
<title>{x(site_name)}</title>
<id>{x(site_url)}/</id>
<updated>{built.isoformat()}</updated>
<author><name>{x(site_name)} Newsroom</name></author>
<link rel="alternate" type="text/html" href={quoteattr(site_url + "/")}/>
<link rel="self" type="application/atom+xml" href={quoteattr(site_url + "/atom.xml")}/>
{entries}</feed>
"""
    return feed.encode()


def render_sitemap(postings: Iterable[Posting]) -> bytes:
    """Render an XML sitemap listing every story page.

    Args:
        postings: The stories.

    Returns:
        The sitemap, UTF-8.
    """
    urls = "".join(
        f"<url><loc>{xml_escape(p.url)}</loc><lastmod>{p.published.isoformat()}</lastmod></url>\n"
        for p in postings
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{urls}</urlset>\n'
    ).encode()

"""Canonical article URLs, so one page has one key however a feed links to it.

`canonical_url(url)` decides the key under which an article URL is stored, deduplicated
("one story, one alert") and fetched. It is pure: no network, no clock. At import it reads
one package data file, `tracking_params.txt`, the tracking parameters it removes.

The rules, in order:

1. Leading and trailing whitespace and C0 control characters are stripped, and tabs and
   newlines inside are removed (as the WHATWG URL parser does).
2. Only an absolute http(s) URL with a host is canonicalized. Anything else (a relative
   reference, another scheme, an invalid port, IPv6 address or host name) comes back as
   step 1 left it. That is a return value, never an exception; callers that need a web URL
   check the scheme, as `crawler.feeds` and `crawler.index` do.
3. w3lib's `canonicalize_url` with its default options: scheme and host lowercased, an IDN
   host in punycode, percent-encoding normalised (non-ASCII as UTF-8, `%xx` in upper case,
   unreserved characters decoded, invalid UTF-8 bytes kept as they are), dot segments
   resolved, an empty path made "/", query arguments sorted by name then value with blank
   values kept as `name=`, spaces in the query written "+", the fragment dropped and a
   trailing "?" with nothing after it dropped.
4. The scheme's default port (80, 443) is dropped, and so is any userinfo (`user:pass@`):
   credentials never select the article, and must not reach the database or an alert.
5. Tracking parameters are removed: a name listed in `tracking_params.txt`, or one that
   starts with a prefix listed there (`utm_*`, `mtm_*`, …). Matching is exact and
   case-sensitive (`FBCLID` is kept), as DuckDuckGo's reference tests require. A query left
   empty is dropped with its "?".

The list only holds parameters that record where a click came from (campaign, ad click id,
newsletter recipient, share source), never one that can select what a page shows, because
canonical URLs are also the URLs the crawler fetches. It takes:

- DuckDuckGo's reference list (privacy-reference-tests `url-parameters`): all 25 real names;
  its test-only `bad.` is left out.
- The mpchadwick tracking-query-params-registry, except `si` (two letters, generic enough to
  be a site's own parameter), eBay Partner Network's `campid`, `customid`, `toolid`, `mkevt`,
  `mkcid` and `mkrid` (meaningful on eBay links only; `customid` and `toolid` are generic
  names) and `gPromoCode` (applies a promotion, so it changes the page).
- From courlan's tracker pattern only the exact names `clickid`, `ysclid`, `xtor` and the
  `itm_` prefix; its substring matches (`ref`, `source`, `session`, `uid`, `ga`, `aff`, …)
  would also remove content parameters (`gallery`, `refresh`, `sourceid`, …).
- The names this module stripped before, and Piano Analytics' `at_medium` and `at_campaign`.

Not done, on purpose, because each would be a guess about a site: AMP and mobile copies
(`/amp/`, an `/amp` or `.amp` suffix, `?amp`, `?amp=1`, `outputType=amp`, `amp.` and `m.`
hosts, Google AMP cache URLs) are not mapped to their article. Only the page knows whether it
is a copy, and it says so in `<link rel="canonical">`, which `crawler.extract` reads; a bare
`amp` flag is kept too, since on some sites it selects another document and on others it
means nothing. Likewise `www.` is kept, http is not turned into https, trailing slashes and
empty path segments (`//`) stay as written, and share links are not unwrapped.
DuckDuckGo's `amp-protections` list is therefore not used.
"""

from __future__ import annotations

import re
from importlib import resources
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

_DEFAULT_PORTS = {"http": 80, "https": 443}
_EDGES = re.compile(r"^[\x00-\x20\s]+|[\x00-\x20\s]+$")
_TAB_AND_NEWLINES = str.maketrans("", "", "\t\n\r")


def _read_tracking_params(text: str) -> tuple[frozenset[str], tuple[str, ...]]:
    """The exact names and the prefixes (lines ending in `*`) of a tracking parameter list."""
    names: set[str] = set()
    prefixes: list[str] = []
    for line in text.splitlines():
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        if entry.endswith("*") and len(entry) > 1:
            prefixes.append(entry[:-1])
        else:
            names.add(entry)
    return frozenset(names), tuple(prefixes)


TRACKING_PARAMS, TRACKING_PREFIXES = _read_tracking_params(
    resources.files(__package__).joinpath("tracking_params.txt").read_text(encoding="utf-8")
)


def is_tracking_param(name: str) -> bool:
    """Whether the (decoded) query parameter `name` only tracks where a click came from."""
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """The canonical form of an http(s) URL; any other text is returned stripped.

    Args:
        url: A URL as a feed, a sitemap or a page gives it (absolute, maybe untidy).

    Returns:
        The canonical URL, or `url` stripped (see the module docstring, rule 1) when it is
        not an absolute http(s) URL that can be parsed.
    """
    text = _EDGES.sub("", url.translate(_TAB_AND_NEWLINES))
    try:
        parts = urlsplit(text)
        if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
            return text
        canonical = urlsplit(canonicalize_url(text))
        port = canonical.port
    except ValueError:  # a port out of range, a bad IPv6 address, an invalid host, …
        return text
    if not canonical.hostname:
        return text
    netloc = canonical.netloc.rpartition("@")[2]
    if port == _DEFAULT_PORTS[canonical.scheme]:
        netloc = netloc.removesuffix(f":{port}")
    query = "&".join(
        pair
        for pair in canonical.query.split("&")
        if pair and not is_tracking_param(unquote_plus(pair.partition("=")[0]))
    )
    return urlunsplit((canonical.scheme, netloc, canonical.path, query, ""))

"""`canonical_url` against public URL test vectors, the tracking lists and news-style URLs.

The vectors are read where they lie, in `../shared/corpora/` from the repository root (the
tests skip with a reason when it is absent), never copied:

- `w3lib-url-vectors/`: scrapy/w3lib's `canonicalize_url` and `safe_url_string` cases;
- `courlan-url-vectors/`: adbar/courlan's `normalize_url` and `clean_url` cases, `input.txt`;
- `tracking-params/`: DuckDuckGo's url-parameters tests and list, the mpchadwick registry.

Every vector lands in exactly one of three places:

1. Applied as it is. A `canonicalize_url`, `normalize_url` or `clean_url` case must give the
   expected URL; a `safe_url_string` case must give the same canonical URL as its expected
   safe form, or, when that function must raise, come back as given (rule 2 of
   `crawler.canonical`); a DuckDuckGo case must give w3lib's canonical form of its expected
   URL; a courlan `input.txt` URL is already canonical.
   An input that is not an absolute http(s) URL must come back as given (rule 2).
2. `EXCEPTIONS`: where we decide differently, our output and the reason.
3. Not applicable, counted but not run: a function that is not about canonicalization
   (`_OTHER_FUNCTIONS`), a non-default option of the function under test (w3lib's
   `keep_fragments=True`, `encoding`, …; courlan's `strict=True`), a DuckDuckGo case that
   depends on the page a browser request came from (`initiatorURL`), a non-string input.

DuckDuckGo's `amp-protections` cases detect and unwrap AMP URLs, which canonical_url does
not do on purpose (see `crawler.canonical`); `test_ddg_amp_urls_are_not_mapped` holds that.
"""

from __future__ import annotations

import base64
import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import pytest
from w3lib.url import canonicalize_url

from crawler.canonical import TRACKING_PARAMS, TRACKING_PREFIXES, canonical_url

CORPORA = Path(__file__).resolve().parents[2].parent / "shared" / "corpora"
W3LIB = CORPORA / "w3lib-url-vectors"
COURLAN = CORPORA / "courlan-url-vectors"
TRACKING = CORPORA / "tracking-params"
_ABSENT = f"shared test corpora not found at {CORPORA}"


class Vector(NamedTuple):
    """One case: which function of which library it tests, its input, what we must return."""

    source: str  # e.g. "courlan normalize_url(strict=True)"
    url: str
    expected: str
    name: str = ""  # the case's own name, where it has one (DuckDuckGo's)

    @property
    def key(self) -> tuple[str, str]:
        return self.source, self.name or self.url


# --- the documented exceptions ----------------------------------------------------------

USERINFO = "we drop userinfo: credentials never select the article and must not be stored"
FRAGMENT = "we always drop the fragment; courlan keeps it unless strict"
ROOT_PATH = "an empty path becomes '/' (w3lib); courlan leaves it empty or drops a lone '/'"
UNICODE_HOST = "we write IDN hosts in punycode (w3lib); courlan decodes them to Unicode"
SUBSTRING = "courlan matches tracker words inside names; we match whole names only"
MARKUP = "courlan cuts the URL at markup left in it; we percent-encode what we are given"
QUOTE = "w3lib keeps the sub-delimiter ' as written in a path; courlan encodes it"
EMPTY_SEGMENT = "'//' in a path is kept: a distinct path (RFC 3986), and URLs inside paths use it"
XFAIL = "w3lib marks this WHATWG expectation xfail; we follow w3lib and canonicalize it"
PER_SITE = "DuckDuckGo's config exempts allowlisted.com; we have no per-site exemptions"
MORE_NAMES = "we also strip msclkid (registry) and utm_id (utm_*), which DuckDuckGo's list lacks"
NOT_HTTP = "not an http(s) URL: canonical_url returns it as given"

EXCEPTIONS: dict[tuple[str, str], tuple[str, str]] = {
    # (source, input or case name): (what canonical_url returns, why)
    ("w3lib canonicalize_url", "http://user:pass@www.example.com:81/do?now=1"): (
        "http://www.example.com:81/do?now=1", USERINFO),
    ("w3lib canonicalize_url", "http://user:pass@www.example.com/do?a=1#frag"): (
        "http://www.example.com/do?a=1", USERINFO),
    ("w3lib canonicalize_url", "http://user@例え.jp/path"): (
        "http://xn--r8jz45g.jp/path", USERINFO),
    ("w3lib canonicalize_url", "http://user:pass@例え.jp:8080/p"): (
        "http://xn--r8jz45g.jp:8080/p", USERINFO),
    ("courlan clean_url", "https://example.org:443/file.html?p=100&abc=1#frag"): (
        "https://example.org/file.html?abc=1&p=100", FRAGMENT),
    ("courlan normalize_url(strict=False)", "http://test.net/foo.html#bar"): (
        "http://test.net/foo.html", FRAGMENT),
    ("courlan normalize_url", "http://test.net/foo.html#:~:text=night-,vision"): (
        "http://test.net/foo.html", FRAGMENT),
    ("courlan normalize_url", "http://test.org/#mtm_campaign=documentation&mtm_keyword=demo&catpage=3"): (
        "http://test.org/", FRAGMENT),
    ("courlan normalize_url", "http://test.org/#page2"): ("http://test.org/", FRAGMENT),
    ("courlan normalize_url", "http://Mnchen-3ya.de"): ("http://mnchen-3ya.de/", ROOT_PATH),
    ("courlan normalize_url", "http://xn--München.de"): ("http://xn--münchen.de/", ROOT_PATH),
    ("courlan clean_url", "HTTPS://WWW.DWDS.DE:80/"): ("https://www.dwds.de:80/", ROOT_PATH),
    ("courlan normalize_url", "http://xn--Mnchen-3ya.de"): (
        "http://xn--mnchen-3ya.de/", UNICODE_HOST),
    ("courlan normalize_url", "http://test.org/?aftr_source=0"): (
        "http://test.org/?aftr_source=0", SUBSTRING),
    ("courlan normalize_url", "http://test.org/?this_affiliate=0"): (
        "http://test.org/?this_affiliate=0", SUBSTRING),
    ("courlan clean_url", 'https://example.org/abc"'): ("https://example.org/abc%22", MARKUP),
    ("courlan clean_url", "https://example.org/abc<"): ("https://example.org/abc%3C", MARKUP),
    ("courlan clean_url", "https://example.org/ab'c"): ("https://example.org/ab'c", QUOTE),
    ("courlan normalize_url", "https://hanxiao.io//404.html"): (
        "https://hanxiao.io//404.html", EMPTY_SEGMENT),
    ("w3lib safe_url_string", "https://\x80.example"): ("https://\x80.example/", XFAIL),
    ("w3lib safe_url_string", "https://%80.example"): ("https://%80.example/", XFAIL),
    ("w3lib safe_url_string", "http://192.168.0.256"): ("http://192.168.0.256/", XFAIL),
    ("w3lib safe_url_string", "http://192.168.0.0.0"): ("http://192.168.0.0.0/", XFAIL),
    ("w3lib safe_url_string", 'https://example.com/"%<>[]^`{|}\x7f'): (
        "https://example.com/%22%%3C%3E[]%5E%60%7B|%7D%7F", XFAIL),  # a lone % stays
    ("ddg url-parameters", "Tracking parameters are not removed when request domain is in exceptions list"): (
        "http://allowlisted.com/test.html", PER_SITE),
    ("ddg url-parameters", "Tracking parameters are not removed when request domain is subdomain of domain in exceptions list"): (
        "http://subdomain.allowlisted.com/test.html", PER_SITE),
    ("ddg url-parameters", "Ensure URLs aren't malformed by percent encoding"): (
        "https://example.com/trk/v1?CMP_ID=123456%3D6666&adgroupid=5555555555&camp=55559"
        "&campaignid=55556666888&cid=6765676&criteriaid=blah%3Ablah&k_clickid=_1234567_666"
        "&kchid=123456&kct=blah&kdv=g&kext=&kpg=&kpid=&locphy=1234&prof=5555"
        "&queryStr=blah+blah&url=https%3A%2F%2Fwww.example2.com%2Flanding%3Fshow%3Dall",
        MORE_NAMES),
}  # fmt: skip


# --- loading and sorting the vectors ----------------------------------------------------

_W3LIB_DEFAULTS = {"keep_blank_values": True, "keep_fragments": False, "encoding": None}
_COURLAN_DEFAULTS = {"strict": False}
_OTHER_FUNCTIONS = {
    "url_query_cleaner": "keeps or drops caller-named parameters of relative URLs",
    "file_uri_to_path": "file: URIs",
    "path_to_file_uri": "file: URIs",
    "any_to_uri": "file: URIs",
    "safe_download_url": "download URLs",
    "add_or_replace_parameter": "builds URLs",
    "fix_relative_urls": "joins relative links (callers do it before canonical_url)",
    "scrub_url": "repairs URLs cut out of markup and unwraps share links: extraction",
    "check_url": "spam filter and redirects over the network",
    "extract_domain": "domain extraction",
    "get_base_url": "URL parts",
    "get_host_and_path": "URL parts",
    "get_hostinfo": "URL parts",
    "langcodes_score": "language codes",
}


def _text(value: Any) -> Any:
    """A vector value, with `{"bytes_b64": …}` decoded as UTF-8 (w3lib's default)."""
    if isinstance(value, dict) and "bytes_b64" in value:
        return base64.b64decode(value["bytes_b64"]).decode()
    return value


def _as_given(url: str) -> str:
    """Rule 1 of `crawler.canonical`: edges stripped, tabs and newlines removed."""
    url = url.replace("\t", "").replace("\n", "").replace("\r", "")
    return re.sub(r"^[\x00-\x20\s]+|[\x00-\x20\s]+$", "", url)


def _is_web_url(url: str) -> bool:
    try:
        parts = urlsplit(_as_given(url))
        return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return True  # an http(s) URL that does not parse: rule 2 applies to it


def _not_applicable(lib: str, case: dict[str, Any]) -> str | None:
    """Why a vector does not describe what canonical_url does, or None when it does."""
    function, args, kwargs = case["function"], case["args"], case["kwargs"]
    if function in _OTHER_FUNCTIONS:
        return f"{function}: {_OTHER_FUNCTIONS[function]}"
    defaults = _W3LIB_DEFAULTS if lib == "w3lib" else _COURLAN_DEFAULTS
    if len(args) > 1 or any(defaults.get(k, object()) != v for k, v in kwargs.items()):
        return f"{function}: a non-default option ({args[1:]}, {kwargs})"
    return None


def _label(lib: str, case: dict[str, Any]) -> str:
    options = ", ".join(f"{k}={v}" for k, v in sorted(case["kwargs"].items()))
    return f"{lib} {case['function']}" + (f"({options})" if options else "")


def _assert_vectors(lib: str, path: Path) -> Iterator[tuple[Vector, str | None]]:
    """w3lib's or courlan's `assert f(…) == …` cases."""
    for case in json.loads((path / "url-test-vectors.json").read_text())["cases"]:
        label, reason = _label(lib, case), _not_applicable(lib, case)
        if reason is not None:
            yield Vector(label, repr(case["args"][0]), repr(case["expected"])), reason
            continue
        url, expected = _text(case["args"][0]), _text(case["expected"])
        if case["function"] == "safe_url_string":  # the same page as its safe form
            expected = canonical_url(expected)
        yield Vector(label, url, expected), None


def _safe_url_table_vectors() -> Iterator[tuple[Vector, str | None]]:
    """w3lib's SAFE_URL_URL_CASES and SAFE_URL_ENCODING_CASES."""
    tables = json.loads((W3LIB / "safe-url-string-cases.json").read_text())
    for case in tables["safe_url_string_url_cases"] + tables["safe_url_string_encoding_cases"]:
        url, expected = case["url"], case["expected"]
        if not isinstance(url, str):
            yield Vector("w3lib safe_url_string", repr(url), ""), "not a string"
        elif case.get("encoding"):
            option = f"safe_url_string: a non-default option ({case['encoding']})"
            yield Vector("w3lib safe_url_string", url, ""), option
        elif isinstance(expected, str):  # the same page as its safe form
            yield Vector("w3lib safe_url_string", url, canonical_url(expected)), None
        else:  # an invalid URL (safe_url_string raises): canonical_url gives it back
            yield Vector("w3lib safe_url_string", url, _as_given(url)), None


def _vectors() -> Iterator[tuple[Vector, str | None]]:
    """Every vector with the reason it does not apply (None when it applies)."""
    yield from _assert_vectors("w3lib", W3LIB)
    yield from _assert_vectors("courlan", COURLAN)
    yield from _safe_url_table_vectors()
    for line in (COURLAN / "input.txt").read_text().splitlines():
        if line.strip():  # clean URLs, already canonical
            yield Vector("courlan input.txt", line, line), None
    ddg = json.loads((TRACKING / "ddg-url-parameters" / "tests.json").read_text())
    for case in ddg["trackingParameters"]["tests"]:
        expected = canonicalize_url(case["expectURL"])  # DuckDuckGo's result, canonical
        vector = Vector("ddg url-parameters", case["testURL"], expected, case["name"])
        initiator = "initiatorURL" in case
        yield vector, "browser request context (initiatorURL)" if initiator else None


def _params() -> list[Any]:
    """The vectors that apply, one test each; the others are not run."""
    if not CORPORA.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=_ABSENT))]
    return [
        pytest.param(vector, id=f"{vector.source}: {(vector.name or vector.url)[:60]!r}")
        for vector, reason in _vectors()
        if reason is None
    ]


@pytest.mark.parametrize("vector", _params())
def test_vector(vector: Vector) -> None:
    ours = canonical_url(vector.url)
    key = vector.key
    if not _is_web_url(vector.url):
        assert key not in EXCEPTIONS, NOT_HTTP
        assert ours == _as_given(vector.url), NOT_HTTP
        return
    if key in EXCEPTIONS:
        expected, why = EXCEPTIONS[key]
        assert ours == expected, why
        assert expected != vector.expected, f"no longer an exception: {why}"
    else:
        assert ours == vector.expected
    assert canonical_url(ours) == ours, "not idempotent"


@pytest.mark.skipif(not CORPORA.is_dir(), reason=_ABSENT)
def test_every_exception_names_an_applied_vector() -> None:
    applied = {vector.key for vector, reason in _vectors() if reason is None}
    assert set(EXCEPTIONS) <= applied


# --- tracking parameters ----------------------------------------------------------------

EXCLUDED = {
    # names in the corpus lists that canonical_url keeps, and why
    "bad.": "DuckDuckGo's test-only entry (checks that names are not read as regexes)",
    "si": "two letters: generic enough to be a site's own parameter",
    "campid": "eBay Partner Network: meaningful on eBay links only",
    "customid": "eBay Partner Network; a generic name a site may use for content",
    "toolid": "eBay Partner Network; a generic name a site may use for content",
    "mkevt": "eBay Partner Network: meaningful on eBay links only",
    "mkcid": "eBay Partner Network: meaningful on eBay links only",
    "mkrid": "eBay Partner Network: meaningful on eBay links only",
    "gPromoCode": "Google Merchant Center: applies a promotion, so it changes the page",
}

CONTENT_PARAMS = [
    # select what a news page shows: kept
    "id", "p", "page", "article", "story", "q", "query", "s", "search", "tag", "section",
    "category", "date", "year", "lang", "hl", "edition", "region", "start", "offset", "v",
    "articleId", "storyId", "newsid", "sid", "cid", "aid", "nid", "post", "item", "format",
    # AMP and output flags are not guessed (see crawler.canonical)
    "amp", "outputType", "output",
    # look like trackers but are not listed (substring or case-insensitive matching would drop them)
    "ref", "from", "source", "sourceid", "campaign", "medium", "session", "uid", "gallery",
    "refresh", "affiliate", "utm", "pk", "ga", "fbclid1", "FBCLID", "UTM_SOURCE", "Gclid",
]  # fmt: skip


def _strips(name: str) -> bool:
    url = f"https://news.example/2024/05/kuril.html?{name}=1&id=7"
    return canonical_url(url) == "https://news.example/2024/05/kuril.html?id=7"


def test_every_listed_name_and_prefix_is_stripped() -> None:
    names = sorted(TRACKING_PARAMS) + [f"{prefix}anything" for prefix in TRACKING_PREFIXES]
    assert len(names) > 80
    assert [name for name in names if not _strips(name)] == []


@pytest.mark.parametrize("name", CONTENT_PARAMS)
def test_content_parameters_are_kept(name: str) -> None:
    url = f"https://news.example/2024/05/kuril.html?{name}=2&utm_source=rss"
    assert canonical_url(url) == f"https://news.example/2024/05/kuril.html?{name}=2"


def _corpus_names() -> dict[str, list[str]]:
    config = json.loads((TRACKING / "ddg-url-parameters" / "config_reference.json").read_text())
    ddg = config["features"]["trackingParameters"]["settings"]["parameters"]
    with (TRACKING / "mpchadwick-registry" / "params.csv").open(newline="") as rows:
        registry = [row["name"].strip() for row in csv.DictReader(rows)]
    return {"ddg url-parameters": ddg, "mpchadwick registry": registry}


@pytest.mark.skipif(not CORPORA.is_dir(), reason=_ABSENT)
def test_corpus_tracking_lists_are_stripped_but_for_documented_exclusions() -> None:
    lists = _corpus_names()
    every = {name for names in lists.values() for name in names}
    assert set(EXCLUDED) <= every, "an exclusion no list names"
    for source, names in lists.items():
        assert [n for n in names if n not in EXCLUDED and not _strips(n)] == [], source
    assert [n for n in EXCLUDED if _strips(n)] == []


@pytest.mark.skipif(not CORPORA.is_dir(), reason=_ABSENT)
def test_ddg_amp_urls_are_not_mapped() -> None:
    cases = json.loads((TRACKING / "ddg-amp-protections" / "tests.json").read_text())
    urls = [case["ampURL"] for group in cases.values() for case in group["tests"]]
    assert len(urls) == 12
    for url in urls:  # no tracking parameters in them: only w3lib's canonicalization applies
        assert canonical_url(url) == canonicalize_url(url), url


# --- news-style URLs --------------------------------------------------------------------

NEWS = [
    # (url as a feed or page gives it, canonical URL); hosts are invented, patterns real
    (  # case, default port, fragment, utm_*
        "HTTPS://WWW.Kuril-Times.example:443/news/2024/05/03/drills/?utm_source=rss&utm_medium=rss#comments",
        "https://www.kuril-times.example/news/2024/05/03/drills/",
    ),
    ("http://www.daily.example:80/doc/6675432?from=main", "http://www.daily.example/doc/6675432?from=main"),
    ("https://wire.example", "https://wire.example/"),
    ("https://radio.example/a/kuril-missiles/32912345.html?", "https://radio.example/a/kuril-missiles/32912345.html"),
    # tracking parameters of news links: Yandex, BBC/Piano, AT Internet, Mailchimp, ad clicks
    ("https://agency.example/politics/1789012?ysclid=lw3k2abc123", "https://agency.example/politics/1789012"),
    ("https://broadcaster.example/news/articles/c4nn7kd0?at_medium=RSS&at_campaign=rss", "https://broadcaster.example/news/articles/c4nn7kd0"),
    ("https://quotidien.example/article/2024/05/03/kouriles_6231.html?xtor=RSS-3208", "https://quotidien.example/article/2024/05/03/kouriles_6231.html"),
    ("https://times.example/2024/05/03/kurils?utm_campaign=daily&mc_cid=ab12&mc_eid=cd34", "https://times.example/2024/05/03/kurils"),
    ("https://times.example/kuril/?gclid=Cj0K&msclkid=99&dclid=1&yclid=2&_ga=2.1&_gl=1*abc", "https://times.example/kuril/"),
    ("https://shimbun.example/article/1012345/?fbclid=IwAR0abc&page=2", "https://shimbun.example/article/1012345/?page=2"),
    ("https://keizai.example/article/DGXZQO?n_cid=NMAIL007&itm_source=nl&s_cid=abc", "https://keizai.example/article/DGXZQO?n_cid=NMAIL007"),
    ("https://ria.example/20240503/kurily.html?utm_source=yxnews&utm_medium=desktop&in=t", "https://ria.example/20240503/kurily.html?in=t"),
    # kept: content parameters, unknown names, uppercase lookalikes, tracker names as values
    ("https://wire.example/news/2024/05/drills.html?phrase=Kuril&words=", "https://wire.example/news/2024/05/drills.html?phrase=Kuril&words="),
    ("https://wire.example/story/42?utm_source=rss&ref=rss", "https://wire.example/story/42?ref=rss"),
    ("https://yomi.example/world/20240503-OYT1T50123/?FBCLID=x", "https://yomi.example/world/20240503-OYT1T50123/?FBCLID=x"),
    ("https://wire.example/story?from=utm_source", "https://wire.example/story?from=utm_source"),
    ("https://wire.example/story?q=a%26utm_source%3Dx", "https://wire.example/story?q=a%26utm_source%3Dx"),
    # sorting, percent-encoding, IDN, dot segments, whitespace
    ("https://wire.example/tag/kuril?tag=b&tag=a", "https://wire.example/tag/kuril?tag=a&tag=b"),
    ("https://wire.example/search?q=kuril islands&page=2", "https://wire.example/search?page=2&q=kuril+islands"),
    ("https://sakhalin.example/search/?q=Итуруп&page=2", "https://sakhalin.example/search/?page=2&q=%D0%98%D1%82%D1%83%D1%80%D1%83%D0%BF"),
    ("https://asahi.example/articles/ASS5%e3%83%8b.html", "https://asahi.example/articles/ASS5%E3%83%8B.html"),
    ("https://wire.example/%7Eeditor/story", "https://wire.example/~editor/story"),
    ("https://пример.рф/новости?id=5", "https://xn--e1afmkfd.xn--p1ai/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8?id=5"),
    ("https://wire.example/news/./2024/../2024/0503/kuril.html", "https://wire.example/news/2024/0503/kuril.html"),
    (" \thttps://wire.example/news/\n2024/x \n", "https://wire.example/news/2024/x"),
    ("https://editor:secret@wire.example/story/42", "https://wire.example/story/42"),
    # AMP and mobile copies are not guessed: rel=canonical maps them (crawler.extract)
    ("https://wire.example/news/2024/05/kuril/amp/", "https://wire.example/news/2024/05/kuril/amp/"),
    ("https://wire.example/news/2024/05/kuril/amp", "https://wire.example/news/2024/05/kuril/amp"),
    ("https://broadcaster.example/news/world-asia-19432800.amp", "https://broadcaster.example/news/world-asia-19432800.amp"),
    ("https://indy.example/news/kuril-b1944407.html?amp", "https://indy.example/news/kuril-b1944407.html?amp="),
    ("https://wire.example/story?amp=1&utm_source=twitter", "https://wire.example/story?amp=1"),
    ("https://cable.example/2024/05/03/kuril/index.html?outputType=amp", "https://cable.example/2024/05/03/kuril/index.html?outputType=amp"),
    ("https://amp.guardian.example/world/2024/may/03/kuril", "https://amp.guardian.example/world/2024/may/03/kuril"),
    ("https://m.wire.example/story/42", "https://m.wire.example/story/42"),
    ("https://www.google.com/amp/s/wire.example/story/42.amp", "https://www.google.com/amp/s/wire.example/story/42.amp"),
    # not canonicalized: given back stripped
    ("https://wire.example:99999/story", "https://wire.example:99999/story"),
    ("http://[::1/story", "http://[::1/story"),
    ("javascript:void(0)", "javascript:void(0)"),
    ("mailto:desk@wire.example", "mailto:desk@wire.example"),
    (" /relative/story.html", "/relative/story.html"),
    ("", ""),
]  # fmt: skip


@pytest.mark.parametrize(("url", "expected"), NEWS)
def test_news_urls(url: str, expected: str) -> None:
    assert canonical_url(url) == expected
    assert canonical_url(expected) == expected

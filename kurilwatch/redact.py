"""Secrets in source URLs kept out of what kurilwatch logs, stores and prints.

A source URL may carry a secret: an API key in its query string (`?api_key=…`) or user info
(`https://user:password@host/`). Unless the user marks the source's URL safe
(`redact_url: false`), nothing kurilwatch writes shows either:

- `redacted_url(url)` is the URL as shown: each query (and fragment) value and the user info
  replaced by `***`, the names of the parameters kept (`?api_key=***&q=***`); `shown_url`
  shows a stored URL whole only when the configuration marks it safe.
- `Redactor` scrubs those secrets out of any text (an error message, a log line, a command's
  output), however the text quotes the URL: built from the sources' URLs, it replaces each
  `name=value` of their queries (as written, decoded, or escaped as Scrapy sends it) and
  their user info, and a value of `ALONE` characters or more wherever it stands alone (an API
  key quoted in an error message). Shorter values are replaced only after their `=`, so a
  `?page=2` does not blank every "2" of a message.

Pure: no IO.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, unquote_plus, urlsplit, urlunsplit

from w3lib.url import safe_url_string

if TYPE_CHECKING:
    from kurilwatch.model import Source

REDACTED = "***"
ALONE = 8
"""Characters from which a secret value is replaced wherever it appears, not only after `=`."""


def redacted_url(url: str) -> str:
    """`url` with each query and fragment value and its user info replaced by `***`."""
    try:
        parts = urlsplit(url)
    except ValueError:  # a broken port or IPv6 host: show nothing of it
        return REDACTED
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    return urlunsplit(
        (parts.scheme, netloc, parts.path, _hide_values(parts.query), _hide_values(parts.fragment))
    )


def _hide_values(query: str) -> str:
    pairs = []
    for pair in query.split("&") if query else ():
        name, equals, value = pair.partition("=")
        if not equals:  # a bare token (`?SECRET`) is a value
            pairs.append(REDACTED if name else name)
        else:
            pairs.append(f"{name}={REDACTED}" if value else pair)
    return "&".join(pairs)


def safe_urls(sources: Iterable[Source]) -> frozenset[str]:
    """The URLs of `sources` marked `redact_url: false` (they hold no secret)."""
    return frozenset(s.url for s in sources if not s.redact_url)


def shown_url(url: str, safe: Collection[str]) -> str:
    """A stored source URL as shown: whole if it is one of `safe` (the URLs the configuration
    marks `redact_url: false`), else `redacted_url(url)`."""
    return url if url in safe else redacted_url(url)


@dataclass(frozen=True, slots=True)
class Redactor:
    """Replaces the secrets of some URLs in a text; `Redactor()` changes nothing."""

    needles: tuple[tuple[str, str], ...] = ()
    """(what, with what), longest first."""

    @classmethod
    def for_urls(cls, urls: Iterable[str]) -> Redactor:
        """A redactor for the secrets of `urls` (URLs with none add nothing)."""
        found: dict[str, str] = {}
        for url in urls:
            for form in dict.fromkeys((url, safe_url_string(url))):
                found.update(_needles(form))
        return cls(tuple(sorted(found.items(), key=lambda kv: (-len(kv[0]), kv[0]))))

    @classmethod
    def for_sources(cls, sources: Iterable[Source]) -> Redactor:
        """A redactor for the URLs of `sources` whose `redact_url` is on."""
        return cls.for_urls(s.url for s in sources if s.redact_url)

    def __call__(self, text: str) -> str:
        """`text` with every secret replaced by `***`."""
        for needle, replacement in self.needles:
            if needle in text:
                text = text.replace(needle, replacement)
        return text

    def __bool__(self) -> bool:
        return bool(self.needles)


def _needles(url: str) -> Iterator[tuple[str, str]]:
    try:
        parts = urlsplit(url)
    except ValueError:
        return
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    if userinfo:
        for form in _forms(userinfo):
            yield f"{form}@", f"{REDACTED}@"
        for piece in userinfo.split(":"):
            yield from _alone(piece)
    for pair in (*parts.query.split("&"), *parts.fragment.split("&")):
        name, equals, value = pair.partition("=")
        if not equals:
            name, value = "", name
        if not value:
            continue
        for form in _forms(value):
            yield f"={form}", f"={REDACTED}"
            if name:
                yield f"{name}={form}", f"{name}={REDACTED}"
        yield from _alone(value)


def _alone(value: str) -> Iterator[tuple[str, str]]:
    for form in _forms(value):
        if len(form) >= ALONE:
            yield form, REDACTED


def _forms(value: str) -> set[str]:
    """`value` as written, decoded (with `+` as a space or not) and escaped again."""
    forms = {value, unquote(value), unquote_plus(value)}
    forms |= {quote(f, safe="") for f in list(forms)}
    return {f for f in forms if f}

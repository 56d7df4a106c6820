"""Canonical article URLs, so one page has one key however a feed links to it.

Pure: `canonical_url(url)` lowercases scheme and host, drops default ports and the fragment,
sorts the query and removes tracking parameters (utm_*, fbclid, gclid, …), using w3lib's
canonicalization.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

TRACKING_PREFIXES = ("utm_", "mtm_", "pk_", "ga_", "hsa_")
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
        "igshid", "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok", "oly_enc_id",
        "oly_anon_id", "vero_id", "rb_clickid", "s_cid", "ncid", "cmpid", "ocid",
        "ref_src", "spm", "_ga", "_gl",
    }
)  # fmt: skip


def canonical_url(url: str) -> str:
    """The canonical form of an http(s) URL; other URLs are returned stripped."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return url
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not (k.lower() in TRACKING_PARAMS or k.lower().startswith(TRACKING_PREFIXES))
    ]
    scheme = parts.scheme.lower()
    netloc = parts.netloc.rsplit("@", 1)[-1].lower()
    if (scheme, parts.port) in (("http", 80), ("https", 443)):
        netloc = netloc.rsplit(":", 1)[0]
    cleaned = urlunsplit((scheme, netloc, parts.path or "/", urlencode(query), ""))
    return canonicalize_url(cleaned, keep_fragments=False)

"""Source URL secrets: how a URL is shown, and what is scrubbed out of a message."""

from __future__ import annotations

import pytest

from kurilwatch.model import Source
from kurilwatch.redact import Redactor, redacted_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://h.test/rss", "https://h.test/rss"),
        ("https://h.test/rss?api_key=SECRET", "https://h.test/rss?api_key=***"),
        ("https://h.test/rss?a=1&b=&c", "https://h.test/rss?a=***&b=&***"),
        ("https://user:pass@h.test:8080/x", "https://***@h.test:8080/x"),
        ("https://h.test/x#access_token=abc", "https://h.test/x#access_token=***"),
        ("https://h.test/x?q=%22Kuril+Islands%22", "https://h.test/x?q=***"),
    ],
)
def test_redacted_url_hides_values_and_user_info(url: str, shown: str) -> None:
    assert redacted_url(url) == shown


def test_redactor_scrubs_every_form_a_message_quotes() -> None:
    redact = Redactor.for_urls(
        ["https://desk:pa55w0rd-long@h.test/rss?api_key=a b/c+d&page=2", "https://plain.test/"]
    )
    for message, expected in [
        (
            "Getting https://h.test/rss?api_key=a%20b/c+d&page=2 took longer than 30 s",
            "Getting https://h.test/rss?api_key=***&page=*** took longer than 30 s",
        ),
        ("<GET https://h.test/rss?api_key=a b/c+d>", "<GET https://h.test/rss?api_key=***>"),
        ("connect to desk:pa55w0rd-long@h.test failed", "connect to ***@h.test failed"),
        ("bad password pa55w0rd-long", "bad password ***"),  # long values, even alone
        ("page 2 of 2", "page 2 of 2"),  # a short value only after its `=`
    ]:
        assert redact(message) == expected


def test_sources_marked_safe_add_nothing() -> None:
    keyed = Source(name="a", kind="feed", url="https://h.test/?key=SECRETKEY", every_seconds=60)
    safe = Source(
        name="b",
        kind="feed",
        url="https://h.test/?key=VISIBLE1",
        every_seconds=60,
        redact_url=False,
    )
    redact = Redactor.for_sources([keyed, safe])
    assert redact("SECRETKEY VISIBLE1") == "*** VISIBLE1"
    assert (keyed.shown_url, safe.shown_url) == ("https://h.test/?key=***", safe.url)
    assert not Redactor.for_sources([safe]) and Redactor()("x?key=1") == "x?key=1"

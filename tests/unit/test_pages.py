"""The entry's own text when the page gives nothing, and what is not a page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crawler.extract import extract_article
from crawler.pages import feed_text_article, guess_language, split_publisher
from kurilwatch.errors import ExtractionError
from kurilwatch.model import Entry

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("title", "outlet", "expected"),
    [
        (
            "Japan protests Kuril drills - The Japan Times",
            None,
            ("Japan protests Kuril drills", "The Japan Times"),
        ),
        (
            "Japan protests Kuril drills | NHK WORLD",
            None,
            ("Japan protests Kuril drills", "NHK WORLD"),
        ),
        ("Russia holds drills - Reuters", "Reuters", ("Russia holds drills", "Reuters")),
        # the index names the outlet: only that name comes off
        ("Drills on Iturup - day two - TASS", "TASS", ("Drills on Iturup - day two", "TASS")),
        ("Drills on Iturup - day two", "TASS", ("Drills on Iturup - day two", "TASS")),
        # a long tail, or one with sentence punctuation, is part of the headline
        (
            "Tokyo protests - and Moscow says the drills on the islands will go on",
            None,
            ("Tokyo protests - and Moscow says the drills on the islands will go on", None),
        ),
        ("Kurils: what next? - analysis.", None, ("Kurils: what next? - analysis.", None)),
        ("Japan protests Kuril drills", None, ("Japan protests Kuril drills", None)),
    ],
)
def test_a_trailing_publisher_moves_to_the_outlet(
    title: str, outlet: str | None, expected: tuple[str, str | None]
) -> None:
    assert split_publisher(title, outlet) == expected


def _entry(**fields: object) -> Entry:
    values: dict[str, object] = {
        "id": 1,
        "source": "wire",
        "url": "https://a.test/1",
        "status": "pending",
        "first_seen_at": NOW,
    }
    values.update(fields)
    return Entry(**values)  # type: ignore[arg-type]


def test_the_feed_text_article_is_the_headline_and_summary_marked_as_such() -> None:
    entry = _entry(
        title="Japan protests Kuril drills - Example Wire",
        summary="Japan lodged a protest over drills on Etorofu.",
        published_at=NOW,
        guid="g-1",
    )
    article = feed_text_article(entry, reason="the page answered HTTP 403")
    assert article is not None
    assert (article.title, article.text, article.outlet) == (
        "Japan protests Kuril drills",
        "Japan lodged a protest over drills on Etorofu.",
        "Example Wire",
    )
    assert (article.text_source, article.text_reason) == ("feed", "the page answered HTTP 403")
    assert (article.url, article.guid, article.published_at) == (entry.url, "g-1", NOW)
    assert article.language == "en"


def test_a_feed_without_text_gives_nothing_and_a_repeated_headline_counts_once() -> None:
    assert feed_text_article(_entry(), reason="x") is None
    same = feed_text_article(
        _entry(title="Drills on Iturup", summary="Drills on Iturup"), reason="x"
    )
    assert same is not None and same.text == "Drills on Iturup"
    russian = feed_text_article(
        _entry(
            summary="Подразделения Восточного военного округа провели учения на острове Итуруп."
        ),
        reason="x",
    )
    assert russian is not None and russian.language == "ru"


def test_guess_language_by_script() -> None:
    assert (
        guess_language(
            "政府は、ロシア軍が北方領土の択捉島と国後島で軍事演習を実施したとして抗議した。"
        )
        == "ja"
    )
    assert (
        guess_language("Подразделения Восточного военного округа провели учения на Итурупе") == "ru"
    )
    assert guess_language("Japan protests drills") == "en"


CONSENT = (
    "<html><body><h1>Before you continue</h1><p>We and our partners use cookies to store and "
    "access information on your device. With your consent we use them for ads and content "
    "measurement.</p><p>Accept all, reject all, or manage preferences.</p></body></html>"
)
SHELL = (
    '<html><head><script src="/app.js"></script></head><body><div id="root"></div>'
    "<noscript>Please enable JavaScript to continue.</noscript></body></html>"
)
ARTICLE = (
    "<html><head><title>Japan protests Kuril drills</title></head><body><article><h1>Japan "
    "protests Kuril drills</h1><p>Japan lodged a protest with Russia on Tuesday after drills on "
    "Etorofu in the Kuril Islands, the foreign ministry said in a statement.</p><p>The ministry "
    "said the drills were unacceptable and asked Moscow to stop them, officials said.</p>"
    "<p>Our site uses cookies; see the privacy policy.</p></article></body></html>"
)


def test_consent_walls_and_script_shells_are_unusable_but_articles_are_read() -> None:
    with pytest.raises(ExtractionError, match="cookie-consent"):
        extract_article(CONSENT.encode(), "https://a.test/1", source="wire")
    with pytest.raises(ExtractionError, match="JavaScript shell"):
        extract_article(SHELL.encode(), "https://a.test/2", source="wire")
    article = extract_article(ARTICLE.encode(), "https://a.test/3", source="wire")
    assert "Etorofu" in article.text

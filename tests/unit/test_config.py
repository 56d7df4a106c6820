"""Configuration: durations, ${VAR} expansion, and errors that name file, key and expectation."""

from __future__ import annotations

from pathlib import Path

import pytest

from kurilwatch.config import load_config, parse_duration
from kurilwatch.errors import ConfigError

MINIMAL = """
sources:
  - name: kyodo
    kind: feed
    url: https://example.org/rss.xml
    every: 5m
channels:
  - name: desk
    kind: slack
    url: ${SLACK_WEBHOOK_URL}
  - name: ops
    kind: webhook
    url: https://hooks.example.org/kuril
    secret: ${WEBHOOK_SECRET}
"""


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("2d", 172800),
        ("250ms", 0.25),
        (45, 45),
        ("1.5h", 5400),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["soon", "", "-5m", "0s", "5 minutes", True])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kurilwatch.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_config_from_design(tmp_path: Path) -> None:
    env = {
        "SLACK_WEBHOOK_URL": "https://hooks.slack.test/T/B/x",
        "WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    }
    settings = load_config(_write(tmp_path, MINIMAL), env)
    assert settings.sources[0].every == 300
    assert settings.channels[0].url is not None
    assert settings.channels[0].url.get_secret_value() == env["SLACK_WEBHOOK_URL"]
    assert "hooks.slack.test" not in repr(settings)  # secrets never show in a repr
    assert settings.rules is None
    assert settings.alert_max_age == 72 * 3600


def test_database_url_from_environment_wins(tmp_path: Path) -> None:
    path = _write(tmp_path, "database_url: postgresql://file@db/x\n")
    settings = load_config(path, {"KURILWATCH_DATABASE_URL": "postgresql://env@db/y"})
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == "postgresql://env@db/y"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "sources:\n  - name: a\n    url: https://x.org/f\n    every: soon\n",
            "sources[0].every: expected a duration",
        ),
        (
            "sources:\n  - name: a\n    url: https://x.org/f\n    evry: 5m\n",
            "sources[0].evry: unknown key",
        ),
        (
            "sources:\n  - name: a\n    url: ftp://x.org/f\n",
            "sources[0].url: expected an http:// or https:// URL",
        ),
        (
            "sources:\n  - name: a\n    kind: rss\n    url: https://x.org/f\n",
            "sources[0].kind: expected 'feed'",
        ),
        ("sources:\n  - url: https://x.org/f\n", "sources[0].name: required key is missing"),
        ("channels:\n  - name: a\n    kind: slack\n", "channels[0]: a slack channel needs a url"),
        (
            "channels:\n  - name: a\n    kind: webhook\n    url: https://h.test/x\n    secret: plain\n",
            "expected a Standard Webhooks secret",
        ),
        ("sources: [\n", "not valid YAML at line"),
        # the fast (libyaml) loader only says "cannot start any token"; the tab is named
        ("sources:\n\t- name: a\n", "at line 2, column 1: found character '\\t'"),
        ("- just\n- a list\n", "expected a mapping of settings"),
        ("alert_max_age: forever\n", "alert_max_age: expected a duration"),
        (
            "rules:\n  - name: r\n    event: protest\n    query: x\n    channels: [nope]\n",
            "unknown channel 'nope'",
        ),
        (
            "rules:\n  - name: r\n    event: protest\n    query: x\n    channels: []\n",
            "rules[0].channels: expected at least one channel name",
        ),
    ],
)
def test_errors_name_file_key_and_expectation(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_missing_environment_variable_is_named(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"channels\[0\]\.url: expected the environment variable SLACK_WEBHOOK_URL",
    ):
        load_config(_write(tmp_path, MINIMAL), {"WEBHOOK_SECRET": "whsec_abc"})


def test_secret_values_are_not_echoed_in_errors(tmp_path: Path) -> None:
    text = "channels:\n  - name: a\n    kind: webhook\n    url: hooks.secret.test/abc\n"
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, text), {})
    assert "hooks.secret.test" not in str(caught.value)


def test_default_and_missing_file(tmp_path: Path) -> None:
    assert load_config(tmp_path / "absent.yaml", {}, required=False).sources == ()
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "absent.yaml", {})


def test_query_fills_search_feed_url(tmp_path: Path) -> None:
    text = "sources:\n  - name: s\n    url: https://news.test/rss?q={query}\n    query: 北方領土 OR Kurils\n"
    source = load_config(_write(tmp_path, text), {}).sources[0].to_source()
    assert source.url == "https://news.test/rss?q=%E5%8C%97%E6%96%B9%E9%A0%98%E5%9C%9F+OR+Kurils"


def test_listen_off_unquoted_and_bad_values(tmp_path: Path) -> None:
    assert load_config(_write(tmp_path, "listen: off\n"), {}).listen is None
    open_ = "listen: 0.0.0.0:9464\nui:\n  auth:\n    token: ${TOKEN}\n"
    token = {"TOKEN": "a-long-enough-token-123"}
    assert load_config(_write(tmp_path, open_), token).listen == "0.0.0.0:9464"
    assert (
        load_config(_write(tmp_path, "listen: x\n"), {"KURILWATCH_LISTEN": "127.0.0.1:1"}).listen
        == "127.0.0.1:1"
    )
    with pytest.raises(ConfigError, match="listen: expected host:port"):
        load_config(_write(tmp_path, "listen: 9464\n"), {})


def test_retention_defaults_are_a_desks(tmp_path: Path) -> None:
    kept = load_config(_write(tmp_path, ""), {}).retention
    day = 86400.0
    assert (kept.stories, kept.alerts) == (365 * day, 365 * day)
    assert (kept.article_text, kept.payloads, kept.entries) == (90 * day, 90 * day, 90 * day)
    text = "retention:\n  article_text: 60d\n  stories: 730d\n"
    kept = load_config(_write(tmp_path, text), {}).retention
    assert (kept.article_text, kept.stories) == (60 * day, 730 * day)


def test_the_older_seen_retention_still_sets_entries(tmp_path: Path) -> None:
    text = "crawl:\n  seen_retention: 30d\n"
    assert load_config(_write(tmp_path, text), {}).retention.entries == 30 * 86400.0
    text += "retention:\n  entries: 10d\n"  # the new name wins
    assert load_config(_write(tmp_path, text), {}).retention.entries == 10 * 86400.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("retention:\n  stories: forever\n", "retention.stories: expected a duration"),
        ("retention:\n  texts: 30d\n", "retention.texts: unknown key"),
        ("retention:\n  batch: 1\n", "retention.batch: Input should be greater than or equal"),
        (
            "retention:\n  article_text: 7d\n",
            "retention.article_text: expected at least 30d (dedup_window",
        ),
        (
            "dedup_window: 60d\nretention:\n  stories: 45d\n  alerts: 45d\n",
            "retention.stories: expected at least 60d",
        ),
        (
            "alert_max_age: 10d\nretention:\n  alerts: 5d\n",
            "retention.alerts: expected at least 10d (alert_max_age",
        ),
        (
            "retention:\n  alerts: 400d\n",
            "retention.alerts: expected at most stories (365d)",
        ),
    ],
)
def test_retention_errors_name_the_key_and_what_was_expected(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert str(caught.value).startswith(f"{path}: ")
    assert expected in str(caught.value)


def test_pages_on_a_non_loopback_address_need_ui_auth(tmp_path: Path) -> None:
    path = _write(tmp_path, "listen: 0.0.0.0:9464\n")
    with pytest.raises(ConfigError) as refused:
        load_config(path, {})
    assert str(refused.value).startswith(f"{path}: ui.auth: required when listen (0.0.0.0:9464)")
    # the environment's listen address is held to the same rule
    with pytest.raises(ConfigError, match=r"ui\.auth: required"):
        load_config(_write(tmp_path, ""), {"KURILWATCH_LISTEN": "192.0.2.7:9464"})
    # loopback needs nothing; pages off need nothing; a token from the environment will do
    for listen in ("127.0.0.1:9464", "[::1]:9464", "localhost:9464", "127.8.0.1:1"):
        assert load_config(_write(tmp_path, f"listen: '{listen}'\n"), {}).ui.auth is None
    off = load_config(_write(tmp_path, "listen: 0.0.0.0:9464\nui:\n  enabled: false\n"), {})
    assert off.ui.enabled is False
    env = {"KURILWATCH_LISTEN": "0.0.0.0:9464", "KURILWATCH_UI_TOKEN": "t" * 20}
    auth = load_config(_write(tmp_path, ""), env).ui.auth
    assert auth is not None and auth.token is not None
    assert auth.token.get_secret_value() == "t" * 20


def test_ui_settings_are_checked_and_secrets_stay_out_of_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ui\.timezone: expected an IANA time zone"):
        load_config(_write(tmp_path, "ui:\n  timezone: Mars/Olympus\n"), {})
    assert load_config(_write(tmp_path, "ui:\n  timezone: Asia/Tokyo\n"), {}).ui.timezone == (
        "Asia/Tokyo"
    )
    with pytest.raises(ConfigError) as short:
        load_config(_write(tmp_path, "ui:\n  auth:\n    token: hunter2\n"), {})
    assert "ui.auth: expected a token of at least 16 characters" in str(short.value)
    assert "hunter2" not in str(short.value)
    with pytest.raises(ConfigError, match=r"ui\.auth: expected token, or username and password"):
        load_config(_write(tmp_path, "ui:\n  auth:\n    username: desk\n"), {})
    both = "ui:\n  auth:\n    username: desk\n    password: pw-secret\n"
    assert load_config(_write(tmp_path, both), {}).ui.auth is not None


def test_delivery_lease_of_earlier_releases_is_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A configuration written for an earlier release keeps loading: the lease is now the
    # longest attempt, worked out from delivery.timeout.
    text = "sources: []\ndelivery:\n  timeout: 20s\n  lease: 60s\n"
    with caplog.at_level("WARNING"):
        settings = load_config(_write(tmp_path, text), {})
    assert settings.delivery.timeout == 20
    assert not hasattr(settings.delivery, "lease")
    ignored = [r for r in caplog.records if r.getMessage() == "config.ignored"]
    assert [getattr(r, "key", None) for r in ignored] == ["delivery.lease"]

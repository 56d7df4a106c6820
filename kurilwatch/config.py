"""The typed configuration: one YAML file, validated once, passed down.

`load_config(path, environ)` reads the file, replaces `${VAR}` (and `${VAR:-default}`) from the
environment mapping it is given, validates everything with pydantic and returns a frozen
`Settings`. Any problem raises `ConfigError` whose message names the file, the key and what
was expected. Nothing below the command line reads `os.environ`: the command line passes
`environ` in, and `KURILWATCH_DATABASE_URL` there wins over `database_url` in the file.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from kurilwatch.errors import ConfigError
from kurilwatch.model import Rule, Source

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# libyaml's loader when PyYAML was built with it (the wheels are): the same safe subset, and
# a thousand-source file reads in 0.01 s instead of 0.08 s. Its error texts say less (a tab
# is "a character that cannot start any token"), so a file it rejects is read again by the
# Python loader, whose error is the one reported.
YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SECRET_KEYS = frozenset({"url", "secret", "database_url"})
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_KEYED = re.compile(r"^[a-z_]+(?:\.[a-z_]+)*: ")


def parse_duration(value: object) -> float:
    """Read `30s`, `5m`, `1h`, `2d`, `250ms` or a bare number of seconds into seconds.

    Raises:
        ValueError: the value is not such a duration.
    """
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 5m or 1h")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        found = _DURATION.match(str(value))
        if not found:
            raise ValueError("expected a duration such as 30s, 5m or 1h")
        seconds = float(found.group(1)) * _UNITS[found.group(2)]
    if seconds <= 0:
        raise ValueError("expected a duration greater than zero")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(_Strict):
    """One news source.

    `kind` is `feed` (RSS, Atom, JSON Feed), `sitemap` (sitemaps, indexes, Google News
    sitemaps), `listing` (an HTML section or search page; `links:` is an optional CSS
    selector for its article links) or `telegram` (a public channel's web preview,
    `https://t.me/s/NAME`; `https://t.me/NAME` is taken as it; `max_pages:` bounds how far
    back a poll reads). A feed `url` may hold `{query}`, filled from `query:`.
    `expect_every:` reports the source as stale when it yields nothing new for that long.
    `delay:` and `concurrency:` ask for more care with the source's host than the adaptive
    default (AutoThrottle): at least `delay` between requests to the host, at most
    `concurrency` at once; they apply to every request to that host.
    `fetch: never` judges entries on the index's own text without fetching their pages
    (implied for news.google.com, whose item links lead to a JavaScript interstitial).
    `robots: ignore` skips robots.txt for this source's requests to its own host (its index
    and the pages it lists there), for a user entitled to it; other hosts are still asked.
    `redact_url: false` shows the URL whole in logs, errors and commands; by default its
    query values and user info (an API key) are hidden (`kurilwatch.redact`).
    `timezone:` (an IANA name, `Asia/Tokyo`) is the zone of the source's dates that carry no
    offset; without it they are UTC.
    """

    name: str = Field(pattern=_NAME)
    kind: Literal["feed", "sitemap", "listing", "telegram"] = "feed"
    url: str
    every: Duration = 300.0
    query: str | None = None
    links: str | None = None
    expect_every: Duration | None = None
    delay: Duration | None = None
    concurrency: int | None = Field(default=None, ge=1, le=16)
    max_pages: int | None = Field(default=None, ge=1, le=50)
    fetch: Literal["always", "never"] | None = None
    robots: Literal["obey", "ignore"] = "obey"
    redact_url: bool = True
    timezone: str | None = None

    @field_validator("timezone")
    @classmethod
    def _iana_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("expected an IANA time zone name such as Asia/Tokyo") from None
        return value

    @field_validator("links")
    @classmethod
    def _css_selector(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from cssselect import GenericTranslator, SelectorError

        try:
            GenericTranslator().css_to_xpath(value)
        except SelectorError as exc:
            raise ValueError(f"expected a CSS selector ({exc})") from None
        return value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str, info: ValidationInfo) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("expected an http:// or https:// URL")
        if info.data.get("kind") == "telegram":
            from crawler.telegram import preview_url

            return preview_url(value)
        return value

    @model_validator(mode="after")
    def _kind_supported(self) -> SourceConfig:
        if self.links is not None and self.kind != "listing":
            raise ValueError("links: is only for kind: listing")
        if "{query}" in self.url and not self.query:
            raise ValueError("url contains {query} but the source has no query:")
        if self.max_pages is not None and self.kind != "telegram":
            raise ValueError("max_pages: is only for kind: telegram")
        return self

    def to_source(self) -> Source:
        """The source as the crawler sees it, with `{query}` filled in URL-encoded."""
        from urllib.parse import quote_plus

        url = self.url.replace("{query}", quote_plus(self.query)) if self.query else self.url
        return Source(
            name=self.name,
            kind=self.kind,
            url=url,
            every_seconds=self.every,
            links=self.links,
            expect_every_seconds=self.expect_every,
            max_pages=self.max_pages,
            fetch_pages=(self.fetch or implied_fetch(url)) == "always",
            obey_robots=self.robots == "obey",
            redact_url=self.redact_url,
            timezone=self.timezone,
        )


FETCH_NEVER_HOSTS = frozenset({"news.google.com"})
"""Hosts whose item links never lead to the article (Google News: a JavaScript interstitial)."""


def implied_fetch(url: str) -> Literal["always", "never"]:
    """What `fetch:` means when a source does not say: never for `FETCH_NEVER_HOSTS`."""
    from urllib.parse import urlsplit

    host = (urlsplit(url).hostname or "").rstrip(".")
    return "never" if host in FETCH_NEVER_HOSTS else "always"


class ChannelConfig(_Strict):
    """Where alerts go: a Slack incoming webhook, a generic webhook, Apprise, or the console."""

    name: str = Field(pattern=_NAME)
    kind: Literal["slack", "webhook", "apprise", "console"]
    url: SecretStr | None = None
    secret: SecretStr | None = None
    format: Literal["text", "slack"] = "text"
    """For `kind: console`: plain lines, or a preview of the Slack message."""

    @model_validator(mode="after")
    def _needs_url(self) -> ChannelConfig:
        if self.kind != "console":
            if self.url is None or not self.url.get_secret_value().strip():
                raise ValueError(f"a {self.kind} channel needs a url")
            if self.kind in ("slack", "webhook") and not re.match(
                r"^https?://", self.url.get_secret_value()
            ):
                raise ValueError("expected an http:// or https:// URL in url")
        if self.secret is not None and self.kind != "webhook":
            raise ValueError("secret is only for kind: webhook")
        if self.secret is not None and not self.secret.get_secret_value().startswith("whsec_"):
            raise ValueError("expected a Standard Webhooks secret starting with whsec_")
        return self


class RuleConfig(_Strict):
    """A rule as written in YAML."""

    name: str = Field(pattern=_NAME)
    event: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    query: str = Field(min_length=1)
    where: tuple[Literal["title", "text"], ...] = ("title", "text")
    channels: tuple[str, ...] | None = None
    """The channels its alerts go to; left out, every channel."""
    severity: Literal["low", "medium", "high"] | None = None

    @field_validator("channels")
    @classmethod
    def _some_channel(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and not value:
            raise ValueError(
                "expected at least one channel name (leave channels out to alert every channel)"
            )
        return value

    def to_rule(self) -> Rule:
        """The rule as the matcher takes it."""
        return Rule(
            name=self.name,
            event=self.event,
            query=self.query,
            where=self.where,
            channels=self.channels,
            severity=self.severity,
        )


class DeliveryConfig(_Strict):
    """How the outbox is drained."""

    interval: Duration = 5.0
    timeout: Duration = 15.0
    """One attempt's deadline; a claimed alert's lease is computed from it
    (`alerts.delivery.attempt_lease`)."""
    retry_initial: Duration = 10.0
    retry_max: Duration = 3600.0
    give_up_after: Duration = 86400.0
    batch: int = Field(default=50, ge=1, le=1000)

    @model_validator(mode="before")
    @classmethod
    def _no_lease(cls, data: Any) -> Any:
        """`lease:` of earlier releases is accepted and ignored, with a warning: a claimed
        alert's lease is now the longest attempt, `timeout` plus a margin."""
        if isinstance(data, dict) and "lease" in data:
            data = {k: v for k, v in data.items() if k != "lease"}
            logging.getLogger(__name__).warning(
                "config.ignored",
                extra={
                    "key": "delivery.lease",
                    "reason": "a claimed alert's lease is the longest attempt "
                    "(delivery.timeout plus a margin); remove the key",
                },
            )
        return data


class CrawlConfig(_Strict):
    """How politely and how long the crawler works."""

    user_agent: str | None = None
    timeout: Duration = 120.0
    download_timeout: Duration = 30.0
    max_size: int = Field(default=10 * 1024 * 1024, ge=1024)
    concurrency_per_domain: int = Field(default=2, ge=1, le=16)
    obey_robots: bool = True
    seen_retention: Duration = 90 * 86400.0
    """The older name of `retention.entries` (read when that is not given)."""
    entry_retry_initial: Duration = 5.0
    """An entry's page that failed transiently is tried again within this, then backs off."""
    entry_retry_max: Duration = 3600.0
    """The longest wait between two tries of an entry's page."""
    entry_give_up: Duration = 86400.0
    """After this long of transient failures, an entry is judged on its feed text."""
    failure_backoff_max: Duration = 6 * 3600.0
    """A failing source is polled less often, its interval doubling up to this."""
    max_polls: int = Field(default=64, ge=1, le=512)
    """Polls running at once in one daemon; more wait their turn (bounds memory at start)."""
    extract_workers: int | None = Field(default=None, ge=0, le=64)
    """Processes extracting articles (default: one per core; 0: a thread of the daemon)."""
    source_claim: Duration = Field(default=300.0, gt=0)
    """How long a run's claim on the sources it names lasts; renewed every fifth of it while
    the run goes on. A source no run has claimed since shows as not configured."""


DAY = 86400.0


class RetentionConfig(_Strict):
    """How long each kind of stored row is kept; the retention job prunes the rest in
    batches of `batch` rows, each its own transaction, every `every`.

    `article_text`: a copy's text is dropped (its row, URL, GUID, title and content hash
    stay, so it is still known as a duplicate). `stories`: a story none of whose copies was
    fetched within it is removed with its copies and alerts, unless an alert of it (or of
    its group) is still pending or the desk labelled it. `alerts`: delivered and dead alerts
    created before it are removed (pending ones never are). `payloads`: the JSON a receiver
    was sent is dropped from delivered alerts. `entries`: judged entries are forgotten (their
    URL may be read again).
    """

    article_text: Duration = 90 * DAY
    stories: Duration = 365 * DAY
    alerts: Duration = 365 * DAY
    payloads: Duration = 90 * DAY
    entries: Duration = 90 * DAY
    batch: int = Field(default=1000, ge=10, le=100_000)
    every: Duration = 3600.0


def span(seconds: float) -> str:
    """`seconds` as the largest whole unit a configuration would say: 90d, 48h, 30m, 45s."""
    for unit, size in (("d", DAY), ("h", 3600.0), ("m", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


class UiAuthConfig(_Strict):
    """Who may see the web pages: a bearer token, or basic-auth credentials.

    A browser asked for basic auth may also give any user name and the token as password.
    """

    token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None

    @model_validator(mode="after")
    def _one_way_in(self) -> UiAuthConfig:
        if self.token is not None:
            if len(self.token.get_secret_value()) < 16:
                raise ValueError("expected a token of at least 16 characters")
            if self.username is not None or self.password is not None:
                raise ValueError("expected either token, or username and password, not both")
            return self
        if not self.username or self.password is None or not self.password.get_secret_value():
            raise ValueError("expected token, or username and password")
        return self


class UiConfig(_Strict):
    """The web pages served on `listen:` beside `/healthz` and `/metrics`.

    `timezone` (an IANA name) is the one the timeline groups days in and shows times in.
    `auth` is required when `listen` is not a loopback address; `enabled: false` serves no
    pages (only `/healthz` and `/metrics`).
    """

    enabled: bool = True
    timezone: str = "UTC"
    auth: UiAuthConfig | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("expected an IANA time zone such as Asia/Tokyo or UTC") from None
        return value


def is_loopback(listen: str) -> bool:
    """Whether the host of `listen` (host:port) is a loopback address or `localhost`."""
    import ipaddress

    host = listen.rpartition(":")[0].strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Settings(_Strict):
    """Everything kurilwatch needs to run, validated."""

    config_path: Path | None = None
    database_url: SecretStr | None = None
    data_dir: Path | None = None
    listen: str | None = "127.0.0.1:9464"
    """Where `/healthz` and `/metrics` are served (host:port); `off` serves nothing."""
    alert_max_age: Duration = 72 * 3600.0
    dedup_window: Duration = 30 * 86400.0
    """How far back a new copy is compared with stored ones for near-duplicates."""
    group_events: bool = True
    """List a new story about an event alerted within `group_window` in that event's next
    "also reported" notification (a new event type for the group is alerted at once)."""
    group_window: Duration = 48 * 3600.0
    group_interval: Duration = 30 * 60.0
    """At most one "also reported" notification per event and channel this often; it lists
    every story that joined the event since the last one."""
    sources: tuple[SourceConfig, ...] = ()
    channels: tuple[ChannelConfig, ...] = ()
    watch: str | None = None
    define: dict[str, str] | None = None
    """Named query parts that `watch:` and `rules:` refer to as `@name`
    (see `alerts.definitions`)."""
    rules: tuple[RuleConfig, ...] | None = None
    delivery: DeliveryConfig = DeliveryConfig()
    crawl: CrawlConfig = CrawlConfig()
    retention: RetentionConfig = RetentionConfig()
    ui: UiConfig = UiConfig()

    @model_validator(mode="before")
    @classmethod
    def _entries_by_older_name(cls, data: Any) -> Any:
        """`crawl.seen_retention` stands for `retention.entries` when that is not given."""
        if not isinstance(data, dict):
            return data
        crawl, retention = data.get("crawl"), data.get("retention")
        if not isinstance(crawl, dict) or "seen_retention" not in crawl:
            return data
        if retention is None:
            retention = {}
        if isinstance(retention, dict) and "entries" not in retention:
            return {**data, "retention": {**retention, "entries": crawl["seen_retention"]}}
        return data

    @field_validator("retention")
    @classmethod
    def _retention_outlasts_what_reads_it(
        cls, value: RetentionConfig, info: ValidationInfo
    ) -> RetentionConfig:
        window = info.data.get("dedup_window", 30 * DAY)
        max_age = info.data.get("alert_max_age", 72 * 3600.0)
        group = info.data.get("group_window", 48 * 3600.0)
        floors = {
            "article_text": (window, "dedup_window", "near-duplicate checks read texts within it"),
            "stories": (
                max(window, max_age, group),
                "dedup_window, alert_max_age and group_window",
                "copies join stories, and alerts are decided, within them",
            ),
            "alerts": (
                max(max_age, group),
                "alert_max_age and group_window",
                "what was alerted is read within them, so nothing is alerted twice",
            ),
        }
        for key, (floor, names, why) in floors.items():
            got = getattr(value, key)
            if got < floor:
                raise ValueError(
                    f"{key}: expected at least {span(floor)} ({names}: {why}); got {span(got)}"
                )
        if value.alerts > value.stories:
            raise ValueError(
                f"alerts: expected at most stories ({span(value.stories)}): an alert goes with"
                f" its story; got {span(value.alerts)}"
            )
        return value

    @field_validator("listen", mode="before")
    @classmethod
    def _host_port(cls, value: object) -> str | None:
        if value is False:  # YAML reads an unquoted `off` as false
            return None
        if not isinstance(value, str | None):
            raise ValueError("expected host:port, such as 127.0.0.1:9464, or off")
        if value is None or value.strip().lower() in ("", "off", "none"):
            return None
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("expected host:port, such as 127.0.0.1:9464, or off")
        return value

    @model_validator(mode="after")
    def _names_unique_and_known(self) -> Settings:
        for label, items in (("sources", self.sources), ("channels", self.channels)):
            seen: set[str] = set()
            for item in items:
                if item.name in seen:
                    raise ValueError(f"{label}: the name {item.name!r} is used twice")
                seen.add(item.name)
        known = {c.name for c in self.channels}
        for rule in self.rules or ():
            for channel in rule.channels or ():
                if channel not in known:
                    raise ValueError(f"rule {rule.name!r} names unknown channel {channel!r}")
        return self

    @model_validator(mode="after")
    def _pages_guarded(self) -> Settings:
        if (
            self.listen
            and self.ui.enabled
            and self.ui.auth is None
            and not is_loopback(self.listen)
        ):
            raise ValueError(
                f"ui.auth: required when listen ({self.listen}) is not a loopback address: "
                "set ui.auth.token, or ui.auth.username and ui.auth.password "
                "(or ui.enabled: false to serve only /healthz and /metrics)"
            )
        return self


class DatabaseSettings(BaseModel):
    """Just where the data lives: what read-only commands need from the file."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    config_path: Path | None = None
    database_url: SecretStr | None = None
    data_dir: Path | None = None


def load_config(path: Path, environ: Mapping[str, str], *, required: bool = True) -> Settings:
    """Read, expand and validate the YAML file at `path`.

    Args:
        path: the configuration file.
        environ: the environment to expand `${VAR}` from (and `KURILWATCH_DATABASE_URL`).
        required: when false, a missing file gives the empty configuration.

    Raises:
        ConfigError: naming the file, the key and what was expected.
    """
    return validate_settings(_read(path, environ, required=required), path)


def load_database_settings(path: Path, environ: Mapping[str, str]) -> DatabaseSettings:
    """Only `database_url` and `data_dir` (the file is optional; other keys are not checked).

    Raises:
        ConfigError: the file is not YAML, or those two keys are wrong.
    """
    data = _read(path, environ, required=False, keys=("database_url", "data_dir"))
    try:
        return DatabaseSettings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None


def _read(
    path: Path,
    environ: Mapping[str, str],
    *,
    required: bool,
    keys: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    try:
        raw_text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise ConfigError(
                f"{path}: no such configuration file (copy kurilwatch.example.yaml to start)"
            ) from None
        raw_text = ""
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None
    try:
        try:
            raw = yaml.load(raw_text, Loader=YAML_LOADER)
        except yaml.YAMLError:
            raw = yaml.load(raw_text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    if keys is not None:
        raw = {k: v for k, v in raw.items() if k in keys}
    expanded: dict[str, Any] = _expand(raw, environ, path, ())
    database_url = environ.get("KURILWATCH_DATABASE_URL")
    if database_url:
        expanded["database_url"] = database_url
    if keys is None and environ.get("KURILWATCH_LISTEN"):
        expanded["listen"] = environ["KURILWATCH_LISTEN"]
    if keys is None and environ.get("KURILWATCH_UI_TOKEN"):
        ui = expanded.get("ui")
        ui = dict(ui) if isinstance(ui, dict) else {}
        ui["auth"] = {"token": environ["KURILWATCH_UI_TOKEN"]}
        expanded["ui"] = ui
    expanded["config_path"] = path
    return expanded


def validate_settings(data: dict[str, Any], path: Path) -> Settings:
    """Validate an already expanded mapping, naming `path` in any error."""
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None


def _expand(node: Any, environ: Mapping[str, str], path: Path, key: tuple[Any, ...]) -> Any:
    if isinstance(node, dict):
        return {k: _expand(v, environ, path, (*key, k)) for k, v in node.items()}
    if isinstance(node, list):
        return [_expand(v, environ, path, (*key, i)) for i, v in enumerate(node)]
    if not isinstance(node, str):
        return node

    def substitute(found: re.Match[str]) -> str:
        name, default = found.group(1), found.group(2)
        value = environ.get(name)
        if value is None or (value == "" and default is not None):
            if default is None:
                raise ConfigError(
                    f"{path}: {_dotted(key)}: expected the environment variable {name} to be set"
                )
            return default
        return value

    return _ENV_REF.sub(substitute, node)


def _dotted(key: tuple[Any, ...]) -> str:
    text = ""
    for part in key:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _describe(exc: ValidationError, path: Path) -> str:
    lines = []
    for error in exc.errors():
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and "[" in p))
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        elif error["type"] == "missing":
            message = "required key is missing"
        elif error["type"] == "literal_error":
            message = message.replace("Input should be", "expected")
        got = error.get("input")
        if loc == ("retention",) and (key := re.match(r"^([a-z_]+): ", message)):
            loc, message = (*loc, key.group(1)), message[key.end() :]
        secret = bool(loc) and (
            loc[0] == "database_url"
            or (loc[0] == "ui" and any(p in ("token", "password") for p in loc[1:]))
            or (loc[0] == "channels" and any(p in _SECRET_KEYS for p in loc[1:]))
        )
        if (
            error["type"] not in ("missing", "extra_forbidden")
            and not secret
            and isinstance(got, str | int | float)
        ):
            if loc[0] == "sources" and loc[-1] == "url" and isinstance(got, str):
                from kurilwatch.redact import redacted_url

                got = redacted_url(got)  # an API key in its query stays out of the error
            message += f" (got {got!r})"
        if not loc and _KEYED.match(message):  # a check across keys names its own key
            lines.append(f"{path}: {message}")
            continue
        lines.append(f"{path}: {_dotted(loc)}: {message}")
    return "\n".join(lines)

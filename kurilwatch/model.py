"""The values that pass between layers.

Every layer speaks in these frozen dataclasses; ORM rows stay inside `storage/`, Scrapy
responses inside the spiders. Nothing here touches the network or the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

SourceKind = Literal["feed", "sitemap", "listing", "telegram"]
TextSource = Literal["page", "feed", "post"]
ChannelKind = Literal["slack", "webhook", "apprise", "console"]
AlertStatus = Literal["pending", "delivered", "dead"]
NoticeKind = Literal["alert", "update", "also_reported"]
SEVERITIES = ("low", "medium", "high")
"""Rule severities, lowest first."""


def highest_severity(levels: Iterable[str | None]) -> str | None:
    """The highest of `levels` (unknown levels rank lowest); None when none is set."""
    known = [level for level in levels if level]
    rank = {level: i for i, level in enumerate(SEVERITIES, start=1)}
    return max(known, key=lambda level: rank.get(level, 0)) if known else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """A configured news source, with what the last poll left behind for the next one."""

    name: str
    kind: SourceKind
    url: str
    every_seconds: float
    links: str | None = None
    expect_every_seconds: float | None = None
    max_pages: int | None = None
    """For `telegram`: preview pages a poll reads back at most (None: the default)."""
    fetch_pages: bool = True
    """False: entries are judged on the index's own text, their pages never fetched."""
    obey_robots: bool = True
    """False: this source's requests to its own host do not consult robots.txt."""
    redact_url: bool = True
    """False: the URL holds no secret and is shown whole (see `kurilwatch.redact`)."""
    timezone: str | None = None
    """The IANA zone its dates without an offset are in (None: UTC)."""
    etag: str | None = None
    last_modified: str | None = None
    body_sha256: str | None = None

    @property
    def shown_url(self) -> str:
        """The URL as logs and commands show it: its secrets hidden unless marked safe."""
        from kurilwatch.redact import redacted_url

        return redacted_url(self.url) if self.redact_url else self.url


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedEntry:
    """One item a feed lists: where the article is and what the feed says of it."""

    url: str
    guid: str | None = None
    title: str | None = None
    summary: str | None = None
    published_at: datetime | None = None
    language: str | None = None
    outlet: str | None = None
    """Who published it, where the index says so (an RSS item's <source>, news:name)."""
    outlet_url: str | None = None
    """The publisher's address, where the index gives it (an RSS item's <source url>)."""


EntryStatus = Literal["pending", "retrying", "done", "feed"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One entry an index yielded, kept until its page is judged (`storage.entries`).

    `status`: pending (not tried yet), retrying (a transient failure, `last_error`; tried
    again at `next_attempt_at`), done (judged on its page, or on a post's own text), feed
    (judged on the index's own title and summary, `reason` says why the page was not used).
    """

    id: int
    source: str
    url: str
    status: EntryStatus
    first_seen_at: datetime
    guid: str | None = None
    title: str | None = None
    summary: str | None = None
    published_at: datetime | None = None
    language: str | None = None
    outlet: str | None = None
    outlet_url: str | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    leased_by: str | None = None
    leased_until: datetime | None = None
    last_error: str | None = None
    verdict: str | None = None
    reason: str | None = None
    story_id: int | None = None
    updated_at: datetime | None = None

    def feed_entry(self) -> FeedEntry:
        """What the index said of the page."""
        return FeedEntry(
            url=self.url,
            guid=self.guid,
            title=self.title,
            summary=self.summary,
            published_at=self.published_at,
            language=self.language,
            outlet=self.outlet,
            outlet_url=self.outlet_url,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Article:
    """One fetched and extracted copy of a story, as one outlet published it."""

    url: str
    source: str
    title: str
    text: str
    language: str | None = None
    published_at: datetime | None = None
    guid: str | None = None
    outlet: str | None = None
    outlet_url: str | None = None
    """The publisher's address as the index gave it (an RSS item's <source url>)."""
    canonical_url: str | None = None
    """What the page itself declares as its canonical URL (rel=canonical, og:url), if any."""
    text_source: TextSource = "page"
    """Judged on the page's text, on the index's own title and summary, or on a post's
    text, which is the whole article (a Telegram channel's post)."""
    text_reason: str | None = None
    """Why the page's text was not used, when `text_source` is feed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """Why a rule matched: the sentences and the terms in them that satisfied the query."""

    rule: str
    event: str
    sentences: tuple[str, ...]
    terms: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Match:
    """The verdict of the rules on one article: on topic or not, and which events it reports."""

    topic: bool
    events: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()

    @property
    def rules(self) -> tuple[str, ...]:
        """Names of the rules that matched, in rule order."""
        return tuple(e.rule for e in self.evidence)


@dataclass(frozen=True, slots=True, kw_only=True)
class Story:
    """One real-world story: every copy of it that kurilwatch has seen."""

    id: int
    title: str
    url: str
    language: str | None
    published_at: datetime | None
    first_seen_at: datetime
    urls: tuple[str, ...] = field(default_factory=tuple)
    text_source: TextSource = "page"
    """"feed" while every copy was judged on a feed's own title and summary only; "post"
    when no copy's page was read but one was a post (its text is the whole article)."""
    text_reason: str | None = None
    """Why the first copy's page was not used, when `text_source` is feed."""
    outlet: str | None = None
    """The outlet of the story's first copy, when its page or feed named one."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """A decided alert for one story on one channel, as the outbox holds it."""

    id: str
    channel: str
    story_id: int
    events: tuple[str, ...]
    rules: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    status: AlertStatus = "pending"
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    created_at: datetime | None = None
    delivered_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """An alert rule as configured: a boolean keyword query that reports one event type."""

    name: str
    event: str
    query: str
    where: tuple[str, ...] = ("title", "text")
    channels: tuple[str, ...] | None = None
    severity: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RecentAlert:
    """An event alerted on a channel lately: the story it was first told with, for grouping."""

    story_id: int
    channel: str
    events: frozenset[str]
    key_terms: frozenset[str]
    sent_at: datetime
    """When the last notification about this event was made for the channel (first alert,
    update, or "also reported" batch)."""
    waiting_due: datetime | None = None
    """When the stories waiting for the event's next "also reported" notification are due."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StoryState:
    """What is known of a story when a new copy of it arrives, for the alert decision."""

    story_id: int
    is_new: bool
    published_at: datetime | None
    first_seen_at: datetime
    alerted: dict[str, frozenset[str]] = field(default_factory=dict)
    """Per channel, the events already alerted for this story."""
    sent: dict[str, int] = field(default_factory=dict)
    """Per channel, how many alerts (first alert and updates) the story already has."""
    key_terms: frozenset[str] = frozenset()
    """The names and numbers that pin the story's event down (see alerts.grouping)."""
    recent: tuple[RecentAlert, ...] = ()
    """Events alerted within the grouping window, on any channel, other stories included."""
    groups: dict[str, int] = field(default_factory=dict)
    """Per channel, the story the event was first told with, when this story joined its group."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertPlan:
    """A decision to write one outbox row: this story, this channel, these events."""

    channel: str
    events: tuple[str, ...]
    rules: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    seq: int = 0
    is_update: bool = False
    group_story_id: int | None = None
    """The story the event was first told with, when this story belongs to its group."""
    severity: str | None = None
    due_at: datetime | None = None
    """When to send it; None: at once."""

    @property
    def kind(self) -> NoticeKind:
        """`alert`, `update` (a new event on a told story), or `also_reported`: a story of a
        told event, listed in the event's next "also reported" notification."""
        if self.is_update and self.seq == 0 and self.group_story_id is not None:
            return "also_reported"
        return "update" if self.is_update else "alert"


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestResult:
    """What storing one article did: `outcome` is stored, joined or duplicate."""

    outcome: Literal["stored", "joined", "duplicate"]
    story_id: int | None = None
    alerts: tuple[str, ...] = ()
    how: str | None = None
    """How the story was found: exact, near, contained or new."""
    score: float | None = None
    """The estimated similarity to the story it joined (contained: the containment)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    """One story an "also reported" notification lists: its outbox row and the story now."""

    alert: Alert
    story: Story


@dataclass(frozen=True, slots=True, kw_only=True)
class Notice:
    """What one notification says on its channel: the alert, its story as it stands now, and
    the story the event was first told with when the story belongs to an event's group.

    An "also reported" notification lists every story of `members` (one outbox row each);
    then `alert` is their union under the batch's id and `story` the first of them.
    """

    alert: Alert
    story: Story
    is_update: bool = False
    group: Story | None = None
    severity: str | None = None
    members: tuple[Member, ...] = ()

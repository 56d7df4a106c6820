"""What the eval feed's run came to: stories flagged, stories told, and recall per event.

`score(items, stories, item_story, payloads, verdicts)` decides, from what the database
held after the run and what the webhook receiver got:

1. a story is *flagged* when the database gives it an event;
2. a notification *names* a story when its `story` is that story (by `id`, or by a URL in
   `url` / `urls`), or when one of its `stories[]` entries is (the stories listed by a
   batched "also reported" notification); the `group` it refers to is not named by it;
3. a flagged story no notification names *reached no channel* (one channel is configured);
4. the events *told* of a story are the union over the notifications naming it (an entry of
   `stories[]` with its own `events` counts those, else the notification's);
5. an item is *alerted* for an event when the story holding its article was told of it;
6. per event, recall against the labels of the rules (`kurilwatch rules test` on the text
   the daemon could read: the page's full text where the page serves it, else the feed's
   title and summary) and of the alerts; `ratio` is the alerts' recall over the rules', and
   `of_rules_test` the share of the items the rules flag whose story was told of it.

Pure: values in, a frozen `EvalReport` out; the benchmark prints it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.eval_items import EVENTS, FeedItem


@dataclass(frozen=True, slots=True, kw_only=True)
class StoryRow:
    """A stored story: its id, title, events and every URL it is known by."""

    id: int
    title: str
    events: frozenset[str]
    urls: frozenset[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class Named:
    """A story one notification names, as the payload gives it."""

    id: Any
    urls: frozenset[str]
    events: frozenset[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRecall:
    """Recall of one event type, against the items labelled with it.

    Attributes:
        labelled: Items labelled with the event.
        rules_test: Of those, items the rules flag on the text the daemon could read.
        alerted: Of those labelled, items whose story was told of the event.
        rules_flags: Items the rules flag with the event, labelled or not.
        alerted_of_flags: Of `rules_flags`, items whose story was told of the event.
    """

    labelled: int
    rules_test: int
    alerted: int
    rules_flags: int
    alerted_of_flags: int

    @property
    def rules_recall(self) -> float | None:
        return self.rules_test / self.labelled if self.labelled else None

    @property
    def alert_recall(self) -> float | None:
        return self.alerted / self.labelled if self.labelled else None

    @property
    def ratio(self) -> float | None:
        """Alert recall over rules-test recall (None when the rules find none)."""
        return self.alerted / self.rules_test if self.rules_test else None

    @property
    def of_rules_test(self) -> float | None:
        return self.alerted_of_flags / self.rules_flags if self.rules_flags else None


@dataclass(frozen=True, slots=True, kw_only=True)
class EvalReport:
    """The figures of one run (see the module docstring for each term)."""

    items: int
    items_stored: int
    stories: int
    flagged: tuple[int, ...]
    flagged_by_event: Mapping[str, int]
    unreached: tuple[StoryRow, ...]
    unreached_by_event: Mapping[str, int]
    notifications: Mapping[str, int]
    feed_text_notifications: int
    recall: Mapping[str, EventRecall]


def named_stories(payload: Any) -> list[Named]:
    """The stories a webhook body names: its `story` and every entry of its `stories`."""
    if not isinstance(payload, dict):
        return []
    events = frozenset(str(e) for e in payload.get("events") or ())
    found = []
    story = payload.get("story")
    if isinstance(story, dict):
        found.append(Named(id=story.get("id"), urls=_urls(story), events=events))
    for entry in payload.get("stories") or ():
        if isinstance(entry, dict):
            own = entry.get("events")
            found.append(
                Named(
                    id=entry.get("id"),
                    urls=_urls(entry),
                    events=frozenset(str(e) for e in own) if own else events,
                )
            )
    return found


def _urls(story: Mapping[str, Any]) -> frozenset[str]:
    urls = [story.get("url"), *(story.get("urls") or ())]
    return frozenset(u for u in urls if isinstance(u, str))


def told_events(stories: Sequence[StoryRow], payloads: Iterable[Any]) -> dict[int, set[str]]:
    """For each story some notification names, the events told of it."""
    by_id = {s.id: s for s in stories}
    by_url = {u: s.id for s in stories for u in s.urls}
    told: dict[int, set[str]] = {}
    for payload in payloads:
        for named in named_stories(payload):
            ids = {named.id} if named.id in by_id else set()
            ids |= {by_url[u] for u in named.urls if u in by_url}
            for story_id in ids:
                told.setdefault(story_id, set()).update(named.events)
    return told


def score(
    items: Sequence[FeedItem],
    stories: Sequence[StoryRow],
    item_story: Mapping[str, int],
    payloads: Sequence[Any],
    verdicts: Mapping[str, frozenset[str]],
) -> EvalReport:
    """The report of one run.

    Args:
        items: What the feed published.
        stories: Every story stored.
        item_story: Item id to the id of the story holding its article (stored items only).
        payloads: Every webhook body received.
        verdicts: Item id to the events `rules test` gives it (topic-gated).
    """
    told = told_events(stories, payloads)
    flagged = [s for s in stories if s.events]
    unreached = tuple(s for s in flagged if s.id not in told)
    recall = {}
    for event in EVENTS:
        labelled = [i for i in items if event in i.events]
        flags = [i for i in items if event in verdicts.get(i.id, frozenset())]

        def alerted(item: FeedItem, event: str = event) -> bool:
            story = item_story.get(item.id)
            return story is not None and event in told.get(story, set())

        recall[event] = EventRecall(
            labelled=len(labelled),
            rules_test=sum(1 for i in labelled if event in verdicts.get(i.id, frozenset())),
            alerted=sum(1 for i in labelled if alerted(i)),
            rules_flags=len(flags),
            alerted_of_flags=sum(1 for i in flags if alerted(i)),
        )
    kinds = Counter(
        str(p.get("kind") or "alert") if isinstance(p, dict) else "not JSON" for p in payloads
    )
    feed_text = sum(
        1
        for p in payloads
        if isinstance(p, dict)
        and isinstance(p.get("story"), dict)
        and p["story"].get("text_source") == "feed"
    )
    return EvalReport(
        items=len(items),
        items_stored=sum(1 for i in items if i.id in item_story),
        stories=len(stories),
        flagged=tuple(s.id for s in flagged),
        flagged_by_event={e: sum(1 for s in flagged if e in s.events) for e in EVENTS},
        unreached=unreached,
        unreached_by_event={e: sum(1 for s in unreached if e in s.events) for e in EVENTS},
        notifications=dict(kinds),
        feed_text_notifications=feed_text,
        recall=recall,
    )


def report_json(report: EvalReport) -> dict[str, Any]:
    """The report as plain JSON values."""
    return {
        "items": report.items,
        "items_stored": report.items_stored,
        "stories": report.stories,
        "flagged_stories": len(report.flagged),
        "flagged_by_event": dict(report.flagged_by_event),
        "unreached_stories": len(report.unreached),
        "unreached_by_event": dict(report.unreached_by_event),
        "unreached": [
            {"id": s.id, "title": s.title, "events": sorted(s.events)} for s in report.unreached
        ],
        "notifications": dict(report.notifications),
        "feed_text_notifications": report.feed_text_notifications,
        "recall": {
            event: {
                "labelled": r.labelled,
                "rules_test": r.rules_test,
                "alerted": r.alerted,
                "rules_flags": r.rules_flags,
                "alerted_of_flags": r.alerted_of_flags,
                "rules_recall": _round(r.rules_recall),
                "alert_recall": _round(r.alert_recall),
                "ratio": _round(r.ratio),
                "of_rules_test": _round(r.of_rules_test),
            }
            for event, r in report.recall.items()
        },
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)

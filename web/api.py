"""The JSON API's bodies, with the field names of the webhook body (`alerts.render`).

A story is listed as a webhook body lists it under `stories` (`id`, `title`, `url`,
`outlet`, `published_at`, `language`, `urls`, `events`, `rules`, `evidence`, `text_source`,
`text_reason`), plus `first_seen_at`, `outlets`, `channels` (the alert state per channel)
and `members` (the other stories of its event). One story adds `matches` (per rule: event,
terms, sentences, as in the webhook body), `copies`, `alerts` and `labels`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from alerts.render import listed_story, story_fields
from storage.labels import Label
from storage.timeline import AlertRow, ChannelState, Copy, StoryDetail, TimelineStory


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def channel_json(state: ChannelState) -> dict[str, Any]:
    """A story's alert state on one channel."""
    return {
        "channel": state.channel,
        "alert_id": state.alert_id,
        "status": state.status,
        "kind": state.kind,
        "attempts": state.attempts,
        "next_attempt_at": _iso(state.next_attempt_at),
        "delivered_at": _iso(state.delivered_at),
        "last_error": state.last_error,
    }


def story_json(item: TimelineStory) -> dict[str, Any]:
    """One timeline story (and its members) as the API lists it."""
    first_alert = item.channels[0].alert_id if item.channels else None
    body = listed_story(
        item.story,
        events=item.events,
        rules=item.rules,
        evidence=item.evidence,
        alert_id=first_alert,
    )
    body["first_seen_at"] = _iso(item.story.first_seen_at)
    body["outlets"] = list(item.outlets)
    body["channels"] = [channel_json(c) for c in item.channels]
    body["members"] = [story_json(m) for m in item.members]
    return body


def copy_json(copy: Copy) -> dict[str, Any]:
    """One copy of a story."""
    return {
        "url": copy.url,
        "source": copy.source,
        "outlet": copy.outlet,
        "title": copy.title,
        "language": copy.language,
        "published_at": _iso(copy.published_at),
        "fetched_at": _iso(copy.fetched_at),
        "text_source": copy.text_source,
        "text_reason": copy.text_reason,
    }


def alert_json(row: AlertRow) -> dict[str, Any]:
    """One alert row, with the names of `alerts list --json`."""
    return {
        "id": row.id,
        "channel": row.channel,
        "seq": row.seq,
        "kind": row.kind,
        "status": row.status,
        "events": list(row.events),
        "rules": list(row.rules),
        "attempts": row.attempts,
        "created_at": _iso(row.created_at),
        "next_attempt_at": _iso(row.next_attempt_at),
        "delivered_at": _iso(row.delivered_at),
        "last_error": row.last_error,
        "group_story_id": row.group_story_id,
    }


def label_json(label: Label) -> dict[str, Any]:
    """One label, with the names of `labels list --json`."""
    return {
        "story_id": label.story_id,
        "event": label.event,
        "verdict": label.verdict,
        "note": label.note,
        "created_at": _iso(label.created_at),
        "updated_at": _iso(label.updated_at),
    }


def detail_json(detail: StoryDetail) -> dict[str, Any]:
    """One story with everything stored about it."""
    item = detail.item
    body = story_json(item)
    body["story"] = story_fields(item.story)
    body["matches"] = [
        {"rule": e.rule, "event": e.event, "terms": list(e.terms), "sentences": list(e.sentences)}
        for e in item.evidence
    ]
    body["copies"] = [copy_json(c) for c in item.copies]
    body["alerts"] = [alert_json(a) for a in detail.alerts]
    body["labels"] = [label_json(label) for label in detail.labels]
    body["group"] = story_fields(detail.group) if detail.group is not None else None
    body["members"] = [story_fields(s) for s in detail.siblings]
    return body

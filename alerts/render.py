"""How an alert reads on each kind of channel: pure functions from values to payloads.

`webhook_body` is the generic webhook JSON that DESIGN.md promises (`id`, `events`, `rules`,
`evidence`, `story`), `slack_message` a Block Kit message within Slack's limits with `&`, `<`
and `>` escaped so a headline cannot ping `<!channel>` or spoof a link, and `console_text`
what `kind: console` prints. Each takes a `Notice`: a first alert, an update (a new event on
a told story), or an "also reported" update (another story about an event already told,
`kind: "also_reported"`, with the first story under `group`).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from kurilwatch.model import Alert, Notice, Story

SLACK_HEADER_MAX = 150
SLACK_SECTION_MAX = 3000
SLACK_TEXT_MAX = 3000
_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,3}$")
_LINK = re.compile(r"<([^|<>]+)\|([^<>]*)>")
_EVENT_LABEL = {"protest": "Protest", "exercise": "Military exercise"}


def kind(notice: Notice) -> str:
    """`alert`, `update` (a new event on a told story) or `also_reported`."""
    if notice.group is not None:
        return "also_reported"
    return "update" if notice.is_update else "alert"


def webhook_body(notice: Notice) -> dict[str, Any]:
    """The generic webhook JSON body; `id` is the idempotency key of this alert."""
    alert, story = notice.alert, notice.story
    return {
        "id": alert.id,
        "type": "kurilwatch.alert",
        "kind": kind(notice),
        "is_update": notice.is_update,
        "severity": notice.severity,
        "events": list(alert.events),
        "rules": list(alert.rules),
        "evidence": _sentences(alert),
        "matches": [
            {
                "rule": e.rule,
                "event": e.event,
                "terms": list(e.terms),
                "sentences": list(e.sentences),
            }
            for e in alert.evidence
        ],
        "story": {
            "id": story.id,
            "title": story.title,
            "url": story.url,
            "published_at": _iso(story.published_at),
            "first_seen_at": _iso(story.first_seen_at),
            "language": story.language,
            "urls": list(story.urls),
            "text_source": story.text_source,
            "text_reason": story.text_reason,
        },
        "group": _story_ref(notice.group) if notice.group is not None else None,
        "created_at": _iso(alert.created_at),
    }


def _story_ref(story: Story) -> dict[str, Any]:
    return {"id": story.id, "title": story.title, "url": story.url, "urls": list(story.urls)}


def _prefix(notice: Notice) -> str:
    severity = f"[{notice.severity.upper()}] " if notice.severity else ""
    return (
        severity
        + {"alert": "", "update": "Update: ", "also_reported": "Also reported: "}[kind(notice)]
    )


def slack_message(notice: Notice) -> dict[str, Any]:
    """A Slack incoming-webhook message: headline linked to the story, events, evidence."""
    alert, story = notice.alert, notice.story
    events = ", ".join(_EVENT_LABEL.get(e, e) for e in alert.events)
    prefix = _prefix(notice)
    header = _clip(_escape(f"{prefix}{events}: {story.title}"), SLACK_HEADER_MAX)
    when = story.published_at or story.first_seen_at
    outlets = sorted({urlsplit(u).hostname or u for u in story.urls}) or [
        urlsplit(story.url).hostname or story.url
    ]
    link = f"<{_escape_url(story.url)}|{_escape(_clip(story.title, 300))}>"
    quote = "\n".join(f"> {_escape(s)}" for s in _sentences(alert))
    rules = ", ".join(alert.rules)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _clip(f"*{link}*", SLACK_SECTION_MAX)},
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": _clip(
                        f"{_escape(', '.join(outlets))} · {when:%Y-%m-%d %H:%M} UTC · "
                        f"rules: {_escape(rules)} · {len(story.urls)} copies",
                        SLACK_TEXT_MAX,
                    ),
                }
            ],
        },
    ]
    if story.text_source == "feed":
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": _clip(_escape(_feed_note(story)), SLACK_TEXT_MAX)}
                ],
            }
        )
    if notice.group is not None:
        first = f"<{_escape_url(notice.group.url)}|{_escape(_clip(notice.group.title, 300))}>"
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": _clip(f"Same event as {first}", SLACK_TEXT_MAX)}
                ],
            }
        )
    if quote:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _clip(quote, SLACK_SECTION_MAX)}}
        )
    return {
        "text": _clip(_escape(f"{prefix}{events}: {story.title}"), SLACK_TEXT_MAX),
        "blocks": blocks,
    }


def console_text(notice: Notice) -> str:
    """A few readable lines for a terminal."""
    alert, story = notice.alert, notice.story
    label = kind(notice).upper().replace("_", " ")
    severity = f" ({notice.severity})" if notice.severity else ""
    lines = [
        f"[{label}]{severity} {', '.join(alert.events)}: {story.title}",
        f"  {story.url}",
        f"  rules: {', '.join(alert.rules)}; copies: {len(story.urls)}; id: {alert.id}",
    ]
    if story.text_source == "feed":
        lines.append(f"  {_feed_note(story)}")
    if notice.group is not None:
        lines.append(f"  same event as: {notice.group.title} ({notice.group.url})")
    lines += [f"  > {s}" for s in _sentences(alert)]
    return "\n".join(lines)


def _feed_note(story: Story) -> str:
    """The one line saying the alert rests on the feed's headline and summary only."""
    return f"From the feed's headline and summary only ({story.text_reason or 'page unused'})"


def slack_preview(notice: Notice) -> str:
    """The Slack message as a person would read it in Slack, as plain text for a terminal."""
    message = slack_message(notice)
    lines = []
    for block in message["blocks"]:
        if block["type"] == "header":
            lines.append(f"┃ {_unescape(block['text']['text'])}")
        elif block["type"] == "section":
            text = _LINK.sub(lambda m: f"{m.group(2)} <{m.group(1)}>", block["text"]["text"])
            lines += [f"┃ {_unescape(line).strip('*')}" for line in text.splitlines()]
        else:
            for element in block.get("elements", []):
                text = _LINK.sub(lambda m: m.group(2), element["text"])
                lines.append(f"┃ {_unescape(text)}")
    return "\n".join(lines)


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def apprise_message(notice: Notice) -> tuple[str, str]:
    """Title and plain-text body for an Apprise notification."""
    alert, story = notice.alert, notice.story
    title = f"{_prefix(notice)}{', '.join(alert.events)}: {story.title}"
    body = "\n".join([story.url, *(f"> {s}" for s in _sentences(alert))])
    return title[:250], body[:1900]


def _sentences(alert: Alert) -> list[str]:
    return list(dict.fromkeys(s for e in alert.evidence for s in e.sentences))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_url(url: str) -> str:
    return _escape(url).replace("|", "%7C")


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = _PARTIAL_ENTITY.sub("", text[: limit - 1])  # never leave half an "&amp;"
    return cut.rstrip() + "…"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None

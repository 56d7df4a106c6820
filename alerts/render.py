"""How an alert reads on each kind of channel: pure functions from values to payloads.

`webhook_body` is the generic webhook JSON that DESIGN.md promises (`id`, `events`, `rules`,
`evidence`, `story`), `slack_message` a Block Kit message within Slack's limits with `&`, `<`
and `>` escaped so a headline cannot ping `<!channel>` or spoof a link, and `console_text`
what `kind: console` prints.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from kurilwatch.model import Alert, Story

SLACK_HEADER_MAX = 150
SLACK_SECTION_MAX = 3000
SLACK_TEXT_MAX = 3000
_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,3}$")
_EVENT_LABEL = {"protest": "Protest", "exercise": "Military exercise"}


def webhook_body(alert: Alert, story: Story, *, is_update: bool = False) -> dict[str, Any]:
    """The generic webhook JSON body; `id` is the idempotency key of this alert."""
    return {
        "id": alert.id,
        "type": "kurilwatch.alert",
        "is_update": is_update,
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
        },
        "created_at": _iso(alert.created_at),
    }


def slack_message(alert: Alert, story: Story, *, is_update: bool = False) -> dict[str, Any]:
    """A Slack incoming-webhook message: headline linked to the story, events, evidence."""
    events = ", ".join(_EVENT_LABEL.get(e, e) for e in alert.events)
    prefix = "Update: " if is_update else ""
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
    if quote:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _clip(quote, SLACK_SECTION_MAX)}}
        )
    return {
        "text": _clip(_escape(f"{prefix}{events}: {story.title}"), SLACK_TEXT_MAX),
        "blocks": blocks,
    }


def console_text(alert: Alert, story: Story, *, is_update: bool = False) -> str:
    """A few readable lines for a terminal."""
    kind = "UPDATE" if is_update else "ALERT"
    lines = [
        f"[{kind}] {', '.join(alert.events)}: {story.title}",
        f"  {story.url}",
        f"  rules: {', '.join(alert.rules)}; copies: {len(story.urls)}; id: {alert.id}",
    ]
    lines += [f"  > {s}" for s in _sentences(alert)]
    return "\n".join(lines)


def apprise_message(alert: Alert, story: Story, *, is_update: bool = False) -> tuple[str, str]:
    """Title and plain-text body for an Apprise notification."""
    title = f"{'Update: ' if is_update else ''}{', '.join(alert.events)}: {story.title}"
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

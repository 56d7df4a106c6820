"""How an alert reads on each kind of channel: pure functions from values to payloads.

`webhook_body` is the generic webhook JSON that DESIGN.md promises (`id`, `events`, `rules`,
`evidence`, `story`), `slack_message` a Block Kit message within Slack's limits with `&`, `<`
and `>` escaped so a headline cannot ping `<!channel>` or spoof a link, and `console_text`
what `kind: console` prints. Each takes a `Notice`: a first alert, an update (a new event on
a told story), or an "also reported" notification (`kind: "also_reported"`): the stories
about an event already told that joined its group since its last notification, each listed
with its title, URL, outlet, events and evidence, and the story the event was first told with
under `group`. Every webhook body lists the stories it names under `stories` (one for an
alert or update); Slack and console give a batch one compact line or two per story.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from kurilwatch.model import Alert, Evidence, Member, Notice, Story

SLACK_HEADER_MAX = 150
SLACK_SECTION_MAX = 3000
SLACK_TEXT_MAX = 3000
SLACK_BLOCKS_MAX = 50
_LINK_URL_MAX = 500  # longer URLs are shown by host, so one listed story stays under ~1000
_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,3}$")
_LINK = re.compile(r"<([^|<>]+)\|([^<>]*)>")
_EVENT_LABEL = {"protest": "Protest", "exercise": "Military exercise"}


def kind(notice: Notice) -> str:
    """`alert`, `update` (a new event on a told story) or `also_reported` (a batch)."""
    if notice.members:
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
        "story": story_fields(story),
        "group": _story_ref(notice.group) if notice.group is not None else None,
        "stories": [_listed(m.alert, m.story) for m in _members(notice)],
        "created_at": _iso(alert.created_at),
    }


def story_fields(story: Story) -> dict[str, Any]:
    """A story as a webhook body's `story` names it (the web API uses the same names)."""
    return {
        "id": story.id,
        "title": story.title,
        "url": story.url,
        "published_at": _iso(story.published_at),
        "first_seen_at": _iso(story.first_seen_at),
        "language": story.language,
        "urls": list(story.urls),
        "text_source": story.text_source,
        "text_reason": story.text_reason,
    }


def listed_story(
    story: Story,
    *,
    events: tuple[str, ...],
    rules: tuple[str, ...],
    evidence: tuple[Evidence, ...],
    alert_id: str | None,
) -> dict[str, Any]:
    """A story as a webhook body lists it under `stories` (the web API uses the same names)."""
    return {
        "id": story.id,
        "alert_id": alert_id,
        "title": story.title,
        "url": story.url,
        "outlet": _outlet(story),
        "published_at": _iso(story.published_at),
        "language": story.language,
        "urls": list(story.urls),
        "events": list(events),
        "rules": list(rules),
        "evidence": evidence_sentences(evidence),
        "text_source": story.text_source,
        "text_reason": story.text_reason,
    }


def _story_ref(story: Story) -> dict[str, Any]:
    return {"id": story.id, "title": story.title, "url": story.url, "urls": list(story.urls)}


def _listed(alert: Alert, story: Story) -> dict[str, Any]:
    return listed_story(
        story, events=alert.events, rules=alert.rules, evidence=alert.evidence, alert_id=alert.id
    )


def _members(notice: Notice) -> tuple[Member, ...]:
    return notice.members or (Member(alert=notice.alert, story=notice.story),)


def _outlet(story: Story) -> str:
    return story.outlet or urlsplit(story.url).hostname or story.url


def _events(events: tuple[str, ...]) -> str:
    return ", ".join(_EVENT_LABEL.get(e, e) for e in events)


def _count(n: int) -> str:
    return f"{n} more {'story' if n == 1 else 'stories'}"


def _prefix(notice: Notice) -> str:
    severity = f"[{notice.severity.upper()}] " if notice.severity else ""
    return (
        severity
        + {"alert": "", "update": "Update: ", "also_reported": "Also reported: "}[kind(notice)]
    )


def slack_message(notice: Notice) -> dict[str, Any]:
    """A Slack incoming-webhook message: headline linked to the story, events, evidence; for
    an "also reported" batch, one line per story (see `_slack_batch`)."""
    if notice.members:
        return _slack_batch(notice)
    alert, story = notice.alert, notice.story
    events = _events(alert.events)
    prefix = _prefix(notice)
    header = _clip(_escape(f"{prefix}{events}: {story.title}"), SLACK_HEADER_MAX)
    when = story.published_at or story.first_seen_at
    outlets = sorted({urlsplit(u).hostname or u for u in story.urls}) or [
        urlsplit(story.url).hostname or story.url
    ]
    if story.text_source == "post" and story.outlet:  # a channel's post: name the channel
        outlets = [story.outlet]
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


def _slack_batch(notice: Notice) -> dict[str, Any]:
    """Header and the first story of the event, then each listed story in a line or two:
    linked title, outlet, events, its first evidence sentence. Lines fill sections of up to
    3000 characters within Slack's 50 blocks; the batch size keeps them inside (a line that
    would not fit is counted in a last line, never silently left out)."""
    events = _events(notice.alert.events)
    first = notice.group or notice.story
    title = f"{_prefix(notice)}{events}: {_count(len(notice.members))} on {first.title}"
    link = f"<{_escape_url(first.url)}|{_escape(_clip(first.title, 300))}>"
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _clip(_escape(title), SLACK_HEADER_MAX)},
        },
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": _clip(f"First told: {link}", SLACK_TEXT_MAX)}],
        },
    ]
    section = ""
    left = len(notice.members)
    for member in notice.members:
        line = _slack_line(member)
        if section and len(section) + 1 + len(line) > SLACK_SECTION_MAX:
            if len(blocks) >= SLACK_BLOCKS_MAX - 2:
                break
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": section}})
            section = ""
        line = _clip(line, SLACK_SECTION_MAX)
        section = f"{section}\n{line}" if section else line
        left -= 1
    if section:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": section}})
    if left:
        more = f"…and {_count(left)}: `kurilwatch alerts list`"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": more}]})
    return {"text": _clip(_escape(title), SLACK_TEXT_MAX), "blocks": blocks}


def _slack_line(member: Member) -> str:
    story = member.story
    title = _escape(_clip(story.title, 150))
    url = _escape_url(story.url)
    head = f"<{url}|{title}>" if len(url) <= _LINK_URL_MAX else title
    line = (
        f"• *{head}* · {_escape(_clip(_outlet(story), 60))} · {_events(member.alert.events)}"
        f"{_feed_mark(story)}"
    )
    quote = next(iter(_sentences(member.alert)), None)
    return f"{line}\n> {_escape(_clip(quote, 200))}" if quote else line


def console_text(notice: Notice) -> str:
    """A few readable lines for a terminal; a batch gives two per story."""
    alert, story = notice.alert, notice.story
    label = kind(notice).upper().replace("_", " ")
    severity = f" ({notice.severity})" if notice.severity else ""
    if notice.members:
        first = notice.group or story
        lines = [
            f"[{label}]{severity} {', '.join(alert.events)}: {_count(len(notice.members))}",
            f"  same event as: {first.title} ({first.url}); id: {alert.id}",
        ]
        for m in notice.members:
            lines.append(
                f"  - {m.story.title} ({_outlet(m.story)}) {m.story.url}{_feed_mark(m.story)}"
            )
            quote = next(iter(_sentences(m.alert)), "")
            lines.append(f"    {', '.join(m.alert.events)}" + (f"; > {quote}" if quote else ""))
        return "\n".join(lines)
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


def _feed_mark(story: Story) -> str:
    """A short mark for a listed story that rests on the feed's text only."""
    return " [feed text only]" if story.text_source == "feed" else ""


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
    """Title and plain-text body for an Apprise notification (a batch: a line per story,
    as many as fit, then how many more)."""
    alert, story = notice.alert, notice.story
    if notice.members:
        first = notice.group or story
        title = f"{_prefix(notice)}{', '.join(alert.events)}: {_count(len(notice.members))}"
        lines = [f"Same event as: {first.title} {first.url}"]
        for i, m in enumerate(notice.members):
            line = f"- {m.story.title} ({_outlet(m.story)}) {m.story.url}{_feed_mark(m.story)}"
            if sum(len(x) + 1 for x in lines) + len(line) > 1850:
                lines.append(f"…and {_count(len(notice.members) - i)}")
                break
            lines.append(line)
        return title[:250], "\n".join(lines)[:1900]
    title = f"{_prefix(notice)}{', '.join(alert.events)}: {story.title}"
    body = "\n".join([story.url, *(f"> {s}" for s in _sentences(alert))])
    return title[:250], body[:1900]


def _sentences(alert: Alert) -> list[str]:
    return evidence_sentences(alert.evidence)


def evidence_sentences(evidence: tuple[Evidence, ...]) -> list[str]:
    """The evidence's sentences in order, each once (a body's `evidence`)."""
    return list(dict.fromkeys(s for e in evidence for s in e.sentences))


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

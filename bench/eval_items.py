"""The labelled eval sets as one feed of today: each item's headline, summary, date and page.

`feed_items(raw, now=…, pages=…)` turns the JSON objects of `../shared/eval/*.jsonl` (read by
the caller, where they lie) into `FeedItem`s that `bench/eval_site.py` serves and
`bench/eval_report.py` scores. It decides:

1. the headline: the item's title, or (where the set has none) its first sentence, cut to
   `HEADLINE_CHARS` at a word;
2. the summary a feed gives: the text with its whitespace collapsed, cut to `SUMMARY_CHARS`
   at a word (at a character for scripts without spaces) and marked "…" where cut;
3. the date: every item published within the `span` before `now`, evenly spread, in the
   order of the items' original dates (newest first; undated last, then by id), so that the
   reports of one event stay near each other as they were in real life;
4. how its page answers (`page_plan`): the full text (`FULL`), 503 twice and then the full
   text (`FLAKY`), or a page with no article: 403, a cookie-consent wall, a JavaScript
   shell or a PDF (`BLOCKED_KINDS`), chosen by a seeded hash of the id, so a run is
   repeatable.

Pure: no files, no network, no clock.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

SUMMARY_CHARS = 300
HEADLINE_CHARS = 120
EVENTS = ("protest", "exercise")
FULL = "full"
FLAKY = "flaky"
BLOCKED_KINDS = ("403", "consent", "js", "pdf")
PAGE_MODES = ("ok", "blocked", "mixed")
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|[。！？]")
_SLUG_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedItem:
    """One eval item as the local feed publishes it.

    Attributes:
        id: The item's id in the eval set.
        slug: The last part of its page's path (the id, made URL-safe).
        title: The headline in the feed and on the page.
        summary: The feed's description: the start of the text, at most ~`SUMMARY_CHARS`.
        text: The full text, served by the page when it serves one.
        language: The item's language code.
        outlet: The publisher the eval set names, shown as the page's site name.
        published: The date in the feed and on the page (within the span before `now`).
        events: The events the item is labelled with (`protest`, `exercise`).
        relevant: Whether it is labelled as about the Kurils.
        group: Its story group in the eval set, if any.
        page: How its page answers: `FULL`, `FLAKY` or one of `BLOCKED_KINDS`.
    """

    id: str
    slug: str
    title: str
    summary: str
    text: str
    language: str
    outlet: str
    published: datetime
    events: frozenset[str]
    relevant: bool
    group: str | None
    page: str

    @property
    def serves_text(self) -> bool:
        """Whether the page gives the full text in the end (so the daemon can judge it)."""
        return self.page in (FULL, FLAKY)


def cut_summary(text: str, limit: int = SUMMARY_CHARS) -> str:
    """The text's whitespace collapsed, cut to `limit` characters at a word, "…" if cut.

    Where the last `limit * 0.4` characters hold no space (Japanese), the cut is at a
    character. The result is at most `limit + 1` characters long.
    """
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    head = flat[:limit]
    space = head.rfind(" ")
    if space >= limit * 0.6:
        head = head[:space]
    return head.rstrip(" ,;:-—") + "…"


def headline(title: str | None, text: str, limit: int = HEADLINE_CHARS) -> str:
    """The item's title; without one, its text's first sentence cut to `limit` at a word."""
    if title and title.strip():
        return " ".join(title.split())
    flat = " ".join(text.split())
    end = _SENTENCE_END.search(flat)
    sentence = flat[: end.end()] if end else flat
    return cut_summary(sentence, limit)


def spread_dates(count: int, now: datetime, span: timedelta) -> list[datetime]:
    """`count` dates within `span` before `now`, newest first, evenly apart, whole seconds."""
    step = span / max(count, 1)
    return [(now - step * (k + 0.5)).replace(microsecond=0) for k in range(count)]


def page_plan(
    ids: Sequence[str], mode: str, *, kinds: Sequence[str] = BLOCKED_KINDS, seed: int = 0
) -> dict[str, str]:
    """How each item's page answers in `mode` (`ok`, `blocked` or `mixed`).

    `ok`: every page is `FULL`. `blocked`: every page is one of `kinds`, in turn. `mixed`:
    a third each `FULL`, `FLAKY` and one of `kinds` in turn. The turn order is a hash of
    `seed` and the id, so the same ids get the same plan.

    Raises:
        ValueError: `mode` is unknown, or `kinds` is empty or holds an unknown kind.
    """
    if mode not in PAGE_MODES:
        raise ValueError(f"unknown page mode {mode!r}: expected one of {', '.join(PAGE_MODES)}")
    if not kinds or set(kinds) - set(BLOCKED_KINDS):
        raise ValueError(f"blocked kinds must be some of {', '.join(BLOCKED_KINDS)}")
    order = sorted(ids, key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).hexdigest())
    plan: dict[str, str] = {}
    blocked = 0
    for k, item_id in enumerate(order):
        if mode == "ok" or (mode == "mixed" and k % 3 == 0):
            plan[item_id] = FULL
        elif mode == "mixed" and k % 3 == 1:
            plan[item_id] = FLAKY
        else:
            plan[item_id] = kinds[blocked % len(kinds)]
            blocked += 1
    return plan


def feed_items(
    raw: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
    span: timedelta = timedelta(hours=1),
    pages: str = "ok",
    kinds: Sequence[str] = BLOCKED_KINDS,
    seed: int = 0,
) -> tuple[FeedItem, ...]:
    """The eval items as the feed publishes them, newest first (see the module docstring).

    Raises:
        ValueError: two items share an id or a slug, or the page mode is unknown.
    """
    ids = [str(item["id"]) for item in raw]
    if len(set(ids)) != len(ids):
        raise ValueError("the eval items' ids are not unique")
    plan = page_plan(ids, pages, kinds=kinds, seed=seed)
    ordered = sorted(raw, key=lambda item: (str(item.get("date") or ""), str(item["id"])))
    ordered.reverse()
    ordered.sort(key=lambda item: not item.get("date"))  # stable: undated go last
    dates = spread_dates(len(ordered), now, span)
    items = []
    for item, published in zip(ordered, dates, strict=True):
        labels = item.get("labels") or {}
        text = str(item.get("text") or "")
        item_id = str(item["id"])
        items.append(
            FeedItem(
                id=item_id,
                slug=_SLUG_UNSAFE.sub("-", item_id).strip("-") or "item",
                title=headline(item.get("title"), text),
                summary=cut_summary(text),
                text=text,
                language=str(item.get("language") or "en"),
                outlet=str(item.get("source") or "Eval News"),
                published=published,
                events=frozenset(e for e in EVENTS if labels.get(e)),
                relevant=bool(labels.get("kurils_relevant")),
                group=item.get("story_group"),
                page=plan[item_id],
            )
        )
    if len({i.slug for i in items}) != len(items):
        raise ValueError("two eval items map to one page slug")
    return tuple(items)

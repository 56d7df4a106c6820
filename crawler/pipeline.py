"""The hand-off from crawl to storage: what becomes of an entry once its page was tried.

`Ingestor.judge(entry, outcome)` settles one claimed entry (`storage.entries`):
1. the page gave an article: judge it on its page text (`accept`);
2. the page is unusable (`crawler.pages.Unusable`): judge the entry on its feed text;
3. a transient failure: try again on the backoff of `crawl.entry_retry_*`, and once the next
   try would come later than `crawl.entry_give_up` after the entry was found, judge it on its
   feed text; a database error while storing counts as transient too.
`accept(article)` is the decision for one article: match the rules (pure), and unless it is
off topic store it with exact dedup and the alerts that `plan_alerts` decides, atomically.
Each entry ends with its verdict (stored, joined, duplicate, off_topic, unusable), the text it
was judged on, and the reason when that was the feed's. Runs in a worker thread.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from alerts.decide import Grouping, plan_alerts
from alerts.grouping import key_terms
from alerts.rules import RuleSet, match_article
from crawler.pages import PageOutcome, Transient, Unusable, feed_text_article
from kurilwatch.backoff import Backoff, next_try
from kurilwatch.model import Article, Entry, IngestResult, Rule
from storage.articles import ingest_article
from storage.entries import finish_entry, retry_entry

log = logging.getLogger(__name__)

ENTRY_BACKOFF = Backoff(initial=5.0, cap=3600.0, give_up=86400.0)
"""The `crawl.entry_retry_initial`, `entry_retry_max` and `entry_give_up` defaults."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Ingestor:
    """Everything needed to decide on and store one article."""

    engine: Engine
    ruleset: RuleSet
    rules: Sequence[Rule]
    channels: Sequence[str]
    max_age_seconds: float
    clock: Callable[[], datetime]
    window_seconds: float = 30 * 86400.0
    grouping: Grouping | None = None
    owner: str = "kurilwatch"
    """Who holds the leases of the entries this ingestor settles."""
    backoff: Backoff = ENTRY_BACKOFF
    rng: random.Random = field(default_factory=random.Random)

    def judge(self, entry: Entry, outcome: PageOutcome) -> str:
        """Decide on `entry` after its page was tried, and record it; the outcome's name."""
        if isinstance(outcome, Transient):
            return self._retry(entry, outcome)
        if isinstance(outcome, Unusable):
            return self._judge_feed_text(entry, outcome.reason)
        return self._judge_article(entry, outcome)

    def _retry(self, entry: Entry, failure: Transient) -> str:
        now = self.clock()
        when = next_try(
            self.backoff,
            attempts=entry.attempts,
            began_at=entry.first_seen_at,
            now=now,
            rng=self.rng,
            after=failure.after,
        )
        if when is None:
            reason = f"the page failed {entry.attempts} times, last: {failure.reason}"
            return self._judge_feed_text(entry, reason)
        kept = retry_entry(
            self.engine,
            entry.id,
            owner=self.owner,
            error=failure.reason,
            delay_seconds=(when - now).total_seconds(),
        )
        log.warning(
            "entry.retry_scheduled" if kept else "entry.lease_lost",
            extra={
                "source": entry.source,
                "url": entry.url,
                "attempt": entry.attempts,
                "reason": failure.reason,
                "in_seconds": round((when - now).total_seconds(), 1),
            },
        )
        return "retrying"

    def _judge_feed_text(self, entry: Entry, reason: str) -> str:
        article = feed_text_article(entry, reason=reason)
        if article is None:
            self._finish(entry, "feed", "unusable", reason=f"{reason}; the index gave no text")
            log.warning(
                "entry.unusable", extra={"source": entry.source, "url": entry.url, "reason": reason}
            )
            return "unusable"
        log.info(
            "entry.feed_text", extra={"source": entry.source, "url": entry.url, "reason": reason}
        )
        return self._judge_article(entry, article)

    def _judge_article(self, entry: Entry, article: Article) -> str:
        try:
            result = self.accept(article)
        except DBAPIError as exc:  # the database is away: the entry waits, nothing is lost
            return self._retry(entry, Transient(f"database error: {type(exc.orig).__name__}"))
        verdict = result.outcome if result is not None else "off_topic"
        self._finish(
            entry,
            article.text_source,
            verdict,
            reason=article.text_reason,
            story_id=result.story_id if result is not None else None,
            canonical_url=article.canonical_url,
        )
        return verdict

    def _finish(
        self,
        entry: Entry,
        judged_on: str,
        verdict: str,
        *,
        reason: str | None = None,
        story_id: int | None = None,
        canonical_url: str | None = None,
    ) -> None:
        kept = finish_entry(
            self.engine,
            entry.id,
            owner=self.owner,
            judged_on=judged_on,
            verdict=verdict,
            reason=reason,
            story_id=story_id,
            canonical_url=canonical_url,
        )
        if not kept:  # another daemon took the entry over after our lease ran out
            log.warning(
                "entry.lease_lost",
                extra={"source": entry.source, "url": entry.url, "verdict": verdict},
            )

    def accept(self, article: Article) -> IngestResult | None:
        """Gate, match and store `article`; None when it is off topic."""
        match = match_article(
            self.ruleset, title=article.title, text=article.text, language=article.language
        )
        now = self.clock()
        if not match.topic:
            log.info("article.off_topic", extra={"source": article.source, "url": article.url})
            return None
        plan = partial(
            plan_alerts,
            match=match,
            rules=self.rules,
            channels=self.channels,
            now=now,
            max_age_seconds=self.max_age_seconds,
            grouping=self.grouping,
        )
        result = ingest_article(
            self.engine,
            article,
            events=match.events,
            plan=plan,
            now=now,
            window_seconds=self.window_seconds,
            key_terms=key_terms(article.title, article.text),
            group_window_seconds=self.grouping.window_seconds if self.grouping else 0.0,
        )
        log.info(
            "article.%s",
            result.outcome,
            extra={
                "source": article.source,
                "url": article.url,
                "story_id": result.story_id,
                "how": result.how,
                "score": result.score,
                "events": list(match.events),
                "alerts": len(result.alerts),
                "text_source": article.text_source,
            },
        )
        return result

"""The hand-off from crawl to storage: topic gate, rules, then one ingest transaction.

`Ingestor.accept(article)` is the whole decision for one extracted article: match the rules
(pure), forget it when it is off topic (remembered in `seen_urls` so it is never fetched
again), else store it with exact dedup and the alerts that `plan_alerts` decides, atomically.
`ArticlePipeline` runs `accept` in a worker thread so the event loop never waits on the
database or the matcher.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy.engine import Engine

from alerts.decide import Grouping, plan_alerts
from alerts.grouping import key_terms
from alerts.rules import RuleSet, match_article
from kurilwatch.model import Article, IngestResult, Rule
from storage.articles import ingest_article, mark_seen

log = logging.getLogger(__name__)


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

    def accept(self, article: Article) -> IngestResult | None:
        """Gate, match and store `article`; None when it is off topic."""
        match = match_article(
            self.ruleset, title=article.title, text=article.text, language=article.language
        )
        now = self.clock()
        if not match.topic:
            mark_seen(self.engine, article.url, source=article.source, verdict="off_topic", now=now)
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
            },
        )
        return result


class ArticlePipeline:
    """Scrapy item pipeline: hands each harvested article to its poll's `Ingestor`, off the loop.

    The outcome is counted in the poll's report, and the poll learns the item is done.
    """

    def __init__(self, crawler: Any) -> None:
        from crawler.spiders import Harvest  # the spider module imports this one

        self.crawler = crawler
        self._harvest = Harvest

    @classmethod
    def from_crawler(cls, crawler: Any) -> ArticlePipeline:
        """Scrapy's constructor hook."""
        return cls(crawler)

    async def process_item(self, item: Any) -> Any:
        """Store the article; count the outcome in its poll's report."""
        if not isinstance(item, self._harvest):
            return item
        poll = item.poll
        try:
            result = await asyncio.to_thread(poll.ingestor.accept, item.article)
            poll.report.count(result.outcome if result else "off_topic")
        finally:
            poll.end()
        return item

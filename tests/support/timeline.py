"""Stories for the web timeline's tests, stored through the real ingest path, and the web
pages served on a loopback port in a thread, as the daemon serves them.

`seed_timeline(engine)` stores, with `storage.articles.ingest_article`: an English story
reported by two outlets with a protest and an exercise (delivered on `desk`, pending on
`ops`), a Russian protest whose alert died, a Japanese story grouped under the English one's
event, a story with a hostile title and a `javascript:` URL, and an off-event story. Texts
are our own. `ServedUi` runs `scheduler.metrics.serve` with `web.app` on a free port.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from kurilwatch.config import UiAuthConfig
from kurilwatch.model import AlertPlan, Article, Evidence, StoryState
from scheduler.metrics import Metrics, serve
from storage.articles import ingest_article
from storage.outbox import mark_delivered, mark_failed
from tests.support.ports import free_port
from web.app import WebUi

NOW = datetime(2026, 4, 3, 9, 0, tzinfo=UTC)
HOSTILE_TITLE = (
    '<script>alert("title")</script><img src=x onerror=alert(1)> Kunashiri drills '
    '"><b>broken <i>markup'
)
HOSTILE_URL = "javascript:alert(document.domain)//kunashiri"


@dataclass(frozen=True, slots=True)
class Seeded:
    """The ids of the stories `seed_timeline` stored."""

    english: int
    russian: int
    japanese: int
    hostile: int
    quiet: int


def _evidence(rule: str, event: str, sentence: str, term: str) -> Evidence:
    return Evidence(rule=rule, event=event, sentences=(sentence,), terms=(term,))


def _planner(plans: Sequence[AlertPlan]) -> Callable[[StoryState], list[AlertPlan]]:
    def plan(state: StoryState) -> list[AlertPlan]:
        return [] if state.alerted else list(plans)

    return plan


def _article(url: str, title: str, text: str, language: str, at: datetime, **extra: Any) -> Article:
    return Article(
        url=url,
        source=extra.pop("source", "wire"),
        title=title,
        text=text,
        language=language,
        published_at=at,
        **extra,
    )


def seed_timeline(engine: Engine, now: datetime = NOW) -> Seeded:
    """Store the timeline's fixture stories (see the module docstring); return their ids."""
    en_text = (
        "Japan lodged a protest with Russia on Monday over military drills on Etorofu, "
        "the chief cabinet secretary told reporters in Tokyo. About 1,000 troops took part "
        "in the exercises on the island, the Eastern Military District said."
    )
    protest = _evidence("protest", "protest", "Japan lodged a protest with Russia.", "protest")
    drill = _evidence("exercise", "exercise", "About 1,000 troops took part.", "exercises")
    english = ingest_article(
        engine,
        _article(
            "https://wire.example/en/etorofu-protest",
            "Japan protests Russian drills on Etorofu",
            en_text,
            "en",
            now - timedelta(hours=2),
            outlet="Wire One",
        ),
        events=("protest", "exercise"),
        plan=_planner(
            [
                AlertPlan(
                    channel=channel,
                    events=("protest", "exercise"),
                    rules=("protest", "exercise"),
                    evidence=(protest, drill),
                )
                for channel in ("desk", "ops")
            ]
        ),
        now=now - timedelta(hours=2),
    ).story_id
    assert english is not None
    ingest_article(  # the same text from another outlet joins the story
        engine,
        _article(
            "https://paper.example/world/etorofu",
            "Japan protests Russian drills on Etorofu",
            en_text,
            "en",
            now - timedelta(hours=2),
            source="paper",
            outlet="Paper Two",
        ),
        events=("protest", "exercise"),
        plan=_planner([]),
        now=now - timedelta(hours=1, minutes=50),
    )
    russian = ingest_article(
        engine,
        _article(
            "https://vesti.example/ru/iturup",
            "Япония заявила протест из-за учений на Итурупе",
            "Министерство иностранных дел Японии заявило протест российской стороне в связи "
            "с учениями на Итурупе. В учениях участвовали подразделения Восточного военного "
            "округа.",
            "ru",
            now - timedelta(days=1, hours=3),
        ),
        events=("protest",),
        plan=_planner(
            [
                AlertPlan(
                    channel="desk",
                    events=("protest",),
                    rules=("protest",),
                    evidence=(
                        _evidence(
                            "protest",
                            "protest",
                            "Министерство иностранных дел Японии заявило протест.",
                            "протест",
                        ),
                    ),
                )
            ]
        ),
        now=now - timedelta(days=1, hours=3),
    ).story_id
    japanese = ingest_article(
        engine,
        _article(
            "https://nippon.example/ja/hoppo",
            "北方領土の択捉島での演習に日本政府が抗議",
            "日本政府は、択捉島でロシア軍が行った軍事演習について、ロシア側に抗議した。"
            "官房長官が記者会見で明らかにした。(NHK)",
            "ja",
            now - timedelta(hours=1),
        ),
        events=("protest",),
        plan=_planner(
            [
                AlertPlan(
                    channel="desk",
                    events=("protest",),
                    rules=("protest",),
                    evidence=(
                        _evidence("protest", "protest", "日本政府はロシア側に抗議した。", "抗議"),
                    ),
                    is_update=True,
                    group_story_id=english,
                    due_at=now + timedelta(minutes=30),
                )
            ]
        ),
        now=now - timedelta(hours=1),
    ).story_id
    hostile = ingest_article(
        engine,
        _article(
            HOSTILE_URL,
            HOSTILE_TITLE,
            "Russian troops held drills on Kunashiri </textarea><script>alert(2)</script> "
            "and officials declined to comment.",
            "en",
            now - timedelta(days=2),
            outlet='<svg onload=alert("outlet")>',
        ),
        events=("exercise",),
        plan=_planner(
            [
                AlertPlan(
                    channel="desk",
                    events=("exercise",),
                    rules=("exercise",),
                    evidence=(
                        _evidence(
                            "exercise",
                            "exercise",
                            '<img src=x onerror="alert(3)"> troops held drills',
                            "drills",
                        ),
                    ),
                )
            ]
        ),
        now=now - timedelta(days=2),
    ).story_id
    quiet = ingest_article(
        engine,
        _article(
            "https://wire.example/en/kuril-ferry",
            "Ferry to Kunashiri resumes after storms",
            "The ferry between Nemuro and Kunashiri resumed on Tuesday after a week of storms.",
            "en",
            now - timedelta(hours=5),
        ),
        events=(),
        plan=_planner([]),
        now=now - timedelta(hours=5),
    ).story_id
    assert None not in (russian, japanese, hostile, quiet)
    _settle(engine, now)
    return Seeded(
        english=english,
        russian=russian,  # type: ignore[arg-type]
        japanese=japanese,  # type: ignore[arg-type]
        hostile=hostile,  # type: ignore[arg-type]
        quiet=quiet,  # type: ignore[arg-type]
    )


def _settle(engine: Engine, now: datetime) -> None:
    """Deliver the English story's `desk` alert and kill the Russian one's, as delivery would."""
    import sqlalchemy as sa

    from storage.tables import alerts, stories

    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(alerts.c.id, alerts.c.channel, stories.c.language)
            .join(stories, stories.c.id == alerts.c.story_id)
            .where(alerts.c.channel == "desk")
        ).all()
        # leased to "seed", as a delivery worker's claim would (write-backs need the lease)
        conn.execute(
            sa.update(alerts)
            .where(alerts.c.id.in_([r.id for r in rows if r.language in ("en", "ru")]))
            .values(leased_by="seed", leased_until=sa.func.now() + sa.text("interval '1 hour'"))
        )
        conn.commit()
    for alert_id, _channel, language in rows:
        if language == "en":
            assert mark_delivered(engine, alert_id, owner="seed", now=now)
        elif language == "ru":
            assert mark_failed(
                engine, alert_id, owner="seed", error="HTTP 404: no_service", retry_at=None
            )


class ServedUi:
    """The `listen` server with the web pages, on a free loopback port, in its own thread."""

    def __init__(
        self,
        engine: Engine,
        *,
        zone: str = "Asia/Tokyo",
        auth: UiAuthConfig | None = None,
        events: Sequence[str] = ("protest", "exercise"),
        safe_urls: frozenset[str] = frozenset(),
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ui = WebUi(
            engine=engine,
            zone=ZoneInfo(zone),
            auth=auth,
            events=lambda: events,
            safe_urls=safe_urls,
        )
        self.engine = engine
        self._loop = asyncio.new_event_loop()
        self._stop: Callable[[], Any] | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        metrics = Metrics(self.engine, lambda: datetime.now(UTC))
        self._stop = self._loop.run_until_complete(
            serve(f"127.0.0.1:{self.port}", metrics, self.engine, lambda: True, self.ui)
        )
        self._ready.set()
        self._loop.run_forever()

    def __enter__(self) -> ServedUi:
        self._thread.start()
        assert self._ready.wait(30), "the web server did not start"
        return self

    def __exit__(self, *_: object) -> None:
        assert self._stop is not None
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop.close()

"""Story assignment latency as the article store grows (10k, 100k, 1M articles).

Usage:
    .venv/bin/python bench/dedup_scale.py [--sizes 10000,100000,1000000] [--n 500]
        [--seed 1] [--workers 2] [--keep] [--no-alt] [--code DIR] [--json]

`--code DIR` imports the measured code (`storage.*`) from DIR, e.g. an older checkout (a git
worktree such as /work/before), with this venv. `--json` adds one final line of key figures
(for bench/run_all.py): p50/p95/p99 per size, the p95 growth, and whether the goals are met.

Needs PostgreSQL (KURILWATCH_BENCH_DATABASE_URL, default the local trust-auth server, as a
superuser: the load sets `session_replication_role`); it creates `kw_bench_scale_<pid>`,
upgrades it to the current schema and drops it at the end unless `--keep` (a database
measured again with `--reuse NAME` is always kept).

Data. Synthetic news-like texts (5 to 9 sentences of 6 to 16 words from a 20,000-word
pseudo-vocabulary drawn with Zipf-like weights). Articles come in stories of 1 + geometric
size (mean ~2, capped at 20): the first copy is the story's text, further copies are an
exact copy (with a dateline and a credit line that normalization folds away, so the same
content hash), one sentence cut, two words changed, or a sentence added. 15% of stories
are members of a "template family" of ~30 stories sharing five boilerplate sentences (two
words changed per member, plus 1 to 3 sentences of its own): look-alikes at Jaccard ~0.34
(0.2 to 0.5) that share a band in ~9% of pairs, i.e. false candidates, never
near-duplicates. Every article gets its real `content_hash` and `near_print` (computed in a
process pool: ~0.1 ms a text), `articles.near_signature` and its 25 `article_bands` rows,
and, when the measured code has containment, its `article_anchors` rows (~5 an article),
`seen_at` rising with the article id over the last 29.5 days (the largest size spans it;
all rows are inside the 30-day window). Rows are bulk-loaded with COPY (band rows in binary
COPY, in article order as `storage.articles.STORE` adds them, so the band index grows as it would in
production; anchor rows likewise) into the schema of `upgrade_schema`, indexes in place, FK
triggers off for the load session, then VACUUM ANALYZE. 1M articles load in ~5 minutes on 2
cores.

Results are in bench/README.md.

Measurement. At each size, N new articles (a quarter each, shuffled): (a) new texts from the
same generator (some are template look-alikes), (b) exact copies of random stored articles
(with furniture), (c) near copies of random stored articles (one edit as above), (d) feed
texts of random stored articles (headline, blank line, the first 300 characters). Each call
of `storage.assign.assign_story` runs in a transaction of its own that is rolled back, on
one pooled connection, timed with perf_counter around the whole call (locks, exact lookup,
candidate query, similarity, container query, exact containment); 50 untimed warm-up calls
first. Right after it, the same input is assigned without its containment print ("plain":
the decision as before containment), so both are timed under the same load. Reported:
p50/p95/p99 per kind and overall, with and without containment, what the calls decided
("(false)": a new text that joined a stored story; "(other story)": a copy that joined
another story than its own), band candidates and containers fetched per call, a per-phase
breakdown, table and index sizes, load time. Unless `--no-alt`, the same inputs are also
timed through the way `assign_story` took its locks before: one statement per key (see
`_assign_alt`), to show what those round trips cost (they took p95 at 1M from 1.6 to 5.2
ms). At the largest size the band candidate and container queries are shown with EXPLAIN
(ANALYZE, BUFFERS).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def _code_option(argv: Sequence[str]) -> str | None:
    """`--code DIR` from the command line, read before the project's modules are imported."""
    for index, arg in enumerate(argv):
        if arg == "--code" and index + 1 < len(argv):
            return os.path.abspath(argv[index + 1])
        if arg.startswith("--code="):
            return os.path.abspath(arg.split("=", 1)[1])
    return None


# the fixtures' helper comes from this checkout, whatever --code says
from tests.support.syndicate import feed_summary  # noqa: E402

CODE = _code_option(sys.argv[1:])
if CODE is not None:
    sys.path.insert(0, CODE)

from kurilwatch.model import AlertPlan, Article, IngestResult, StoryState  # noqa: E402
from storage.articles import _ingest  # noqa: E402
from storage.assign import (  # noqa: E402
    LOCK_ALL,
    Assignment,
    Candidate,
    assign_story,
    best_candidate,
    candidate_query,
    lock_keys,
)
from storage.engine import database_url, upgrade_schema  # noqa: E402
from storage.fingerprint import NearPrint, content_hash, near_print  # noqa: E402
from storage.tables import articles  # noqa: E402

try:  # code from before issue 16 (--code DIR) builds the duplicate check inline
    from storage.articles import duplicate_query
except ImportError:
    duplicate_query = None  # type: ignore[assignment]

try:  # code from before containment (--code DIR) has neither anchors nor their lookup
    from storage.containment import Container as ContainerRow
    from storage.containment import (
        best_container,
        body_shingles,
        contain_print,
    )

    HAS_CONTAINMENT = True
except ImportError:
    HAS_CONTAINMENT = False

ADMIN = os.environ.get(
    "KURILWATCH_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
WINDOW_SECONDS = 30 * 86400.0
GROUP_WINDOW_SECONDS = 48 * 3600.0
TARGET_P95_MS = 5.0
TARGET_INGEST_P95_MS = 10.0
VOCAB_SIZE = 20_000
FAMILY_SIZE = 30  # stories per template family
TEMPLATE_SHARE = 0.15
WARMUP = 50
CHUNK_STORIES = 2_000
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
KINDS = ("new", "exact", "near", "summary")
SUMMARY_CHARS = 300


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- synthetic texts ------------------------------------------------------------------------

_SYLLABLES = [c + v for c in "bdfghklmnprstvz" for v in "aeiou"]


def _vocabulary() -> tuple[list[str], list[float]]:
    rng = random.Random(0)
    words: set[str] = set()
    while len(words) < VOCAB_SIZE:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))))
    ordered = sorted(words)
    rng.shuffle(ordered)
    weights = [1.0 / (rank + 20) for rank in range(len(ordered))]  # Zipf-like, flattened head
    cumulative = list(np.cumsum(weights))
    return ordered, cumulative


VOCAB, CUM_WEIGHTS = _vocabulary()


def _sentence(rng: random.Random, low: int = 6, high: int = 16) -> list[str]:
    return rng.choices(VOCAB, cum_weights=CUM_WEIGHTS, k=rng.randint(low, high))


def _render(sentences: Sequence[Sequence[str]]) -> str:
    return " ".join(" ".join(s).capitalize() + "." for s in sentences)


def _template(seed: str) -> list[list[str]]:
    rng = random.Random(f"template:{seed}")
    return [_sentence(rng, 10, 14) for _ in range(5)]


def story_sentences(rng: random.Random, family: str | None) -> list[list[str]]:
    """The sentences of a story's first copy; a template family member if `family`."""
    if family is None:
        return [_sentence(rng) for _ in range(rng.randint(5, 9))]
    sentences = [list(s) for s in _template(family)]
    for _ in range(2):  # the member's own names and numbers
        s = sentences[rng.randrange(len(sentences))]
        s[rng.randrange(len(s))] = rng.choice(VOCAB)
    return sentences + [_sentence(rng) for _ in range(rng.randint(1, 3))]


def template_members(family: str, count: int) -> list[str]:
    """The texts of `count` members of one template family (for bench/containment.py)."""
    rng = random.Random(f"members:{family}")
    return [_render(story_sentences(rng, family)) for _ in range(count)]


def copy_text(rng: random.Random, sentences: list[list[str]], kind: str) -> str:
    """A further copy of a story: "exact" (furniture only) or a near edit."""
    if kind == "exact":
        return (
            f"TOKYO (Kyodo) -- {_render(sentences)}\n"
            f"Reporting by {rng.choice(VOCAB).capitalize()}; editing by agency desk"
        )
    edited = [list(s) for s in sentences]
    if kind == "cut" and len(edited) >= 5:
        del edited[rng.randrange(1, len(edited))]
    elif kind == "extend":
        edited.append(_sentence(rng))
    else:  # "edit": two words changed
        for _ in range(2):
            s = edited[rng.randrange(len(edited))]
            s[rng.randrange(len(s))] = rng.choice(VOCAB)
    return _render(edited)


COPY_KINDS = ("exact", "cut", "edit", "extend")
COPY_WEIGHTS = (0.3, 0.3, 0.25, 0.15)


@dataclass(frozen=True, slots=True)
class Chunk:
    seed: int
    step: int
    families: int  # template families of this step
    first_story: int
    first_article: int
    sizes: tuple[int, ...]  # articles per story


def canonical_of(article_id: int) -> str | None:
    """The canonical URL a stored article's page declared: every other page declares one, on
    another host (as an AMP or mobile copy names its main page)."""
    return f"https://www.synthetic.example/{article_id}" if article_id % 2 else None


# article_id, story_id, text, content hash, signature or None, bands, anchors
Row = tuple[int, int, str, str, bytes | None, tuple[int, ...], tuple[int, ...]]


def title_of(text: str) -> str:
    """The stored headline of a synthetic article."""
    return text[:80]


def anchors_of(text: str) -> tuple[int, ...]:
    """The containment anchors of a stored article (none for code without containment)."""
    if not HAS_CONTAINMENT:
        return ()
    contain = contain_print(title_of(text), text)
    return contain.anchors if contain is not None else ()


def make_chunk(chunk: Chunk) -> list[Row]:
    """The articles of consecutive stories, with their fingerprints (runs in a worker)."""
    rng = random.Random(f"{chunk.seed}:{chunk.first_story}")
    rows: list[Row] = []
    article_id = chunk.first_article
    for offset, size in enumerate(chunk.sizes):
        story_id = chunk.first_story + offset
        family = None
        if rng.random() < TEMPLATE_SHARE:
            family = f"{chunk.seed}:{chunk.step}:{rng.randrange(chunk.families)}"
        sentences = story_sentences(rng, family)
        texts = [_render(sentences)]
        for kind in rng.choices(COPY_KINDS, weights=COPY_WEIGHTS, k=size - 1):
            texts.append(copy_text(rng, sentences, kind))
        for text in texts:
            near = near_print(text)
            rows.append(
                (
                    article_id,
                    story_id,
                    text,
                    content_hash(text),
                    near.signature if near else None,
                    near.bands if near else (),
                    anchors_of(text),
                )
            )
            article_id += 1
    return rows


# --- bulk load ------------------------------------------------------------------------------

_BAND_DTYPE = np.dtype(
    [
        ("nf", ">i2"),
        ("l1", ">i4"),
        ("band", ">i8"),
        ("l2", ">i4"),
        ("article_id", ">i8"),
        ("l3", ">i4"),
        ("story_id", ">i8"),
        ("l4", ">i4"),
        ("seen_at", ">i8"),
    ]
)
_ANCHOR_DTYPE = np.dtype(
    [
        ("nf", ">i2"),
        ("l1", ">i4"),
        ("anchor", ">i8"),
        ("l2", ">i4"),
        ("article_id", ">i8"),
        ("l3", ">i4"),
        ("story_id", ">i8"),
        ("l4", ">i4"),
        ("anchor_count", ">i2"),
        ("l5", ">i4"),
        ("seen_at", ">i8"),
    ]
)
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" * 2
_COPY_TRAILER = b"\xff\xff"


@dataclass(slots=True)
class Store:
    """What is loaded so far."""

    articles: int = 0
    stories: int = 0
    families: list[int] = field(default_factory=list)  # template families per step
    steps: int = 0
    load_seconds: list[float] = field(default_factory=list)


def _story_sizes(rng: np.random.Generator, articles_wanted: int) -> list[int]:
    sizes: list[int] = []
    total = 0
    while total < articles_wanted:
        batch = np.minimum(rng.geometric(0.5, size=max(1024, articles_wanted // 2)), 20)
        for size in batch.tolist():
            size = min(size, articles_wanted - total)
            sizes.append(size)
            total += size
            if total == articles_wanted:
                break
    return sizes


def load_step(
    conninfo: str,
    store: Store,
    target: int,
    *,
    horizon: int,
    seed: int,
    workers: int,
    now: datetime,
) -> float:
    """Add synthetic stories and articles until `target` articles are stored; seconds taken."""
    started = time.perf_counter()
    wanted = target - store.articles
    step = store.steps
    nrng = np.random.default_rng([seed, step])
    sizes = _story_sizes(nrng, wanted)
    families = max(1, round(len(sizes) * TEMPLATE_SHARE / FAMILY_SIZE))
    chunks: list[Chunk] = []
    story, article = store.stories + 1, store.articles + 1
    for start in range(0, len(sizes), CHUNK_STORIES):
        part = tuple(sizes[start : start + CHUNK_STORIES])
        chunks.append(Chunk(seed, step, families, story, article, part))
        story += len(part)
        article += sum(part)
    # seen_at (microseconds since 2000-01-01): article ids in time order, as ingest stores
    # them, the largest size spread over the last 29.5 days (all inside the window)
    now_us = int((now - PG_EPOCH).total_seconds() * 1e6)
    span_us = 29.5 * 86400e6
    ids = np.arange(store.articles + 1, target + 1, dtype=np.float64)
    seen_us = (now_us - span_us * (1.0 - ids / horizon)).astype(np.int64)
    del ids
    band_band = np.empty(wanted * 25, dtype=np.int64)
    band_article = np.empty(wanted * 25, dtype=np.int64)
    band_story = np.empty(wanted * 25, dtype=np.int64)
    n_bands = 0
    anchor_rows: list[tuple[tuple[int, ...], int, int]] = []  # anchors, article, story
    story_rows: list[tuple[int, str, str, datetime, str]] = []
    log(f"load: {wanted} articles in {len(sizes)} stories, {len(chunks)} chunks")
    with psycopg.connect(conninfo, autocommit=False) as pg:
        pg.execute("SET session_replication_role = replica")  # no per-row FK trigger checks
        pg.execute("SET synchronous_commit = off")
        pg.execute("SET maintenance_work_mem = '512MB'")
        with multiprocessing.get_context("fork").Pool(workers) as pool, pg.cursor() as cur:
            with cur.copy(
                "COPY articles (id, story_id, source, url, guid, title, text, language,"
                " fetched_at, content_hash, near_signature, canonical_url) FROM STDIN"
            ) as copy:
                for done, rows in enumerate(pool.imap(make_chunk, chunks), start=1):
                    for article_id, story_id, text, digest, sig, bands, anchors in rows:
                        index = article_id - store.articles - 1
                        seen = PG_EPOCH + timedelta(microseconds=int(seen_us[index]))
                        title = title_of(text)
                        if len(story_rows) < story_id - store.stories:
                            story_rows.append(
                                (
                                    story_id,
                                    title,
                                    f"https://synthetic.example/{article_id}",
                                    seen,
                                    digest,
                                )
                            )
                        copy.write_row(
                            (
                                article_id,
                                story_id,
                                f"src{article_id % 50}",
                                f"https://synthetic.example/{article_id}",
                                str(article_id),
                                title,
                                text,
                                "en",
                                seen,
                                digest,
                                sig,
                                canonical_of(article_id),
                            )
                        )
                        k = len(bands)
                        band_band[n_bands : n_bands + k] = bands
                        band_article[n_bands : n_bands + k] = article_id
                        band_story[n_bands : n_bands + k] = story_id
                        n_bands += k
                        if anchors:
                            anchor_rows.append((anchors, article_id, story_id))
                    if done % 50 == 0 or done == len(chunks):
                        log(f"load: articles chunk {done}/{len(chunks)}")
            log(f"load: {len(story_rows)} stories")
            with cur.copy(
                "COPY stories (id, title, url, first_seen_at, content_hash) FROM STDIN"
            ) as copy:
                for story_id, title, url, seen, digest in story_rows:
                    copy.write_row((story_id, title, url, seen, digest))
            # in article (time) order like storage.articles.STORE: random keys into the band index
            packed = np.empty(n_bands, dtype=_BAND_DTYPE)
            packed["nf"] = 4
            packed["l1"] = packed["l2"] = packed["l3"] = packed["l4"] = 8
            packed["band"] = band_band[:n_bands]
            packed["article_id"] = band_article[:n_bands]
            packed["story_id"] = band_story[:n_bands]
            packed["seen_at"] = seen_us[band_article[:n_bands] - store.articles - 1]
            log(f"load: {n_bands} article_bands rows (binary COPY)")
            with cur.copy(
                "COPY article_bands (band, article_id, story_id, seen_at)"
                " FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.write(_COPY_HEADER)
                step_rows = 1_000_000
                for start in range(0, n_bands, step_rows):
                    copy.write(packed[start : start + step_rows].tobytes())
                    if start and start % 5_000_000 == 0:
                        log(f"load: bands {start}/{n_bands}")
                copy.write(_COPY_TRAILER)
            if anchor_rows:
                _copy_anchors(cur, anchor_rows, seen_us, store.articles)
        pg.execute("SELECT setval('stories_id_seq', %s)", (story - 1,))
        pg.execute("SELECT setval('articles_id_seq', %s)", (article - 1,))
        pg.commit()
    store.families.append(families)
    store.articles = target
    store.stories = story - 1
    store.steps += 1
    seconds = time.perf_counter() - started
    store.load_seconds.append(seconds)
    return seconds


def reused(engine: Engine, sizes: Sequence[int], seed: int) -> Store:
    """What an earlier run of the one size in `sizes` loaded and kept (`--reuse`)."""
    with engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(articles)).scalar_one()
        stories = conn.execute(sa.text("SELECT max(id) FROM stories")).scalar_one()
    if len(sizes) != 1 or count != sizes[0]:
        raise SystemExit(f"--reuse: the database holds {count} articles, not --sizes {sizes}")
    story_count = len(_story_sizes(np.random.default_rng([seed, 0]), count))
    families = max(1, round(story_count * TEMPLATE_SHARE / FAMILY_SIZE))
    return Store(articles=count, stories=stories, families=[families], steps=1, load_seconds=[0.0])


def _vacuum(conninfo: str) -> None:
    log("load: VACUUM ANALYZE")
    with psycopg.connect(conninfo, autocommit=True) as pg:
        for table in ("stories", "articles", "article_bands", *_ANCHOR_TABLE[:HAS_CONTAINMENT]):
            pg.execute(f"VACUUM ANALYZE {table}")


def _wait_for_server(conninfo: str, *, seconds: float = 600.0) -> None:
    """Wait until the server takes connections again (another job restarted it)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with psycopg.connect(conninfo, connect_timeout=5):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)


def _again_if_restarted(what: str, conninfo: str, engine: Engine, attempt: Any) -> Any:
    """`attempt()`, once more (three times at most) when the server restarts under it: a load
    step's rows are committed at once or not at all, and a measurement only reads."""
    for tries in range(3):
        try:
            return attempt()
        except (psycopg.OperationalError, sa.exc.OperationalError, sa.exc.DBAPIError) as exc:
            if tries == 2:
                raise
            log(f"{what}: the server went away ({type(exc).__name__}); waiting, then again")
            _wait_for_server(conninfo)
            engine.dispose()
    raise AssertionError("unreachable")


_ANCHOR_TABLE = ("article_anchors",)


def _copy_anchors(
    cur: Any, rows: list[tuple[tuple[int, ...], int, int]], seen_us: Any, first: int
) -> None:
    """Binary COPY of the anchor rows, in article (time) order as `storage.articles.STORE`
    adds them."""
    total = sum(len(anchors) for anchors, _, _ in rows)
    packed = np.empty(total, dtype=_ANCHOR_DTYPE)
    packed["nf"] = 5
    packed["l1"] = packed["l2"] = packed["l3"] = packed["l5"] = 8
    packed["l4"] = 2
    at = 0
    for anchors, article_id, story_id in rows:
        k = len(anchors)
        packed["anchor"][at : at + k] = anchors
        packed["article_id"][at : at + k] = article_id
        packed["story_id"][at : at + k] = story_id
        packed["anchor_count"][at : at + k] = k
        at += k
    packed["seen_at"] = seen_us[packed["article_id"] - first - 1]
    log(f"load: {total} article_anchors rows (binary COPY)")
    with cur.copy(
        "COPY article_anchors (anchor, article_id, story_id, anchor_count, seen_at)"
        " FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.write(_COPY_HEADER)
        for start in range(0, total, 1_000_000):
            copy.write(packed[start : start + 1_000_000].tobytes())
        copy.write(_COPY_TRAILER)


# --- measurement ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Probe:
    kind: str  # "new" | "exact" | "near" | "summary"
    digest: str
    near: NearPrint | None
    story_id: int | None  # the story it should join (None for new)
    contain: Any = None  # its ContainPrint, if the code has containment and the text one
    text: str = ""


def make_probes(engine: Engine, store: Store, n: int, *, seed: int, draw: int = 0) -> list[Probe]:
    """N new articles, a quarter each: brand-new, exact and near copies of stored ones, and
    feed texts (headline, blank line, first 300 characters) of stored ones."""
    rng = random.Random(f"probes:{seed}:{store.articles}" + (f":{draw}" if draw else ""))
    kinds = [KINDS[i % len(KINDS)] for i in range(n + WARMUP)]
    rng.shuffle(kinds)
    copies = [k for k in kinds if k != "new"]
    ids = rng.sample(range(1, store.articles + 1), len(copies))
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(articles.c.id, articles.c.story_id, articles.c.text).where(
                articles.c.id.in_(ids)
            )
        ).all()
    stored = {r.id: (r.story_id, r.text) for r in rows}
    probes: list[Probe] = []
    picks = iter(ids)
    for kind in kinds:
        if kind == "new":
            family = None
            if rng.random() < TEMPLATE_SHARE:  # a look-alike of a stored template family
                step = rng.randrange(store.steps)
                family = f"{seed}:{step}:{rng.randrange(store.families[step])}"
            text = _render(story_sentences(rng, family))
            story_id = None
        else:
            story_id, stored_text = stored[next(picks)]
            sentences = [
                s.rstrip(".").lower().split() for s in stored_text.split("\n")[0].split(". ")
            ]
            if stored_text.startswith("TOKYO (Kyodo) -- "):
                sentences[0] = sentences[0][3:]  # "tokyo (kyodo) -- first …"
            if kind == "exact":
                text = stored_text + "\n© synthetic wire"
            elif kind == "summary":
                text = f"{title_of(stored_text)}\n\n{feed_summary(stored_text, SUMMARY_CHARS)}"
            else:
                text = copy_text(rng, sentences, rng.choice(("cut", "edit", "extend")))
        contain = contain_print(title_of(text), text) if HAS_CONTAINMENT else None
        probes.append(Probe(kind, content_hash(text), near_print(text), story_id, contain, text))
    return probes


def _assign(conn: Connection, probe: Probe, now: datetime, *, contain: bool) -> Assignment:
    """`assign_story` on a probe, with its containment print or without (as before)."""
    if not HAS_CONTAINMENT:
        return assign_story(conn, probe.digest, probe.near, now=now, window_seconds=WINDOW_SECONDS)
    return assign_story(
        conn,
        probe.digest,
        probe.near,
        contain=probe.contain if contain else None,
        now=now,
        window_seconds=WINDOW_SECONDS,
    )


def _plan(_state: StoryState) -> list[AlertPlan]:
    """One alert on one channel for every story, as a flagged article asks."""
    return [AlertPlan(channel="desk", events=("protest",), rules=("protest",), evidence=())]


def probe_article(probe: Probe, index: int) -> Article:
    """The probe as an article on a URL not stored yet, with a canonical URL and a GUID, so
    every duplicate check runs to its end (a miss)."""
    return Article(
        url=f"https://probe.example/{index}",
        canonical_url=f"https://www.probe.example/{index}",
        guid=f"probe-{index}",
        source="src1",
        title=title_of(probe.text),
        text=probe.text,
        language="en",
    )


def _ingest_probe(conn: Connection, probe: Probe, index: int, now: datetime) -> IngestResult:
    """The whole of `storage.articles.ingest_article` for the probe, on `conn` (the caller
    rolls back): fingerprints, URL, canonical-URL and GUID checks, story assignment, the
    story, article, band and anchor writes, and the outbox row."""
    article = probe_article(probe, index)
    digest = content_hash(article.text)
    near = near_print(article.text)
    contain = contain_print(article.title, article.text) if HAS_CONTAINMENT else None
    return _ingest(
        conn,
        article,
        digest,
        near,
        contain,
        events=("protest",),
        plan=_plan,
        now=now,
        window_seconds=WINDOW_SECONDS,
        key_terms=frozenset(),
        group_window_seconds=GROUP_WINDOW_SECONDS,
    )


def _rows(conn: Connection, query: Any, params: dict[str, Any] | None = None) -> list[Any]:
    """The rows of `query` in either code's shape: a SQLAlchemy statement, or psycopg SQL (a
    string with `params`, or a `storage.engine.Statement`) run on the same connection."""
    if isinstance(query, str):
        query = (query, params or {})
    if isinstance(query, tuple):
        raw = conn.connection.driver_connection
        assert raw is not None
        cursor = raw.execute(query[0], query[1])
        return cursor.fetchall() if cursor.description else []
    return list(conn.execute(query, params or {}).all())


def _duplicate_query(article: Article) -> Any:
    """The duplicate check `_ingest` runs first (built here for code that has no
    `duplicate_query`)."""
    if duplicate_query is not None:
        return duplicate_query(article)
    urls = {article.url, article.canonical_url} - {None}
    same = sa.or_(articles.c.url.in_(urls), articles.c.canonical_url.in_(urls))
    same = sa.or_(
        same, sa.and_(articles.c.source == article.source, articles.c.guid == article.guid)
    )
    return sa.select(sa.exists().where(same))


def _container_query(contain: Any, now: datetime) -> Any:
    """The candidate query of `assign_story` for the anchors alone."""
    return candidate_query(None, contain, since=now - timedelta(seconds=WINDOW_SECONDS))


def _band_candidates(rows: Any) -> list[Candidate]:
    """The band candidates among the rows of `_candidate_query`, in either code's shape."""
    if HAS_CONTAINMENT:  # kind, article, story, signature, title, text
        return [Candidate(r[1], r[2], r[3]) for r in rows if r[0] == "near"]
    return [Candidate(r[0], r[1], r[2]) for r in rows]


def _candidate_query(near: NearPrint, now: datetime) -> Any:
    """The candidate query of `assign_story` for the bands alone."""
    since = now - timedelta(seconds=WINDOW_SECONDS)
    if HAS_CONTAINMENT:
        return candidate_query(near, None, since=since)
    return candidate_query(near, since=since)  # type: ignore[call-arg]


def _assign_alt(conn: Connection, digest: str, near: NearPrint | None, now: datetime) -> Any:
    """`assign_story` as it was: one advisory-lock statement per key, ascending."""
    for key in lock_keys(digest, near):
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
    exact = conn.execute(
        sa.select(articles.c.story_id).where(articles.c.content_hash == digest).limit(1)
    ).scalar_one_or_none()
    if exact is not None:
        return Assignment(story_id=exact, how="exact", score=1.0)
    if near is None:
        return Assignment(story_id=None, how="new")
    rows = _rows(conn, _candidate_query(near, now))
    return best_candidate(near.signature, _band_candidates(rows))


def _percentiles(values: Sequence[float]) -> tuple[float, float, float]:
    if not values:
        return (math.nan, math.nan, math.nan)
    ordered = sorted(values)

    def at(q: float) -> float:  # nearest-rank
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]

    return at(0.50), at(0.95), at(0.99)


@dataclass(slots=True)
class Result:
    size: int
    load_seconds: float
    times: dict[str, list[float]]  # kind (and "all") -> ms
    ingest_times: dict[str, list[float]]  # the whole ingest of the same inputs, kind -> ms
    ingest_outcomes: dict[str, dict[str, int]]
    plain_times: dict[str, list[float]]  # the same calls without containment (as before)
    alt_times: list[float]
    outcomes: dict[str, dict[str, int]]
    plain_outcomes: dict[str, dict[str, int]]
    candidates: dict[str, list[int]]
    containers: dict[str, list[int]]
    phases: dict[str, float]  # phase -> median ms
    sizes: dict[str, int]
    loadavg: float  # 1-minute load average at the end of the timed calls (2 cores)
    alt_differs: int  # calls where the one-statement locks decided otherwise (expect 0)
    statement_ms: tuple[float, float]  # one lock statement: through SQLAlchemy, raw psycopg


def _time_calls(
    engine: Engine, probes: Sequence[Probe], now: datetime, *, alt: bool
) -> Iterator[tuple[Probe, dict[str, tuple[float, Any]]]]:
    """Each probe assigned with containment ("with"), without it as before ("plain"),
    ingested whole ("ingest") and, with `alt`, assigned through the old per-key locks
    ("alt"), one after another, each call in its own rolled-back transaction: ms and
    decision per way. The first call of a probe reads the pages it needs into shared buffers
    for the others, so the order turns each time."""
    ways = ("with", "plain", "ingest", "alt") if alt else ("with", "plain", "ingest")
    with engine.connect() as conn:
        for index, probe in enumerate(probes):
            timed: dict[str, tuple[float, Any]] = {}
            turn = index % len(ways)
            for way in ways[turn:] + ways[:turn]:
                tx = conn.begin()
                started = time.perf_counter()
                got: Any
                if way == "ingest":
                    got = _ingest_probe(conn, probe, index, now)
                elif way == "alt":
                    got = _assign_alt(conn, probe.digest, probe.near, now)
                else:
                    got = _assign(conn, probe, now, contain=way == "with")
                timed[way] = ((time.perf_counter() - started) * 1e3, got)
                tx.rollback()
            if index >= WARMUP:
                yield probe, timed


def _phases(engine: Engine, probes: Sequence[Probe], now: datetime) -> dict[str, float]:
    """Median ms of each step of `assign_story`, timed apart on the same inputs."""
    spent: dict[str, list[float]] = {"locks": [], "exact": [], "candidates": [], "containers": []}
    with engine.connect() as conn:
        for probe in probes[WARMUP:]:
            tx = conn.begin()
            t0 = time.perf_counter()
            if HAS_CONTAINMENT:
                keys = lock_keys(probe.digest, probe.near, probe.contain)
            else:
                keys = lock_keys(probe.digest, probe.near)
            _rows(conn, LOCK_ALL, {"keys": keys})
            t1 = time.perf_counter()
            conn.execute(
                sa.select(articles.c.story_id)
                .where(articles.c.content_hash == probe.digest)
                .limit(1)
            ).scalar_one_or_none()
            t2 = time.perf_counter()
            spent["locks"].append((t1 - t0) * 1e3)
            spent["exact"].append((t2 - t1) * 1e3)
            if probe.kind != "exact" and probe.near is not None:
                rows = _rows(conn, _candidate_query(probe.near, now))
                best_candidate(probe.near.signature, _band_candidates(rows))
                spent["candidates"].append((time.perf_counter() - t2) * 1e3)
            if probe.kind != "exact" and probe.contain is not None:
                t3 = time.perf_counter()
                rows = _rows(conn, _container_query(probe.contain, now))
                found = (ContainerRow(r[1], r[2], body_shingles(r[4], r[5])) for r in rows)
                best_container(probe.contain.shingles, found)
                spent["containers"].append((time.perf_counter() - t3) * 1e3)
            tx.rollback()
    return {name: statistics.median(v) if v else math.nan for name, v in spent.items()}


def _statement_cost(engine: Engine, repeat: int = 1000) -> tuple[float, float]:
    """Median ms of one `SELECT pg_advisory_xact_lock(k)` through SQLAlchemy, and raw psycopg."""
    via_sa: list[float] = []
    raw_times: list[float] = []
    with engine.connect() as conn:
        for key in range(repeat):
            started = time.perf_counter()
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
            via_sa.append((time.perf_counter() - started) * 1e3)
        conn.rollback()
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cur:
            for key in range(repeat):
                started = time.perf_counter()
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
                cur.fetchall()
                raw_times.append((time.perf_counter() - started) * 1e3)
        raw.rollback()
    return statistics.median(via_sa), statistics.median(raw_times)


def _relation_sizes(engine: Engine) -> dict[str, int]:
    tables = ("articles", "article_bands", *_ANCHOR_TABLE[:HAS_CONTAINMENT], "stories")
    with engine.connect() as conn:
        sizes: dict[str, int] = {}
        for table in tables:
            heap, indexes = conn.execute(
                sa.text("SELECT pg_relation_size(:t), pg_indexes_size(:t)"), {"t": table}
            ).one()
            sizes[f"{table} (heap)"] = heap
            sizes[f"{table} (all indexes)"] = indexes
        for name, size in conn.execute(
            sa.text(
                "SELECT indexrelname, pg_relation_size(indexrelid) FROM pg_stat_user_indexes"
                " WHERE relname IN ('articles', 'article_bands', 'article_anchors')"
                " ORDER BY relname, indexrelname"
            )
        ):
            sizes[name] = size
    return sizes


def _count(outcomes: dict[str, dict[str, int]], probe: Probe, got: Assignment) -> None:
    label = got.how
    if probe.story_id is not None and got.story_id not in (None, probe.story_id):
        label += " (other story)"
    if probe.story_id is None and got.story_id is not None:
        label += " (false)"  # a new story joined a stored one: a template look-alike
    outcomes[probe.kind][label] = outcomes[probe.kind].get(label, 0) + 1


def measure(
    engine: Engine, store: Store, n: int, *, seed: int, now: datetime, alt: bool, draw: int = 0
) -> Result:
    probes = make_probes(engine, store, n, seed=seed, draw=draw)
    log(f"measure: {n} calls at {store.articles} articles (+{WARMUP} warm-up), each 2-3 ways")
    times: dict[str, list[float]] = {k: [] for k in (*KINDS, "all")}
    ingest_times: dict[str, list[float]] = {k: [] for k in (*KINDS, "all")}
    ingest_outcomes: dict[str, dict[str, int]] = {k: {} for k in KINDS}
    plain_times: dict[str, list[float]] = {k: [] for k in (*KINDS, "all")}
    outcomes: dict[str, dict[str, int]] = {k: {} for k in KINDS}
    plain_outcomes: dict[str, dict[str, int]] = {k: {} for k in KINDS}
    alt_times: list[float] = []
    alt_differs = 0
    for probe, timed in _time_calls(engine, probes, now, alt=alt):
        for way, into, decided in (
            ("with", times, outcomes),
            ("plain", plain_times, plain_outcomes),
        ):
            elapsed, got = timed[way]
            into[probe.kind].append(elapsed)
            into["all"].append(elapsed)
            _count(decided, probe, got)
        elapsed, ingested = timed["ingest"]
        ingest_times[probe.kind].append(elapsed)
        ingest_times["all"].append(elapsed)
        label = ingested.outcome
        ingest_outcomes[probe.kind][label] = ingest_outcomes[probe.kind].get(label, 0) + 1
        if alt:
            alt_times.append(timed["alt"][0])
            alt_differs += timed["alt"][1] != timed["plain"][1]
    loadavg = os.getloadavg()[0]
    log("measure: phase breakdown and candidate counts")
    phases = _phases(engine, probes, now)
    candidates: dict[str, list[int]] = {k: [] for k in KINDS}
    containers: dict[str, list[int]] = {k: [] for k in KINDS}
    with engine.connect() as conn:
        for probe in probes[WARMUP:]:
            if probe.near is not None:
                count = len(_rows(conn, _candidate_query(probe.near, now)))
                candidates[probe.kind].append(count)
            if probe.contain is not None:
                count = len(_rows(conn, _container_query(probe.contain, now)))
                containers[probe.kind].append(count)
    return Result(
        size=store.articles,
        load_seconds=store.load_seconds[-1],
        times=times,
        ingest_times=ingest_times,
        ingest_outcomes=ingest_outcomes,
        plain_times=plain_times,
        alt_times=alt_times,
        outcomes=outcomes,
        plain_outcomes=plain_outcomes,
        candidates=candidates,
        containers=containers,
        phases=phases,
        sizes=_relation_sizes(engine),
        loadavg=loadavg,
        alt_differs=alt_differs,
        statement_ms=_statement_cost(engine),
    )


def _explain(conn: Connection, query: Any) -> str:
    if isinstance(query, tuple):  # psycopg SQL and its parameters
        sql, params = query[0], query[1]
    else:
        compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
        sql, params = str(compiled), compiled.params
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        plan = "\n".join(row[0] for row in cur.fetchall())
    conn.rollback()
    return f"{' '.join(sql.split())}\n{plan}"


def explain(engine: Engine, now: datetime, seed: int, store: Store) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the duplicate check (URL, canonical URL, GUID), of the
    band candidate query for a near copy, and of the container query for a feed text."""
    probes = make_probes(engine, store, 40, seed=seed + 7)
    near = next(p for p in probes if p.kind == "near" and p.near is not None)
    assert near.near is not None
    with engine.connect() as conn:
        plans = [_explain(conn, _duplicate_query(probe_article(near, 0)))]
        plans.append(_explain(conn, _candidate_query(near.near, now)))
        if HAS_CONTAINMENT:
            summary = next(p for p in probes if p.kind == "summary" and p.contain is not None)
            plans.append(_explain(conn, _container_query(summary.contain, now)))
    return "\n\n".join(plans)


# --- report ---------------------------------------------------------------------------------


def _mb(size: int) -> str:
    return f"{size / 2**20:,.1f}"


def _diagnose(last: Result, growth: float) -> None:
    p95 = _percentiles(last.times["all"])[1]
    print(f"\nDiagnosis (p95 {p95:.2f} ms, growth {growth:.2f}x):")
    print(
        f"- locks take {last.phases['locks']:.2f} ms of the median call (one statement; one"
        f" lock statement {last.statement_ms[0]:.3f} ms through SQLAlchemy,"
        f" {last.statement_ms[1]:.3f} ms raw); the exact lookup {last.phases['exact']:.2f} ms,"
        f" candidates + similarity {last.phases['candidates']:.2f} ms, containers + exact"
        f" containment {last.phases['containers']:.2f} ms"
    )
    if last.alt_times:
        a50, a95, a99 = _percentiles(last.alt_times)
        print(
            f"- all locks in one statement (keys ascending in one bigint[]; unnest keeps the"
            f" order): p50 {a50:.2f}, p95 {a95:.2f}, p99 {a99:.2f} ms at {last.size:,}"
        )


def figures(results: Sequence[Result]) -> dict[str, Any]:
    """The key figures for `--json`: percentiles per size, growth, goals."""
    first, last = results[0], results[-1]
    p95_first = _percentiles(first.times["all"])[1]
    p50_last, p95_last, _ = _percentiles(last.times["all"])
    growth = p95_last / p95_first
    plain_p95 = _percentiles(last.plain_times["all"])[1]
    runs = [r for r in results if r.size == last.size]
    ingest = [_percentiles(r.ingest_times["all"]) for r in runs]
    ingest_p50 = statistics.median(p[0] for p in ingest)
    ingest_p95 = statistics.median(p[1] for p in ingest)
    ingest_p99 = statistics.median(p[2] for p in ingest)
    met = p95_last < TARGET_P95_MS and growth < 2 and ingest_p95 <= TARGET_INGEST_P95_MS
    names = ("p50_ms", "p95_ms", "p99_ms")
    per_size = {
        str(r.size): {
            k: round(v, 3) for k, v in zip(names, _percentiles(r.times["all"]), strict=True)
        }
        for r in results
    }
    return {
        "benchmark": "dedup_scale",
        "sizes": per_size,
        "p95_ms": round(p95_last, 3),
        "p95_without_containment_ms": round(plain_p95, 3),
        "ingest_runs": len(runs),
        "ingest_p50_ms": round(ingest_p50, 3),
        "ingest_p95_ms": round(ingest_p95, 3),
        "ingest_p99_ms": round(ingest_p99, 3),
        "ingest_target_p95_ms": TARGET_INGEST_P95_MS,
        "loadavg": [round(r.loadavg, 2) for r in runs],
        "growth": round(growth, 3),
        "target_p95_ms": TARGET_P95_MS,
        "met": met,
        "code": CODE,
        "row": {
            "benchmark": f"story assignment at {last.size:,} articles",
            "kurilwatch": f"p95 {p95_last:.2f} ms (p50 {p50_last:.2f}) at {last.size:,}"
            f" ({plain_p95:.2f} ms without containment); whole ingest p95 {ingest_p95:.2f} ms"
            f" (p50 {ingest_p50:.2f}, median of {len(runs)})",
            "baseline": f"p95 {p95_first:.2f} ms at {first.size:,}",
            "figure": f"growth {growth:.2f}x",
            "target": f"p95 < {TARGET_P95_MS:g} ms, growth < 2x,"
            f" ingest p95 <= {TARGET_INGEST_P95_MS:g} ms",
            "met": met,
        },
    }


def report(results: Sequence[Result], plan: str | None, workers: int) -> None:
    print("\nStory assignment (storage.assign.assign_story), one call per transaction, ms;")
    print("plain: the same calls without containment (bands only, as before), right after each")
    header = f"{'articles':>9} {'load s':>7} {'kind':>7} {'n':>4} {'p50':>6} {'p95':>6} {'p99':>6}"
    header += f" {'plain p50':>9} {'plain p95':>9} {'plain p99':>9}"
    print(header + f" {'alt p50':>8} {'alt p95':>8} {'alt p99':>8} {'loadavg':>8}")
    for r in results:
        for kind in ("all", *KINDS):
            p50, p95, p99 = _percentiles(r.times[kind])
            line = f"{r.size:>9,} {r.load_seconds:>7.1f} {kind:>7} {len(r.times[kind]):>4}"
            line += f" {p50:>6.2f} {p95:>6.2f} {p99:>6.2f}"
            q50, q95, q99 = _percentiles(r.plain_times[kind])
            line += f" {q50:>9.2f} {q95:>9.2f} {q99:>9.2f}"
            if kind == "all" and r.alt_times:
                a50, a95, a99 = _percentiles(r.alt_times)
                line += f" {a50:>8.2f} {a95:>8.2f} {a99:>8.2f}"
            if kind == "all":
                line += f" {r.loadavg:>8.2f}"
            print(line)
    print("\nWhole ingest (storage.articles.ingest_article's work: fingerprints, URL,")
    print("canonical-URL and GUID checks, assignment, story/article/band/anchor writes, one")
    print("outbox row), one call per rolled-back transaction, ms; outcomes")
    print(f"{'articles':>9} {'kind':>7} {'n':>4} {'p50':>6} {'p95':>6} {'p99':>6}")
    for r in results:
        for kind in ("all", *KINDS):
            p50, p95, p99 = _percentiles(r.ingest_times[kind])
            done = ", ".join(f"{k} {v}" for k, v in sorted(r.ingest_outcomes.get(kind, {}).items()))
            print(
                f"{r.size:>9,} {kind:>7} {len(r.ingest_times[kind]):>4} {p50:>6.2f} {p95:>6.2f}"
                f" {p99:>6.2f} {done}"
            )
    first, last = results[0], results[-1]
    runs = [r for r in results if r.size == last.size]
    if len(runs) > 1:
        ingest = [_percentiles(r.ingest_times["all"]) for r in runs]
        assign = [_percentiles(r.times["all"]) for r in runs]
        print(
            f"\nmedians of {len(runs)} runs at {last.size:,}: whole ingest p50"
            f" {statistics.median(p[0] for p in ingest):.2f}, p95"
            f" {statistics.median(p[1] for p in ingest):.2f}, p99"
            f" {statistics.median(p[2] for p in ingest):.2f} ms; assignment p95"
            f" {statistics.median(p[1] for p in assign):.2f} ms; load averages"
            f" {', '.join(f'{r.loadavg:.2f}' for r in runs)}"
        )
    growth = _percentiles(last.times["all"])[1] / _percentiles(first.times["all"])[1]
    p95_last = _percentiles(last.times["all"])[1]
    print(
        f"\np95 growth {first.size:,} -> {last.size:,}: {growth:.2f}x (goal < 2x); "
        f"p95 at {last.size:,}: {p95_last:.2f} ms (goal < {TARGET_P95_MS} ms)"
    )
    print("\nPhase medians (ms; timed apart on the same inputs; candidates and containers:")
    print("all but exact copies)")
    print(f"{'articles':>9} {'locks':>7} {'exact':>7} {'candidates':>11} {'containers':>11}")
    for r in results:
        print(
            f"{r.size:>9,} {r.phases['locks']:>7.2f} {r.phases['exact']:>7.2f}"
            f" {r.phases['candidates']:>11.2f} {r.phases['containers']:>11.2f}"
        )
    print(
        "\nOne `SELECT pg_advisory_xact_lock(k)` (median ms; the old per-key way paid this 26"
        " times): through SQLAlchemy / raw psycopg"
    )
    for r in results:
        print(f"{r.size:>9,} {r.statement_ms[0]:.3f} / {r.statement_ms[1]:.3f}")
    print("\nDecisions per kind with containment (and without), band candidates and containers")
    print("fetched per call (mean / max)")
    for r in results:
        for kind in KINDS:
            counts, fetched = r.candidates[kind], r.containers[kind]
            cand = f"{statistics.mean(counts):.2f} / {max(counts)}" if counts else "-"
            cont = f"{statistics.mean(fetched):.2f} / {max(fetched)}" if fetched else "-"
            outcome = ", ".join(f"{k} {v}" for k, v in sorted(r.outcomes[kind].items()))
            plain = ", ".join(f"{k} {v}" for k, v in sorted(r.plain_outcomes[kind].items()))
            print(
                f"{r.size:>9,} {kind:>7}: {outcome:30} ({plain:>20}) candidates {cand},"
                f" containers {cont}"
            )
    print("\nRelation sizes (MB)")
    names = list(last.sizes)
    print(f"{'relation':42}" + "".join(f" {r.size:>11,}" for r in results))
    for name in names:
        print(f"{name:42}" + "".join(f" {_mb(r.sizes.get(name, 0)):>11}" for r in results))
    print(f"\nload: {workers} worker processes for texts and near prints, COPY, VACUUM ANALYZE")
    if last.alt_times:
        differs = sum(r.alt_differs for r in results)
        print(f"per-key locks (alt): {differs} decisions differ from assign_story's (expect 0)")
    if p95_last >= TARGET_P95_MS or growth >= 2:
        _diagnose(last, growth)
    if plan:
        print(f"\nEXPLAIN (ANALYZE, BUFFERS) of the band and container queries at {last.size:,}:")
        print(plan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--n", type=int, default=500, help="timed calls per size")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--no-alt", action="store_true", help="skip timing the old per-key locks")
    parser.add_argument("--code", metavar="DIR", help="import the measured code from DIR")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    parser.add_argument(
        "--reuse",
        metavar="NAME",
        help="measure a database an earlier run of one size kept (--keep), upgraded to this"
        " code's schema, instead of loading one; it is kept again",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="measure the largest size N times (new probes)"
    )
    args = parser.parse_args()
    if CODE is not None and not os.path.isfile(os.path.join(CODE, "storage", "assign.py")):
        parser.error(f"--code {args.code}: not a kurilwatch checkout")
    sizes = sorted(int(s) for s in args.sizes.split(","))
    name = args.reuse or f"kw_bench_scale_{os.getpid()}"
    admin = sa.create_engine(database_url(ADMIN), isolation_level="AUTOCOMMIT")
    if not args.reuse:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(ADMIN).set(database=name)
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    engine = sa.create_engine(database_url(conninfo))
    log(f"database {name}")
    started = time.perf_counter()
    try:
        upgrade_schema(engine)
        now = datetime.now(UTC)
        store = reused(engine, sizes, args.seed) if args.reuse else Store()
        results: list[Result] = []
        for size in sizes:

            def load(size: int = size) -> float:
                if store.articles >= size:  # committed before the server went away
                    return store.load_seconds[-1]
                return load_step(
                    conninfo,
                    store,
                    size,
                    horizon=sizes[-1],
                    seed=args.seed,
                    workers=args.workers,
                    now=now,
                )

            seconds = _again_if_restarted("load", conninfo, engine, load)
            _again_if_restarted("vacuum", conninfo, engine, lambda: _vacuum(conninfo))
            log(f"loaded {size} articles in {seconds:.1f} s")
            results.append(
                _again_if_restarted(
                    "measure",
                    conninfo,
                    engine,
                    lambda: measure(
                        engine, store, args.n, seed=args.seed, now=now, alt=not args.no_alt
                    ),
                )
            )
            p50, p95, _ = _percentiles(results[-1].times["all"])
            i50, i95, _ = _percentiles(results[-1].ingest_times["all"])
            log(
                f"{size} articles: assignment p50 {p50:.2f} ms, p95 {p95:.2f} ms;"
                f" whole ingest p50 {i50:.2f} ms, p95 {i95:.2f} ms"
            )
        for again in range(1, args.repeat if sizes else 1):
            results.append(
                _again_if_restarted(
                    "measure",
                    conninfo,
                    engine,
                    lambda again=again: measure(
                        engine, store, args.n, seed=args.seed, now=now, alt=False, draw=again
                    ),
                )
            )
            i50, i95, _ = _percentiles(results[-1].ingest_times["all"])
            log(f"run {again + 1}: whole ingest p50 {i50:.2f} ms, p95 {i95:.2f} ms")
        plan = _again_if_restarted(
            "explain", conninfo, engine, lambda: explain(engine, now, args.seed, store)
        )
        report(results, plan, args.workers)
        print(f"\ntotal run {time.perf_counter() - started:.0f} s")
        if args.json:
            print(json.dumps(figures(results)))
    finally:
        engine.dispose()
        if args.keep or args.reuse:  # a reused load took minutes: never dropped by a measure
            log(f"kept database {name}")
        else:

            def drop() -> None:
                with admin.connect() as conn:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

            _again_if_restarted("drop", conninfo.replace(name, "postgres"), admin, drop)
        admin.dispose()


if __name__ == "__main__":
    main()

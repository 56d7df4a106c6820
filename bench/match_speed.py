"""Time the shipped rules on 5 KB articles, per language, and the rules' compile time.

Usage:
    python bench/match_speed.py [--size 5000] [--articles 200] [--repeat 5]

Articles are built from the project's own labelled cases (tests/fixtures/rule_cases.jsonl):
for each language, texts of that language are joined in a shuffled order (fixed seed) until
the article holds `--size` characters of text (UTF-8 bytes would be 2-3 times more for
Russian and Japanese; characters are what a reader sees as length). Each article is matched
`--repeat` times (the first on a cold per-article index, as in the daemon: every article
is indexed once) and the median and 95th percentile of one `match_article` call are printed,
with the compile time of the shipped rules in a fresh process (dictionaries loaded) and
again (warm). Nothing is written to disk.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from alerts.rules import compile_rules, load_default_rules, match_article  # noqa: E402

CASES = ROOT / "tests" / "fixtures" / "rule_cases.jsonl"


def articles(language: str, size: int, count: int, seed: int = 14) -> list[str]:
    """`count` articles of at least `size` characters from the cases in `language`."""
    texts = [
        item["text"]
        for item in map(json.loads, CASES.read_text(encoding="utf-8").splitlines())
        if item["language"] == language
    ]
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        parts: list[str] = []
        while sum(map(len, parts)) < size:
            parts.append(rng.choice(texts))
        out.append("\n".join(parts)[: size + 200])
    return out


def main(argv: list[str] | None = None) -> int:
    """Print the timing table; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=5000)
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    probe = (
        "import time; t = time.perf_counter(); "
        "from alerts.rules import compile_rules, load_default_rules; "
        "compile_rules(*load_default_rules()); print(time.perf_counter() - t)"
    )
    cold = float(
        subprocess.run(
            [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
    )
    started = time.perf_counter()
    ruleset = compile_rules(*load_default_rules())
    warm = time.perf_counter() - started
    print(f"compile the shipped rules: {cold * 1000:.0f} ms in a fresh process (imports and")
    print(f"  dictionaries included), {warm * 1000:.0f} ms again\n")
    print(f"{'language':<10}{'articles':>9}{'chars':>7}{'median ms':>11}{'p95 ms':>8}{'max ms':>8}")
    for language in ("en", "ru", "ja"):
        batch = articles(language, args.size, args.articles)
        times = []
        for text in batch:
            for _ in range(args.repeat):
                t = time.perf_counter()
                match_article(ruleset, title=None, text=text, language=language)
                times.append((time.perf_counter() - t) * 1000)
        times.sort()
        p95 = times[int(len(times) * 0.95) - 1]
        mean_chars = statistics.mean(map(len, batch))
        print(
            f"{language:<10}{len(batch):>9}{mean_chars:>7.0f}{statistics.median(times):>11.2f}"
            f"{p95:>8.2f}{times[-1]:>8.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

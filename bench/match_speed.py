"""Time the shipped rules on 5 KB articles, per language, and the rules' compile time.

Usage:
    python bench/match_speed.py [--size 5000] [--chars] [--articles 200] [--repeat 5]

Articles are built from the project's own labelled cases (tests/fixtures/rule_cases.jsonl):
for each language, texts of that language are joined in a shuffled order (fixed seed) until
the article holds `--size` bytes of UTF-8 text (5 KB is about 5,000 characters of English,
2,800 of Russian, 1,700 of Japanese), or `--size` characters with `--chars` (three times the
bytes in Japanese: a stress far beyond a news article). Each article is matched
`--repeat` times (the first on a cold per-article index, as in the daemon: every article
is indexed once) and the median and 95th percentile of one `match_article` call are printed,
in CPU time of the calling thread (so that other work on a loaded machine does not count),
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


def articles(
    language: str, size: int, count: int, seed: int = 14, *, chars: bool = True
) -> list[str]:
    """`count` articles of `size` characters (or UTF-8 bytes) from the cases in `language`."""
    texts = [
        item["text"]
        for item in map(json.loads, CASES.read_text(encoding="utf-8").splitlines())
        if item["language"] == language
    ]
    rng = random.Random(seed)
    out = []

    def length(text: str) -> int:
        return len(text) if chars else len(text.encode("utf-8"))

    for _ in range(count):
        parts: list[str] = []
        while length("\n".join(parts)) < size:
            parts.append(rng.choice(texts))
        text = "\n".join(parts)
        while length(text) > size:  # cut to the size, at a character
            text = text[: len(text) - max(1, (length(text) - size) // 4)]
        out.append(text)
    return out


def main(argv: list[str] | None = None) -> int:
    """Print the timing table; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=5000)
    parser.add_argument("--chars", action="store_true", help="size in characters, not bytes")
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
    compile_rules(*load_default_rules())  # imports and dictionaries, as in the fresh process
    started = time.perf_counter()
    ruleset = compile_rules(*load_default_rules())
    warm = time.perf_counter() - started
    print(f"compile the shipped rules: {cold * 1000:.0f} ms in a fresh process (imports and")
    print(f"  dictionaries included), {warm * 1000:.0f} ms again\n")
    unit = "characters" if args.chars else "bytes of UTF-8"
    print(f"articles of {args.size} {unit}, CPU time of one match_article call:\n")
    print(f"{'language':<10}{'articles':>9}{'chars':>7}{'median ms':>11}{'p95 ms':>8}{'max ms':>8}")
    for language in ("en", "ru", "ja"):
        batch = articles(language, args.size, args.articles, chars=args.chars)
        times = []
        for text in batch:
            for _ in range(args.repeat):
                t = time.thread_time()
                match_article(ruleset, title=None, text=text, language=language)
                times.append((time.thread_time() - t) * 1000)
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

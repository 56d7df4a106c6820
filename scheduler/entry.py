"""The `kurilwatch` console script's entry point, kept light on purpose.

Extraction worker processes are started with "spawn", which re-imports the parent's main
module, the console script, in each worker. The script imports this module only, and the
command line (click, pydantic, SQLAlchemy, Scrapy…) is imported when `main` runs, which a
worker never does: each worker starts ~0.3 s sooner and smaller.
"""

from __future__ import annotations


def main() -> None:
    """Run the `kurilwatch` command line."""
    from scheduler.cli import main as cli

    cli()

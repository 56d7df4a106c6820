"""The Apprise sender's own process: one notification in, one word out.

Apprise's `notify` blocks, and a thread running it cannot be stopped from outside, so
`alerts.delivery` runs each Apprise attempt in a process of its own (`python -m
alerts.apprise_worker`) and kills it at the attempt's deadline. The job comes on standard
input as one JSON object `{"url", "title", "body"}`; standard output says `ready` once
Apprise is loaded, then one of `delivered`, `failed` or `not-an-apprise-url`. The URL is a
secret: it travels only on the pipe, and nothing here prints it (Apprise's own log goes to
standard error, which the parent discards).
"""

from __future__ import annotations

import json
import sys

READY = "ready"
DELIVERED = "delivered"
FAILED = "failed"
NOT_APPRISE = "not-an-apprise-url"


def main() -> int:
    """Send the job on standard input once; the answer is on standard output."""
    job = json.loads(sys.stdin.buffer.read())
    import apprise

    print(READY, flush=True)
    sender = apprise.Apprise()
    if not sender.add(job["url"]):
        print(NOT_APPRISE, flush=True)
        return 0
    ok = sender.notify(title=job["title"], body=job["body"])
    print(DELIVERED if ok else FAILED, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

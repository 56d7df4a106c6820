"""The Apprise sender: a process of its own that a deadline can kill.

Apprise's `notify` blocks, and a thread running it cannot be stopped from outside, so each
Apprise attempt runs in a sender process (`python -m alerts.apprise_worker`), never in a
thread the daemon's other work shares. `AppriseSender` is the daemon's side: it starts the
process, hands it one notification at a time, and kills it when an answer does not come by
the attempt's deadline (the next attempt starts a fresh one); an idle sender exits after
`IDLE_SECONDS`. `main` is the process's side: it loads Apprise, says `ready`, then for each
job line on standard input (JSON `{"url", "title", "body"}`) sends it and answers one line:
`delivered`, `failed` or `not-an-apprise-url`. The URL is a secret: it travels only on the
pipe, and nothing here prints it (Apprise's own log goes to standard error, discarded).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from asyncio.subprocess import DEVNULL, PIPE, Process

READY = "ready"
DELIVERED = "delivered"
FAILED = "failed"
NOT_APPRISE = "not-an-apprise-url"
START_SECONDS = 20.0
"""How long a sender may take to start and load Apprise, before an attempt's deadline starts
counting; it is killed when it takes longer."""
IDLE_SECONDS = 60.0
"""A sender with nothing to send for this long exits (its memory goes back)."""


class SenderGone(Exception):
    """The sender process did not start, or stopped before answering."""


class AppriseSender:
    """One sender process, reused from attempt to attempt; one attempt at a time."""

    def __init__(self, *, idle_seconds: float = IDLE_SECONDS) -> None:
        self.idle_seconds = idle_seconds
        self._proc: Process | None = None
        self._lock = asyncio.Lock()
        self._idle: asyncio.TimerHandle | None = None

    async def send(self, url: str, title: str, body: str, *, timeout: float) -> str:
        """Send one notification; its answer (`DELIVERED`, `FAILED` or `NOT_APPRISE`).

        The sender is started first if none runs (within `START_SECONDS`); the send itself
        has `timeout` seconds, after which the process is killed.

        Raises:
            TimeoutError: No answer within `timeout` (the process was killed).
            SenderGone: The process did not start, or died before answering.
        """
        job = json.dumps({"url": url, "title": title, "body": body}).encode("utf-8") + b"\n"
        async with self._lock:
            if self._idle is not None:
                self._idle.cancel()
            try:
                proc = await self._started()
                assert proc.stdin is not None and proc.stdout is not None
                proc.stdin.write(job)
                await proc.stdin.drain()
                async with asyncio.timeout(timeout):
                    answer = (await proc.stdout.readline()).decode().strip()
                if not answer:
                    raise SenderGone("the Apprise sender stopped before answering")
            except BaseException as exc:
                await self._kill()
                if isinstance(exc, ConnectionError):
                    raise SenderGone("the Apprise sender stopped before sending") from exc
                raise
            self._idle = asyncio.get_running_loop().call_later(self.idle_seconds, self._stop_idle)
            return answer

    async def _started(self) -> Process:
        proc = self._proc
        if proc is not None and proc.returncode is None:
            assert proc.stdin is not None
            if not proc.stdin.is_closing():
                return proc
        await self._kill()  # gone, or told to exit when idle: a fresh one
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", __name__, stdin=PIPE, stdout=PIPE, stderr=DEVNULL
        )
        self._proc = proc
        assert proc.stdout is not None
        try:
            async with asyncio.timeout(START_SECONDS):
                ready = (await proc.stdout.readline()).decode().strip()
        except TimeoutError:
            raise SenderGone(
                f"the Apprise sender did not start within {START_SECONDS:g}s"
            ) from None
        if ready != READY:
            raise SenderGone("the Apprise sender stopped while starting")
        return proc

    def _stop_idle(self) -> None:
        if not self._lock.locked() and self._proc is not None and self._proc.stdin is not None:
            self._proc.stdin.close()  # end of input: it exits by itself

    async def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):  # it has just exited by itself
                proc.kill()
        await proc.wait()

    async def aclose(self) -> None:
        """Stop the sender process, if one runs."""
        if self._idle is not None:
            self._idle.cancel()
        await self._kill()


def main() -> int:
    """Load Apprise, say so, then send each job on standard input and answer each."""
    import apprise

    print(READY, flush=True)
    for line in sys.stdin.buffer:
        job = json.loads(line)
        sender = apprise.Apprise()
        if not sender.add(job["url"]):
            print(NOT_APPRISE, flush=True)
            continue
        ok = sender.notify(title=job["title"], body=job["body"])
        print(DELIVERED if ok else FAILED, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Delivery: send one claimed alert to its channel and sort the answer once.

`classify` turns an HTTP answer into a `Delivered`, `Retry` or `Reject` decision (2xx is
delivered, for Slack only the body `ok`; transport errors, timeouts, 5xx and 429 are retried;
other 4xx and Slack's permanent error codes are rejected). `next_attempt` is the pure
backoff of `kurilwatch.backoff` (full jitter, `Retry-After` honoured), dead after
`give_up_after`. `send` is the edge: it posts with httpx under a total deadline that also
covers a body trickling in slowly; an Apprise attempt (whose `notify` blocks) runs in a
sender process (`alerts.apprise_worker`), killed at the deadline, never in a thread the
daemon's other work shares. `attempt_lease` is how long a claimed alert stays with its
worker: the longest an attempt can last, plus a margin, so no other worker claims an alert
whose attempt still runs. Webhook URLs are secrets: no message here contains one.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

import httpx

from alerts import apprise_worker
from alerts.apprise_worker import AppriseSender
from alerts.render import (
    apprise_message,
    console_text,
    slack_message,
    slack_preview,
    webhook_body,
)
from kurilwatch.backoff import Backoff, next_try, retry_after
from kurilwatch.config import ChannelConfig, DeliveryConfig
from kurilwatch.model import Notice

SLACK_PERMANENT = frozenset(
    {
        "invalid_payload",
        "no_text",
        "channel_not_found",
        "channel_is_archived",
        "no_service",
        "action_prohibited",
        "user_not_found",
        "invalid_token",
        "missing_text_or_fallback_or_attachments",
    }
)


@dataclass(frozen=True, slots=True)
class Delivered:
    """The receiver took the alert (`payload`: the JSON it was sent, if any)."""

    status: int | None = None
    payload: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Retry:
    """Try again later; `after` is the receiver's Retry-After in seconds, if it sent one."""

    reason: str
    after: float | None = None


@dataclass(frozen=True, slots=True)
class Reject:
    """The receiver refused the alert for good."""

    reason: str


Outcome = Delivered | Retry | Reject

LEASE_MARGIN = 15.0
"""Added to the longest attempt in a lease: from the claim to the attempt's start (rendering,
starting the sender) and from its end to the record, on a loaded machine."""


def attempt_lease(kind: str, timeout: float) -> float:
    """Seconds a claimed alert on a `kind` channel stays leased: the longest an attempt with
    deadline `timeout` can last (an Apprise attempt may also start its sender), plus
    `LEASE_MARGIN`."""
    start = apprise_worker.START_SECONDS if kind == "apprise" else 0.0
    return start + timeout + LEASE_MARGIN


def classify(
    kind: str, status: int, headers: Mapping[str, str], body: bytes, *, now: datetime
) -> Outcome:
    """Sort one HTTP answer from a `slack` or `webhook` channel."""
    text = body[:200].decode("utf-8", "replace").strip()
    if 200 <= status < 300:
        if kind == "slack" and text != "ok":
            if text in SLACK_PERMANENT:
                return Reject(f"slack answered {status} {text}")
            return Retry(f"slack answered {status} {text!r} instead of ok")
        return Delivered(status)
    if status == 429 or status >= 500:
        return Retry(f"HTTP {status}", after=retry_after(headers.get("retry-after"), now=now))
    if status == 408:
        return Retry("HTTP 408")
    detail = f" {text}" if kind == "slack" and text else ""
    return Reject(f"HTTP {status}{detail}")


def next_attempt(
    outcome: Retry,
    *,
    attempts: int,
    created_at: datetime,
    now: datetime,
    config: DeliveryConfig,
    rng: random.Random,
) -> datetime | None:
    """When to try again after the `attempts`-th failed attempt; None once it is time to give up.

    The schedule of `kurilwatch.backoff` with `retry_initial`, `retry_max` and `give_up_after`;
    never sooner than the receiver's Retry-After.
    """
    backoff = Backoff(
        initial=config.retry_initial, cap=config.retry_max, give_up=config.give_up_after
    )
    return next_try(
        backoff, attempts=attempts, began_at=created_at, now=now, rng=rng, after=outcome.after
    )


async def send(
    client: httpx.AsyncClient | None,
    channel: ChannelConfig,
    notice: Notice,
    *,
    timeout: float,
    now: datetime,
    out: TextIO | None = None,
    apprise: AppriseSender | None = None,
) -> Outcome:
    """Deliver one alert to one channel, within `timeout` seconds in all (an Apprise channel
    through `apprise`, the daemon's sender for it, or a one-off sender without it)."""
    alert = notice.alert
    if channel.kind == "console":
        text = slack_preview(notice) if channel.format == "slack" else console_text(notice)
        print(text + "\n", file=out or sys.stdout, flush=True)
        return Delivered()
    assert channel.url is not None  # the configuration guarantees it
    url = channel.url.get_secret_value()
    if channel.kind == "apprise":
        return await _send_apprise(url, notice, timeout=timeout, sender=apprise)
    assert client is not None  # the drain makes one for Slack and webhook channels
    payload = slack_message(notice) if channel.kind == "slack" else webhook_body(notice)
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    headers = {"content-type": "application/json", "webhook-id": alert.id}
    if channel.secret is not None:
        headers.update(_signature(channel.secret.get_secret_value(), alert.id, body, now))
    try:
        async with asyncio.timeout(timeout):
            response = await client.post(url, content=body, headers=headers)
    except TimeoutError:
        return Retry(f"no answer within {timeout:g}s")
    except httpx.HTTPError as exc:
        return Retry(f"transport error: {type(exc).__name__}")
    outcome = classify(
        channel.kind, response.status_code, response.headers, response.content, now=now
    )
    return Delivered(outcome.status, payload) if isinstance(outcome, Delivered) else outcome


def _signature(secret: str, msg_id: str, body: bytes, now: datetime) -> dict[str, str]:
    from standardwebhooks.webhooks import Webhook

    timestamp = now.replace(microsecond=0)
    signature = Webhook(secret).sign(msg_id, timestamp, body.decode("utf-8"))
    return {"webhook-timestamp": str(int(timestamp.timestamp())), "webhook-signature": signature}


async def _send_apprise(
    url: str, notice: Notice, *, timeout: float, sender: AppriseSender | None
) -> Outcome:
    """Send through Apprise in the sender process (a one-off one without `sender`)."""
    title, body = apprise_message(notice)
    own = sender is None
    sender = sender or AppriseSender()
    try:
        answer = await sender.send(url, title, body, timeout=timeout)
    except TimeoutError:
        return Retry(f"no answer within {timeout:g}s")
    except apprise_worker.SenderGone as exc:
        return Retry(str(exc))
    finally:
        if own:
            await sender.aclose()
    if answer == apprise_worker.NOT_APPRISE:
        return Reject("the channel url is not an Apprise URL")
    if answer == apprise_worker.DELIVERED:
        return Delivered()
    return Retry("apprise reported a failure")

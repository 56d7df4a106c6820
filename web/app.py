"""The web pages, feeds and API as aiohttp handlers on the `listen:` server.

`install(app, ui)` adds them to the application `scheduler.metrics.serve` builds, beside
`/healthz` and `/metrics`, which stay as they are (open, no security headers added). Every
other path:

- is refused with 401 unless the request carries `ui.auth`'s credentials when it is set
  (`Authorization: Bearer TOKEN`, or basic auth: the user name and password, or any user
  name and the token as password);
- is read-only (GET), except `POST /stories/ID/labels`, whose form must carry the CSRF token
  the story page put in both the form and a `SameSite=Strict` cookie, from a page of this
  origin (an `Origin` header, when sent, must be this server's);
- is sent with a Content-Security-Policy that allows only this server's own scripts and
  styles (no inline script), `nosniff`, `frame-ancestors 'none'`, and a referrer only to
  this origin (`no-referrer` would make a browser send `Origin: null` with the label form).

Database reads and template rendering run in a worker thread, never on the event loop.
Templates autoescape; links to story URLs go through `web.views.safe_href`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from jinja2 import Environment, PackageLoader
from sqlalchemy.engine import Engine

from kurilwatch.config import UiAuthConfig
from kurilwatch.errors import StoryNotFound
from storage.timeline import (
    ALERT_STATES,
    MAX_PAGE,
    TimelinePage,
    TimelineStory,
    TimelineView,
    story_detail,
    timeline,
    timeline_choices,
)
from web import api, feeds
from web.views import BadFilter, by_day, cursor, filter_query, parse_view, safe_href

log = logging.getLogger(__name__)

OPEN_PATHS = frozenset({"/healthz", "/metrics"})
CSRF_COOKIE = "kw_csrf"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
FEED_ITEMS = 50
STATIC = Path(__file__).parent / "static"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True, kw_only=True)
class WebUi:
    """What the pages need from the daemon.

    Attributes:
        engine: The database.
        zone: `ui.timezone`.
        auth: `ui.auth`, or None (loopback only: the configuration enforces it).
        events: The events of the rules in force now (they reload with the rules).
        safe_urls: The source URLs the configuration marks `redact_url: false`: shown
            whole; every other stored source URL is shown redacted.
    """

    engine: Engine
    zone: ZoneInfo
    auth: UiAuthConfig | None
    events: Callable[[], Sequence[str]]
    safe_urls: frozenset[str] = frozenset()


def authorized(header: str | None, auth: UiAuthConfig) -> bool:
    """Whether an `Authorization` header carries `auth`'s credentials (constant time)."""
    if not header:
        return False
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    token = auth.token.get_secret_value().encode() if auth.token else None
    if scheme.lower() == "bearer":
        return token is not None and hmac.compare_digest(value.encode(), token)
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    if token is not None:
        return hmac.compare_digest(password.encode(), token)
    expected = auth.password.get_secret_value().encode() if auth.password else b""
    same_user = hmac.compare_digest(user.encode(), (auth.username or "").encode())
    return hmac.compare_digest(password.encode(), expected) and same_user


def _middleware(ui: WebUi) -> Any:
    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in OPEN_PATHS:
            return await handler(request)
        if ui.auth is not None and not authorized(request.headers.get("Authorization"), ui.auth):
            response: web.StreamResponse = web.Response(
                status=401,
                text="kurilwatch: credentials required (ui.auth)\n",
                headers={"WWW-Authenticate": 'Basic realm="kurilwatch", charset="UTF-8"'},
            )
        else:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                exc.headers.update(SECURITY_HEADERS)
                raise
        response.headers.update(SECURITY_HEADERS)
        return response

    return guard


class Pages:
    """The handlers, bound to one `WebUi` and one template environment."""

    def __init__(self, ui: WebUi) -> None:
        self.ui = ui
        self.templates = Environment(
            loader=PackageLoader("web", "templates"), autoescape=True, trim_blocks=True
        )
        self.templates.filters["local"] = self._local
        self.templates.globals.update(
            safe_href=safe_href, states=ALERT_STATES, zone_name=str(ui.zone)
        )

    def _local(self, moment: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment)
        return moment.astimezone(self.ui.zone).strftime(fmt) if moment is not None else ""

    def _html(self, name: str, status: int = 200, **values: Any) -> web.Response:
        body = self.templates.get_template(name).render(**values)
        return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")

    def _view(self, request: web.Request, **defaults: Any) -> TimelineView:
        params = dict(request.query)
        for key, value in defaults.items():
            params.setdefault(key, value)
        try:
            return parse_view(params, self.ui.zone, getall=request.query.getall)
        except BadFilter as exc:
            raise web.HTTPBadRequest(text=f"kurilwatch: {exc}\n") from None

    async def index(self, request: web.Request) -> web.Response:
        view = self._view(request)

        def render() -> web.Response:
            page = timeline(self.ui.engine, view)
            options = timeline_choices(self.ui.engine)
            return self._html(
                "timeline.html",
                view=view,
                days=by_day(page.groups, self.ui.zone),
                page=page,
                events=list(dict.fromkeys([*self.ui.events(), *options["events"]])),
                languages=options["languages"],
                sources=options["sources"],
                query=filter_query(view, self.ui.zone),
                to_day=(
                    (view.until.astimezone(self.ui.zone).date() - timedelta(days=1)).isoformat()
                    if view.until is not None
                    else ""
                ),
                next_query=(
                    filter_query(view, self.ui.zone, before=cursor(page.next_before))
                    if page.next_before
                    else None
                ),
            )

        return await asyncio.to_thread(render)

    async def story(self, request: web.Request) -> web.Response:
        story_id = int(request.match_info["id"])
        token = request.cookies.get(CSRF_COOKIE) or ""
        fresh = len(token) < 32
        if fresh:
            token = secrets.token_urlsafe(32)

        def render() -> web.Response:
            try:
                detail = story_detail(self.ui.engine, story_id)
            except StoryNotFound:
                raise web.HTTPNotFound(text=f"kurilwatch: no story {story_id}\n") from None
            in_force = list(self.ui.events())
            return self._html(
                "story.html",
                detail=detail,
                item=detail.item,
                csrf=token,
                wrong_events=[e for e in detail.item.events if e in in_force],
                missed_events=[e for e in in_force if e not in detail.item.events],
                message=request.query.get("labelled"),
            )

        response = await asyncio.to_thread(render)
        if fresh:
            response.set_cookie(
                CSRF_COOKIE, token, httponly=True, samesite="Strict", path="/", secure=False
            )
        return response

    async def label(self, request: web.Request) -> web.StreamResponse:
        from storage.labels import desk_verdicts, set_labels

        story_id = int(request.match_info["id"])
        form = await request.post()
        cookie = request.cookies.get(CSRF_COOKIE) or ""
        sent = str(form.get("csrf") or "")
        origin = request.headers.get("Origin")
        own = f"{request.scheme}://{request.host}"
        if (
            len(cookie) < 32
            or not hmac.compare_digest(cookie.encode(), sent.encode())
            or (origin is not None and origin != own)
        ):
            log.warning("web.label_refused", extra={"story_id": story_id, "reason": "csrf"})
            raise web.HTTPForbidden(
                text="kurilwatch: the form's token did not match: reload the story page "
                "and press the button again\n"
            )
        verdict = str(form.get("verdict") or "")
        kind, _, event = verdict.partition(":")
        if kind == "missed":
            event = str(form.get("missed_event") or "")
        missed = [event] if kind == "missed" else []
        wrong = [event] if kind == "wrong" else []
        note = str(form.get("note") or "").strip() or None
        try:
            verdicts = desk_verdicts(missed, wrong, allowed=list(self.ui.events()))
        except ValueError as exc:
            raise web.HTTPBadRequest(text=f"kurilwatch: {exc}\n") from None
        try:
            stored = await asyncio.to_thread(
                set_labels, self.ui.engine, story_id, verdicts, note=note
            )
        except StoryNotFound:
            raise web.HTTPNotFound(text=f"kurilwatch: no story {story_id}\n") from None
        log.info(
            "web.labelled",
            extra={"story_id": story_id, "labels": {s.event: s.verdict for s in stored}},
        )
        said = ",".join(f"{s.event}:{s.verdict}" for s in stored)
        raise web.HTTPSeeOther(f"/stories/{story_id}?labelled={said}#labels")

    async def sources(self, request: web.Request) -> web.Response:
        from storage.outbox import channel_health

        def render() -> web.Response:
            found = source_rows(self.ui.engine, self.ui.safe_urls)
            return self._html(
                "sources.html",
                sources=found["sources"],
                unpolled=found["not_polled"],
                channels=channel_health(self.ui.engine),
            )

        return await asyncio.to_thread(render)

    def _base(self, request: web.Request) -> str:
        return f"{request.scheme}://{request.host}"

    async def _page(self, view: TimelineView) -> TimelinePage:
        return await asyncio.to_thread(timeline, self.ui.engine, view)

    async def atom(self, request: web.Request) -> web.Response:
        return await self._feed(request, feeds.atom, "application/atom+xml")

    async def json_feed(self, request: web.Request) -> web.Response:
        return await self._feed(request, feeds.json_feed, "application/feed+json")

    async def _feed(
        self, request: web.Request, write: Callable[..., bytes], content_type: str
    ) -> web.Response:
        view = self._view(request, limit=str(FEED_ITEMS))
        page = await self._page(view)
        body = write(
            page.groups,
            base=self._base(request),
            self_url=str(request.url),
            title=_feed_title(view),
        )
        return web.Response(body=body, content_type=content_type, charset="utf-8")

    async def csv(self, request: web.Request) -> web.Response:
        view = self._view(request, limit=str(MAX_PAGE))

        def export() -> bytes:
            groups: list[TimelineStory] = []
            current = view
            while True:
                page = timeline(self.ui.engine, current)
                groups.extend(page.groups)
                if page.next_before is None:
                    return feeds.events_csv(groups)
                current = replace(current, before=page.next_before)

        body = await asyncio.to_thread(export)
        return web.Response(
            body=body,
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": 'attachment; filename="kurilwatch-events.csv"'},
        )

    async def api_stories(self, request: web.Request) -> web.Response:
        view = self._view(request)
        page = await self._page(view)
        next_url = (
            f"/api/stories?{filter_query(view, self.ui.zone, before=cursor(page.next_before))}"
            if page.next_before
            else None
        )
        return _json({"stories": [api.story_json(g) for g in page.groups], "next": next_url})

    async def api_story(self, request: web.Request) -> web.Response:
        story_id = int(request.match_info["id"])
        try:
            detail = await asyncio.to_thread(story_detail, self.ui.engine, story_id)
        except StoryNotFound:
            return _json({"error": f"no story {story_id}"}, status=404)
        return _json(api.detail_json(detail))

    async def api_alerts(self, request: web.Request) -> web.Response:
        from storage.outbox import list_alerts

        status = request.query.get("status") or None
        if status is not None and status not in ALERT_STATES:
            return _json({"error": f"status: expected one of {', '.join(ALERT_STATES)}"}, 400)
        try:
            limit = max(1, min(int(request.query.get("limit") or 200), 1000))
        except ValueError:
            return _json({"error": "limit: expected a number"}, status=400)
        rows = await asyncio.to_thread(list_alerts, self.ui.engine, limit=limit, status=status)
        return _json({"alerts": rows})

    async def api_sources(self, _: web.Request) -> web.Response:
        found = await asyncio.to_thread(source_rows, self.ui.engine, self.ui.safe_urls)
        return _json(found)


def _feed_title(view: TimelineView) -> str:
    events = " and ".join(view.events) if view.events else "events"
    return f"kurilwatch: {events}"


def _json(body: Any, status: int = 200) -> web.Response:
    import json

    return web.Response(
        text=json.dumps(body, ensure_ascii=False),
        status=status,
        content_type="application/json",
        charset="utf-8",
    )


def source_rows(engine: Engine, safe_urls: frozenset[str]) -> dict[str, list[dict[str, Any]]]:
    """The sources page's and `/api/sources`' rows: `sources`, each source with its health
    and latest `sources check` verdict (`check`), and `not_polled`, the verdicts on sources
    no daemon has polled yet. URLs are shown redacted unless marked safe."""
    from kurilwatch.redact import shown_url
    from storage.clock import database_now
    from storage.source_checks import check_json, unpolled_checks
    from storage.sources import list_sources

    rows = list_sources(engine, now=database_now(engine))
    for row in rows:
        row["url"] = shown_url(row["url"], safe_urls)
    unpolled = [
        {"name": c.source, "kind": c.kind, **check_json(c)} for c in unpolled_checks(engine)
    ]
    return {"sources": rows, "not_polled": unpolled}


def install(app: web.Application, ui: WebUi) -> None:
    """Add the pages, feeds, API and the access and security middleware to `app`."""
    pages = Pages(ui)
    app.middlewares.append(_middleware(ui))
    app.router.add_get("/", pages.index)
    app.router.add_get(r"/stories/{id:\d+}", pages.story)
    app.router.add_post(r"/stories/{id:\d+}/labels", pages.label)
    app.router.add_get("/sources", pages.sources)
    app.router.add_get("/feeds/events.atom", pages.atom)
    app.router.add_get("/feeds/events.json", pages.json_feed)
    app.router.add_get("/export/events.csv", pages.csv)
    app.router.add_get("/api/stories", pages.api_stories)
    app.router.add_get(r"/api/stories/{id:\d+}", pages.api_story)
    app.router.add_get("/api/alerts", pages.api_alerts)
    app.router.add_get("/api/sources", pages.api_sources)
    app.router.add_static("/static/", STATIC, follow_symlinks=False)

"""The read-only web pages, feeds and JSON API served on `listen:` beside `/healthz`.

`web.views` turns a request's query string into a `storage.timeline.TimelineView` and groups
a page by day (pure); `web.feeds` writes Atom, JSON Feed and CSV; `web.api` shapes the JSON
API with the webhook body's field names; `web.app` holds the aiohttp handlers, the access
check (`ui.auth`), the CSRF check of the label buttons and the security headers.
"""

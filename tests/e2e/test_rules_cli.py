"""Rules a user can test before they go live, and change without a restart."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx

from tests.e2e.conftest import Kurilwatch, fast_delivery, until
from tests.support.localserver import Canned, LocalServer, RequestHandler
from tests.support.newssite import NewsSite
from tests.support.receiver import WebhookReceiver
from tests.support.stories import story_by_key

QUAKE_RULE = {
    "name": "quake",
    "event": "earthquake",
    "query": "(earthquake OR quake OR tsunami) NEAR/8 (kuril* OR island*)",
}


def test_rules_test_url_fetches_extracts_and_explains(kw: Kurilwatch) -> None:
    with NewsSite() as site:
        url = site.add_story(story_by_key("ja-drill-protest"))
        done = kw.run("rules", "test", "--url", url)
    assert done.returncode == 0, done.stderr
    verdict = json.loads(done.stdout)
    assert verdict["topic"] is True and set(verdict["events"]) == {"protest", "exercise"}
    assert (
        verdict["language"] == "ja" and verdict["title"] == story_by_key("ja-drill-protest").title
    )
    assert all(e["sentences"] for e in verdict["evidence"].values())


def test_rules_test_url_reports_an_unreachable_page(kw: Kurilwatch) -> None:
    done = kw.run("rules", "test", "--url", "http://127.0.0.1:9/nothing")
    assert done.returncode == 2 and "could not be fetched" in done.stderr


PUBLIC = "http://93.184.216.34"
OTHER_PUBLIC = "http://8.8.8.8"
"""Public addresses, reached only through `Proxy` on loopback (never the network)."""


class Proxy(LocalServer):
    """A forward proxy on loopback answering for any URL from its table (502 otherwise).

    Through it the command reaches "public" hosts without leaving 127.0.0.1, so a page on a
    public address can redirect into loopback as a hostile site would.
    """

    def __init__(self) -> None:
        super().__init__()
        self.routes: dict[str, Canned] = {}
        self.asked: list[str] = []

    def handle(self, handler: RequestHandler) -> None:
        with self._lock:
            self.asked.append(handler.path)
        handler.send(self.routes.get(handler.path) or Canned(502, b"not in the table\n"))


def test_rules_test_url_holds_every_redirect_to_the_address_policy(kw: Kurilwatch) -> None:
    with NewsSite() as site, Proxy() as proxy:
        private_page = site.add_story(story_by_key("ja-drill-protest"))
        page = httpx.get(private_page).content
        site_hits = len(site.requests)
        proxy.routes = {
            f"{PUBLIC}/into-loopback": Canned(302, headers={"Location": private_page}),
            f"{PUBLIC}/to-a-file": Canned(302, headers={"Location": "file:///etc/passwd"}),
            f"{PUBLIC}/elsewhere": Canned(301, headers={"Location": f"{OTHER_PUBLIC}/story"}),
            f"{OTHER_PUBLIC}/story": Canned(200, page, {"Content-Type": "text/html"}),
        }
        env = {k: v for k, v in kw.env.items() if k.lower() not in ("no_proxy", "all_proxy")}
        kw.env = {**env, "HTTP_PROXY": proxy.base_url, "http_proxy": proxy.base_url}

        into = kw.run("rules", "test", "--url", f"{PUBLIC}/into-loopback")
        to_file = kw.run("rules", "test", "--url", f"{PUBLIC}/to-a-file")
        public = kw.run("rules", "test", "--url", f"{PUBLIC}/elsewhere")
        assert len(site.requests) == site_hits  # loopback was never asked
        assert private_page not in proxy.asked

    assert into.returncode == 2, into.stderr
    assert (
        f"{PUBLIC}/into-loopback: redirected to {private_page}, refused by the address policy: "
        "127.0.0.1 resolves to a private or reserved address"
    ) in into.stderr
    assert to_file.returncode == 2 and "not an http(s) URL: file" in to_file.stderr
    # a public page redirecting to another public one is followed: the refusals above are
    # the policy's, not the proxy's
    assert public.returncode == 0, public.stderr
    verdict = json.loads(public.stdout)
    assert set(verdict["events"]) == {"protest", "exercise"}
    assert verdict["url"] == f"{OTHER_PUBLIC}/story"


def test_backtest_shows_what_a_rule_change_would_do(kw: Kurilwatch) -> None:
    with NewsSite() as site:
        for key in ("etorofu-drill-protest", "kunashir-bastion", "kuril-earthquake"):
            site.add_story(story_by_key(key))
        kw.write_config({"sources": [{"name": "s", "url": site.feed_url}]})
        assert kw.run("run", "--once").returncode == 0
    # the user drops the exercise rule and adds one for earthquakes
    kw.write_config(
        {
            "sources": [{"name": "s", "url": "http://127.0.0.1:9/rss.xml"}],
            "rules": [
                {
                    "name": "protest",
                    "event": "protest",
                    "query": "protest* NEAR/10 (japan* OR tokyo)",
                },
                QUAKE_RULE,
            ],
        }
    )
    done = kw.run("rules", "backtest", "--since", "1d")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(x) for x in done.stdout.splitlines()]
    summary = lines.pop()
    by_title = {line["title"]: line for line in lines}
    assert summary == {
        "stories": 3,
        "changed": 3,
        "since": summary["since"],
        "labelled": 0,
        "scores": {},
        "scores_by_language": {},
        "texts_pruned": 0,  # no copy's text has been dropped by retention yet
    }
    assert "no labelled story since" in done.stderr
    assert by_title[story_by_key("kunashir-bastion").title]["change"] == "would not alert"
    assert by_title[story_by_key("kuril-earthquake").title]["change"] == "would alert"
    assert by_title[story_by_key("kuril-earthquake").title]["now"] == ["earthquake"]
    drill = by_title[story_by_key("etorofu-drill-protest").title]
    assert (drill["before"], drill["now"], drill["change"]) == (
        ["exercise", "protest"],
        ["protest"],
        "events differ",
    )


def test_daemon_reloads_rules_and_keeps_them_when_the_new_ones_are_broken(
    kw: Kurilwatch, tmp_path: Path
) -> None:
    log = tmp_path / "daemon.log"

    def logged(event: str) -> int:
        return log.read_text(encoding="utf-8").count(f'"event": "{event}"')

    with NewsSite() as site, WebhookReceiver() as rx:
        site.add_story(story_by_key("kuril-earthquake"))
        config = {
            "sources": [{"name": "s", "url": site.feed_url, "every": "1s"}],
            "channels": [{"name": "ops", "kind": "webhook", "url": rx.url}],
            "delivery": fast_delivery(),
        }
        kw.write_config(config)
        proc = kw.popen_logged("run", log=log)
        try:
            until(lambda: logged("article.stored") >= 1)
            assert rx.received == []  # an earthquake is no alert under the default rules
            kw.write_config({**config, "rules": [QUAKE_RULE]})
            until(lambda: logged("rules.reloaded") >= 1)  # the file is checked every 2 s
            site.add_story(story_by_key("kuril-earthquake"), slug="aftershock")
            [alert] = rx.wait_for(1, timeout=60)
            assert alert.json()["events"] == ["earthquake"]
            kw.write_config({**config, "rules": [{"name": "bad", "event": "x", "query": "(a AND"}]})
            proc.send_signal(signal.SIGHUP)
            until(lambda: logged("rules.reload_failed") >= 1)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        stderr = log.read_text(encoding="utf-8")
        assert proc.returncode == 0, stderr
        events = [json.loads(x) for x in stderr.splitlines() if x.startswith("{")]
        assert [e["event"] for e in events].count("rules.reloaded") == 1
        failed = [e for e in events if e["event"] == "rules.reload_failed"]
        assert failed and "bad" in failed[0]["reason"]

"""Corrections that stick: label → backtest → export → rules test, as a desk would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Kurilwatch
from tests.support.newssite import NewsSite
from tests.support.stories import FixtureStory

# The test brings its own topic gate and rules, so it holds whatever the shipped ones become.
WATCH = "kuril* OR kunashir* OR etorofu* OR shikotan* OR habomai*"
PROTEST = {"name": "protest", "event": "protest", "query": "protest* NEAR/10 (japan* OR tokyo)"}
EXERCISE = {
    "name": "exercise",
    "event": "exercise",
    "query": "(drill* OR exercise*) NEAR/10 (kuril* OR kunashir* OR etorofu* OR island*)",
}
# the rule change the desk tries: displeasure conveyed by Tokyo is a protest too
PROTEST_WIDER = {
    "name": "protest-displeasure",
    "event": "protest",
    "query": "(unacceptable OR displeasure) NEAR/10 (japan* OR tokyo)",
}

UNACCEPTABLE = FixtureStory(
    key="tokyo-unacceptable",
    title="Tokyo calls Russian missile deployment on Kunashiri unacceptable",
    language="en",
    expect_topic=True,
    expect_events=frozenset({"protest"}),
    paragraphs=(
        "Japan's foreign ministry told the Russian embassy in Tokyo on Tuesday that the "
        "deployment of coastal missile launchers on Kunashiri was unacceptable and demanded "
        "an explanation, a ministry spokeswoman said.",
        "The spokeswoman said Japan regards Kunashiri as part of its Northern Territories "
        "and that the step runs against efforts to settle the dispute over the islands.",
        "Russia's defence ministry said the launchers were placed there to guard the "
        "southern Kuril chain and that no foreign country had a say in the matter.",
    ),
)
FIRE_DRILL = FixtureStory(
    key="shikotan-fire-drill",
    title="Shikotan school holds its autumn fire drill",
    language="en",
    expect_topic=True,
    expect_events=frozenset(),
    paragraphs=(
        "Pupils and teachers at the school in Malokurilskoye on Shikotan left their "
        "classrooms in under three minutes during the island's autumn fire drill on "
        "Thursday, the local administration said.",
        "Volunteer firefighters from the village showed the older pupils how to use an "
        "extinguisher, and the head teacher thanked the parents who came to watch.",
        "The administration said a new fire engine would arrive by ferry before the "
        "winter storms close the harbour.",
    ),
)
PROTEST_NOTE = FixtureStory(
    key="tokyo-protest-note",
    title="Japan protests Russian drills on Etorofu",
    language="en",
    expect_topic=True,
    expect_events=frozenset({"protest", "exercise"}),
    paragraphs=(
        "Japan lodged a protest with Russia on Monday over military drills held on Etorofu, "
        "the chief cabinet secretary told reporters in Tokyo.",
        "Russia's Eastern Military District said about 1,000 troops took part in the "
        "drills on the island, which Russia calls Iturup.",
    ),
)


def _config(site: NewsSite | None, rules: list[dict[str, str]]) -> dict[str, Any]:
    url = site.feed_url if site else "http://127.0.0.1:9/rss.xml"
    return {"sources": [{"name": "wire", "url": url}], "watch": WATCH, "rules": rules}


def _summary(done: Any) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_labels_round_trip_from_story_to_score(kw: Kurilwatch, tmp_path: Path) -> None:
    with NewsSite() as site:
        for story in (UNACCEPTABLE, FIRE_DRILL, PROTEST_NOTE):
            site.add_story(story)
        kw.write_config(_config(site, [PROTEST, EXERCISE]))
        assert kw.run("run", "--once").returncode == 0
    kw.write_config(_config(None, [PROTEST, EXERCISE]))
    ids = {s["title"]: s["id"] for s in kw.json("stories", "list")}
    events = {s["title"]: s["events"] for s in kw.json("stories", "list")}
    missed, wrong = ids[UNACCEPTABLE.title], ids[FIRE_DRILL.title]
    assert events[UNACCEPTABLE.title] == [] and events[FIRE_DRILL.title] == ["exercise"]

    # the desk corrects both
    done = kw.run("label", str(missed), "--missed", "protest", "--note", "unacceptable = protest")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"story {missed}: {UNACCEPTABLE.title}",
        "  protest: missed  (unacceptable = protest)",
    ]
    done = kw.run("label", str(wrong), "--wrong", "exercise")
    assert done.returncode == 0 and "exercise: wrong" in done.stdout, done.stderr

    # mistakes are refused with exit status 2 and store nothing
    for args, says in (
        (("999999", "--missed", "protest"), "no story 999999"),
        ((str(missed), "--missed", "quake"), "quake: not an event of the rules in force "),
        ((str(missed),), "give --missed EVENT or --wrong EVENT"),
        ((str(missed), "--missed", "protest", "--wrong", "protest"), "not both"),
    ):
        done = kw.run("label", *args)
        assert done.returncode == 2 and says in done.stderr, (args, done.stderr)
    assert "allowed: protest, exercise" in kw.run("label", str(missed), "--wrong", "x").stderr
    listed = kw.json("labels", "list")
    assert [(x["story_id"], x["event"], x["verdict"], x["note"]) for x in listed] == sorted(
        [
            (missed, "protest", "missed", "unacceptable = protest"),
            (wrong, "exercise", "wrong", None),
        ],
        reverse=True,
    )

    # the backtest scores the rules in force against the desk's truth
    done = kw.run("rules", "backtest", "--since", "1d")
    summary = _summary(done)
    assert (summary["stories"], summary["changed"], summary["labelled"]) == (3, 0, 2)
    assert summary["scores"]["protest"] == {
        "precision": 1.0,
        "recall": 0.0,
        "f1": 0.0,
        "tp": 0,
        "fp": 0,
        "fn": 1,
        "tn": 1,
    }
    assert (summary["scores"]["exercise"]["fp"], summary["scores"]["exercise"]["precision"]) == (
        1,
        0.0,
    )
    assert summary["scores_by_language"]["en"]["protest"]["fn"] == 1
    assert "2 labelled stories" in done.stderr

    # the export holds the labelled stories only, in the development sets' format
    out = tmp_path / "desk.jsonl"
    assert kw.run("labels", "export", str(out)).returncode == 0
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    by_story = {line["story_id"]: line for line in lines}
    assert set(by_story) == {missed, wrong}
    assert by_story[missed]["labels"] == {
        "kurils_relevant": True,
        "protest": True,
        "exercise": False,
    }
    assert by_story[wrong]["labels"] == {
        "kurils_relevant": True,
        "protest": False,
        "exercise": False,
    }
    assert by_story[missed]["title"] == UNACCEPTABLE.title
    assert "unacceptable" in by_story[missed]["text"] and by_story[missed]["language"] == "en"
    assert by_story[missed]["note"] == "unacceptable = protest"
    assert by_story[missed]["url"].endswith("/news/tokyo-unacceptable")
    stdout = kw.run("labels", "export")
    assert [json.loads(x) for x in stdout.stdout.splitlines()] == lines

    # rules test scores the export: one verdict per line on stdout, the table on stderr
    done = kw.run("rules", "test", str(out))
    assert done.returncode == 0, done.stderr
    verdicts = [json.loads(x) for x in done.stdout.splitlines()]
    assert [v["id"] for v in verdicts] == [line["id"] for line in lines]
    assert "protest        1.000   0.000  0.000    0    0    1    1" in done.stderr
    assert "en        protest" in done.stderr

    # the desk tries a wider protest rule: the backtest and the export both show the gain
    kw.write_config(_config(None, [PROTEST, PROTEST_WIDER, EXERCISE]))
    summary = _summary(kw.run("rules", "backtest", "--since", "1d"))
    assert (summary["changed"], summary["scores"]["protest"]["recall"]) == (1, 1.0)
    done = kw.run("rules", "test", str(out))
    assert "protest        1.000   1.000  1.000    1    0    0    1" in done.stderr


def test_backtest_and_export_with_no_labels_say_so(kw: Kurilwatch) -> None:
    kw.write_config(_config(None, [PROTEST, EXERCISE]))
    done = kw.run("rules", "backtest", "--since", "1d")
    summary = _summary(done)
    assert (summary["labelled"], summary["scores"]) == (0, {})
    assert "no labelled story since" in done.stderr
    done = kw.run("labels", "export")
    assert done.returncode == 0 and done.stdout == ""
    assert "no labels yet" in kw.run("labels", "list").stdout

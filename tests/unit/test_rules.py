"""The rule set: topic gate, sentence windows, evidence, and the shipped default rules.

Every article text here is written for these tests (English, Japanese, Russian), the seed
story (`tests/fixtures/seed/`) too.
"""

from __future__ import annotations

import json

import pytest

from alerts.rules import (
    RuleSet,
    compile_rules,
    load_default_rules,
    match_article,
    rules_from_mapping,
    split_sentences,
    verdict,
)
from kurilwatch.errors import RuleError
from kurilwatch.model import Evidence, Match, Rule
from tests.conftest import SEED


@pytest.fixture(scope="module")
def defaults() -> RuleSet:
    return compile_rules(*load_default_rules())


def judge(ruleset: RuleSet, text: str, title: str | None = None) -> Match:
    return match_article(ruleset, title=title, text=text)


# ---------------------------------------------------------------- the shipped rules


@pytest.mark.parametrize(
    ("title", "text", "events"),
    [
        # seed-like: Japan protests a Russian exercise on the islands
        (
            "Tokyo objects to Russian war games",
            "Japan lodged a protest with Moscow on Tuesday over live-fire drills that Russian "
            "troops staged on Etorofu, one of the four islands Tokyo claims.",
            ("protest", "exercise"),
        ),
        (
            None,
            "The Russian army began artillery exercises on Kunashir on Monday, the Eastern "
            "Military District said.\nThe drills involve 2,000 troops and will last a week.\n"
            "Japan's Foreign Ministry summoned Russia's ambassador and conveyed its concern.",
            ("protest", "exercise"),
        ),
        (
            None,
            "МИД Японии выразил протест в связи с военными учениями на Южных Курилах.",
            ("protest", "exercise"),
        ),
        (
            None,
            "ロシア軍は択捉島で大規模な軍事演習を実施した。日本政府は外交ルートを通じて抗議した。",
            ("protest", "exercise"),
        ),
        # protest only: a visit, a rally, a counter-protest
        (
            None,
            "Tokyo filed its protest with Russia about a Russian minister touring Shikotan, "
            "calling it unacceptable.",
            ("protest",),
        ),
        (
            None,
            "Former residents of Habomai rallied in Nemuro on Sunday, demanding the return of the "
            "four islands.",
            ("protest",),
        ),
        (
            None,
            "Посольство России в Токио заявило протест МИД Японии из-за акции у здания "
            "посольства, посвящённой Южным Курилам.",
            ("protest",),
        ),
        (
            None,
            "北方領土の返還を求める集会が根室市で開かれ、元島民ら300人が参加した。",
            ("protest",),
        ),
        # a diplomatic protest whose object is in the next sentence
        (
            None,
            "Moscow announced missile tests near Iturup on Friday.\nTokyo lodged a protest.",
            ("protest", "exercise"),
        ),
        # a protest at the drills or the visit, Russia not named next to it
        (
            None,
            "Japan protested the drills, which Russian troops held on Kunashiri.",
            ("protest", "exercise"),
        ),
        (
            None,
            "Japan's government said it had protested the visit.\nThe minister flew to Iturup.",
            ("protest",),
        ),
        # exercise only: deployments and drills, in three languages
        (
            None,
            "Russian forces practised repelling an amphibious landing on Iturup, the military said.",
            ("exercise",),
        ),
        (
            None,
            "Russia sent new Su-35 fighter jets to Iturup, the defence ministry said.",
            ("exercise",),
        ),
        (
            None,
            "Russia deployed Bastion coastal defence missiles on Paramushir in the northern "
            "Kurils.",
            ("exercise",),
        ),
        (
            None,
            "На Итурупе развернули зенитные ракетные комплексы С-300В4, сообщили в Минобороны.",
            ("exercise",),
        ),
        (
            None,
            "ロシア国防省は、国後島で地対艦ミサイルの発射訓練を行ったと発表した。",
            ("exercise",),
        ),
        (
            "Russian paratroopers rehearse landing on Shikotan",
            "About 500 servicemen took part in manoeuvres on Shikotan island this week.",
            ("exercise",),
        ),
    ],
)
def test_default_rules_find_events(
    defaults: RuleSet, title: str | None, text: str, events: tuple[str, ...]
) -> None:
    match = judge(defaults, text, title)
    assert match.topic
    assert match.events == events


@pytest.mark.parametrize(
    "text",
    [
        "Bears gather to catch sockeye salmon at Kurile Lake in southern Kamchatka.",
        "Darwin is the capital of Australia's Northern Territory, where workers protested a new "
        "wage law.",
        "Он курил на балконе и смотрел на море.",
        "Я курил двадцать лет, а потом бросил.",
        "Japan lodged a protest with China after coast guard ships entered waters off the "
        "Senkaku Islands.",
        "Thousands of union members rallied in Tokyo, demanding higher wages.",
        "US Marines and Japanese troops held drills off Okinawa this week.",
        "Russia's Pacific Fleet held anti-submarine drills in the Sea of Japan.",
        "Protesters filled the streets of Khabarovsk for a third weekend.",
        "帰国後、首相はアクリル板越しに記者団に語った。",
        "The Rebun Island airspace violation drew a diplomatic protest from Japan to Russia.",
    ],
)
def test_look_alikes_are_off_topic(defaults: RuleSet, text: str) -> None:
    assert judge(defaults, text) == Match(topic=False)


@pytest.mark.parametrize(
    "text",
    [
        # earthquakes and tsunami warnings, even with a civil drill
        "A magnitude 7.1 earthquake struck off the Kuril Islands on Sunday.\nA tsunami warning "
        "was issued for Hokkaido.\nResidents of Kurilsk practised an evacuation drill last month.",
        "Курильск провёл учения МЧС по эвакуации жителей при угрозе цунами.",
        # a Senkaku protest next to a paragraph on the Kurils
        "Japan lodged a protest with China on Monday after Chinese ships entered waters near "
        "the Senkakus.\nSeparately, fishermen resumed kelp harvesting near the Habomai islets "
        "under a deal with Russia.",
        # drills in the Sea of Japan, the islands mentioned in the next sentence
        "Russian warships held drills in the Sea of Japan on Tuesday.\nThe fleet also supplies "
        "garrisons on the Kuril Islands.",
        # a protest at China's drills, Russia and the islands in the next sentence
        "Japan protested China's drills near Taiwan.\nTokyo is also wary of Russia on the Kuril "
        "Islands.",
        # a labor rally and the islands in one article
        "Union members rallied in Tokyo for higher pay.\nThe cabinet also discussed the Kuril "
        "Islands dispute.",
        # protests in Khabarovsk; the islands belong to another region
        "Tens of thousands protested in Khabarovsk against the governor's arrest.\nThe region "
        "borders Sakhalin, which governs the Kuril Islands.",
        # on topic, no event: the economy, visa-free visits
        "Putin offered tax breaks to companies that invest on the Kuril Islands.",
        "元島民らがビザなし交流で国後島を訪れた。",
        "На Шикотане открыли новый рыбозавод.",
    ],
)
def test_on_topic_without_events(defaults: RuleSet, text: str) -> None:
    match = judge(defaults, text)
    assert match.topic
    assert match.events == ()
    assert match.evidence == ()


def test_seed_story_is_protest_and_exercise(defaults: RuleSet) -> None:
    title, _, text = SEED.read_text(encoding="utf-8").partition("\n")
    match = judge(defaults, text, title)
    assert match.topic
    assert match.events == ("protest", "exercise")
    assert match.rules == ("protest", "exercise")


def test_default_rules_load_and_compile() -> None:
    watch, rules = load_default_rules()
    assert "kuril" in watch.casefold()
    assert [(r.name, r.event) for r in rules] == [("protest", "protest"), ("exercise", "exercise")]
    assert all(r.where == ("title", "text") for r in rules)
    compile_rules(watch, rules)


def test_a_5kb_article_of_repeated_paragraphs_is_judged_once_per_event(defaults: RuleSet) -> None:
    # Matching speed is measured by bench/match_speed.py, never here.
    paragraph = (
        "The military district in Russia's east reported Friday that drills on Iturup used "
        "artillery and air defence units. Japan lodged a protest through diplomatic channels. "
        "Fishermen in Nemuro worry about the season, and the ferry to Kunashir is delayed.\n"
    )
    match = judge(defaults, (paragraph * 40)[:5000])
    assert set(match.events) == {"protest", "exercise"}
    assert len(match.evidence) == 2


# ---------------------------------------------------------------- rule semantics and evidence

WATCH = "kuril* OR iturup OR 北方領土"
PROTEST = Rule(name="protest", event="protest", query="protest* AND (russia OR kuril*)")
DRILL = Rule(name="drill", event="exercise", query="drill* kuril*")


def test_topic_gate_comes_first() -> None:
    ruleset = compile_rules(WATCH, [PROTEST])
    assert judge(ruleset, "Japan protested to Russia about fishing.") == Match(topic=False)


def test_evidence_quotes_the_sentence_and_the_terms_as_written() -> None:
    ruleset = compile_rules(WATCH, [PROTEST, DRILL])
    text = (
        "Fog closed the port of Iturup on Monday.  Japan  protested to Russia\n"
        "over the drills. Drills on the Kurils ended on Friday."
    )
    match = judge(ruleset, text)
    assert match.events == ("protest", "exercise")
    assert match.evidence == (
        Evidence(
            rule="protest",
            event="protest",
            sentences=("Japan protested to Russia",),
            terms=("protest*", "russia"),
        ),
        Evidence(
            rule="drill",
            event="exercise",
            sentences=("Drills on the Kurils ended on Friday.",),
            terms=("drill*", "kuril*"),
        ),
    )


def test_smallest_window_wins_and_spans_up_to_three_sentences() -> None:
    ruleset = compile_rules(WATCH, [DRILL])
    text = "Drills began at dawn. Ships sailed. The Kurils were quiet. Nothing else happened."
    assert judge(ruleset, text).evidence[0].sentences == (
        "Drills began at dawn.",
        "Ships sailed.",
        "The Kurils were quiet.",
    )
    far = "Drills began at dawn. Ships sailed. Planes flew. The Kurils were quiet."
    assert judge(ruleset, far).events == ()
    assert judge(compile_rules(WATCH, [DRILL], window=4), far).events == ("exercise",)
    assert judge(compile_rules(WATCH, [DRILL], window=1), text).events == ()


def test_not_excludes_within_the_window_only() -> None:
    rule = Rule(name="p", event="protest", query="protest* NOT senkaku*")
    ruleset = compile_rules(WATCH, [rule], window=1)
    assert judge(ruleset, "Protests over the Senkakus. Kuril news.").events == ()
    assert judge(ruleset, "Senkaku talks. Kuril protests.").events == ("protest",)


def test_the_headline_takes_the_lead_as_context() -> None:
    ruleset = compile_rules(WATCH, [DRILL])
    match = judge(ruleset, "The Kurils were quiet.\nLater, rain.", title="Drills begin")
    assert match.events == ("exercise",)
    assert match.evidence[0].sentences == ("Drills begin", "The Kurils were quiet.")
    far = "Rain.\nWind.\nSnow.\nThe Kurils were quiet."
    assert judge(ruleset, far, title="Drills begin").events == ()


def test_where_limits_the_fields() -> None:
    titled = Rule(name="t", event="exercise", query="drill*", where=("title",))
    ruleset = compile_rules(WATCH, [titled])
    assert judge(ruleset, "Drills on the Kurils.").events == ()
    assert judge(ruleset, "The Kurils.", title="Drills").events == ("exercise",)


def test_events_are_deduplicated_in_rule_order() -> None:
    rules = [
        Rule(name="drill", event="exercise", query="drill*"),
        Rule(name="note", event="protest", query="protest*"),
        Rule(name="missile", event="exercise", query="missile*"),
    ]
    match = judge(compile_rules(WATCH, rules), "Protest over drills and missiles on the Kurils.")
    assert match.events == ("exercise", "protest")
    assert match.rules == ("drill", "note", "missile")


def test_evidence_sentences_are_trimmed() -> None:
    ruleset = compile_rules(WATCH, [DRILL])
    long = "Drills on the Kurils " + "went on and on " * 60 + "until dusk."
    (sentence,) = judge(ruleset, long).evidence[0].sentences
    assert len(sentence) <= 402
    assert sentence.startswith("Drills on the Kurils went on")
    assert sentence.endswith(" …")


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("One. Two! Three?", ["One.", "Two!", "Three?"]),
        (
            "On Feb. 26 Mr. Abe spoke. Then J. Smith left.",
            ["On Feb. 26 Mr. Abe spoke.", "Then J. Smith left."],
        ),
        ("He said it ended. and then more", ["He said it ended. and then more"]),
        ('"It is over." He left.', ['"It is over."', "He left."]),
        ("line one\n\nline two", ["line one", "line two"]),
        (
            "В учениях участвуют 10 тыс. военных. Они закончатся в пятницу.",
            ["В учениях участвуют 10 тыс. военных.", "Они закончатся в пятницу."],
        ),
        (
            "演習が始まった。「受け入れられない。」と述べた。",
            ["演習が始まった。", "「受け入れられない。」と述べた。"],
        ),
    ],
)
def test_split_sentences(text: str, sentences: list[str]) -> None:
    assert [text[a:b].strip() for a, b in split_sentences(text)] == sentences


# ---------------------------------------------------------------- errors, verdicts, YAML


@pytest.mark.parametrize(
    ("watch", "rules", "message"),
    [
        ("kuril* AND", [], "rule 'watch': query does not parse at column 11"),
        (WATCH, [Rule(name="protest", event="protest", query="(protest")], "rule 'protest'"),
        (WATCH, [PROTEST, PROTEST], "rule 'protest': the name is used twice"),
        (
            WATCH,
            [Rule(name="x", event="", query="a")],
            "rule 'x': a rule needs a name and an event",
        ),
        (WATCH, [Rule(name="x", event="e", query="a", where=("body",))], "got body"),
    ],
)
def test_compile_rules_errors(watch: str, rules: list[Rule], message: str) -> None:
    with pytest.raises(RuleError, match=message):
        compile_rules(watch, rules)


def test_verdict_is_the_rules_test_json_line() -> None:
    ruleset = compile_rules(WATCH, [PROTEST, DRILL])
    line = verdict(
        "a1", judge(ruleset, "Drills on Iturup drew a protest from the Kurils' neighbours.")
    )
    assert json.loads(json.dumps(line)) == {
        "id": "a1",
        "topic": True,
        "events": ["protest", "exercise"],
        "rules": ["protest", "drill"],
        "evidence": {
            "protest": {
                "event": "protest",
                "sentences": ["Drills on Iturup drew a protest from the Kurils' neighbours."],
                "terms": ["protest*", "kuril*"],
            },
            "drill": {
                "event": "exercise",
                "sentences": ["Drills on Iturup drew a protest from the Kurils' neighbours."],
                "terms": ["drill*", "kuril*"],
            },
        },
    }
    assert verdict(7, Match(topic=False)) == {
        "id": 7,
        "topic": False,
        "events": [],
        "rules": [],
        "evidence": {},
    }


def test_rules_from_mapping() -> None:
    watch, rules = rules_from_mapping(
        {
            "watch": "kuril*",
            "rules": [
                {"name": "p", "event": "protest", "query": "protest*", "where": "title"},
                {"name": "e", "event": "exercise", "query": "drill*", "channels": ["ops"]},
            ],
        }
    )
    assert watch == "kuril*"
    assert rules == (
        Rule(name="p", event="protest", query="protest*", where=("title",)),
        Rule(name="e", event="exercise", query="drill*", channels=("ops",)),
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "'watch' must be a query string"),
        ({"watch": "k", "rules": {}}, "'rules' must be a list"),
        ({"watch": "k", "rules": ["x"]}, "rule 1 must be a mapping"),
        (
            {"watch": "k", "rules": [{"name": "p", "event": "e"}]},
            "rule 1: 'query' must be a string",
        ),
        (
            {"watch": "k", "rules": [{"name": "p", "event": "e", "query": "q", "where": [1]}]},
            "'where'",
        ),
    ],
)
def test_rules_from_mapping_errors(data: dict[str, object], message: str) -> None:
    with pytest.raises(RuleError, match=message):
        rules_from_mapping(data, origin="test.yaml")

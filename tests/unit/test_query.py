"""The keyword query language: operators, phrases, wildcards, proximity, scripts, errors.

Every sentence here is written for these tests. A query "hits" a text when some sentence of
it satisfies the query (the query is used as the topic gate, which looks at one sentence at
a time).
"""

from __future__ import annotations

import re

import pytest

from alerts.query import compile_query, normalize, tokenize
from alerts.rules import compile_rules, match_article
from kurilwatch.errors import RuleError
from kurilwatch.model import Rule


def hits(query: str, text: str) -> bool:
    return match_article(compile_rules(query, ()), title=None, text=text).topic


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        # AND, OR, implicit AND
        ("kuril AND protest", "A protest about the Kuril chain.", True),
        ("kuril AND protest", "News from the Kuril chain.", False),
        ("kuril OR iturup", "The port of Iturup froze.", True),
        ("kuril OR iturup", "The port of Nemuro froze.", False),
        ("kuril protest", "Protest over the Kuril chain.", True),
        ("kuril protest", "Only the Kuril chain.", False),
        # NOT, -, +
        ("kuril NOT lake", "Salmon crowd the Kuril lake.", False),
        ("kuril NOT lake", "Troops landed on the Kuril chain.", True),
        ("kuril AND NOT lake", "Salmon crowd the Kuril lake.", False),
        ("kuril -lake", "Salmon crowd the Kuril lake.", False),
        ("kuril -lake", "Ferries reach the Kuril chain.", True),
        ("+kuril", "Ferries reach the Kuril chain.", True),
        ("NOT lake", "Ferries reach the chain.", True),
        # precedence: AND binds tighter than OR; juxtaposition loosest
        ("drill OR exercise AND navy", "A drill began.", True),
        ("drill OR exercise AND navy", "An exercise began.", False),
        ("drill OR exercise AND navy", "A navy exercise began.", True),
        ("navy drill OR exercise", "A navy exercise began.", True),
        ("navy drill OR exercise", "A drill began.", False),
        ("kuril (protest OR rally)", "A rally on the Kuril chain.", True),
        ("(kuril OR iturup) AND (protest OR rally)", "Iturup saw a rally.", True),
        # case, width, punctuation, apostrophes
        ("KURIL", "kuril", True),
        ('"kuril islands"', "ＫＵＲＩＬ　ＩＳＬＡＮＤＳ", True),
        ('"russia s"', "Russia's navy sailed.", True),
        ("russia", "Russia’s navy sailed.", True),
        ("kuril", "The (Kuril) chain, again!", True),
        # phrases
        ('"lodged a protest"', "Tokyo lodged a protest on Monday.", True),
        ('"lodged a protest"', "A protest was lodged on Monday.", False),
        ('"lodged a protest"', "Tokyo lodged a formal protest.", False),
        ('"kuril islands"', "Kuril. Islands nearby.", False),
        # hyphenated words match as phrases, either way they are written
        ('"anti ship"', "Anti-ship missiles arrived.", True),
        ("anti-ship", "Anti ship missiles arrived.", True),
        ("anti-ship", "Anti-ship missiles arrived.", True),
        ("anti-ship", "Antiship missiles arrived.", False),
        ("s-400", "Two S-400 batteries.", True),
        # wildcards: trailing, inner, leading
        ("protest*", "Protesters gathered.", True),
        ("protest*", "Protection was offered.", False),
        ("pro?est", "A protest.", True),
        ("pro?est", "A proest.", False),
        ("*ship", "A warship sailed.", True),
        ("drill", "Drills began.", True),
        ('"drill"', "Drills began.", False),
        ("training", "Trains ran late.", False),
        ("protests", "They protested.", True),
        ("drill*", "Drills began.", True),
        ('"lodg* a protest"', "They lodge a protest.", True),
    ],
)
def test_operators_phrases_wildcards(query: str, text: str, expected: bool) -> None:
    assert hits(query, text) is expected


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        # a bare word matches every form of it; a quoted one only as written
        ("учение", "Начались военные учения.", True),
        ("учение", "Самолёты участвовали в учениях.", True),
        ("учения", "План учений утверждён.", True),
        ('"учения"', "Самолёты участвовали в учениях.", False),
        ("учени*", "Самолёты участвовали в учениях.", True),
        ("протестовать", "Жители протестовали у посольства.", True),
        ("протестовать", "Протестующих было около сотни.", True),
        ("протест", "Москва заявила решительный протест.", True),
        ("протест", "Протестовали жители.", False),
        ("курилы", "Курилы закрыты туманом.", True),
        ("курилы", "Он курил на балконе.", True),  # "курил" is also a form of "Курилы"
        ('"курилы"', "Он курил на балконе.", False),
        ('"курилы"', "Курилы закрыты туманом.", True),
        ("курил*", "Он курил на балконе.", True),
        ('"южные курилы"', "Южные Курилы закрыты туманом.", True),
        ("итуруп*", "Паром пришёл на Итуруп.", True),
        ("итуруп*", "Жители Итурупа ждут паром.", True),
        # ё is е
        ("самолет", "Самолёт сел на Итурупе.", True),
        ("самолёт", "Самолет сел на Итурупе.", True),
        # Cyrillic С is not Latin S
        ("s-400", "Комплекс С-400 развернут.", False),
        ("с-400", "Комплекс С-400 развернут.", True),
    ],
)
def test_russian(query: str, text: str, expected: bool) -> None:
    assert hits(query, text) is expected


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        # CJK terms match as substrings of the CJK text
        ("抗議", "外務省は抗議した。", True),
        ("北方領土", "北方領土問題を話し合った。", True),
        ('"北方領土"', "北方領土問題を話し合った。", True),
        ("国後", "帰国後に会見した。", True),
        ("国後島", "帰国後に会見した。", False),
        ("国後島", "国後島の港が凍った。", True),
        # but not across punctuation, and a space inside the CJK text is harmless
        ("北方領土", "北方、領土", False),
        ("北方領土", "北方 領土を訪れた。", True),
        # several CJK terms, mixed scripts
        ("ロシア 抗議", "ロシアに抗議した。", True),
        ("ロシア 抗議", "中国に抗議した。", False),
        ("S-400 配備", "S-400を択捉島に配備した。", True),
        ("ＳＵ-35", "Su-35が配備された。", True),
        # a wildcard next to CJK adds nothing
        ("演習*", "軍事演習が始まった。", True),
        # hangul is CJK too
        ("독도", "독도는", True),
    ],
)
def test_japanese_and_cjk(query: str, text: str, expected: bool) -> None:
    assert hits(query, text) is expected


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        # "a b"~n: at most n other tokens between, any order; ~0 is the exact phrase
        ('"protest russia"~2', "A protest lodged with Russia.", True),
        ('"protest russia"~1', "A protest lodged with Russia.", False),
        ('"protest russia"~2', "Russia met the protest.", True),
        ('"protest russia"~0', "Russia protest.", False),
        ('"protest russia"~0', "Protest Russia.", True),
        ('"drills kuril islands"~3', "Drills began on the Kuril Islands.", True),
        ('"anti-ship missiles"~1', "Anti-ship cruise missiles.", True),
        ('"anti-ship missiles"~1', "Anti cruise ship missiles.", False),
        # NEAR/n: the same measure
        ("protest NEAR/2 russia", "A protest lodged with Russia.", True),
        ("protest NEAR/1 russia", "A protest lodged with Russia.", False),
        ("russia NEAR/2 protest", "A protest lodged with Russia.", True),
        ("protest near/2 russia", "A protest lodged with Russia.", True),
        ("(protest OR rally) NEAR/3 kuril*", "A rally on the Kurils.", True),
        ('"lodged a protest" NEAR/2 russia', "They lodged a protest with Russia.", True),
        ("drills NEAR/1 kuril NEAR/1 islands", "Drills on Kuril Islands.", True),
        # NEAR binds tighter than AND and OR
        ("protest NEAR/2 russia AND kuril*", "A protest to Russia over the Kurils.", True),
        ("protest NEAR/2 russia AND kuril*", "A protest to Russia.", False),
        ("kuril* OR protest NEAR/2 russia", "A protest to Russia.", True),
        ("kuril* OR protest NEAR/2 russia", "A protest filed far from any Russia.", False),
        # proximity never crosses a sentence
        ("protest NEAR/5 russia", "Tokyo filed a protest. Russia shrugged.", False),
        # in CJK text, n counts characters
        ("抗議 NEAR/1 ロシア", "ロシアに抗議した。", True),
        ("抗議 NEAR/0 ロシア", "ロシアに抗議した。", False),
        ("учени* NEAR/3 курил*", "Учения прошли на Курилах.", True),
    ],
)
def test_proximity(query: str, text: str, expected: bool) -> None:
    assert hits(query, text) is expected


@pytest.mark.parametrize(
    ("query", "column", "message"),
    [
        ("(kuril OR iturup))", 18, "unexpected ')'"),
        ("kuril AND", 10, "unexpected end of query"),
        ("kuril OR (iturup AND drills", 28, "expected ')' to close the '(' at column 10"),
        ("kuril AND OR drills", 11, "unexpected 'OR', expected a term, phrase or '(' after 'AND'"),
        ('kuril "lodged a protest', 7, "unterminated phrase"),
        ("title:kuril", 1, "field searches"),
        ("kuril~2", 1, "fuzzy terms"),
        ("kuril^2", 1, "boosts"),
        ("/kuril.*/", 1, "regular expressions"),
        ("kuril && iturup", 7, "use AND"),
        ("kuril OR *", 10, "wildcard '*' needs at least one letter"),
        ("NEAR/3 kuril", 1, "NEAR/3 needs a term, phrase or (group) on each side"),
        ("kuril NEAR/3", 7, "NEAR/3 needs"),
        ("kuril NEAR/3 NOT lake", 7, "NEAR/3 needs"),
        ("kuril NEAR/3 (drills AND navy)", 14, "operands must be terms, phrases or OR groups"),
        # columns stay those of the query as written, after NEAR is regrouped
        ("a NEAR/2 b OR )", 15, "unexpected ')'"),
        ("x NEAR/2 y NEAR/2 z )", 21, "unexpected ')'"),
    ],
)
def test_invalid_queries_name_rule_and_column(query: str, column: int, message: str) -> None:
    with pytest.raises(RuleError) as caught:
        compile_query(query, name="protest")
    text = str(caught.value)
    assert text.startswith(f"rule 'protest': query does not parse at column {column}: "), text
    assert message in text


def test_empty_query_is_an_error() -> None:
    with pytest.raises(RuleError, match="rule 'watch': query is empty"):
        compile_query("  ", name="watch")


def test_normalize_and_tokenize() -> None:
    assert normalize("ＫＵＲＩＬ Ёлка ß") == "kuril елка ss"
    assert [t for t, _ in tokenize(normalize("Anti-ship, S-400!"))] == ["anti", "ship", "s", "400"]
    assert [t for t, _ in tokenize("北方領土へ")] == ["北", "方", "領", "土", "へ"]
    assert [gap for _, gap in tokenize("北方、領土")] == [False, False, True, False]


def test_compiled_query_keeps_its_source() -> None:
    compiled = compile_query("protest NEAR/3 russia", name="p")
    assert (compiled.name, compiled.source) == ("p", "protest NEAR/3 russia")
    assert re.search("protest", repr(compiled))


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        # the katakana names of the islands are their kanji names
        ("択捉", "エトロフ島で演習が行われた。", True),
        ("エトロフ", "択捉島で演習が行われた。", True),
        ("国後", "クナシリ島の部隊", True),
        ("色丹 OR 歯舞", "シコタン島とハボマイ群島", True),
        ("北方四島", "北方4島の返還を求める", True),
        ("北方四島", "北方４島の返還を求める", True),
        ("国後", "帰国後に会見した", True),  # a substring, as every CJK term
    ],
)
def test_japanese_variants(query: str, text: str, expected: bool) -> None:
    assert hits(query, text) is expected


def test_one_word_is_never_both_operands_of_near() -> None:
    assert not hits("garrison NEAR/10 garrison*", "The fleet supplies garrisons.")
    assert hits("garrison NEAR/10 garrison*", "A garrison joined the garrisons.")
    assert not hits("(missile OR test) NEAR/2 missile", "A missile flew.")


def test_or_of_many_words_reports_the_terms_that_hold_in_written_order() -> None:
    # Plain words of an OR are looked up together; the evidence still names each term that
    # holds, in the order written, between the wildcards and phrases around them.
    ruleset = compile_rules(
        "kuril",
        [
            Rule(
                name="act",
                event="protest",
                query='kuril AND (alpha OR drill* OR "sound truck" OR protest OR lodged OR "мид")',
            )
        ],
    )
    match = match_article(
        ruleset,
        title=None,
        text="Sound trucks did not come; the МИД lodged protests and drills over the Kuril chain.",
    )
    assert match.events == ("protest",)
    assert match.evidence[0].terms == ("kuril", "drill*", "protest", "lodged", '"мид"')
    # A word inside an OR still counts for a NEAR around it, and only where it is near.
    assert hits("(alpha OR protest OR beta) NEAR/2 kuril", "A protest on the Kuril chain.")
    assert not hits(
        "(alpha OR protest OR beta) NEAR/2 kuril",
        "A protest, far from here, about the Kuril chain.",
    )

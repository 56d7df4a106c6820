"""`define:` and `@name`: named parts of queries, shipped and in a configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.definitions import expand, resolve
from alerts.rules import (
    compile_rules,
    default_definitions,
    match_article,
    rules_from_mapping,
    rules_in_force,
)
from kurilwatch.config import load_config
from kurilwatch.errors import RuleError


def test_a_reference_stands_for_its_definition_in_parentheses() -> None:
    defs = resolve({"b": "@a AND z", "a": "x OR y"}, origin="t")  # in any order
    assert defs == {"a": "x OR y", "b": "(x OR y) AND z"}
    assert expand("@b NOT w", defs, where="t") == "((x OR y) AND z) NOT w"
    # an address or a word with @ inside is left alone
    assert expand("mail@a OR @a", defs, where="t") == "mail@a OR (x OR y)"


def test_bound_as_one_operand() -> None:
    watch, rules = rules_from_mapping(
        {
            "define": {"isle": "kuril* OR iturup", "act": "drill OR exercise"},
            "watch": "@isle",
            "rules": [{"name": "e", "event": "exercise", "query": "@act NEAR/3 @isle"}],
        }
    )
    ruleset = compile_rules(watch, rules)
    assert match_article(ruleset, title=None, text="Drills began on Iturup.").events == (
        "exercise",
    )
    assert match_article(ruleset, title=None, text="Drills began. Iturup was calm.").events == ()


@pytest.mark.parametrize(
    ("definitions", "message"),
    [
        ({"b": "@c", "a": "x"}, "t: define: b: @c is not defined (defined: @b, @a)"),
        ({"a": "@b OR x", "b": "@a"}, "t: define: a: refers to itself (@a -> @b -> @a)"),
        ({"Bad": "x"}, "'Bad' is not a name"),
        ({"a": ""}, "define: a: expected a query string"),
        ({"a": 3}, "define: a: expected a query string"),
    ],
)
def test_definition_errors(definitions: dict[str, object], message: str) -> None:
    with pytest.raises(RuleError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve(definitions, origin="t")


def test_an_unknown_reference_names_the_rule() -> None:
    with pytest.raises(RuleError, match=r"f.yaml: rule 'p': @nope is not defined"):
        rules_from_mapping(
            {"watch": "k", "rules": [{"name": "p", "event": "e", "query": "@nope"}]},
            origin="f.yaml",
        )


def test_a_configuration_uses_the_shipped_definitions_and_its_own(tmp_path: Path) -> None:
    path = tmp_path / "kurilwatch.yaml"
    path.write_text(
        "sources: [{name: s, url: 'http://127.0.0.1:1/rss'}]\n"
        "define:\n"
        "  visit: 'visit OR визит OR 訪問'\n"
        "  islands_en: 'kuril*'\n"  # replaces the shipped one
        "rules:\n"
        "  - {name: v, event: protest, query: '(@protest_formula NEAR/10 @visit) AND @islands'}\n",
        encoding="utf-8",
    )
    rules, ruleset = rules_in_force(load_config(path, {}))
    assert "@" not in rules[0].query
    assert "iturup" in default_definitions()["islands_en"]
    assert "iturup" not in rules[0].query  # @islands is built on the replaced @islands_en
    text = "Japan lodged a protest over the visit to the Kurils."
    assert match_article(ruleset, title=None, text=text).events == ("protest",)


def test_a_bad_configuration_definition_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "kurilwatch.yaml"
    path.write_text(
        "sources: [{name: s, url: 'http://127.0.0.1:1/rss'}]\n"
        "rules:\n"
        "  - {name: v, event: protest, query: '@visit AND @islands'}\n",
        encoding="utf-8",
    )
    with pytest.raises(RuleError, match=rf"{path}: rule 'v': @visit is not defined"):
        rules_in_force(load_config(path, {}))

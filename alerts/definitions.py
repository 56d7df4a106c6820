"""Named parts of queries: `define:` entries that rules and the watch refer to as `@name`.

An event rule is a frame (who does what about which place); the parts recur from rule to rule
and language to language, so a rules file may name them once:

    define:
      islands: 'kuril* OR "northern territories" OR 北方領土 OR курил*'
      japan: 'japan OR tokyo OR 日本 OR япони*'
    rules:
      - name: protest
        event: protest
        query: 'protest AND @japan AND @islands'

`@name` stands for the definition in parentheses, so it binds as one operand anywhere a
parenthesized group may stand (`@act NEAR/5 @islands`). Definitions may refer to each other
in any order, never in a circle. The shipped definitions (`alerts/default_rules.yaml`) are
available to the rules of a configuration file, whose own `define:` adds names or replaces
shipped ones; a replaced one changes every shipped definition built on it (replacing
`@islands_en` changes `@islands`).
Nothing here touches IO.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from kurilwatch.errors import RuleError

__all__ = ["expand", "resolve"]

REFERENCE = re.compile(r"(?<![\w@*?])@([a-z][a-z0-9_]*)")
"""`@name`: a reference to a definition (not inside a word)."""

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def resolve(
    definitions: Mapping[str, object], *, origin: str, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Check the definitions and expand the references among them.

    Args:
        definitions: Name to query text, as written.
        origin: Where they come from, for error messages.
        base: Definitions as written elsewhere (the shipped ones) that these may refer to,
            add to or replace; a replaced one changes every definition that refers to it.

    Returns:
        `base` updated with these definitions, every reference expanded.

    Raises:
        RuleError: A name is not lower-case letters, digits and `_`, a value is not a
            query string, a definition refers to an undefined name, or definitions refer
            to each other in a circle.
    """
    raw: dict[str, str] = dict(base or {})
    origins = dict.fromkeys(raw, "shipped definitions")
    for name, text in definitions.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise RuleError(
                f"{origin}: define: {name!r} is not a name (lower-case letters, digits, _)"
            )
        if not isinstance(text, str) or not text.strip():
            raise RuleError(f"{origin}: define: {name}: expected a query string")
        raw[name] = text
        origins[name] = origin
    resolved: dict[str, str] = {}

    def visit(name: str, path: tuple[str, ...]) -> str:
        if name in resolved:
            return resolved[name]
        if name in path:
            circle = " -> ".join(f"@{n}" for n in (*path[path.index(name) :], name))
            raise RuleError(f"{origins[name]}: define: {name}: refers to itself ({circle})")

        def substitute(m: re.Match[str]) -> str:
            ref = m.group(1)
            if ref not in raw:
                known = ", ".join(f"@{n}" for n in raw)
                raise RuleError(
                    f"{origins[name]}: define: {name}: @{ref} is not defined (defined: {known})"
                )
            return f"({visit(ref, (*path, name))})"

        resolved[name] = REFERENCE.sub(substitute, raw[name])
        return resolved[name]

    for name in raw:
        visit(name, ())
    return resolved


def expand(query: str, definitions: Mapping[str, str], *, where: str) -> str:
    """`query` with every `@name` replaced by its definition in parentheses.

    Raises:
        RuleError: `query` refers to a name that is not defined; `where` names the rule.
    """

    def substitute(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in definitions:
            known = ", ".join(f"@{n}" for n in definitions) or "none"
            raise RuleError(f"{where}: @{name} is not defined (defined: {known})")
        return f"({definitions[name]})"

    return REFERENCE.sub(substitute, query)

"""The query's surface syntax around luqum: NEAR grouping and syntax-error messages.

Luqum parses `NEAR/n` as a plain word joined by the implicit operator, which binds loosest.
`group_near` decides where each NEAR's operands begin and end, working on luqum's own
tokens, and wraps every `a NEAR/n b` in parentheses so that NEAR binds tightest; it keeps,
for every character of the rewritten query, the column it came from in the query as the user
wrote it. `syntax_error` turns luqum's parse errors into a `RuleError` that names the rule,
that 1-based column and what was expected. `alerts.query`, which describes the language, is
the only user of this module. Nothing here touches IO.
"""

from __future__ import annotations

import re
from typing import Any

from luqum.exceptions import IllegalCharacterError
from luqum.parser import lexer as _luqum_lexer

from kurilwatch.errors import RuleError

NEAR_RE = re.compile(r"NEAR/(\d+)", re.IGNORECASE)


def rule_error(name: str, column: int, what: str) -> RuleError:
    return RuleError(f"rule {name!r}: query does not parse at column {column}: {what}")


def _lex(text: str, name: str) -> list[tuple[str, str, int, int]]:
    """Luqum's tokens of `text` as `(type, text, start, end)`."""
    lx = _luqum_lexer.clone()
    lx.input(text)
    out: list[tuple[str, str, int, int]] = []
    try:
        while (tok := lx.token()) is not None:
            out.append((tok.type, text[tok.lexpos : lx.lexpos], tok.lexpos, lx.lexpos))
    except IllegalCharacterError as exc:
        m = re.search(r"at position (\d+)", str(exc))
        pos = int(m.group(1)) if m else 0
        what = (
            "unterminated phrase, expected a closing '\"'"
            if text[pos:].startswith('"')
            else f"illegal character {text[pos]!r}"
        )
        raise rule_error(name, pos + 1, what) from None
    return out


def group_near(query: str, name: str) -> tuple[str, list[int]]:
    """Wrap every `a NEAR/n b` in parentheses so that NEAR binds tightest.

    Luqum parses `NEAR/n` as a plain word joined by the implicit operator, which binds
    loosest; the parentheses give it its operands back. Returns the rewritten query and,
    for each of its characters (plus one past the end), the column in `query` it came from.
    """
    # [type, text, start, end, synthetic]: synthetic parentheses are the ones inserted here
    toks: list[list[Any]] = [[*t, False] for t in _lex(query, name)]
    i = 0
    while i < len(toks):
        kind, text, start, _, synthetic = toks[i]
        if synthetic or kind != "TERM" or not NEAR_RE.fullmatch(text):
            i += 1
            continue
        left = _atom_start(toks, i - 1)
        right = _atom_end(toks, i + 1)
        if left is None or right is None:
            raise rule_error(
                name, start + 1, f"{text} needs a term, phrase or (group) on each side"
            )
        toks.insert(right + 1, ["RPAREN", ")", toks[right][3], toks[right][3], True])
        toks.insert(left, ["LPAREN", "(", toks[left][2], toks[left][2], True])
        i += 2
    out: list[str] = []
    origin: list[int] = []
    cursor = 0
    for kind, text, start, end, synthetic in toks:
        if not synthetic or kind == "LPAREN":
            out.append(query[cursor:start])
            origin.extend(range(cursor, start))
            cursor = start
        out.append(text)
        origin.extend([start] * len(text) if synthetic else range(start, end))
        cursor = max(cursor, end)
    out.append(query[cursor:])
    origin.extend(range(cursor, len(query) + 1))
    return "".join(out), origin


def _atom_start(toks: list[list[Any]], j: int) -> int | None:
    """Index of the first token of the operand that ends at token `j`."""
    if j >= 0 and toks[j][0] in ("APPROX", "BOOST"):
        j -= 1
    if j < 0:
        return None
    kind, text = toks[j][0], toks[j][1]
    if kind == "RPAREN":
        depth = 0
        for k in range(j, -1, -1):
            depth += {"RPAREN": 1, "LPAREN": -1}.get(toks[k][0], 0)
            if depth == 0:
                return k
        return None
    if kind == "PHRASE" or (kind == "TERM" and not NEAR_RE.fullmatch(text)):
        return j
    return None


def _atom_end(toks: list[list[Any]], j: int) -> int | None:
    """Index of the last token of the operand that starts at token `j`."""
    if j >= len(toks):
        return None
    kind, text = toks[j][0], toks[j][1]
    if kind == "LPAREN":
        depth = 0
        for k in range(j, len(toks)):
            depth += {"LPAREN": 1, "RPAREN": -1}.get(toks[k][0], 0)
            if depth == 0:
                return k
        return None
    if kind == "PHRASE" or (kind == "TERM" and not NEAR_RE.fullmatch(text)):
        while j + 1 < len(toks) and toks[j + 1][0] in ("APPROX", "BOOST"):
            j += 1
        return j
    return None


def syntax_error(
    query: str, rewritten: str, origin: list[int], name: str, exc: Exception
) -> RuleError:
    message = str(exc)
    m = re.search(r"unexpected\s+'(.*)' at position (\d+)", message)
    if m is None:
        opened: list[int] = []
        for kind, _, start, _ in _lex(rewritten, name):
            if kind == "LPAREN":
                opened.append(start)
            elif kind == "RPAREN" and opened:
                opened.pop()
        what = "unexpected end of query, expected "
        if opened:
            what += f"')' to close the '(' at column {origin[opened[-1]] + 1}"
        else:
            what += "a term, phrase or '(' after the last operator"
        return rule_error(name, len(query) + 1, what)
    pos = int(m.group(2))
    before = [t for t in _lex(rewritten[:pos], name) if t[0] != "APPROX"]
    what = f"unexpected {m.group(1)!r}"
    if not before or before[-1][0] in ("AND_OP", "OR_OP", "NOT", "LPAREN", "PLUS", "MINUS"):
        what += ", expected a term, phrase or '('"
        if before:
            what += f" after {before[-1][1]!r}"
    return rule_error(name, origin[pos] + 1, what)

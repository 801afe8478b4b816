"""Reading regular-expression source, just enough for routing: no regex engine of our own.

A route pattern is scanned once, at registration, into top-level tokens (literal characters, whole
groups, everything else opaque), from which we derive:
- ``literal_prefix`` / ``literal_suffix``: the text every match starts / ends with, to index routes by
  (``/areas/(\\d+)/edit`` -> ``/areas/`` and ``/edit``);
- ``flatten``: the pattern with its groups made non-capturing, to join a combined alternation;
- ``reverse_template``: literal text and group slots, so ``url_for`` can build a path back.
Anything the scanner is unsure about yields the safe answer ("" prefix, not combinable, not buildable).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Slot", "tokens", "literal_prefix", "literal_suffix", "flatten", "reverse_template"]


_LIT, _GROUP, _META = "lit", "group", "meta"


def _class_end(pattern: str, i: int) -> int:
    """Index just past the character class starting at ``pattern[i] == "["``."""
    j = i + 1
    if pattern[j : j + 1] == "^":
        j += 1
    if pattern[j : j + 1] == "]":  # a "]" first in a class is literal
        j += 1
    while j < len(pattern):
        if pattern[j] == "\\":
            j += 2
            continue
        if pattern[j] == "]":
            return j + 1
        j += 1
    raise re.error("unterminated character set", pattern, i)


def _group_end(pattern: str, i: int) -> int:
    """Index just past the group starting at ``pattern[i] == "("``, nested groups included."""
    depth, j = 0, i
    while j < len(pattern):
        c = pattern[j]
        if c == "\\":
            j += 2
            continue
        if c == "[":
            j = _class_end(pattern, j)
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    raise re.error("missing ), unterminated subpattern", pattern, i)


def tokens(pattern: str) -> Iterator[tuple[str, str]]:
    """Top-level tokens: literal characters, whole groups, and everything else as opaque "meta"."""
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            escaped = pattern[i + 1 : i + 2]
            # "\." or "\/" is a literal; "\d", "\1", "\n" are classes, back-references, specials.
            kind = _LIT if escaped and not (escaped.isalnum() or escaped == "_") else _META
            yield kind, escaped if kind == _LIT else pattern[i : i + 2]
            i += 2
        elif c == "[":
            j = _class_end(pattern, i)
            yield _META, pattern[i:j]
            i = j
        elif c == "(":
            j = _group_end(pattern, i)
            yield _GROUP, pattern[i:j]
            i = j
        else:
            yield (_META if c in ".^$|*+?{}" else _LIT), c
            i += 1


def literal_prefix(tokens: list[tuple[str, str]]) -> str:
    """The literal text every match must start with ("" when unsure)."""
    if any(kind == _META and text == "|" for kind, text in tokens):
        return ""  # a top-level alternation: no common prefix
    if tokens and tokens[0] == (_META, "^"):
        tokens = tokens[1:]
    prefix: list[str] = []
    for index, (kind, text) in enumerate(tokens):
        if kind != _LIT:
            break
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if following and following[0] == _META and following[1] in "*+?{":
            break  # this character is quantified, so it may be absent or repeated
        prefix.append(text)
    return "".join(prefix)


def literal_suffix(tokens: list[tuple[str, str]]) -> str:
    """The literal text every match must end with ("" when unsure)."""
    if any(kind == _META and text == "|" for kind, text in tokens):
        return ""
    if tokens and tokens[-1] == (_META, "$"):
        tokens = tokens[:-1]  # under fullmatch, "$" can only match at the very end
    suffix: list[str] = []
    for kind, text in reversed(tokens):
        if kind != _LIT:
            break  # a quantifier, class, group...: what comes before it is not fixed
        suffix.append(text)
    return "".join(reversed(suffix))


def flatten(pattern: str) -> str | None:
    """The pattern with every capturing group made non-capturing, or None when that changes its meaning.

    Back-references and conditionals need their groups; such patterns cannot join a combined regex.
    """
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
        elif c == "[":
            j = _class_end(pattern, i)
            out.append(pattern[i:j])
            i = j
        elif c == "(" and pattern.startswith("(?P<", i):
            out.append("(?:")
            i = pattern.index(">", i) + 1
        elif c == "(" and not pattern.startswith("(?", i):
            out.append("(?:")
            i += 1
        else:
            out.append(c)
            i += 1
    flat = "".join(out)
    try:
        # It must also work as one branch of an alternation: global flags such as "(?i)" only
        # work at the very start of a regex.
        if re.compile(flat).groups or re.compile(f"x|({flat})").groups != 1:
            return None
    except re.error:
        return None  # a back-reference or conditional lost its group, or flags not at the start
    return flat


@dataclass(frozen=True)
class Slot:
    """A top-level capturing group in a pattern: where ``url_for`` puts an argument."""

    name: str | None  # None for an unnamed group


def reverse_template(tokens: list[tuple[str, str]]) -> list[str | Slot] | None:
    """Literal text and group slots making up the pattern, or None if URLs cannot be built from it."""
    if tokens and tokens[0] == (_META, "^"):
        tokens = tokens[1:]
    if tokens and tokens[-1] == (_META, "$"):
        tokens = tokens[:-1]
    pieces: list[str | Slot] = []
    for index, (kind, text) in enumerate(tokens):
        if kind == _LIT:
            if pieces and isinstance(pieces[-1], str):
                pieces[-1] += text
            else:
                pieces.append(text)
            continue
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if kind != _GROUP or (following and following[0] == _META and following[1] in "*+?{"):
            return None
        if text.startswith("(?P<"):
            name: str | None = text[4 : text.index(">")]
        elif text.startswith("(?"):
            return None  # non-capturing group, lookaround or flags: no single text to put back
        else:
            name = None
        try:
            if re.compile(text).groups != 1:
                return None  # nested groups would each become a handler argument
        except re.error:
            return None  # a back-reference to another group
        pieces.append(Slot(name))
    return pieces

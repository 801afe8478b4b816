"""Reading regular-expression source, just enough for routing: no regex engine of our own.

A route pattern is scanned once, at registration, into top-level tokens (literal characters, whole
groups, everything else opaque), from which we derive:
- ``literal_prefix`` / ``literal_suffix``: the text every match starts / ends with, to index routes by
  (``/areas/(\\d+)/edit`` -> ``/areas/`` and ``/edit``);
- ``literal_segments``: whole path segments every match contains (``/(\\d+)/it5/(\\d+)`` -> ``it5``);
- ``flatten``: the pattern with its groups made non-capturing, to join a combined alternation;
- ``reverse_template``: literal text and group slots, so ``url_for`` can build a path back.
``check_pattern`` refuses, at registration, patterns that cannot work as written (no leading "/", Flask
or Bottle ``<...>`` placeholders), saying what to write instead.
Anything the scanner is unsure about yields the safe answer ("" prefix, not combinable, not buildable).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "check_pattern",
    "Slot",
    "tokens",
    "literal_prefix",
    "literal_suffix",
    "literal_segments",
    "flatten",
    "reverse_template",
]


# A Flask (<int:id>, <name>) or Bottle (<id:int>, <name:re:[a-z]+>) placeholder, but not a regex's own
# "(?P<name>", "(?P=name)", lookbehind "(?<=", "(?<!", nor an escaped "\<".
_PLACEHOLDER = re.compile(r"(?<!\(\?P)(?<!\\)<(?:([A-Za-z_]\w*):)?([A-Za-z_]\w*)(?::([^>]*))?>")
# What to write instead, by converter name (Flask's and Bottle's); annotation to add in the handler.
_INSTEAD = {
    "int": ("[0-9]+", "int"),
    "float": ("[0-9]+(?:\\.[0-9]+)?", "float"),
    "uuid": ("[0-9a-fA-F-]{36}", "uuid.UUID"),
    "path": (".+", None),
    "string": ("[^/]+", None),
    "re": (None, None),
}


def _instead(match: re.Match[str]) -> tuple[str, str | None]:
    """The regex group (and annotation) to write for one placeholder."""
    first, second, extra = match.groups()
    if first in _INSTEAD and second not in _INSTEAD:
        converter, name = first, second  # Flask: <int:id>
    elif first is not None:
        name, converter = first, second  # Bottle: <id:int>, <name:re:...>
    else:
        name, converter = second, "string"
    regex, annotation = _INSTEAD.get(converter, ("[^/]+", None))
    if converter == "re" and extra:
        regex = extra
    return f"(?P<{name}>{regex or '[^/]+'})", (f"{name}: {annotation}" if annotation else None)


def check_pattern(pattern: str) -> None:
    """Raise ``ValueError`` for a pattern that cannot match as its author meant, saying what to write."""
    if not isinstance(pattern, str):
        raise TypeError(f"a route pattern is a str (a regular expression), got {type(pattern).__name__}")
    placeholders = list(_PLACEHOLDER.finditer(pattern))
    if placeholders:
        suggestion = pattern
        annotations = []
        for match in reversed(placeholders):
            regex, annotation = _instead(match)
            suggestion = suggestion[: match.start()] + regex + suggestion[match.end() :]
            if annotation:
                annotations.insert(0, annotation)
        hint = f" and annotate the handler's parameter ({', '.join(annotations)})" if annotations else ""
        raise ValueError(
            f"route pattern {pattern!r}: {placeholders[0].group()!r} is a Flask/Bottle placeholder; miniweb "
            f"routes are regular expressions matched against the whole path. Write r'{suggestion}'{hint}"
        )
    body = pattern[1:] if pattern.startswith("^") else pattern
    first = next(tokens(body), None)
    # A leading literal other than "/" can never match a path; groups, classes and "." are left to the
    # author ("(/en|/zh)/about" is fine).
    if first is None or (first[0] in _LITERAL and first[1] != "/"):
        raise ValueError(
            f"route pattern {pattern!r} must start with '/' (it is matched against the whole path, which "
            f"always does): write r'/{body.lstrip('/')}'"
        )


# Token kinds: a literal character written as itself, an escaped literal ("\\." is "."), a whole group,
# anything else (classes, quantifiers, anchors, "|", "\\d"...).
_LIT, _ESC, _GROUP, _META = "lit", "esc", "group", "meta"
_LITERAL = (_LIT, _ESC)


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
    """Top-level tokens: literal characters (plain or escaped), whole groups, everything else "meta".

    Literal tokens carry the character they match (``"\\."`` gives ``(_ESC, ".")``); the others their source.
    """
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            escaped = pattern[i + 1 : i + 2]
            # "\." or "\/" is a literal; "\d", "\1", "\n" are classes, back-references, specials.
            kind = _ESC if escaped and not (escaped.isalnum() or escaped == "_") else _META
            yield kind, escaped if kind == _ESC else pattern[i : i + 2]
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
        if kind not in _LITERAL:
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
        if kind not in _LITERAL:
            break  # a quantifier, class, group...: what comes before it is not fixed
        suffix.append(text)
    return "".join(reversed(suffix))


def _quantified(tokens: list[tuple[str, str]], index: int) -> bool:
    """Whether the token after ``tokens[index]`` is a quantifier (so that token may be absent or repeated)."""
    following = tokens[index + 1] if index + 1 < len(tokens) else None
    return following is not None and following[0] == _META and following[1] in "*+?{"


def literal_segments(tokens: list[tuple[str, str]]) -> list[str]:
    """Path segments (text between slashes) that every full match of the pattern contains.

    A segment is taken only from a run of top-level characters written as themselves, none quantified,
    that is bounded on each side by a literal "/" or by the pattern's start or end: ``/it5/`` in
    ``/(\\d+)/it5/(\\d+)`` means every matched path contains "/it5/", so "it5" is one of
    ``path.split("/")``. Anything less certain gives no segment (an unindexed route is merely slower):
    escaped characters (``/a\\.b/``), classes, groups (optional or not), quantified characters, and any
    pattern with a top-level "|". The caller must also skip patterns whose flags change what a literal
    matches (``(?i)``, ``(?x)``): this reads the source, not the flags.
    """
    if any(kind == _META and text == "|" for kind, text in tokens):
        return []  # either branch may match: nothing is required by the pattern as a whole
    if tokens and tokens[0] == (_META, "^"):
        tokens = tokens[1:]  # under fullmatch and without (?m), "^" can only match at the start
    if tokens and tokens[-1] == (_META, "$"):
        tokens = tokens[:-1]  # and "$" only at the very end
    segments: list[str] = []
    current: list[str] | None = []  # the segment being read; None once a non-literal breaks it
    for index, (kind, text) in enumerate(tokens):
        certain = kind == _LIT and not _quantified(tokens, index)
        if certain and text == "/":
            if current:  # empty segments ("//") are left out: they would index nearly nothing apart
                segments.append("".join(current))
            current = []
        elif certain and current is not None:
            current.append(text)
        else:
            current = None  # wait for the next certain "/" to start a fresh segment
    if current:
        segments.append("".join(current))  # ends at the pattern's end: the path's last segment
    return segments


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
        if kind in _LITERAL:
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

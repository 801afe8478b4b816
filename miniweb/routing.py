"""Regex routes: registration, matching, and building URLs back (``url_for``).

Rules of this module:
- A pattern is a regular expression matched against the *whole* decoded path (``fullmatch``), compiled
  with ``re.DOTALL``: a path may hold any character once decoded (``%0A`` too), and ``(.+)`` means all of it.
- Patterns with no regex metacharacters are plain paths and live in a dict: one O(1) lookup.
- Regex patterns are compiled once, when the route table changes, never in the match loop. For speed they
  are indexed by their literal leading path segments (``/areas/(\\d+)`` is filed under ``areas``) in a small
  segment tree, and the routes reachable from one tree node are combined into one alternation per method,
  so the C regex engine picks the route (``match.lastindex`` tells which). Matching the last of 1,000
  routes thus costs about what matching the first does (see ``bench/routing.py``).
- Registration order decides among patterns (first match wins); plain paths win over patterns.
- A miss is ``NotFound``; a path that matches only under other methods is ``MethodNotAllowed`` (405 + Allow).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from .errors import MethodNotAllowed, NotFound

__all__ = ["Route", "Router", "BuildError"]

_FLAGS = re.DOTALL
# The characters a path may carry unescaped (RFC 3986 §3.3 pchar, plus "/").
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


class BuildError(ValueError):
    """``url_for`` could not build a URL: unknown name, wrong arguments, or a value the route rejects."""


# --- a small scanner over regex source: just enough to find literals and top-level groups -------------

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


def _tokens(pattern: str) -> Iterator[tuple[str, str]]:
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
        elif c in ".^$|*+?{}":
            yield _META, c
        else:
            yield _LIT, c
        i += 1 if c not in "\\[(" else 0


def _literal_prefix(tokens: list[tuple[str, str]]) -> str:
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


def _flatten(pattern: str) -> str | None:
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
        if re.compile(flat).groups:
            return None
    except re.error:
        return None  # a back-reference or conditional lost its group
    return flat


@dataclass(frozen=True)
class _Slot:
    """A top-level capturing group in a pattern: where ``url_for`` puts an argument."""

    name: str | None  # None for an unnamed group


def _reverse_template(tokens: list[tuple[str, str]]) -> list[str | _Slot] | None:
    """Literal text and group slots making up the pattern, or None if URLs cannot be built from it."""
    if tokens and tokens[0] == (_META, "^"):
        tokens = tokens[1:]
    if tokens and tokens[-1] == (_META, "$"):
        tokens = tokens[:-1]
    pieces: list[str | _Slot] = []
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
        pieces.append(_Slot(name))
    return pieces


# --- routes --------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Route:
    """One ``@app.route``: a pattern, the methods it answers, its handler and name."""

    pattern: str
    methods: frozenset[str]
    handler: Callable[..., Any]
    name: str
    csrf: bool = True
    regex: re.Pattern[str] = field(init=False, repr=False)
    static_path: str | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.regex = re.compile(self.pattern, _FLAGS)
        tokens = list(_tokens(self.pattern))
        self._template = _reverse_template(tokens)
        self._prefix = _literal_prefix(tokens)
        self._flat = _flatten(self.pattern)
        self.static_path = None
        if self._template is not None and all(isinstance(p, str) for p in self._template):
            self.static_path = "".join(self._template)  # type: ignore[arg-type]
        named = self.regex.groupindex.values()
        self._positional = [i for i in range(1, self.regex.groups + 1) if i not in named]

    def arguments(self, match: re.Match[str]) -> tuple[tuple[str, ...], dict[str, str]]:
        """Handler arguments from a match: unnamed groups positional, named groups by keyword."""
        return tuple(match.group(i) for i in self._positional), match.groupdict()

    def build(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        """The percent-encoded path for these arguments; the rest of ``kwargs`` is left for the query."""
        if self._template is None:
            raise BuildError(f"route {self.name!r} ({self.pattern}) is too complex to build URLs from")
        positional = list(args)
        raw: list[str] = []
        encoded: list[str] = []
        values: list[str] = []
        for piece in self._template:
            if isinstance(piece, str):
                raw.append(piece)
                encoded.append(quote(piece, safe=_PATH_SAFE))
                continue
            if piece.name is not None and piece.name in kwargs:
                value = kwargs.pop(piece.name)
            elif positional:
                value = positional.pop(0)
            else:
                raise BuildError(
                    f"route {self.name!r} ({self.pattern}) needs a value for {piece.name or 'a group'}"
                )
            value = str(value)
            values.append(value)
            raw.append(value)
            # Each value is one opaque argument: "/" and "?" inside it must be escaped too.
            encoded.append(quote(value, safe=""))
        if positional:
            raise BuildError(f"route {self.name!r} ({self.pattern}) got {len(positional)} extra argument(s)")
        match = self.regex.fullmatch("".join(raw))
        if match is None or list(match.groups()) != values:
            raise BuildError(f"values {values!r} do not match route {self.name!r} ({self.pattern})")
        return "".join(encoded)


# --- the matcher -----------------------------------------------------------------------------------------


class _Segment:
    """Routes tried in order with one regex search: a combined alternation, or one route on its own."""

    __slots__ = ("regex", "routes")

    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes
        if len(routes) == 1 and routes[0]._flat is None:
            self.regex = routes[0].regex
        else:
            # One capturing group per route around its flattened pattern: lastindex names the winner.
            self.regex = re.compile("|".join(f"({route._flat})" for route in routes), _FLAGS)

    def match(self, path: str) -> tuple[Route, re.Match[str]] | None:
        match = self.regex.fullmatch(path)
        if match is None:
            return None
        if len(self.routes) == 1 and self.routes[0]._flat is None:
            return self.routes[0], match
        route = self.routes[match.lastindex - 1]  # type: ignore[operator]
        return route, route.regex.fullmatch(path)  # type: ignore[return-value]


def _segments(routes: list[Route]) -> list[_Segment]:
    """Group consecutive combinable routes into one segment each; order is kept."""
    segments: list[_Segment] = []
    run: list[Route] = []
    for route in routes:
        if route._flat is None:
            if run:
                segments.append(_Segment(run))
                run = []
            segments.append(_Segment([route]))
        else:
            run.append(route)
    if run:
        segments.append(_Segment(run))
    return segments


class _Node:
    """A node of the segment tree: routes whose literal prefix ends here, plus those of its ancestors."""

    __slots__ = ("children", "own", "segments")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.own: list[tuple[int, Route]] = []
        self.segments: list[_Segment] = []

    def compile(self, inherited: list[tuple[int, Route]]) -> None:
        reachable = sorted(inherited + self.own, key=lambda pair: pair[0])
        self.segments = _segments([route for _, route in reachable])
        for child in self.children.values():
            child.compile(reachable)


class Router:
    """The route table of one app."""

    def __init__(self) -> None:
        self._routes: list[Route] = []
        self._by_name: dict[str, list[Route]] = {}
        self._static: dict[str, dict[str, Route]] = {}
        self._trees: dict[str, _Node] = {}
        self._dirty = False

    def add(self, route: Route) -> None:
        self._routes.append(route)
        self._by_name.setdefault(route.name, []).append(route)
        if route.static_path is not None:
            for method in route.methods:
                self._static.setdefault(route.static_path, {}).setdefault(method, route)
        self._dirty = True

    def __iter__(self) -> Iterator[Route]:
        return iter(self._routes)

    def _compile(self) -> None:
        trees: dict[str, _Node] = {}
        for order, route in enumerate(self._routes):
            if route.static_path is not None:
                continue
            for method in route.methods:
                node = trees.setdefault(method, _Node())
                # Only whole segments count: "/areas/" files under "areas", "/area" stays at the root.
                for part in route._prefix.split("/")[:-1]:
                    node = node.children.setdefault(part, _Node())
                node.own.append((order, route))
        for root in trees.values():
            root.compile([])
        self._trees = trees
        self._dirty = False

    def _match_method(self, method: str, path: str) -> tuple[Route, tuple[str, ...], dict[str, str]] | None:
        by_method = self._static.get(path)
        if by_method is not None and method in by_method:
            return by_method[method], (), {}
        node = self._trees.get(method)
        if node is None:
            return None
        for part in path.split("/"):
            child = node.children.get(part)
            if child is None:
                break
            node = child
        for segment in node.segments:
            found = segment.match(path)
            if found is not None:
                route, match = found
                args, kwargs = route.arguments(match)
                return route, args, kwargs
        return None

    def match(self, method: str, path: str) -> tuple[Route, tuple[str, ...], dict[str, str]]:
        """The route for ``method`` and ``path`` with its arguments; HEAD falls back to GET.

        Raises ``NotFound``, or ``MethodNotAllowed`` carrying the methods that would match.
        """
        if self._dirty:
            self._compile()
        found = self._match_method(method, path)
        if found is None and method == "HEAD":
            found = self._match_method("GET", path)
        if found is not None:
            return found
        allowed = self.allowed_methods(path)
        if allowed:
            raise MethodNotAllowed(allowed)
        raise NotFound()

    def allowed_methods(self, path: str) -> set[str]:
        """Every method some route answers for ``path`` (HEAD implied by GET, OPTIONS always answered)."""
        if self._dirty:
            self._compile()
        methods = {m for m in self._trees if self._match_method(m, path) is not None}
        methods.update(self._static.get(path, {}))
        if methods:
            if "GET" in methods:
                methods.add("HEAD")
            methods.add("OPTIONS")
        return methods

    def build(self, name: str, args: Iterable[Any], kwargs: dict[str, Any]) -> str:
        """``url_for``: the first route called ``name`` that accepts the arguments; extra kwargs -> query."""
        routes = self._by_name.get(name)
        if not routes:
            raise BuildError(f"no route named {name!r}")
        args = tuple(args)
        error: BuildError | None = None
        for route in routes:
            remaining = dict(kwargs)
            try:
                path = route.build(args, remaining)
            except BuildError as exc:
                error = exc
                continue
            query = {key: value for key, value in remaining.items() if value is not None}
            if query:
                path += "?" + urlencode(query, doseq=True, quote_via=quote)
            return path
        assert error is not None
        raise error

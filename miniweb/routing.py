"""Regex routes: registration, matching, and building URLs back (``url_for``).

Rules of this module:
- A pattern is a regular expression matched against the *whole* decoded path (``fullmatch``), compiled
  with ``re.DOTALL``: a path may hold any character once decoded (``%0A`` too), and ``(.+)`` means all of it.
- Patterns with no regex metacharacters are plain paths and live in a dict: one O(1) lookup.
- Regex patterns are compiled once, when the route table changes, never in the match loop. For speed they
  are indexed by their literal prefix (``/areas/(\\d+)`` under ``"/areas/"``): a path's candidates are the
  routes whose prefix starts the path, found with one dict probe per distinct prefix length (longest
  first). The candidates of each prefix are precombined, in registration order, into alternations of
  at most 100 routes (``re`` slows down sharply beyond that, as bottle found), so the C regex engine
  picks the route and ``match.lastindex`` tells which. Matching the last of 1,000 routes thus costs
  about what matching the first does, unless they share one literal prefix (see ``bench/routing.py``).
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
_CHUNK = 100  # routes per combined regex
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
        self._has_named = bool(named)

    def arguments(self, match: re.Match[str]) -> tuple[tuple[str, ...], dict[str, str]]:
        """Handler arguments from a match: unnamed groups positional, named groups by keyword."""
        if not self._has_named:
            return match.groups(), {}
        if not self._positional:
            return (), match.groupdict()
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

    __slots__ = ("regex", "routes", "single")

    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes
        self.single = routes[0] if len(routes) == 1 else None
        if self.single is not None:
            self.regex = self.single.regex
        else:
            # One capturing group per route around its flattened pattern: lastindex names the winner.
            self.regex = re.compile("|".join(f"({route._flat})" for route in routes), _FLAGS)

    def match(self, path: str) -> tuple[Route, tuple[str, ...], dict[str, str]] | None:
        match = self.regex.fullmatch(path)
        if match is None:
            return None
        route = self.single
        if route is None:
            route = self.routes[match.lastindex - 1]  # type: ignore[operator]
            match = route.regex.fullmatch(path)  # again, for the route's own groups (cheap: it matches)
        return route, *route.arguments(match)  # type: ignore[arg-type]


def _segments(routes: list[Route]) -> list[_Segment]:
    """Consecutive combinable routes joined into segments of at most ``_CHUNK``; order is kept."""
    segments: list[_Segment] = []
    run: list[Route] = []
    for route in routes:
        if route._flat is None or len(run) == _CHUNK:
            if run:
                segments.append(_Segment(run))
            run = []
        if route._flat is None:
            segments.append(_Segment([route]))  # a back-reference needs its groups: on its own
        else:
            run.append(route)
    if run:
        segments.append(_Segment(run))
    return segments


class _PrefixIndex:
    """The regex routes of one method, found by literal prefix."""

    __slots__ = ("lengths", "buckets")

    def __init__(self, routes: list[Route]) -> None:
        by_prefix: dict[str, list[Route]] = {}
        for route in routes:
            by_prefix.setdefault(route._prefix, []).append(route)
        #: Distinct prefix lengths, longest first: the first probe that hits is the longest prefix.
        self.lengths = sorted({len(prefix) for prefix in by_prefix}, reverse=True)
        order = {id(route): index for index, route in enumerate(routes)}
        self.buckets: dict[str, list[_Segment]] = {}
        for prefix in by_prefix:
            # Every route whose prefix starts this prefix (itself included) may match the same paths.
            candidates = [r for n in self.lengths if n <= len(prefix) for r in by_prefix.get(prefix[:n], ())]
            candidates.sort(key=lambda route: order[id(route)])
            self.buckets[prefix] = _segments(candidates)

    def match(self, path: str) -> tuple[Route, tuple[str, ...], dict[str, str]] | None:
        size = len(path)
        buckets = self.buckets
        for length in self.lengths:
            if length > size:
                continue
            segments = buckets.get(path[:length])
            if segments is not None:
                for segment in segments:
                    found = segment.match(path)
                    if found is not None:
                        return found
                return None
        return None


class Router:
    """The route table of one app."""

    def __init__(self) -> None:
        self._routes: list[Route] = []
        self._by_name: dict[str, list[Route]] = {}
        self._static: dict[str, dict[str, Route]] = {}
        self._indexes: dict[str, _PrefixIndex] = {}
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
        by_method: dict[str, list[Route]] = {}
        for route in self._routes:
            if route.static_path is None:
                for method in route.methods:
                    by_method.setdefault(method, []).append(route)
        self._indexes = {method: _PrefixIndex(routes) for method, routes in by_method.items()}
        self._dirty = False

    def _match_method(self, method: str, path: str) -> tuple[Route, tuple[str, ...], dict[str, str]] | None:
        by_method = self._static.get(path)
        if by_method is not None and method in by_method:
            return by_method[method], (), {}
        index = self._indexes.get(method)
        return index.match(path) if index is not None else None

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
        methods = {m for m in self._indexes if self._match_method(m, path) is not None}
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

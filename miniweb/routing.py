"""Regex routes: registration, matching, and building URLs back (``url_for``).

Rules of this module:
- A pattern is a regular expression matched against the *whole* decoded path (``fullmatch``), compiled
  with ``re.DOTALL``: a path may hold any character once decoded (``%0A`` too), and ``(.+)`` means all of it.
- Patterns with no regex metacharacters are plain paths and live in a dict: one O(1) lookup.
- Regex patterns are compiled once, when the route table changes, never in the match loop. For speed they
  are indexed by the literal text their pattern requires (prefix, suffix, whole path segments; see
  ``matching.py``), which never changes which route wins. A pattern with inline global flags (``(?i)``,
  ``(?x)``) is not indexed: its literal text may match other text.
- Registration order decides among patterns (first match wins); plain paths win over patterns.
- A miss is ``NotFound``; a path that matches only under other methods is ``MethodNotAllowed`` (405 + Allow);
  a miss whose path plus "/" would match is ``RequestRedirect`` (the app answers 308, as werkzeug does).
- Patterns that cannot work as written are refused when the app registers them
  (``patterns.check_pattern``, called by ``App.add_route``); ``Route`` refuses handlers that cannot take
  the pattern's groups; typed groups get their converters there, once
  (``signatures.py``). Two different handlers under one name are refused by ``Router.add``.
- Thread safety: routes may be added while requests are served. ``add`` and the index rebuild hold one
  lock; ``match`` reads without it (it sees the table before or after an ``add``, never a half-built
  index) and rebuilds under the lock when the table changed, so no route added meanwhile is lost.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from . import patterns
from .building import PATH_SAFE as _PATH_SAFE
from .building import BuildError, FastBuild, UrlPlan, query_string, static_fast
from .errors import MethodNotAllowed, NotFound
from .matching import Found, RouteIndex
from .signatures import RouteConverters, route_converters

__all__ = ["Route", "Router", "BuildError", "RequestRedirect", "path_url", "url_prefix"]

_FLAGS = re.DOTALL
_PLAIN_FLAGS = re.compile("", _FLAGS).flags  # what a pattern without inline global flags ends up with


class RequestRedirect(Exception):  # noqa: N818 - werkzeug's name; it is a routing answer, not an error
    """The path misses only its trailing slash: the app answers 308 to ``path`` (RFC 9110 §15.4.9 keeps
    the method and body, so a POST to ``/todos`` reaches ``/todos/`` intact)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def url_prefix(script_name: str) -> str:
    """The app's mount point (a WSGI ``SCRIPT_NAME``) as the percent-encoded start of a URL path.

    PEP 3333 passes SCRIPT_NAME like PATH_INFO: percent-decoded (CGI, RFC 3875 §4.1.13), its bytes carried
    as latin-1 text. So its bytes are percent-encoded again (``/d\xc3\xa9mo`` -> ``/d%C3%A9mo``, a literal
    ``%`` -> ``%25``); a trailing "/" is dropped, as the built path brings its own.
    """
    return quote(script_name.encode("latin-1").rstrip(b"/"), safe=_PATH_SAFE)


def path_url(path: str) -> str:
    """A decoded path (text) percent-encoded for a URL or a ``Location`` header ("/" kept)."""
    return quote(path, safe=_PATH_SAFE)


# --- routes --------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Route:
    """One ``@app.route``: a pattern, the methods it answers, its handler and name."""

    pattern: str
    methods: frozenset[str]
    handler: Callable[..., Any]
    name: str
    csrf: bool = True
    group: Any = field(default=None, repr=False)  # the Blueprint that registered it, if any
    regex: re.Pattern[str] = field(init=False, repr=False)
    static_path: str | None = field(init=False, repr=False)
    order: int = field(default=0, init=False, repr=False)  # registration order, set by Router.add

    def __post_init__(self) -> None:
        self.regex = re.compile(self.pattern, _FLAGS)
        tokens = list(patterns.tokens(self.pattern))
        self._template = patterns.reverse_template(tokens)
        # The literal text every match must contain, for the index: none when inline flags such as (?i)
        # or (?x) make the pattern's literal characters match other text.
        plain = self.regex.flags == _PLAIN_FLAGS
        self._prefix = patterns.literal_prefix(tokens) if plain else ""
        self._suffix = patterns.literal_suffix(tokens) if plain else ""
        self._segments = patterns.literal_segments(tokens) if plain else []
        self._flat = patterns.flatten(self.pattern)
        self.static_path = None
        if self._template is not None and all(isinstance(p, str) for p in self._template):
            self.static_path = "".join(self._template)  # type: ignore[arg-type]
        named = self.regex.groupindex.values()
        self._positional = [i for i in range(1, self.regex.groups + 1) if i not in named]
        self._has_named = bool(named)
        #: None unless the handler annotates a group (int, float, UUID): then Router.match converts.
        self.converters: RouteConverters | None = route_converters(
            self.handler, self.pattern, len(self._positional), list(self.regex.groupindex)
        )
        self._plan = self._url_plan()
        # A path with no group, which its own pattern matches: url_for returns it as it is.
        static, self._built_static = self.static_path, None
        if static is not None and (match := self.regex.fullmatch(static)) is not None and not match.groups():
            self._built_static = quote(static, safe=_PATH_SAFE)
        #: ``url_for``'s fast path for this route (building.py), or None: the general path only.
        self.fast_build: FastBuild | None = (
            static_fast(self._built_static) if self._built_static is not None
            else self._plan.fast if self._plan is not None else None
        )  # fmt: skip

    def arguments(self, match: re.Match[str]) -> tuple[tuple[str, ...], dict[str, str]]:
        """Handler arguments from a match: unnamed groups positional, named groups by keyword."""
        if not self._has_named:
            return match.groups(), {}
        if not self._positional:
            return (), match.groupdict()
        return tuple(match.group(i) for i in self._positional), match.groupdict()

    def convert(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The typed handler arguments; a value that does not convert is a 404 (the URL names nothing)."""
        positional, named = self.converters  # type: ignore[misc]
        try:
            if any(positional):
                args = tuple(
                    value if convert is None or value is None else convert(value)
                    for convert, value in zip(positional, args, strict=True)
                )
            for name, convert in named.items():
                value = kwargs[name]
                if value is not None:  # an optional group that did not take part
                    kwargs[name] = convert(value)
        except ValueError:
            raise NotFound() from None
        return args, kwargs

    def _converter_for(self, slot: patterns.Slot, index: int) -> Any:
        """The converter of a template slot (``index``: its rank among the unnamed groups), or None."""
        if self.converters is None:
            return None
        positional, named = self.converters
        if slot.name is not None:
            return named.get(slot.name)
        return positional[index] if index < len(positional) else None

    def _url_plan(self) -> UrlPlan | None:
        """``url_for``'s plan (building.py), worked out once; None if the pattern is too complex to build."""
        if self._template is None:
            return None
        converters, unnamed = [], 0
        for piece in self._template:
            if isinstance(piece, patterns.Slot):
                converters.append(self._converter_for(piece, unnamed))
                unnamed += piece.name is None
        return UrlPlan(self.name, self.pattern, self.regex, self._template, converters)

    def build(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        """The percent-encoded path for these arguments; the values used are taken out of ``kwargs``
        (the rest is left for the query)."""
        if self._built_static is not None and not args:
            return self._built_static
        if self._plan is None:
            raise BuildError(f"route {self.name!r} ({self.pattern}) is too complex to build URLs from")
        return self._plan.build(args, kwargs)


class Router:
    """The route table of one app."""

    def __init__(self) -> None:
        self._routes: list[Route] = []
        self._by_name: dict[str, list[Route]] = {}
        self._static: dict[str, dict[str, Route]] = {}
        self._indexes: dict[str, RouteIndex] = {}
        # Routes a missing trailing slash can redirect to: plain paths and patterns ending in a literal "/".
        self._slashed_static: frozenset[str] = frozenset()
        self._slashed_index: RouteIndex | None = None
        self._dirty = False
        self._lock = threading.Lock()  # add() and _compile(); see the module docstring
        #: Route name -> its route's fast ``url_for`` (building.py), for names with one route only.
        self.fast_builds: dict[str, FastBuild] = {}

    def add(self, route: Route) -> None:
        """Add a route; ``ValueError`` if its name already belongs to another handler.

        One handler may carry several routes under one name (``url_for`` takes the first that accepts
        the arguments), but two handlers under one name would make ``url_for`` silently pick one.
        """
        with self._lock:
            for other in self._by_name.get(route.name, ()):
                if other.handler is not route.handler:
                    raise ValueError(
                        f"route name {route.name!r} ({route.pattern}) is already used by "
                        f"{getattr(other.handler, '__qualname__', other.handler)!s} for {other.pattern}; "
                        "pass name=... to tell them apart"
                    )
            route.order = len(self._routes)
            self._routes.append(route)
            if route.name in self._by_name or route.fast_build is None:
                self.fast_builds.pop(route.name, None)  # variants: url_for tries them in order
            else:
                self.fast_builds[route.name] = route.fast_build
            self._by_name.setdefault(route.name, []).append(route)
            if route.static_path is not None:
                for method in route.methods:
                    self._static.setdefault(route.static_path, {}).setdefault(method, route)
            self._dirty = True

    def __iter__(self) -> Iterator[Route]:
        return iter(self._routes)

    def _compile(self) -> None:
        with self._lock:
            if not self._dirty:
                return  # another thread rebuilt it while this one waited
            by_method: dict[str, list[Route]] = {}
            for route in self._routes:
                if route.static_path is None:
                    for method in route.methods:
                        by_method.setdefault(method, []).append(route)
            self._indexes = {method: RouteIndex(routes) for method, routes in by_method.items()}
            self._slashed_static = frozenset(path for path in self._static if path.endswith("/"))
            slashed = [r for r in self._routes if r.static_path is None and r._suffix.endswith("/")]
            self._slashed_index = RouteIndex(slashed) if slashed else None
            self._dirty = False

    def _match_method(self, method: str, path: str) -> Found | None:
        by_method = self._static.get(path)
        if by_method is not None and method in by_method:
            return by_method[method], (), {}
        index = self._indexes.get(method)
        return index.match(path) if index is not None else None

    def match(self, method: str, path: str) -> Found:
        """The route for ``method`` and ``path`` with its arguments; HEAD falls back to GET.

        Raises ``NotFound`` (also for a typed group that does not convert), ``MethodNotAllowed`` carrying
        the methods that would match, or ``RequestRedirect`` when only a trailing "/" is missing.
        """
        if self._dirty:
            self._compile()
        by_method = self._static.get(path)
        if by_method is not None:
            route = by_method.get(method)
            if route is not None:
                return route, (), {}  # a plain path: no groups, nothing to convert
        index = self._indexes.get(method)
        found = index.match(path) if index is not None else None
        if found is None and method == "HEAD":
            found = self._match_method("GET", path)
        if found is not None:
            if found[0].converters is not None:
                return found[0], *found[0].convert(found[1], found[2])
            return found
        # The method (and GET, for HEAD) just missed: no need to try it again.
        allowed = self._allowed(path, skip={method, "GET"} if method == "HEAD" else {method})
        if allowed:
            raise MethodNotAllowed(allowed)
        if self._slashed_static or self._slashed_index is not None:
            self._redirect_to_slash(path)
        raise NotFound()

    def _redirect_to_slash(self, path: str) -> None:
        """Raise ``RequestRedirect`` if ``path + "/"`` is a route's (werkzeug's strict slashes: "/todos"
        for a route "/todos/"). Only routes ending in a literal "/" are asked, so apps without any pay
        nothing on a 404; a pattern such as ``/(.*)`` matches "/todos" itself and never gets here."""
        if path.endswith("/"):
            return
        slashed = path + "/"
        if slashed in self._slashed_static or (
            self._slashed_index is not None and self._slashed_index.match(slashed) is not None
        ):
            raise RequestRedirect(slashed)

    def _allowed(self, path: str, skip: set[str]) -> set[str]:
        methods = {m for m in self._indexes if m not in skip and self._match_method(m, path) is not None}
        methods.update(self._static.get(path, {}))
        if methods:
            if "GET" in methods:
                methods.add("HEAD")
            methods.add("OPTIONS")
        return methods

    def build(self, name: str, args: Iterable[Any], kwargs: dict[str, Any]) -> str:
        """``url_for``: the first route called ``name`` that accepts the arguments; extra kwargs -> query
        (``kwargs`` itself is left as it is)."""
        routes = self._by_name.get(name)
        if not routes:
            raise BuildError(f"no route named {name!r}")
        if type(args) is not tuple:
            args = tuple(args)
        if len(routes) == 1:  # the common case: no variants to try, so no error to keep
            remaining = dict(kwargs) if kwargs else kwargs  # an empty dict is never changed
            path = routes[0].build(args, remaining)
            query = query_string(remaining) if remaining else None
            return path if query is None else f"{path}?{query}"
        error: BuildError | None = None
        for route in routes:
            remaining = dict(kwargs)
            try:
                path = route.build(args, remaining)
            except BuildError as exc:
                error = exc
                continue
            query = query_string(remaining)
            return path if query is None else f"{path}?{query}"
        assert error is not None
        raise error

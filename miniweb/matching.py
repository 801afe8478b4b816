"""Finding the regex route for a path quickly, without changing which route wins.

Rules of this module:
- The answer is always what a linear scan would give: the earliest registered route whose pattern
  fullmatches the path. Every index below only drops routes that provably cannot match.
- Routes are found by literal prefix (``/areas/(\\d+)/edit``: ``"/areas/"``), then by literal suffix
  (``"/edit"``), then, among routes that still share both, by a whole path segment their pattern requires
  (``/(\\d+)/it5/(\\d+)``: ``"it5"``, looked up among ``path.split("/")``).
- What remains is tried with precombined alternations of at most 100 routes in registration order
  (``re`` slows down sharply beyond that, as bottle found), so the C regex engine picks the route and
  ``match.lastindex`` tells which. Matching the last of 1,000 routes thus costs about what matching the
  first does, unless they share their prefix, suffix and required segments, e.g. ``/(\\w+)-(\\d+)``
  variations (see ``bench/routing.py``).
- Nothing here is compiled in the match loop: ``RouteIndex`` is built when the route table changes.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .routing import Route

__all__ = ["RouteIndex", "Found"]

_CHUNK = 100  # routes per combined regex

#: A matched route with its handler arguments (positional, keyword).
Found = tuple["Route", tuple[str, ...], dict[str, str]]


class _Chunk:
    """Routes tried in order with one regex: a combined alternation, or one route on its own."""

    __slots__ = ("regex", "routes", "single")

    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes
        self.single = routes[0] if len(routes) == 1 else None
        if self.single is not None:
            self.regex = self.single.regex
        else:
            # One capturing group per route around its flattened pattern: lastindex names the winner.
            # Combinable routes share the router's flags (inline global flags make a route uncombinable).
            self.regex = re.compile("|".join(f"({route._flat})" for route in routes), routes[0].regex.flags)

    def match(self, path: str) -> Found | None:
        match = self.regex.fullmatch(path)
        if match is None:
            return None
        route = self.single
        if route is None:
            route = self.routes[match.lastindex - 1]  # type: ignore[operator]
            match = route.regex.fullmatch(path)  # again, for the route's own groups (cheap: it matches)
        if route._has_named:
            return route, *route.arguments(match)  # type: ignore[arg-type]
        return route, match.groups(), {}  # type: ignore[union-attr]  # route.arguments(), inline


class _InOrder:
    """Routes tried in registration order, as chunks: the first match wins."""

    __slots__ = ("chunks",)

    def __init__(self, routes: list[Route]) -> None:
        self.chunks: list[_Chunk] = []
        run: list[Route] = []
        for route in routes:
            if route._flat is None or len(run) == _CHUNK:
                if run:
                    self.chunks.append(_Chunk(run))
                run = []
            if route._flat is None:
                self.chunks.append(_Chunk([route]))  # a back-reference needs its groups: on its own
            else:
                run.append(route)
        if run:
            self.chunks.append(_Chunk(run))

    def match(self, path: str) -> Found | None:
        for chunk in self.chunks:
            found = chunk.match(path)
            if found is not None:
                return found
        return None


def _in_order(routes: list[Route]) -> _Chunk | _InOrder:
    """Routes tried in registration order; a lone chunk answers by itself (one call less per lookup)."""
    ordered = _InOrder(routes)
    return ordered.chunks[0] if len(ordered.chunks) == 1 else ordered


def _earlier(found: Found | None, best: Found | None) -> Found | None:
    """The match of the earlier registered route (either may be None)."""
    if best is None or (found is not None and found[0].order < best[0].order):
        return found
    return best


class _SegmentIndex:
    """Routes sharing a prefix and suffix, found by a path segment their pattern requires.

    Each route is filed under one of its required segments (the one fewest routes here share), or
    among the unfiled ones. A path's candidates are the unfiled routes plus those filed under one of its
    segments; each group answers its own earliest match, and the earliest of those wins. That is the
    earliest match overall: that route is in exactly one group, and is that group's earliest match.
    """

    __slots__ = ("by_segment", "unfiled")

    def __init__(self, routes: list[Route]) -> None:
        shared = Counter(segment for route in routes for segment in set(route._segments))
        filed: dict[str, list[Route]] = {}
        unfiled: list[Route] = []
        for route in routes:
            if route._segments:
                filed.setdefault(min(route._segments, key=shared.__getitem__), []).append(route)
            else:
                unfiled.append(route)
        self.by_segment = {segment: _in_order(group) for segment, group in filed.items()}
        self.unfiled = _in_order(unfiled) if unfiled else None

    def match(self, path: str) -> Found | None:
        best = self.unfiled.match(path) if self.unfiled is not None else None
        for segment in set(path.split("/")):  # a set: a segment repeated in the path is tried once
            group = self.by_segment.get(segment)
            if group is not None:
                best = _earlier(group.match(path), best)
        return best


_Matcher = _Chunk | _InOrder | _SegmentIndex  # each answers the earliest registered route that matches


def _candidates(routes: list[Route]) -> _Matcher:
    """The matcher for routes that share their affixes: by segment when that can tell them apart."""
    if len(routes) > 1 and any(route._segments for route in routes):
        return _SegmentIndex(routes)
    return _in_order(routes)


def _prefix_chains(routes: list[Route]) -> dict[str, list[Route]]:
    """For each literal prefix among ``routes``: every route whose prefix is a prefix of it, in order.

    A path whose longest known prefix is ``p`` can only be matched by the routes listed under ``p``.
    """
    by_prefix: dict[str, list[Route]] = {}
    for route in routes:
        by_prefix.setdefault(route._prefix, []).append(route)
    lengths = {len(prefix) for prefix in by_prefix}
    chains: dict[str, list[Route]] = {}
    for prefix in by_prefix:
        chain = [route for n in lengths if n <= len(prefix) for route in by_prefix.get(prefix[:n], ())]
        chain.sort(key=lambda route: route.order)
        chains[prefix] = chain
    return chains


class _SuffixIndex:
    """Routes sharing a literal prefix, found by their literal suffix (``/(\\d+)/edit`` by ``/edit``).

    Unlike prefixes, suffix groups are not merged with their shorter suffixes (routes ending in ``""``
    would be copied into every group: quadratic). A path probes each suffix length instead, usually
    one or two hits, and the earliest registered match wins.
    """

    __slots__ = ("lengths", "buckets")

    def __init__(self, routes: list[Route], built: dict[tuple[int, ...], _Matcher]) -> None:
        by_suffix: dict[str, list[Route]] = {}
        for route in routes:
            by_suffix.setdefault(route._suffix, []).append(route)
        self.lengths = sorted({len(suffix) for suffix in by_suffix}, reverse=True)
        self.buckets: dict[str, _Matcher] = {}
        for suffix, group in by_suffix.items():
            # The same group recurs under many prefixes (routes under "/" are in every chain): build once.
            key = tuple(id(route) for route in group)
            if key not in built:
                built[key] = _candidates(group)
            self.buckets[suffix] = built[key]

    def match(self, path: str) -> Found | None:
        size = len(path)
        best = None
        for length in self.lengths:
            if length > size:
                continue
            candidates = self.buckets.get(path[size - length :])
            if candidates is not None:
                best = _earlier(candidates.match(path), best)
        return best


class RouteIndex:
    """The regex routes of one method, found by literal prefix, then suffix, then required segment."""

    __slots__ = ("lengths", "buckets")

    def __init__(self, routes: list[Route]) -> None:
        chains = _prefix_chains(routes)
        #: Distinct prefix lengths, longest first: the first probe that hits is the longest prefix.
        self.lengths = sorted({len(prefix) for prefix in chains}, reverse=True)
        built: dict[tuple[int, ...], _Matcher] = {}
        self.buckets: dict[str, _SuffixIndex | _Matcher] = {}
        for prefix, chain in chains.items():
            by_suffix = _SuffixIndex(chain, built)
            # Routes that all end in a group have no suffix to look up: their matcher answers directly.
            self.buckets[prefix] = by_suffix.buckets[""] if by_suffix.lengths == [0] else by_suffix

    def match(self, path: str) -> Found | None:
        """The earliest registered route that fullmatches ``path``, with its arguments; or None."""
        size = len(path)
        for length in self.lengths:
            if length <= size:
                bucket = self.buckets.get(path[:length])
                if bucket is not None:
                    return bucket.match(path)
        return None

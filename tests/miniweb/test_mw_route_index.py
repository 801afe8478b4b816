"""The route index (prefix, suffix, required path segment) never changes which route wins.

Unit cases for what counts as a required segment, then a property test: the indexed router answers
exactly what a plain linear scan of the same routes answers, on generated route tables and paths.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from miniweb import patterns
from miniweb.errors import HTTPError, NotFound
from miniweb.matching import RouteIndex
from miniweb.routing import RequestRedirect, Route, Router


def _noop(*args, **kwargs):
    return None


def _router(*patterns_: str) -> Router:
    router = Router()
    for i, pattern in enumerate(patterns_):
        router.add(Route(pattern, frozenset({"GET"}), _noop, f"r{i}"))
    return router


@pytest.mark.parametrize(
    ("pattern", "segments"),
    [
        (r"/(\d+)/it5/(\d+)", ["it5"]),
        (r"/api/(\d+)/edit", ["api", "edit"]),  # a leading or trailing run counts: first / last segment
        (r"it5/(\d+)", ["it5"]),
        (r"^/a/b$", ["a", "b"]),  # under fullmatch, ^ and $ only match at the ends
        (r"/(\d+)/a.b/(\d+)", []),  # "." is any character ("/" too, under re.DOTALL)
        (r"/(\d+)/a\.b/(\d+)", []),  # escaped characters are left out, to keep the rule simple
        (r"/(\d+)/a\/b/(\d+)", []),
        (r"/(\d+)/[ab]/(\d+)", []),  # a character class
        (r"/(\d+)/ab?/(\d+)", []),  # a quantified character may be absent
        (r"/(\d+)/ab{2}/(\d+)", []),
        (r"/(\d+)/ab/?(\d+)", []),  # the "/" may be absent ("/1/ab2"): "ab" need not be a whole segment
        (r"/(\d+)(?:/x/)?(\d+)", []),  # an optional group
        (r"/(\d+)(/x/)(\d+)", []),  # a group, even a required one, is not read into
        (r"/(\d+)/x/(\d+)|/y", []),  # a top-level alternation: neither branch is required
        (r"/(\d+)/x\n/(\d+)", []),  # "\n" is an escape, not the letters
        (r"/(\d+)//(\d+)", []),  # an empty segment indexes nothing apart
        (r"/(\d+)/x/y/(\d+)", ["x", "y"]),
        (r"/中文/(\d+)/页/", ["中文", "页"]),
    ],
)
def test_required_segments(pattern, segments):
    assert patterns.literal_segments(list(patterns.tokens(pattern))) == segments


def test_patterns_with_inline_flags_are_not_indexed():
    router = _router(r"(?i)/abc/(\d+)/xyz", r"(?x) / (\d+) / it 5 / (\d+)", r"/(\d+)/it5/(\d+)")
    assert router.match("GET", "/ABC/1/XYZ")[0].name == "r0"  # the literal suffix "/xyz" would miss it
    assert router.match("GET", "/1/it5/2")[0].name == "r1"  # verbose: the source's "it 5" matches "it5"
    route = Route(r"(?i)/(\d+)/it5/(\d+)", frozenset({"GET"}), _noop, "caps")
    assert (route._prefix, route._suffix, route._segments) == ("", "", [])


def test_combined_routes_keep_the_routers_dotall_flag():
    # Two routes in one combined regex (same prefix, no suffix): "." must match a decoded newline
    # (%0A) there too, as it does in each route's own regex.
    router = _router(r"/f/(\d+)", r"/f/(.+)")
    route, args, _ = router.match("GET", "/f/a\nb")
    assert (route.name, args) == ("r1", ("a\nb",))


def test_quantified_slash_does_not_end_a_segment():
    router = _router(r"/(\d+)/ab/?(\d+)", r"/(\d+)/cd/(\d+)")
    assert router.match("GET", "/1/ab2")[0].name == "r0"
    assert router.match("GET", "/1/ab/2")[0].name == "r0"
    assert router.match("GET", "/1/cd/2")[0].name == "r1"


def test_segment_index_keeps_registration_order():
    router = _router(r"/(\d+)/b/(\w+)", r"/(\d+)/a/(\d+)", r"/(\d+)/(\w)/(\w)", r"/(\d+)/a/(\w+)")
    assert router.match("GET", "/1/a/2")[0].name == "r1"
    assert router.match("GET", "/1/a/x")[0].name == "r2"  # unfiled, earlier than the filed "r3"
    assert router.match("GET", "/1/a/xy")[0].name == "r3"
    assert router.match("GET", "/1/b/2")[0].name == "r0"  # filed under "b", earlier than unfiled "r2"
    assert router.match("GET", "/1/b/a")[0].name == "r0"  # a path holding two filed segments
    assert router.match("GET", "/1/c/a")[0].name == "r2"
    with pytest.raises(NotFound):
        router.match("GET", "/1/cd/a")


def test_inner_literal_picks_only_its_own_routes():
    """With 1,000 routes differing only in a middle segment, a path's candidates are that segment's."""
    routes = [Route(rf"/(\d+)/it{i}/(\d+)", frozenset({"GET"}), _noop, f"r{i}") for i in range(1000)]
    for i, route in enumerate(routes):
        route.order = i
    index = RouteIndex(routes)
    candidates = index.buckets["/"]  # one prefix ("/"), one suffix (""): looked up without the suffix
    assert candidates.unfiled is None
    assert [route.name for route in candidates.by_segment["it999"].routes] == ["r999"]
    assert index.match("/42/it999/7")[0].name == "r999"
    assert index.match("/42/it999/x") is None
    assert index.match("/42/it1000/7") is None


def test_a_segment_shared_by_many_is_not_chosen_when_a_rarer_one_exists():
    routes = [Route(rf"/shop/(\d+)/it{i}", frozenset({"GET"}), _noop, f"r{i}") for i in range(3)]
    routes.append(Route(r"/shop/(\d+)/it0/(\d+)", frozenset({"GET"}), _noop, "deep"))
    router = Router()
    for route in routes:
        router.add(route)
    assert router.match("GET", "/shop/5/it0/6")[0].name == "deep"
    assert router.match("GET", "/shop/5/it2")[0].name == "r2"


# --- the indexed router against a linear scan (hypothesis) --------------------------------------------

# Pattern pieces chosen to make routes overlap: shared literals, groups on both sides of them, and every
# construct that must not be read as a required segment.
_PIECES = [
    "/", "/", "/ab", "/a", "/b", "/A", "a", "b", "1", r"(\d+)", r"([^/]+)", "(.*)", ".", r"\.", r"\/",
    "[ab]", "b?", "a*", "(?:/a/)?", "/?", "(/b/)", "|", "^", "$", r"(\w)", r"\n",
]  # fmt: skip
_SEGMENTS = ["", "a", "b", "ab", "AB", "1", "12", "a.b", "b1", "\n", "中"]


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


_bodies = st.lists(st.sampled_from(_PIECES), min_size=1, max_size=7).map("".join)
_patterns = st.builds(
    lambda flags, shape, body: flags + shape.format(body),
    st.sampled_from(["", "", "(?i)"]),
    # Groups at both ends, as in the bench's "inner" shape, put routes into one prefix and suffix group:
    # there the segment index decides.
    st.sampled_from(["{}", "/(\\w*)/{}/(.*)", "/(\\d+){}/(\\d+)"]),
    _bodies,
).filter(_compiles)
_paths = st.one_of(
    st.lists(st.sampled_from(_SEGMENTS), min_size=1, max_size=5).map("/".join),
    st.text(alphabet="/abAB1.\n", max_size=10),
)


def _linear(routes: list[Route], path: str):
    """The reference: plain paths first, then the first pattern in registration order that matches."""
    for route in routes:
        if route.static_path == path:
            return route.name, (), {}
    for route in routes:
        if route.static_path is None:
            match = route.regex.fullmatch(path)
            if match is not None:
                return (route.name, *route.arguments(match))
    return None


def _indexed(router: Router, path: str):
    try:
        route, args, kwargs = router.match("GET", path)
    except (HTTPError, RequestRedirect):  # a 308 to "path/" is a miss for this path too
        return None
    return route.name, args, kwargs


@settings(max_examples=400, deadline=None)
@given(st.lists(_patterns, min_size=1, max_size=12), st.lists(_paths, max_size=6), st.data())
def test_indexed_router_answers_as_a_linear_scan(route_patterns, paths, data):
    router = _router(*route_patterns)
    routes = list(router)
    # Paths each route matches, so that the routes after it are put to the test too.
    for route in data.draw(st.lists(st.sampled_from(routes), max_size=6)):
        paths.append(data.draw(st.from_regex(route.regex, fullmatch=True), label=route.pattern))
    for path in paths:
        assert _indexed(router, path) == _linear(routes, path), path

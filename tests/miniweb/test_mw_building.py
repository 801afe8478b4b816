"""url_for (miniweb/building.py) where its first mutation run found gaps: values that are equal as keys
but spelled differently (1, 1.0, True), the query's None values and non-str values, literal text the
general path percent-encodes, a group given both by position and by name; and that the fast path and its
kept paths do their job (they answer the common calls, a kept path is not checked again, at most
BUILT_PATHS of them), which the URLs alone cannot show. The equivalent survivors: tests/MUTANTS.md."""

from __future__ import annotations

import itertools
from urllib.parse import quote, urlencode

import pytest

from miniweb import App, BuildError, signatures
from miniweb.building import BUILT_PATHS, query_string

# Equal as dict keys (1 == 1.0 == True, same hash), four different URLs; a list is not hashable at all.
EQUAL_KEYS = [1, 1.0, True, "1", ["a b"]]


def _spelling(value: object) -> str:
    return quote(str(value), safe="")


def _app() -> App:
    app = App(template_folder=None)
    routes = {
        "search": r"/search",
        "one": r"/p/([^/]+)",
        "one_named": r"/q/(?P<item>[^/]+)",
        "two": r"/p/([^/]+)/([^/]+)",
        "two_named": r"/n/(?P<a>[^/]+)/(?P<b>[^/]+)",
        "signs": r"/u/@me:x;y=z,w\+v!\$&'\(\)\*/(?P<a>[^/]+)/(?P<b>[^/]+)",
        "three": r"/t/~@:/([^/]+)/([^/]+)/([^/]+)",
    }
    for name, pattern in routes.items():
        app.add_route(pattern, lambda request, *a, **k: "", name=name)
    return app


@pytest.mark.parametrize("order", [EQUAL_KEYS, EQUAL_KEYS[::-1]], ids=["forward", "reversed"])
def test_equal_values_with_different_spellings_each_build_their_own_path(order):
    """The fast path keeps a built path by value, for str and int values only: a kept path must never be
    given for 1.0 or True (equal to 1 as keys), nor one of theirs for 1, in whichever order they come."""
    app = _app()
    for _ in range(2):  # the second round may answer from the kept paths
        for value in order:
            assert app.url_for("one", value) == f"/p/{_spelling(value)}", value
            assert app.url_for("one_named", item=value) == f"/q/{_spelling(value)}", value


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reversed"])
def test_equal_pairs_with_different_spellings_each_build_their_own_path(reverse):
    """The same for two groups: a pair is kept only if both values are str or int."""
    app = _app()
    pairs = list(itertools.product(EQUAL_KEYS, repeat=2))
    if reverse:
        pairs.reverse()
    for _ in range(2):
        for one, two in pairs:
            expected = f"/p/{_spelling(one)}/{_spelling(two)}"
            assert app.url_for("two", one, two) == expected, (one, two)
            assert app.url_for("two_named", a=one, b=two) == f"/n/{_spelling(one)}/{_spelling(two)}"


def test_a_none_value_leaves_out_only_itself():
    app = _app()
    assert app.url_for("search", a=None, b="1", c=None, d=2, e=None) == "/search?b=1&d=2"
    assert app.url_for("one", "x", a=None, b="1", c=None) == "/p/x?b=1"
    assert app.url_for("three", "x", "y", "z", a=None, b=3) == "/t/~@:/x/y/z?b=3"
    assert app.url_for("search", a=None) == "/search"


def test_query_values_of_other_types_quote_a_space_as_percent_20():
    """Sequences, bytes, floats go through urlencode with quote (not its default quote_plus): "a b" is
    a%20b as for a str value, never a+b."""
    app = _app()
    url = app.url_for("search", tags=["a b", "c+d"], raw=b"a b", f=1.5, s="a b")
    assert url == "/search?tags=a%20b&tags=c%2Bd&raw=a%20b&f=1.5&s=a%20b"
    assert app.url_for("one", "x", tags=("a b",)) == "/p/x?tags=a%20b"


@pytest.mark.parametrize("query", [{1: "a", 2: 3}, {b"k": "v w", 0.5: 7}, {None: "x", "s": "y z"}])
def test_query_string_of_keys_that_are_not_str_is_urlencode(query):
    """url_for's keywords are always str, but query_string is public and promises urlencode's answer."""
    assert query_string(query) == urlencode(query, doseq=True, quote_via=quote)


def test_literal_text_keeps_the_characters_a_path_may_carry_on_the_general_path():
    """: @ ! $ & ' ( ) * + , ; = are pchar (RFC 3986 §3.3): the literal part of a route keeps them
    whichever way the URL is built (three groups, or a mix of positional and keyword values)."""
    app = _app()
    prefix = "/u/@me:x;y=z,w+v!$&'()*"
    assert app.url_for("signs", "1", b="2") == f"{prefix}/1/2"  # mixed: the general path
    assert app.url_for("signs", a="1", b="2") == f"{prefix}/1/2"  # by name: the fast path
    assert app.url_for("signs", "1", "2") == f"{prefix}/1/2"
    assert app.url_for("three", "a", "b", "c") == "/t/~@:/a/b/c"
    assert app.url_for("three", "a b", "?", "c") == "/t/~@:/a%20b/%3F/c"


def test_a_group_given_by_position_and_by_name_is_refused():
    """Two positional values for a route whose groups are named, and one of the names as a keyword too:
    the keyword fills its group, so one positional value is left over."""
    app = _app()
    with pytest.raises(BuildError, match="extra argument"):
        app.url_for("two_named", "1", "2", a="3")
    with pytest.raises(BuildError, match="extra argument"):
        app.url_for("one_named", "1", item="3")
    # Keywords that are not groups are the query, with the values positional.
    assert app.url_for("two_named", "1", "2", c="3") == "/n/1/2?c=3"


def test_the_fast_path_answers_the_common_calls_itself():
    """The speed-up the module exists for: a route with one or two groups, or none, builds the common calls
    (values positional, the rest the query) on its fast path (``Router.fast_builds``, what ``url_for``
    tries first), which hands anything else to the general path by answering None."""
    app = _app()
    fast = app.router.fast_builds
    assert fast["search"]((), {}) == "/search"
    assert fast["one"](("x y",), {}) == "/p/x%20y"
    assert fast["one"](("x",), {"q": "1 2", "n": None}) == "/p/x?q=1%202"
    assert fast["one_named"]((7,), {}) == "/q/7"
    assert fast["two"](("x", 2), {}) == "/p/x/2"
    assert fast["two_named"](("x", "y"), {"c": 3}) == "/n/x/y?c=3"
    assert fast["signs"](("1", "2"), {}) == "/u/@me:x;y=z,w+v!$&'()*/1/2"
    for _ in range(2):  # kept or not, a call it does not take is the general path's
        assert fast["one"]((), {}) is None
        assert fast["one"](("a/b",), {}) is None  # [^/]+ refuses it: the general path raises
        assert fast["one_named"](("x",), {"item": "y"}) is None
        assert fast["two"](("x",), {}) is None
        assert fast["search"](("x",), {}) is None
    assert "three" not in fast  # three groups: the general path only


class _CountedInt:
    """``int`` groups' converter (``signatures.to_int``), counting its calls: the checks a built URL needs.
    How many times they run is the only thing besides time that tells a kept path from one built again."""

    __name__ = "int"

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, text: str) -> int:
        self.calls += 1
        return signatures.to_int(text)


@pytest.fixture
def counted(monkeypatch) -> _CountedInt:
    converter = _CountedInt()
    monkeypatch.setitem(signatures._CONVERTERS, int, converter)  # for the routes made after this
    return converter


def _typed_app() -> App:
    app = App(template_folder=None)

    @app.route(r"/c/([0-9]+)", name="one")
    def one(request, n: int):
        return ""

    @app.route(r"/c/(?P<n>[0-9]+)/x", name="named")
    def named(request, n: int):
        return ""

    @app.route(r"/c/([0-9]+)/([0-9]+)", name="two")
    def two(request, a: int, b: int):
        return ""

    @app.route(r"/n/(?P<a>[0-9]+)/(?P<b>[0-9]+)", name="two_named")
    def two_named(request, a: int, b: int):
        return ""

    # Two routes with one name: url_for tries them in order (Router.build), each through its UrlPlan.
    @app.route(r"/v/([0-9]+)", name="variants")
    @app.route(r"/v", name="variants")
    def variants(request, n: int | None = None):
        return ""

    return app


@pytest.mark.parametrize(
    ("name", "args", "kwargs", "url"),
    [("one", (5,), {}, "/c/5"), ("one", ("5",), {"q": 1}, "/c/5?q=1"), ("named", (), {"n": 5}, "/c/5/x"),
     ("named", (), {"n": "6", "q": 1}, "/c/6/x?q=1"), ("two", (5, "6"), {}, "/c/5/6"),
     ("two_named", (), {"a": 5, "b": 6}, "/n/5/6"),
     ("two_named", (), {"a": 5, "b": 6, "q": "x"}, "/n/5/6?q=x"),
     ("variants", (5,), {}, "/v/5"), ("variants", (5,), {"q": 1}, "/v/5?q=1")],
)  # fmt: skip
def test_a_path_built_again_from_the_same_values_is_not_checked_again(counted, name, args, kwargs, url):
    """str and int values: the path is kept by them, whichever way url_for reaches the route's fast path
    (positional values, all values by name, a name with variants, a query alongside)."""
    app = _typed_app()
    assert app.url_for(name, *args, **kwargs) == url
    assert counted.calls == max(len(args), len(kwargs) - ("q" in kwargs))  # each value checked once
    for _ in range(3):
        assert app.url_for(name, *args, **kwargs) == url
    assert counted.calls == max(len(args), len(kwargs) - ("q" in kwargs))
    with pytest.raises(BuildError):
        app.url_for(name, *(["x"] * len(args)), **{key: "x" for key in kwargs})  # still checked


def test_a_route_keeps_the_paths_of_at_most_built_paths_values(counted):
    app = _typed_app()
    for n in range(BUILT_PATHS):
        assert app.url_for("one", n) == f"/c/{n}"
        assert app.url_for("two", n, 0) == f"/c/{n}/0"
    assert counted.calls == 3 * BUILT_PATHS
    for n in range(BUILT_PATHS):  # all of them kept
        assert app.url_for("one", n) == f"/c/{n}"
        assert app.url_for("two", n, 0) == f"/c/{n}/0"
    assert counted.calls == 3 * BUILT_PATHS
    for _ in range(2):  # one more value is built (and checked) each time, not kept
        assert app.url_for("one", BUILT_PATHS) == f"/c/{BUILT_PATHS}"
        assert app.url_for("two", BUILT_PATHS, 0) == f"/c/{BUILT_PATHS}/0"
    assert counted.calls == 3 * BUILT_PATHS + 2 * 3

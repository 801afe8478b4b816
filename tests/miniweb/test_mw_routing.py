"""Routing: plain paths, regex groups, 404/405/HEAD/OPTIONS, order, and url_for."""

from __future__ import annotations

import functools
import uuid

import pytest
import webtest

from miniweb import App, BuildError
from miniweb.errors import MethodNotAllowed, NotFound
from miniweb.routing import RequestRedirect, Route, Router, path_url, url_prefix


def _noop(*args, **kwargs):
    return None


@pytest.fixture
def app():
    app = App(template_folder=None)

    @app.route("/")
    def index(request):
        return "home"

    @app.route(r"/areas/(\d+)", name="area")
    def area(request, district_id):
        return f"area {district_id} {type(district_id).__name__}"

    @app.route(r"/show/(?P<item>\d+)\.html")
    def show(request, item):
        return f"show {item}"

    @app.route(r"/mixed/(\w+)/(?P<b>\w+)")
    def mixed(request, a, b):
        return f"{a}|{b}"

    @app.route(r"/areas/(\d+)", methods=["POST", "DELETE"], name="area_change", csrf=False)
    def area_change(request, district_id):
        return f"{request.method} {district_id}"

    @app.route("/a", name="a")
    @app.route("/b", name="b")
    def shared(request):
        return f"shared {request.path}"

    return app


def test_plain_path_and_regex_groups(app):
    client = webtest.TestApp(app)
    assert client.get("/").text == "home"
    assert client.get("/areas/440300").text == "area 440300 str"
    assert client.get("/show/7.html").text == "show 7"
    assert client.get("/mixed/x/y").text == "x|y"


def test_pattern_must_match_the_whole_path(app):
    client = webtest.TestApp(app)
    client.get("/areas/12x", status=404)
    client.get("/xx/areas/12", status=404)
    client.get("/show/7xhtml", status=404)  # the escaped dot is literal


def test_miss_is_404(app):
    assert "404 Not Found" in webtest.TestApp(app).get("/nowhere", status=404).text


def test_other_method_is_405_with_allow(app):
    response = webtest.TestApp(app).put("/areas/1", status=405)
    assert response.headers["Allow"] == "DELETE, GET, HEAD, OPTIONS, POST"
    response = webtest.TestApp(app).post("/", status=405)
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"


def test_methods_pick_the_handler(app):
    client = webtest.TestApp(app)
    assert client.post("/areas/5").text == "POST 5"
    assert client.delete("/areas/5").text == "DELETE 5"


def test_head_uses_get_handler_without_body(app):
    response = webtest.TestApp(app).head("/areas/12")
    assert response.status_int == 200
    assert response.body == b""
    assert response.headers["Content-Length"] == str(len("area 12 str"))


def test_head_of_a_plain_path_uses_its_get_handler(app):
    response = webtest.TestApp(app).head("/")
    assert response.status_int == 200
    assert response.body == b""
    assert response.headers["Content-Length"] == str(len("home"))


def test_apps_with_no_pattern_routes_answer_404():
    """No regex route, so no index to ask (for HEAD, none for GET either): a miss is a 404, not an error."""
    empty = webtest.TestApp(App(template_folder=None))
    plain_only = App(template_folder=None)

    @plain_only.route("/here")
    def here(request):
        return "here"

    for client in (empty, webtest.TestApp(plain_only)):
        assert "404 Not Found" in client.get("/nowhere", status=404).text
        assert client.head("/nowhere", status=404).body == b""
        assert "404 Not Found" in client.post("/nowhere", status=404).text
        assert "404 Not Found" in client.get("/", status=404).text
    assert webtest.TestApp(plain_only).head("/here").headers["Content-Length"] == str(len("here"))


def test_options_answers_allow(app):
    response = webtest.TestApp(app).options("/areas/12", status=204)
    assert response.headers["Allow"] == "DELETE, GET, HEAD, OPTIONS, POST"
    assert response.body == b""
    assert "404 Not Found" in webtest.TestApp(app).options("/nowhere", status=404).text


def test_explicit_options_route_wins():
    app = App(template_folder=None)

    @app.route("/cors", methods=["OPTIONS"])
    def cors(request):
        return "custom"

    assert webtest.TestApp(app).options("/cors").text == "custom"


def test_several_routes_share_a_handler(app):
    client = webtest.TestApp(app)
    assert client.get("/a").text == "shared /a"
    assert client.get("/b").text == "shared /b"
    assert app.url_for("a") == "/a" and app.url_for("b") == "/b"


def test_first_registered_pattern_wins_and_plain_paths_beat_patterns():
    app = App(template_folder=None)

    @app.route(r"/p/(\d+)")
    def digits(request, x):
        return "digits"

    @app.route(r"/p/(.+)")
    def anything(request, x):
        return "anything"

    @app.route(r"/(.*)")
    def catch_all(request, x):
        return "catch-all"

    @app.route("/p/special")
    def special(request):
        return "plain"

    client = webtest.TestApp(app)
    assert client.get("/p/12").text == "digits"
    assert client.get("/p/ab").text == "anything"
    assert client.get("/p/special").text == "plain"
    assert client.get("/elsewhere").text == "catch-all"


def test_earlier_general_route_beats_later_specific_one():
    router = Router()
    router.add(Route(r"/(.+)", frozenset({"GET"}), _noop, "general"))
    router.add(Route(r"/areas/(\d+)", frozenset({"GET"}), _noop, "specific"))
    router.add(Route(r"/areas/(\d+)", frozenset({"POST"}), _noop, "specific_post"))
    assert router.match("GET", "/areas/1")[0].name == "general"
    assert router.match("POST", "/areas/1")[0].name == "specific_post"


def test_patterns_with_global_flags_stay_on_their_own():
    router = Router()
    router.add(Route(r"/first/(\d+)", frozenset({"GET"}), _noop, "first"))
    router.add(Route(r"(?i)/caps/(\d+)", frozenset({"GET"}), _noop, "caps"))
    router.add(Route(r"/last/(\d+)", frozenset({"GET"}), _noop, "last"))
    assert router.match("GET", "/CAPS/1")[0].name == "caps"
    assert router.match("GET", "/last/2")[0].name == "last"
    assert router.match("GET", "/first/3")[0].name == "first"


@pytest.mark.parametrize("general_first", [True, False])
def test_prefix_and_suffix_index_keeps_registration_order(general_first):
    routes = [
        Route(r"/(.+)/edit", frozenset({"GET"}), _noop, "any_edit"),
        Route(r"/(.+)", frozenset({"GET"}), _noop, "anything"),
        Route(r"/x/(\d+)/edit", frozenset({"GET"}), _noop, "x_edit"),
    ]
    router = Router()
    for route in routes if general_first else reversed(routes):
        router.add(route)
    expected = "any_edit" if general_first else "x_edit"
    assert router.match("GET", "/x/5/edit")[0].name == expected
    assert router.match("GET", "/y/5/edit")[0].name == ("any_edit" if general_first else "anything")
    assert router.match("GET", "/x/5")[0].name == "anything"


def test_literal_suffix_with_quantifier_or_anchor():
    router = Router()
    router.add(Route(r"/files/(\d+)\.html?", frozenset({"GET"}), _noop, "html"))
    router.add(Route(r"/v/(\d+)/end$", frozenset({"GET"}), _noop, "end"))
    router.add(Route(r"/w/(\d+)(/edit)*", frozenset({"GET"}), _noop, "edits"))
    assert router.match("GET", "/files/1.htm")[0].name == "html"
    assert router.match("GET", "/files/1.html")[0].name == "html"
    assert router.match("GET", "/v/1/end")[0].name == "end"
    assert router.match("GET", "/w/1")[0].name == "edits"
    assert router.match("GET", "/w/1/edit/edit")[0].name == "edits"
    with pytest.raises(NotFound):
        router.match("GET", "/v/1/end\n")


def test_routes_with_back_references_still_work():
    app = App(template_folder=None)

    @app.route(r"/first/(\d+)")
    def first(request, x):
        return "first"

    @app.route(r"/same/(\w+)/(\1)")
    def same(request, a, b):
        return f"same {a}"

    @app.route(r"/same/(\w+)/(\w+)")
    def differ(request, a, b):
        return "differ"

    client = webtest.TestApp(app)
    assert client.get("/same/ab/ab").text == "same ab"
    assert client.get("/same/ab/cd").text == "differ"
    assert client.get("/first/1").text == "first"


def test_a_thousand_routes_each_reach_their_own_handler():
    router = Router()
    for i in range(1000):
        router.add(Route(rf"/r{i}/(\d+)/x{i}", frozenset({"GET"}), _noop, f"r{i}"))
    for i in range(1000):
        router.add(Route(rf"/shared/item{i}-(\d+)", frozenset({"GET"}), _noop, f"s{i}"))
    for i in (0, 1, 499, 998, 999):
        route, args, kwargs = router.match("GET", f"/r{i}/{i * 7}/x{i}")
        assert (route.name, args, kwargs) == (f"r{i}", (str(i * 7),), {})
        route, args, _ = router.match("GET", f"/shared/item{i}-{i}")
        assert (route.name, args) == (f"s{i}", (str(i),))
    for i in range(250):  # one literal prefix ("/") for all: several combined regexes, tried in order
        router.add(Route(rf"/(\d+)/y{i}", frozenset({"GET"}), _noop, f"y{i}"))
    for i in (0, 99, 100, 101, 199, 200, 249):
        assert router.match("GET", f"/{i}/y{i}")[0].name == f"y{i}"
    with pytest.raises(NotFound):
        router.match("GET", "/r5/1/x6")
    with pytest.raises(MethodNotAllowed):
        router.match("POST", "/r5/1/x5")


def test_routes_added_after_first_match_are_seen():
    router = Router()
    router.add(Route(r"/one/(\d+)", frozenset({"GET"}), _noop, "one"))
    assert router.match("GET", "/one/1")[0].name == "one"
    router.add(Route(r"/two/(\d+)", frozenset({"GET"}), _noop, "two"))
    assert router.match("GET", "/two/2")[0].name == "two"


def test_literal_prefix_with_quantifier_is_not_over_indexed():
    # "/ab?/" must also match "/a/": the optional "b" may not be filed as a literal segment.
    router = Router()
    router.add(Route(r"/ab?/(\d+)", frozenset({"GET"}), _noop, "opt"))
    router.add(Route(r"/x|/y/(\d+)", frozenset({"GET"}), _noop, "alt"))
    assert router.match("GET", "/a/1")[0].name == "opt"
    assert router.match("GET", "/ab/1")[0].name == "opt"
    assert router.match("GET", "/x")[0].name == "alt"
    assert router.match("GET", "/y/3")[0].name == "alt"


# --- url_for ---------------------------------------------------------------------------------------------


def test_url_for_fills_groups_and_encodes(app):
    assert app.url_for("area", 440300) == "/areas/440300"
    assert app.url_for("show", item=5) == "/show/5.html"
    assert app.url_for("show", 5) == "/show/5.html"
    assert app.url_for("mixed", "中文", b="x_y") == "/mixed/%E4%B8%AD%E6%96%87/x_y"

    @app.route(r"/echo/(.+)")
    def echo(request, value):
        return value

    assert app.url_for("echo", "中 文/?#&%") == "/echo/%E4%B8%AD%20%E6%96%87%2F%3F%23%26%25"
    assert webtest.TestApp(app).get(app.url_for("echo", "中 文/?#&%")).text == "中 文/?#&%"


def test_url_for_extra_kwargs_become_the_query(app):
    assert app.url_for("area", 1, page=2, q="北京 市") == "/areas/1?page=2&q=%E5%8C%97%E4%BA%AC%20%E5%B8%82"
    assert app.url_for("index", tag=["a", "b"], skip=None) == "/?tag=a&tag=b"


def test_url_for_refuses_values_the_route_would_not_match(app):
    with pytest.raises(BuildError, match="do not match"):
        app.url_for("area", "abc")
    with pytest.raises(BuildError, match="needs a value"):
        app.url_for("area")
    with pytest.raises(BuildError, match="extra argument"):
        app.url_for("area", 1, 2)
    with pytest.raises(BuildError, match="no route named"):
        app.url_for("nope")


def test_url_for_picks_the_route_variant_that_fits():
    app = App(template_folder=None)

    @app.route("/list")
    @app.route(r"/list/(\d+)")
    def listing(request, page="1"):
        return page

    assert app.url_for("listing") == "/list"
    assert app.url_for("listing", 3) == "/list/3"
    client = webtest.TestApp(app)
    assert client.get("/list").text == "1" and client.get("/list/3").text == "3"


@pytest.mark.parametrize(
    ("pattern", "url"),
    [
        (r"/地区/(\d+)", "/%E5%9C%B0%E5%8C%BA/7"),  # non-ASCII literal text is percent-encoded
        (r"/u/~me:x@y!\$&'\*\+,;=/([0-9]+)", "/u/~me:x@y!$&'*+,;=/7"),  # characters a path may carry are kept
    ],
)
def test_url_for_encodes_a_routes_literal_part(pattern, url):
    app = App(template_folder=None)

    @app.route(pattern)
    def page(request, n):
        return n

    assert app.url_for("page", 7) == url
    assert webtest.TestApp(app).get(url).text == "7"


@pytest.mark.parametrize(
    ("pattern", "url"),
    [
        ("/地区", "/%E5%9C%B0%E5%8C%BA"),
        (r"/u/~me:x@y!\$&'\*\+,;=", "/u/~me:x@y!$&'*+,;="),
    ],
)
def test_url_for_a_plain_path_encodes_it_as_a_path(pattern, url):
    """A route without groups: url_for returns its path, percent-encoded like any literal part."""
    app = App(template_folder=None)

    @app.route(pattern)
    def page(request):
        return "page"

    assert app.url_for("page") == url
    assert webtest.TestApp(app).get(url).text == "page"


def test_url_for_refuses_patterns_it_cannot_reverse():
    app = App(template_folder=None)

    @app.route(r"/files/.*")
    def files(request):
        return ""

    with pytest.raises(BuildError, match="too complex"):
        app.url_for("files")


def test_url_for_checks_each_typed_group_with_its_own_converter():
    """Unnamed groups take the converters of the handler's positional parameters in order; named groups
    are skipped in that count and use their own."""
    app = App(template_folder=None)

    @app.route(r"/m/(?P<tag>[a-z]+)/([0-9.]+)/([0-9]+)/(?P<n>[0-9]+)")
    def measure(request, amount: float, count: int, tag, n: int):
        return f"{tag} {amount!r} {count!r} {n!r}"

    assert app.url_for("measure", 1.5, 2, tag="x", n=3) == "/m/x/1.5/2/3"
    assert webtest.TestApp(app).get("/m/x/1.5/2/3").text == "x 1.5 2 3"
    with pytest.raises(BuildError, match=r"cannot take '2\.5' for a group: the handler wants to_int$"):
        app.url_for("measure", 1.5, 2.5, tag="x", n=3)
    with pytest.raises(BuildError, match=r"cannot take '3\.5' for n: the handler wants to_int$"):
        app.url_for("measure", 1.5, 2, tag="x", n=3.5)
    with pytest.raises(BuildError, match=r"needs a value for a group$"):
        app.url_for("measure", 1.5, tag="x", n=3)
    with pytest.raises(BuildError, match=r"needs a value for n$"):
        app.url_for("measure", 1.5, 2, tag="x")


def test_url_for_counts_unnamed_groups_one_by_one():
    app = App(template_folder=None)

    @app.route(r"/t/([0-9.]+)/([0-9]+)/([0-9a-f-]{36})")
    def three(request, a: float, b: int, c: uuid.UUID):
        return f"{a!r} {b!r} {c}"

    key = uuid.UUID(int=7)
    assert app.url_for("three", 0.5, 2, key) == f"/t/0.5/2/{key}"
    with pytest.raises(BuildError, match=r"cannot take 'x' for a group: the handler wants UUID$"):
        app.url_for("three", 0.5, 2, "x")


def test_mount_prefix_and_path_keep_what_a_path_may_carry():
    assert url_prefix("/shop:eu@x~1/") == "/shop:eu@x~1"
    assert url_prefix("/appX/") == "/appX"  # only the "/" is dropped
    assert url_prefix("/d\xc3\xa9mo 1%") == "/d%C3%A9mo%201%25"
    assert path_url("/a:b@c/d;e=f/中") == "/a:b@c/d;e=f/%E4%B8%AD"


def test_a_path_ending_in_a_slash_is_never_redirected_to_two():
    router = Router()
    router.add(Route(r"/files/(.*)/", frozenset({"GET"}), _noop, "files"))
    with pytest.raises(RequestRedirect, match="^/files/x/$") as redirect:
        router.match("GET", "/files/x")
    assert redirect.value.path == "/files/x/"
    with pytest.raises(NotFound):
        router.match("GET", "/files/")  # "/files//" would match the pattern: no redirect there


def test_only_routes_ending_in_a_literal_slash_redirect():
    router = Router()
    router.add(Route(r"/files/(.*)", frozenset({"GET"}), _noop, "files"))  # "/files/" matches, "/files" no
    with pytest.raises(NotFound):
        router.match("GET", "/files")


def test_a_name_taken_by_a_handler_without_a_qualname_is_named_by_its_repr():
    router = Router()
    first = functools.partial(_noop, "first")
    router.add(Route("/a", frozenset({"GET"}), first, "same"))
    message = r"used by functools\.partial\(<function _noop.* for /a; pass name=\.\.\. to tell them apart$"
    with pytest.raises(ValueError, match=message):
        router.add(Route("/b", frozenset({"GET"}), _noop, "same"))

"""URL decoding: strict UTF-8 paths and queries, and the url_for -> request -> match round trip."""

from __future__ import annotations

import pytest
import webtest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from miniweb import App, BuildError
from miniweb.routing import Route, Router


def _app():
    app = App(template_folder=None)

    @app.route(r"/echo/(.+)", name="echo")
    def echo(request, value):
        return {"value": value, "path": request.path}

    @app.route(r"/seg/([^/]+)/(?P<second>[^/]+)", name="seg")
    def seg(request, first, second):
        return {"first": first, "second": second}

    @app.route("/query")
    def query(request):
        return {key: request.args.getlist(key) for key in request.args}

    return app


APP = _app()


def test_chinese_path_round_trips():
    response = webtest.TestApp(APP).get("/echo/%E5%8C%97%E4%BA%AC%20%E5%B8%82")
    assert response.json == {"value": "北京 市", "path": "/echo/北京 市"}


def test_invalid_utf8_in_path_is_400(wsgi_call):
    # PEP 3333: PATH_INFO carries the raw bytes as latin-1; b"\xff" can never be UTF-8.
    status, _, body = wsgi_call(APP, "/echo/\xff")
    assert status.startswith("400")
    assert b"not valid UTF-8" in body
    status, _, _ = wsgi_call(APP, "/echo/\xe5\x8c")  # a truncated 3-byte sequence
    assert status.startswith("400")


def test_query_plus_and_percent20_are_spaces():
    response = webtest.TestApp(APP).get("/query?q=%E5%8C%97+%E4%BA%AC%20x&tag=a&tag=b&empty=")
    assert response.json == {"q": ["北 京 x"], "tag": ["a", "b"], "empty": [""]}


def test_invalid_utf8_in_query_is_400(wsgi_call):
    status, _, body = wsgi_call(APP, "/query", query="q=%FF")
    assert status.startswith("400") and b"query string" in body
    status, _, _ = wsgi_call(APP, "/query", query="q=\xff")  # a raw, unescaped byte
    assert status.startswith("400")


def test_too_many_query_fields_is_400(wsgi_call):
    status, _, _ = wsgi_call(APP, "/query", query="&".join(f"k{i}=v" for i in range(1001)))
    assert status.startswith("400")


_text = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=30)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=_text)
@example(value="%2F/..")
@example(value="中文 +&?#")
@example(value="\x00\r\n")
def test_url_for_round_trip_any_text(value):
    client = webtest.TestApp(APP)
    assert client.get(APP.url_for("echo", value)).json["value"] == value


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=_text, second=_text, extra=_text)
def test_url_for_round_trip_segments(first, second, extra):
    client = webtest.TestApp(APP)
    try:
        url = APP.url_for("seg", first, second=second, note=extra)
    except BuildError:
        assert "/" in first + second  # the only values [^/]+ refuses
        return
    assert client.get(url).json == {"first": first, "second": second}
    assert client.get(APP.url_for("query", note=extra)).json == {"note": [extra]}


def test_url_for_route_variants_take_their_groups_by_keyword():
    """A name with several routes: a variant's named group may come by keyword, and a value the path used
    is not in the query as well; a variant that lacks the value is skipped for the next one."""
    app = App(template_folder=None)

    @app.route("/list")
    @app.route(r"/list/(?P<page>\d+)")
    def listing(request, page="1"):
        return f"{page} {request.args.get('q')}"

    assert app.url_for("listing", page=3) == "/list/3"
    assert app.url_for("listing", page=3, q="北京") == "/list/3?q=%E5%8C%97%E4%BA%AC"
    assert app.url_for("listing", q="北京") == "/list?q=%E5%8C%97%E4%BA%AC"
    client = webtest.TestApp(app)
    assert client.get(app.url_for("listing", page=3, q="北京")).text == "3 北京"
    assert client.get(app.url_for("listing", q="x")).text == "1 x"


def test_url_for_refusals_name_the_route_and_its_pattern():
    """The BuildError says which route refused, by name and pattern, so a template's bad link is found."""
    app = App(template_folder=None)

    @app.route(r"/areas/(\d+)", name="area")
    def area(request, code):
        return code

    @app.route(r"/count/(?P<n>\d+)", name="count")
    def count(request, n: int):
        return str(n)

    with pytest.raises(BuildError) as refused:
        app.url_for("area", "abc")
    assert str(refused.value) == r"values ['abc'] do not match route 'area' (/areas/(\d+))"
    with pytest.raises(BuildError) as refused:
        app.url_for("area")
    assert str(refused.value) == r"route 'area' (/areas/(\d+)) needs a value for a group"
    with pytest.raises(BuildError) as refused:
        app.url_for("count", n="x")
    wants = r"route 'count' (/count/(?P<n>\d+)) cannot take 'x' for n: the handler wants to_int"
    assert str(refused.value) == wants


def _any(request, *groups, **named):
    return None


def test_router_build_takes_any_iterable_of_values_and_leaves_the_keywords_alone():
    """``Router.build`` (what url_for calls) takes the values as any iterable, a generator too, and builds
    the same URL as from a tuple; the keyword dict it is given is not changed (the query is the rest)."""
    router = Router()
    get = frozenset({"GET"})
    router.add(Route("/plain", get, _any, "plain"))
    router.add(Route(r"/one/(\d+)", get, _any, "one"))
    router.add(Route(r"/two/(\d+)/(?P<b>\w+)", get, _any, "two"))
    router.add(Route(r"/v/(\d+)", get, _any, "variant"))
    router.add(Route(r"/v/(\d+)/(\d+)", get, _any, "variant"))
    calls = [
        ("plain", [], {"page": 2}, "/plain?page=2"),
        ("one", [7], {}, "/one/7"),
        ("one", [7], {"q": "x y"}, "/one/7?q=x%20y"),
        ("two", [1], {"b": "x", "page": 2}, "/two/1/x?page=2"),
        ("two", [1, "x"], {}, "/two/1/x"),
        ("variant", [1, 2], {"page": 2}, "/v/1/2?page=2"),
    ]
    for name, values, keywords, url in calls:
        for args in (tuple(values), list(values), iter(values), (value for value in values)):
            given = dict(keywords)
            assert router.build(name, args, given) == url, (name, type(args))
            assert given == keywords

"""URL decoding: strict UTF-8 paths and queries, and the url_for -> request -> match round trip."""

from __future__ import annotations

import webtest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from miniweb import App, BuildError


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

"""The same miniweb app under waitress and under our server answers the same, over real sockets."""

from __future__ import annotations

import http.client
import json
import threading

import pytest
import waitress
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from miniweb import App, redirect
from server import Config, Server


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    static = tmp_path_factory.mktemp("static")
    (static / "site.css").write_bytes(b"body { margin: 0 }\n" * 2000)  # big enough for sendfile to matter
    app = App(template_folder=None, static_folder=str(static), max_body_bytes=1000)

    @app.route("/")
    def index(request):
        return "<h1>首页</h1>"

    @app.route(r"/echo/(.+)")
    def echo(request, value):
        return {"value": value, "q": request.args.getlist("q")}

    @app.route("/form", methods=["POST"], csrf=False)
    def form(request):
        return {"note": request.form.get("note")}

    @app.route("/go")
    def go(request):
        return redirect("/echo/到这里")

    return app


@pytest.fixture(scope="module")
def waitress_port(app):
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield server.effective_port
    server.task_dispatcher.shutdown()
    for channel in list(server._map.values()):  # what waitress's own tests do to stop the loop
        channel.close()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def our_port(app):
    server = Server(app, Config(port=0, threads=4, access_log=False))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.port
    server.shutdown()
    thread.join(timeout=30)


REQUESTS = [
    ("GET", "/", None, {}),
    ("GET", "/echo/%E4%B8%AD%20%E6%96%87?q=a+b&q=%E5%8C%97", None, {}),
    ("GET", "/echo/%FF", None, {}),  # invalid UTF-8 in the path -> 400
    ("GET", "/nowhere", None, {}),
    ("DELETE", "/", None, {}),
    ("HEAD", "/", None, {}),
    ("OPTIONS", "/echo/x", None, {}),
    ("POST", "/form", "note=%E5%A4%87%E6%B3%A8", {"Content-Type": "application/x-www-form-urlencoded"}),
    ("POST", "/form", "note=" + "x" * 2000, {"Content-Type": "application/x-www-form-urlencoded"}),  # 413
    ("GET", "/go", None, {}),
    ("GET", "/static/site.css", None, {}),
    ("GET", "/static/%2e%2e/secret", None, {}),
]
COMPARED_HEADERS = ("Content-Type", "Content-Length", "Allow", "Location", "ETag", "Last-Modified")


def _fetch(port, method, url, body, headers):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, url, body, headers)
        response = conn.getresponse()
        data = response.read()
        return response.status, {name: response.getheader(name) for name in COMPARED_HEADERS}, data
    finally:
        conn.close()


@pytest.mark.parametrize(("method", "url", "body", "headers"), REQUESTS)
def test_same_answers_under_waitress_and_our_server(waitress_port, our_port, method, url, body, headers):
    theirs = _fetch(waitress_port, method, url, body, headers)
    ours = _fetch(our_port, method, url, body, headers)
    assert ours == theirs
    assert theirs[0] != 500


def test_the_answers_are_the_expected_ones(our_port):
    assert _fetch(our_port, "GET", "/echo/%FF", None, {})[0] == 400
    assert _fetch(our_port, "GET", "/echo/%E4%B8%AD?q=1", None, {})[2] == '{"value":"中","q":["1"]}'.encode()
    status, headers, body = _fetch(our_port, "HEAD", "/", None, {})
    assert status == 200 and body == b"" and headers["Content-Length"] == str(len("<h1>首页</h1>".encode()))
    status, headers, body = _fetch(our_port, "GET", "/static/site.css", None, {})
    assert status == 200 and body == b"body { margin: 0 }\n" * 2000


_text = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=20)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=_text, query=_text)
def test_url_for_round_trip_over_sockets(app, waitress_port, our_port, value, query):
    url = app.url_for("echo", value, q=query)
    for port in (waitress_port, our_port):
        status, _, body = _fetch(port, "GET", url, None, {})
        assert status == 200 and json.loads(body) == {"value": value, "q": [query]}

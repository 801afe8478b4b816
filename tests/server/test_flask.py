"""A real third-party app (Flask) behaves the same under our server as under waitress."""

from __future__ import annotations

import http.client
import threading

import pytest

flask = pytest.importorskip("flask")
waitress_server = pytest.importorskip("waitress.server")

from tests.server.client import WAIT  # noqa: E402


def make_app() -> flask.Flask:
    app = flask.Flask("flask_under_test")

    @app.get("/")
    def index():
        return "hello from flask"

    @app.get("/json/<name>")
    def as_json(name):
        return {"name": name, "args": flask.request.args.to_dict()}

    @app.post("/form")
    def form():
        return f"got {flask.request.form['note']}"

    @app.post("/upload")
    def upload():
        return flask.request.get_data()

    @app.get("/redirect")
    def redirect():
        return flask.redirect("/json/there")

    @app.get("/stream")
    def stream():
        return flask.Response((f"part {i}\n" for i in range(3)), mimetype="text/plain")

    @app.get("/cookie")
    def cookie():
        response = flask.make_response("set")
        response.set_cookie("k", "v", httponly=True)
        return response

    @app.get("/fail")
    def fail():
        raise RuntimeError("flask view failed")

    return app


@pytest.fixture
def waitress():
    server = waitress_server.create_server(make_app(), host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield server.effective_port
    server.close()
    thread.join(WAIT)


REQUESTS = [
    ("GET", "/", None, {}),
    ("GET", "/json/%E5%B9%BF%E4%B8%9C?q=%E4%B8%AD", None, {}),
    ("POST", "/form", "note=%E4%B8%AD%E6%96%87", {"Content-Type": "application/x-www-form-urlencoded"}),
    ("POST", "/upload", b"raw bytes \x00\xff", {"Content-Type": "application/octet-stream"}),
    ("GET", "/redirect", None, {}),
    ("GET", "/stream", None, {}),
    ("GET", "/cookie", None, {}),
    ("GET", "/missing", None, {}),
    ("DELETE", "/", None, {}),
    ("HEAD", "/", None, {}),
    ("GET", "/fail", None, {}),
]
HEADERS_THAT_MATTER = ("content-type", "location", "set-cookie", "allow", "content-length")


def _fetch(port: int, method: str, path: str, body, headers) -> tuple:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        kept = {name: response.getheader(name) for name in HEADERS_THAT_MATTER}
        return response.status, kept, data
    finally:
        conn.close()


@pytest.mark.parametrize(("method", "path", "body", "headers"), REQUESTS)
def test_flask_app_matches_waitress(serve, waitress, method, path, body, headers):
    ours = serve(make_app())
    theirs = _fetch(waitress, method, path, body, headers)
    mine = _fetch(ours.port, method, path, body, headers)
    if path == "/stream":  # waitress buffers and counts the body; we stream it chunked. Same bytes.
        theirs[1]["content-length"] = mine[1]["content-length"] = None
    if path == "/redirect":  # the Location is the same path on a different port
        theirs[1]["location"] = theirs[1]["location"].replace(str(waitress), "PORT")
        mine[1]["location"] = mine[1]["location"].replace(str(ours.port), "PORT")
    assert mine == theirs

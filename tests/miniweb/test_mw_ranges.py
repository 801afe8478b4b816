"""Range requests (RFC 9110 §14) for StaticFiles and send_file: 206, If-Range, 416, over real servers too."""

from __future__ import annotations

import http.client
import threading

import pytest
import waitress
import webtest

from miniweb import App, StaticFiles, send_file
from miniweb.ranges import parse_ranges
from server import Config, Server

DATA = bytes(range(256)) * 40  # 10,240 bytes, every offset distinguishable within 256


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", [(0, 100)]),
        ("bytes=100-", [(100, 1000)]),
        ("bytes=-100", [(900, 1000)]),
        ("bytes=-5000", [(0, 1000)]),  # a suffix longer than the file is the whole file
        ("bytes=990-5000", [(990, 1000)]),  # clipped to the file
        ("BYTES = 0-0 , 2-3", [(0, 1), (2, 4)]),  # unit case-insensitive, whitespace around commas
        ("bytes=0-10,5-20,21-30", [(0, 31)]),  # overlapping and adjacent merged
        ("bytes=500-600,0-9", [(0, 10), (500, 601)]),  # sorted
        ("bytes=1000-", []),  # starts past the end: unsatisfiable
        ("bytes=-0", []),
        ("bytes=5-4", None),  # last < first: invalid, ignored
        ("bytes=abc", None),
        ("bytes=²-3", None),  # not ASCII digits
        ("bytes=", None),
        ("bytes=-", None),
        ("items=0-5", None),  # unknown unit
        ("bytes=" + ",".join(["0-1"] * 101), None),  # too many specs
    ],
)
def test_parse_ranges(header, expected):
    assert parse_ranges(header, 1000) == expected


@pytest.fixture
def data_file(tmp_path):
    root = tmp_path / "static"
    root.mkdir()
    (root / "data.bin").write_bytes(DATA)
    return root / "data.bin"


def _clients(data_file):
    static = webtest.TestApp(StaticFiles(data_file.parent))
    app = App(template_folder=None)

    @app.route("/download")
    def download(request):
        return send_file(data_file, request)

    return [(static, "/static/data.bin"), (webtest.TestApp(app), "/download")]


@pytest.fixture(params=["StaticFiles", "send_file"])
def client_path(request, data_file):
    return _clients(data_file)[0 if request.param == "StaticFiles" else 1]


def test_single_range_is_206(client_path):
    client, path = client_path
    full = client.get(path)
    assert full.status_int == 200 and full.headers["Accept-Ranges"] == "bytes"
    response = client.get(path, headers={"Range": "bytes=1000-1999"}, status=206)
    assert response.body == DATA[1000:2000]
    assert response.headers["Content-Range"] == f"bytes 1000-1999/{len(DATA)}"
    assert response.headers["Content-Length"] == "1000"
    assert response.headers["ETag"] == full.headers["ETag"]
    suffix = client.get(path, headers={"Range": "bytes=-10"}, status=206)
    assert suffix.body == DATA[-10:]
    assert suffix.headers["Content-Range"] == f"bytes {len(DATA) - 10}-{len(DATA) - 1}/{len(DATA)}"


def test_unsatisfiable_is_416(client_path):
    client, path = client_path
    response = client.get(path, headers={"Range": f"bytes={len(DATA)}-"}, status=416)
    assert response.headers["Content-Range"] == f"bytes */{len(DATA)}"


def test_if_range(client_path):
    client, path = client_path
    full = client.get(path)
    etag, modified = full.headers["ETag"], full.headers["Last-Modified"]
    ranged = {"Range": "bytes=0-9"}
    assert client.get(path, headers={**ranged, "If-Range": etag}, status=206).body == DATA[:10]
    assert client.get(path, headers={**ranged, "If-Range": modified}, status=206).body == DATA[:10]
    stale = client.get(path, headers={**ranged, "If-Range": '"another-version"'}, status=200)
    assert stale.body == DATA  # the client's copy changed: the whole new file
    weak = client.get(path, headers={**ranged, "If-Range": "W/" + etag}, status=200)
    assert weak.body == DATA  # If-Range needs the strong comparison (RFC 9110 §13.1.5)
    old_date = client.get(path, headers={**ranged, "If-Range": "Mon, 01 Jan 2001 00:00:00 GMT"})
    assert old_date.status_int == 200


def test_ranges_that_are_ignored(client_path):
    client, path = client_path
    for header in ("bytes=0-1,100-200", "bytes=9-3", "lines=1-2"):
        response = client.get(path, headers={"Range": header}, status=200)
        assert response.body == DATA and "Content-Range" not in response.headers
    head = client.head(path, headers={"Range": "bytes=0-9"}, status=200)  # only GET has ranges (§14.2)
    assert head.headers["Content-Length"] == str(len(DATA))


def test_not_modified_comes_before_range(client_path):
    client, path = client_path
    etag = client.get(path).headers["ETag"]
    client.get(path, headers={"Range": "bytes=0-9", "If-None-Match": etag}, status=304)


# --- through real servers: the range must survive their sendfile / file_wrapper paths -------------------


def _fetch(port: int, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


@pytest.fixture
def real_app(data_file):
    app = App(template_folder=None, static_folder=str(data_file.parent))

    @app.route("/download")
    def download(request):
        return send_file(data_file, request)

    return app


def _check_over(port: int) -> None:
    for path in ("/static/data.bin", "/download"):
        for _ in range(2):  # the second GET comes from StaticFiles' cache
            status, headers, body = _fetch(port, path, {"Range": "bytes=300-4299"})
            assert status == 206 and body == DATA[300:4300]
            assert headers["Content-Range"] == f"bytes 300-4299/{len(DATA)}"
        status, headers, body = _fetch(port, path, {"Range": "bytes=-1"})
        assert status == 206 and body == DATA[-1:]
        status, headers, body = _fetch(port, path, {})
        assert status == 200 and body == DATA


def test_ranges_over_our_server(real_app):
    server = Server(real_app, Config(port=0, threads=2, access_log=False))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        _check_over(server.port)
    finally:
        server.shutdown()
        thread.join(timeout=30)


def test_ranges_over_waitress(real_app):
    server = waitress.create_server(real_app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        _check_over(server.effective_port)
    finally:
        server.task_dispatcher.shutdown()

        def close_all():  # in waitress's loop thread: closing sockets under its select() gives EBADF
            for channel in list(server._map.values()):
                channel.close()

        server.trigger.pull_trigger(close_all)
        thread.join(timeout=10)
        assert not thread.is_alive()

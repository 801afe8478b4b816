"""Responses: return values, cookies, redirects, JSON, files with ETag/Last-Modified/304."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import formatdate

import pytest
import webtest

from miniweb import App, Response, json_response, redirect, send_file


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "report.csv"
    path.write_text("地区,数量\n北京,1\n", encoding="utf-8")
    os.utime(path, (1_700_000_000, 1_700_000_000))
    return path


def _app(data_file=None):
    app = App(template_folder=None)

    @app.route("/str")
    def as_str(request):
        return "<p>中文</p>"

    @app.route("/bytes")
    def as_bytes(request):
        return b"\x00raw"

    @app.route("/dict")
    def as_dict(request):
        return {"名": "值"}

    @app.route("/list")
    def as_list(request):
        return [1, "二"]

    @app.route("/tuple")
    def as_tuple(request):
        return "made", 201, {"X-Extra": "1"}

    @app.route("/stream")
    def stream(request):
        return Response(iter([b"a", b"b", b"c"]), content_type="text/plain")

    @app.route("/none")
    def none(request):
        return None

    @app.route("/cookies")
    def cookies(request):
        response = Response("ok")
        response.set_cookie("plain", "v1")
        response.set_cookie(
            "strict", "v2", max_age=timedelta(minutes=1), secure=True, samesite="Strict", httponly=False
        )
        response.set_cookie("dated", "v3", expires=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC), path="/x")
        response.delete_cookie("old")
        return response

    @app.route("/go")
    def go(request):
        return redirect("/地区/1?q=a b")

    @app.route("/moved")
    def moved(request):
        return redirect("https://example.com/new", 301)

    @app.route("/created")
    def created(request):
        return json_response({"ok": True}, status=201)

    @app.route("/file")
    def file(request):
        return send_file(data_file, request)

    @app.route("/typed-file")
    def typed_file(request):
        return send_file(
            data_file, request.environ, mimetype="application/x-custom", download_name="数据.csv"
        )

    return app


def test_return_value_types():
    client = webtest.TestApp(_app())
    response = client.get("/str")
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.text == "<p>中文</p>"
    assert response.headers["Content-Length"] == str(len("<p>中文</p>".encode()))
    assert client.get("/bytes").body == b"\x00raw"
    response = client.get("/dict")
    assert response.headers["Content-Type"] == "application/json"
    assert response.body == '{"名":"值"}'.encode()
    assert client.get("/list").json == [1, "二"]
    response = client.get("/tuple", status=201)
    assert response.text == "made" and response.headers["X-Extra"] == "1"
    assert client.get("/stream").body == b"abc"


def test_returning_none_is_a_logged_500(caplog):
    with caplog.at_level(logging.ERROR, logger="miniweb"):
        response = webtest.TestApp(_app()).get("/none", status=500)
    assert "NoneType" not in response.text and "500 Internal Server Error" in response.text
    [record] = [r for r in caplog.records if r.exc_info]
    assert type(record.exc_info[1]) is TypeError and "returned NoneType" in str(record.exc_info[1])


def test_cookie_attributes():
    cookies = webtest.TestApp(_app()).get("/cookies").headers.getall("Set-Cookie")
    assert cookies[0] == "plain=v1; Path=/; HttpOnly; SameSite=Lax"
    assert cookies[1] == "strict=v2; Path=/; Max-Age=60; Secure; SameSite=Strict"
    assert cookies[2] == "dated=v3; Path=/x; Expires=Wed, 02 Jan 2030 03:04:05 GMT; HttpOnly; SameSite=Lax"
    assert cookies[3].startswith("old=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT")


def test_cookie_and_header_validation():
    response = Response()
    with pytest.raises(ValueError):
        response.set_cookie("bad name", "v")
    with pytest.raises(ValueError):
        response.set_cookie("n", "v", samesite="None")  # SameSite=None needs Secure
    with pytest.raises(ValueError):
        response.headers["X-Injected"] = "a\r\nSet-Cookie: evil=1"
    with pytest.raises(ValueError):
        redirect("/x\r\nSet-Cookie: evil=1").headers.add("X", "\n")


def test_redirect_is_303_and_encodes_location():
    response = webtest.TestApp(_app()).get("/go", status=303)
    assert response.headers["Location"].endswith("/%E5%9C%B0%E5%8C%BA/1?q=a%20b")
    assert webtest.TestApp(_app()).get("/moved", status=301).headers["Location"] == "https://example.com/new"
    assert redirect("/a\r\nb").headers["Location"] == "/a%0D%0Ab"  # no header splitting


def test_json_response_status():
    assert webtest.TestApp(_app()).get("/created", status=201).json == {"ok": True}


def test_send_file_headers_and_body(data_file):
    response = webtest.TestApp(_app(data_file)).get("/file")
    assert response.body == data_file.read_bytes()
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Length"] == str(data_file.stat().st_size)
    assert response.headers["Last-Modified"] == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert response.headers["ETag"].startswith('"')
    typed = webtest.TestApp(_app(data_file)).get("/typed-file")
    assert typed.headers["Content-Type"] == "application/x-custom"
    assert typed.headers["Content-Disposition"] == "attachment; filename*=UTF-8''%E6%95%B0%E6%8D%AE.csv"


def test_send_file_conditional_requests(data_file):
    client = webtest.TestApp(_app(data_file))
    etag = client.get("/file").headers["ETag"]
    response = client.get("/file", headers={"If-None-Match": etag}, status=304)
    assert (
        response.body == b"" and response.headers["ETag"] == etag and "Content-Length" not in response.headers
    )
    client.get("/file", headers={"If-None-Match": f'"other", W/{etag}'}, status=304)
    client.get("/file", headers={"If-None-Match": '"other"'}, status=200)
    at_mtime = {"If-Modified-Since": formatdate(1_700_000_000, usegmt=True)}
    since = client.get("/file", headers=at_mtime, status=304)
    for not_modified in (response, since):  # RFC 9110 §15.4.5: no Last-Modified beside the ETag
        assert not_modified.headers["ETag"] == etag and "Last-Modified" not in not_modified.headers
    client.get("/file", headers={"If-Modified-Since": formatdate(1_699_999_999, usegmt=True)}, status=200)
    client.get("/file", headers={"If-Modified-Since": "not a date"}, status=200)
    # If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
    client.get(
        "/file",
        headers={"If-None-Match": '"other"', "If-Modified-Since": formatdate(1_800_000_000, usegmt=True)},
        status=200,
    )
    os.utime(data_file, (1_700_000_100, 1_700_000_100))
    client.get("/file", headers={"If-None-Match": etag}, status=200)  # the file changed


def test_send_file_uses_wsgi_file_wrapper(data_file, wsgi_call):
    wrapped = []

    class FileWrapper:
        def __init__(self, file, block_size):
            wrapped.append(block_size)
            self.file = file

        def __iter__(self):
            return iter([self.file.read()])

        def close(self):
            self.file.close()

    status, _, body = wsgi_call(_app(data_file), "/file", **{"wsgi.file_wrapper": FileWrapper})
    assert status == "200 OK" and body == data_file.read_bytes() and wrapped


def test_send_file_head_sends_no_body(data_file):
    response = webtest.TestApp(_app(data_file)).head("/file")
    assert response.body == b"" and response.headers["Content-Length"] == str(data_file.stat().st_size)


def test_headers_are_case_insensitive_and_list_like():
    response = Response("x", headers=[("X-A", "1"), ("Set-Cookie", "a=1"), ("x-a", "2")])
    response.headers.add("Set-Cookie", "b=2")
    assert response.headers["x-A"] == "1" and response.headers.getlist("X-A") == ["1", "2"]
    response.headers["X-A"] = "3"  # replaces both, where the first one was
    assert list(response.headers)[0] == ("X-A", "3") and response.headers.getlist("x-a") == ["3"]
    assert response.headers.getlist("set-cookie") == ["a=1", "b=2"]
    assert "content-length" in response.headers and "X-Nope" not in response.headers


def test_tuple_with_header_list():
    app = App(template_folder=None)

    @app.route("/")
    def index(request):
        return {"a": 1}, 202, [("X-One", "1"), ("X-Two", "2")]

    response = webtest.TestApp(app).get("/", status=202)
    assert response.json == {"a": 1} and response.headers["X-Two"] == "2"


def test_header_changes_after_the_response_is_made_are_what_is_sent(wsgi_call):
    """``response.headers`` is a view over the list the response sends: replacing and removing a
    header through it (which rebuild the list) still change what goes out."""
    response = Response("hello", headers=[("X-A", "1"), ("x-a", "2"), ("X-B", "b")])
    response.headers["X-A"] = "3"  # replaces both
    response.headers.pop("X-B")
    plain = Response(b"bytes", content_type="text/plain")
    plain.headers["Content-Type"] = "application/octet-stream"
    plain.headers.add("X-Late", "yes")
    for made, expected in (
        (response, [("X-A", "3"), ("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "5")]),
        (plain, [("Content-Type", "application/octet-stream"), ("Content-Length", "5"), ("X-Late", "yes")]),
    ):
        _, headers, _ = wsgi_call(lambda environ, start_response, r=made: r(environ, start_response), "/")
        assert headers == expected


def test_a_response_made_without_headers_checks_an_unknown_content_type():
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        Response("x", content_type="text/plain\r\nX-Evil: 1")
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        Response("x", headers=[("X-A", "1")], content_type="text/plain\r\nX-Evil: 1")


@pytest.mark.parametrize(
    "value",
    [
        {"id": 42, "name": "item 42", "中文": "北京", "nested": [1, 2.5, None, True, {"a": []}]},
        ["\u2028", 'quote " and \\ back', "\x00\x1f"],
        "just a string",
        3.25,
        float("nan"),
        {"when": datetime(2024, 5, 1, 12, 30, tzinfo=UTC), "d": Decimal("1.10"), "s": {1}},
    ],
)
def test_json_bodies_are_what_json_dumps_writes(value):
    from miniweb.response import json_default

    body = json_response(value).body
    assert body == json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=json_default).encode()


def test_json_refuses_circular_data_and_unknown_types():
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        json_response(loop)
    with pytest.raises(TypeError, match="not JSON serializable"):
        json_response({"x": object()})

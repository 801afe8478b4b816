"""What responses carry: security headers, any-text cookies, checked headers, streamed iterables, JSON."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
import webtest

from miniweb import App, Request, Response
from miniweb.datastructures import Headers
from miniweb.security import SecurityHeaders


def _app(**options) -> App:
    app = App(template_folder=None, **options)

    @app.route("/")
    def index(request: Request):
        return "hi"

    @app.route("/own-frame-policy")
    def own(request: Request):
        return Response("framed", headers={"X-Frame-Options": "SAMEORIGIN"})

    @app.route("/cookie")
    def cookie(request: Request):
        response = Response("set")
        response.set_cookie("name", request.args["v"])
        return response

    @app.route("/read")
    def read(request: Request):
        return request.cookies.get("name", "(none)")

    return app


def test_security_headers_by_default():
    headers = webtest.TestApp(_app()).get("/").headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert "Strict-Transport-Security" not in headers
    # error pages too
    assert webtest.TestApp(_app()).get("/missing", status=404).headers["X-Frame-Options"] == "DENY"


def test_a_response_header_wins_over_the_default():
    headers = webtest.TestApp(_app()).get("/own-frame-policy").headers
    assert headers.getall("X-Frame-Options") == ["SAMEORIGIN"]


def test_app_wide_csp_hsts_and_turning_them_off():
    policy = SecurityHeaders(
        content_security_policy="default-src 'self'; img-src 'self' data:",
        strict_transport_security="max-age=31536000",
        extra=(("Permissions-Policy", "geolocation=()"),),
    )
    app = _app(security_headers=policy)
    headers = webtest.TestApp(app).get("/").headers
    assert (
        headers["Content-Security-Policy"]
        == "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
    )
    assert headers["Permissions-Policy"] == "geolocation=()"
    assert "Strict-Transport-Security" not in headers  # http: HSTS means nothing (RFC 6797 §7.2)
    https = webtest.TestApp(app, extra_environ={"wsgi.url_scheme": "https"}).get("/").headers
    assert https["Strict-Transport-Security"] == "max-age=31536000"
    bare = webtest.TestApp(_app(security_headers=None)).get("/").headers
    assert not {"X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"} & set(bare.keys())
    with pytest.raises(ValueError):
        SecurityHeaders(content_security_policy="default-src 'self'\r\nX-Evil: 1")


def test_static_files_get_the_headers_too(tmp_path):
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "a.txt").write_text("x")
    app = App(template_folder=None, root_path=str(tmp_path), static_folder="static")
    assert webtest.TestApp(app).get("/static/a.txt").headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("value", ["Zoë", "张三 李四", 'a "quoted", ; \\ value', "100%", "%41", "plain", ""])
def test_any_cookie_value_round_trips(value):
    client = webtest.TestApp(_app())
    header = client.get("/cookie", {"v": value}).headers["Set-Cookie"]
    assert header.isascii() and " " not in header.split(";")[0]
    assert client.get("/read").text == value


def test_cookie_encoding_is_visible_on_the_wire():
    response = Response()
    response.set_cookie("n", "Zoë")
    assert response.headers["Set-Cookie"].startswith("n=Zo%C3%AB;")
    response = Response()
    response.set_cookie("n", "v1")
    assert response.headers["Set-Cookie"].startswith("n=v1;")  # plain values are left as they are


def test_header_values_are_checked_when_set():
    headers = Headers()
    with pytest.raises(ValueError, match="not ISO-8859-1.*percent-encode"):
        headers["X-Name"] = "张三"
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        headers.add("X-Name", "a\r\nSet-Cookie: x=1")
    with pytest.raises(ValueError, match="invalid header name"):
        headers.add("Bad Name", "v")
    with pytest.raises(ValueError, match="invalid header name"):
        Response(headers={"X:Colon": "v"})
    headers["X-Latin"] = "café"  # latin-1 is what a header can carry
    assert headers["x-latin"] == "café"


def test_a_returned_generator_streams(wsgi_call):
    app = App(template_folder=None)
    closed = []

    @app.route("/gen")
    def gen(request: Request):
        def chunks():
            try:
                yield "第一段,"
                yield b"second,"
                yield "third"
            finally:
                closed.append(True)

        return chunks()

    @app.route("/iter")
    def iterable(request: Request):
        return iter([b"a", b"b"]), 201

    client = webtest.TestApp(app)
    response = client.get("/gen")
    assert response.text == "第一段,second,third"
    assert closed == [True]
    assert client.get("/iter", status=201).body == b"ab"
    status, headers, body = wsgi_call(app, "/gen")  # WebTest adds a Content-Length; the app sends none
    assert status == "200 OK" and "content-length" not in {k.lower() for k, _ in headers}
    assert body.decode() == "第一段,second,third" and closed == [True, True]


def test_json_encodes_dates_decimals_uuids():
    app = App(template_folder=None)
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")

    @app.route("/data")
    def data(request: Request):
        return {
            "when": dt.datetime(2026, 12, 1, 21, 30, tzinfo=dt.UTC),
            "day": dt.date(2026, 12, 1),
            "at": dt.time(8, 15),
            "price": Decimal("19.90"),
            "id": ident,
            "tags": {"x"},
        }

    assert webtest.TestApp(app).get("/data").json == {
        "when": "2026-12-01T21:30:00+00:00",
        "day": "2026-12-01",
        "at": "08:15:00",
        "price": "19.90",
        "id": str(ident),
        "tags": ["x"],
    }


def test_json_default_is_extensible():
    from miniweb import json_default

    class Money:
        def __init__(self, cents: int) -> None:
            self.cents = cents

    app = App(template_folder=None)
    app.json_default = lambda o: f"¥{o.cents / 100:.2f}" if isinstance(o, Money) else json_default(o)
    app.route("/m")(lambda request: {"price": Money(1990), "day": dt.date(2026, 1, 2)})
    app.route("/bad")(lambda request: {"x": object()})
    client = webtest.TestApp(app)
    assert client.get("/m").json == {"price": "¥19.90", "day": "2026-01-02"}
    client.get("/bad", status=500)

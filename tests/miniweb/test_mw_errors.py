"""Errors render themselves; errorhandlers; 500s are logged and leak nothing; request hooks."""

from __future__ import annotations

import logging

import pytest
import webtest

from miniweb import (
    App,
    BadRequest,
    Forbidden,
    HTTPError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Response,
    ServiceUnavailable,
)


class DatabaseDown(Exception):
    pass


def _app(debug=False):
    app = App(template_folder=None, debug=debug)

    @app.route("/missing")
    def missing(request):
        raise NotFound('没有这个地区 <script>alert("x")</script>')

    @app.route("/teapot")
    def teapot(request):
        raise HTTPError(418, "short and stout")

    @app.route("/boom")
    def boom(request):
        secret = "db-password-hunter2"  # noqa: F841 - must not reach the client
        raise RuntimeError("secret detail hunter2")

    @app.route("/db")
    def db(request):
        raise DatabaseDown("mysql is away")

    @app.route("/busy")
    def busy(request):
        raise ServiceUnavailable()

    return app


@pytest.mark.parametrize(
    ("cls", "code"),
    [(BadRequest, 400), (Forbidden, 403), (NotFound, 404), (PayloadTooLarge, 413), (ServiceUnavailable, 503)],
)
def test_error_classes_carry_their_code(cls, code):
    error = cls("why")
    assert error.code == code and error.description == "why"
    assert f"<title>{code} " in error.render_html()


def test_method_not_allowed_carries_allow():
    assert MethodNotAllowed(["POST", "GET"]).headers == [("Allow", "GET, POST")]


def test_http_error_code_must_be_an_error():
    with pytest.raises(ValueError):
        HTTPError(200)


def test_error_page_escapes_description():
    response = webtest.TestApp(_app()).get("/missing", status=404)
    assert "没有这个地区 &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in response.text
    assert "<script>" not in response.text
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"


def test_arbitrary_code():
    response = webtest.TestApp(_app()).get("/teapot", status=418)
    assert "<title>418 I&#x27;m a Teapot</title>" in response.text
    assert "short and stout" in response.text


def test_unexpected_exception_is_logged_and_leaks_nothing(caplog):
    with caplog.at_level(logging.ERROR, logger="miniweb.app"):
        response = webtest.TestApp(_app()).get("/boom", status=500)
    assert "hunter2" not in response.text and "Traceback" not in response.text
    records = [r for r in caplog.records if r.name == "miniweb.app"]
    assert len(records) == 1 and records[0].exc_info and records[0].exc_info[0] is RuntimeError
    assert "secret detail hunter2" in caplog.text and "Traceback" in caplog.text


def test_debug_shows_the_traceback_escaped():
    response = webtest.TestApp(_app(debug=True)).get("/boom", status=500)
    assert "Traceback" in response.text and "RuntimeError: secret detail hunter2" in response.text


def test_errorhandler_by_code_takes_the_error_status():
    app = _app()

    @app.errorhandler(404)
    def not_found(request, error):
        return f"<h1>找不到</h1><p>{error.description}</p>"

    response = webtest.TestApp(app).get("/nowhere", status=404)
    assert response.text.startswith("<h1>找不到</h1>")
    assert webtest.TestApp(app).get("/missing", status=404).text.startswith("<h1>找不到</h1>")


def test_errorhandler_by_class_with_its_own_status(caplog):
    app = _app()

    @app.errorhandler(DatabaseDown)
    def db_down(request, error):
        return Response("数据库暂时不可用", status=503, headers={"Retry-After": "30"})

    with caplog.at_level(logging.ERROR, logger="miniweb"):
        response = webtest.TestApp(app).get("/db", status=503)
    assert response.text == "数据库暂时不可用" and response.headers["Retry-After"] == "30"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # handled: no error logged


def test_errorhandler_by_class_defaults_to_500_and_http_error_subclasses():
    app = _app()

    @app.errorhandler(DatabaseDown)
    def db_down(request, error):
        return "down"

    @app.errorhandler(HTTPError)
    def any_http(request, error):
        return f"http {error.code}"

    client = webtest.TestApp(app)
    assert client.get("/db", status=500).text == "down"
    assert client.get("/busy", status=503).text == "http 503"
    assert client.get("/nowhere", status=404).text == "http 404"


def test_405_handler_keeps_allow():
    app = _app()

    @app.errorhandler(405)
    def not_allowed(request, error):
        return "nope"

    response = webtest.TestApp(app).post("/missing", status=405)
    assert response.text == "nope" and response.headers["Allow"] == "GET, HEAD, OPTIONS"


def test_500_handler_for_unexpected_errors():
    app = _app()

    @app.errorhandler(500)
    def server_error(request, error):
        return f"oops ({type(error).__name__})"

    assert webtest.TestApp(app).get("/boom", status=500).text == "oops (RuntimeError)"


def test_failing_errorhandler_falls_back_to_the_default_page(caplog):
    app = _app()

    @app.errorhandler(404)
    def broken(request, error):
        raise KeyError("template variable")

    with caplog.at_level(logging.ERROR, logger="miniweb"):
        response = webtest.TestApp(app).get("/nowhere", status=500)
    assert "500 Internal Server Error" in response.text and "template variable" not in response.text
    [record] = [r for r in caplog.records if r.exc_info]
    assert "errorhandler" in record.getMessage()
    assert type(record.exc_info[1]) is KeyError and "template variable" in str(record.exc_info[1])


# --- hooks -------------------------------------------------------------------------------------------------


def test_hooks_run_in_order_and_teardown_always_runs():
    app = _app()
    events = []

    @app.before_request
    def before(request):
        events.append(("before", request.path))
        request.state.started = True

    @app.after_request
    def after(request, response):
        events.append(("after", response.status_code))
        response.headers["X-After"] = "yes"
        return response

    @app.teardown_request
    def teardown(request, exc):
        events.append(("teardown", type(exc).__name__ if exc else None, request.state.started))

    client = webtest.TestApp(app)
    assert client.get("/nowhere", status=404).headers["X-After"] == "yes"
    client.get("/boom", status=500)
    client.get("/missing", status=404)
    assert events == [
        ("before", "/nowhere"),
        ("after", 404),
        ("teardown", None, True),
        ("before", "/boom"),
        ("after", 500),
        ("teardown", "RuntimeError", True),
        ("before", "/missing"),
        ("after", 404),
        ("teardown", None, True),
    ]


def test_before_request_response_short_circuits():
    app = _app()
    called = []

    @app.before_request
    def gate(request):
        if request.args.get("block"):
            return Response("blocked", status=429)
        return None

    @app.route("/ok")
    def ok(request):
        called.append(True)
        return "ok"

    client = webtest.TestApp(app)
    assert client.get("/ok?block=1", status=429).text == "blocked" and not called
    assert client.get("/ok").text == "ok" and called


def test_teardown_runs_even_when_hooks_fail(caplog):
    app = _app()
    torn = []

    @app.before_request
    def failing_before(request):
        raise RuntimeError("before failed")

    @app.teardown_request
    def teardown(request, exc):
        torn.append(str(exc))

    @app.teardown_request
    def failing_teardown(request, exc):
        raise RuntimeError("teardown failed")

    @app.teardown_request
    def last(request, exc):
        torn.append("last")

    webtest.TestApp(app).get("/missing", status=500)
    assert torn == ["before failed", "last"]
    assert "teardown failed" in caplog.text


def test_failing_after_request_is_a_500_and_teardown_still_runs():
    app = _app()
    torn = []

    @app.after_request
    def bad_after(request, response):
        raise ValueError("after failed")

    @app.teardown_request
    def teardown(request, exc):
        torn.append(type(exc).__name__)

    webtest.TestApp(app).get("/missing", status=500)
    assert torn == ["ValueError"]

"""Logging: one configure call, the opt-in request log line, and what `python -m server` prints."""

from __future__ import annotations

import http.client
import logging
import re
import sys
import time

import pytest
import webtest

from miniweb import App, Response, configure_logging
from tests.processes import free_port, running


@pytest.fixture
def restore_root_logger():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def _app(**options):
    app = App(template_folder=None, **options)

    @app.route(r"/areas/(\d+)")
    def area(request, district_id):
        return district_id

    return app


def _request_lines(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "miniweb.request"]


def test_no_request_line_by_default(caplog):
    with caplog.at_level(logging.DEBUG):
        webtest.TestApp(_app()).get("/areas/12")
    assert _request_lines(caplog) == []


def test_request_log_line(caplog):
    with caplog.at_level(logging.INFO, logger="miniweb.request"):
        client = webtest.TestApp(_app(request_log=True))
        client.get("/areas/12?x=1")
        client.get("/%E5%9C%B0%E5%8C%BA", status=404)
    lines = _request_lines(caplog)
    assert len(lines) == 2
    assert re.fullmatch(r"GET /areas/12 200 \d+\.\dms", lines[0])
    assert re.fullmatch(r"GET /地区 404 \d+\.\dms", lines[1])


def test_request_line_written_when_the_response_is_closed(caplog, wsgi_call):
    """The duration covers the whole streamed body, not just building the Response (issue 11 item 8)."""
    app = App(template_folder=None, request_log=True)
    closed = []

    class Body:
        def __iter__(self):
            deadline = time.monotonic() + 0.2  # a slow stream: 200 ms of work after the handler returned
            while time.monotonic() < deadline:
                pass
            yield b"done"

        def close(self):
            closed.append(True)

    @app.route("/stream")
    def stream(request):
        return Response(Body())

    with caplog.at_level(logging.INFO, logger="miniweb.request"):
        env = {"REQUEST_METHOD": "GET", "PATH_INFO": "/stream"}
        from wsgiref.util import setup_testing_defaults

        setup_testing_defaults(env)
        body = app(env, lambda status, headers, exc_info=None: None)
        assert b"".join(body) == b"done"
        assert _request_lines(caplog) == []  # not yet: the server has not closed the response
        body.close()
    assert closed == [True]  # the app's own close() still runs
    (line,) = _request_lines(caplog)
    assert float(re.fullmatch(r"GET /stream 200 (\d+\.\d)ms", line).group(1)) >= 200


def test_configure_logging_to_a_file(tmp_path, restore_root_logger):
    log = tmp_path / "app.log"
    configure_logging("INFO", filename=str(log), fmt="%(levelname)s|%(name)s|%(message)s")
    configure_logging(
        "INFO", filename=str(log), fmt="%(levelname)s|%(name)s|%(message)s"
    )  # replaces, no duplicate
    webtest.TestApp(_app(request_log=True)).get("/areas/5")
    logging.getLogger("myapp").debug("hidden at INFO")
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 and lines[0].startswith("INFO|miniweb.request|GET /areas/5 200 ")


def test_configure_logging_level_filters(tmp_path, restore_root_logger):
    log = tmp_path / "warn.log"
    configure_logging(logging.WARNING, filename=str(log))
    webtest.TestApp(_app(request_log=True)).get("/areas/5")
    logging.getLogger("myapp").warning("警告 shown")
    text = log.read_text(encoding="utf-8")
    assert "miniweb.request" not in text and "WARNING myapp: 警告 shown" in text


def test_configure_logging_keeps_a_handler_already_on_stderr(restore_root_logger):
    root = logging.getLogger()
    theirs = logging.StreamHandler(sys.stderr)
    root.addHandler(theirs)
    assert configure_logging("DEBUG") is theirs
    assert [h for h in root.handlers if getattr(h, "stream", None) is sys.stderr] == [theirs]
    assert root.level == logging.DEBUG


# --- under `python -m server`: which per-request lines appear -------------------------------------------


def _serve_and_count(app: str, *flags: str, tmp_path, requests: int = 3) -> str:
    port = free_port()
    log = tmp_path / "server.log"
    command = [sys.executable, "-m", "server", str(port), f"tests.miniweb.logging_apps:{app}", *flags]
    with running(command, port=port, log=log):
        for _ in range(requests):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/")
            assert conn.getresponse().read() == b"hello"
            conn.close()
    return log.read_text(encoding="utf-8")  # stdout and stderr; the server has exited (lines flushed)


def test_server_default_flags_one_line_per_request(tmp_path):
    output = _serve_and_count("default", tmp_path=tmp_path)
    assert len(re.findall(r'"GET / HTTP/1\.1" 200 5 ', output)) == 3  # the server's access line
    assert "miniweb.request" not in output


def test_server_without_access_log_no_request_line(tmp_path):
    output = _serve_and_count("default", "--no-access-log", tmp_path=tmp_path)
    assert '"GET / ' not in output and "miniweb.request" not in output
    assert "GET /" not in output


def test_server_app_that_asks_for_its_request_line(tmp_path):
    output = _serve_and_count("request_log", "--no-access-log", tmp_path=tmp_path)
    assert len(re.findall(r"miniweb\.request: GET / 200 \d+\.\dms", output)) == 3


def test_configure_logging_under_the_server_prints_each_line_once(tmp_path):
    output = _serve_and_count("configured", tmp_path=tmp_path)
    assert output.count("handled /") == 3  # the app's own INFO line, once per request, not twice
    assert len(re.findall(r'"GET / HTTP/1\.1" 200 5 ', output)) == 3

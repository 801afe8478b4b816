"""PEP 3333 behaviour of the running server: environ, wsgi.input, start_response, framing, close()."""

from __future__ import annotations

import http.client
import io
import json
import logging
import os
import threading
import warnings
from collections.abc import Iterator
from wsgiref.validate import validator

import pytest

from tests.server import wsgi_apps as apps
from tests.server.client import WAIT, ResponseReader, read_all


def _environ(running, request: bytes) -> dict:
    raw = running.exchange(request)
    assert raw.startswith(b"HTTP/1.1 200 "), raw[:300]
    return json.loads(raw.partition(b"\r\n\r\n")[2])


def test_required_environ_keys(serve):
    running = serve(apps.echo_environ)
    info = _environ(
        running,
        b"POST /a/b?x=1&y=%20 HTTP/1.1\r\nHost: example.org:8080\r\nContent-Type: text/plain\r\n"
        b"Content-Length: 3\r\nX-Custom: one\r\nX-Custom: two\r\nCookie: a=1\r\nCookie: b=2\r\n"
        b"Connection: close\r\n\r\nabc",
    )
    assert info["REQUEST_METHOD"] == "POST"
    assert info["SCRIPT_NAME"] == ""
    assert info["PATH_INFO"] == "/a/b"
    assert info["QUERY_STRING"] == "x=1&y=%20"  # raw, not decoded
    assert info["CONTENT_TYPE"] == "text/plain"
    assert info["CONTENT_LENGTH"] == "3"
    assert "HTTP_CONTENT_TYPE" not in info and "HTTP_CONTENT_LENGTH" not in info
    assert info["SERVER_NAME"] == "127.0.0.1"
    assert info["SERVER_PORT"] == str(running.port)
    assert info["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert info["HTTP_HOST"] == "example.org:8080"
    assert info["HTTP_X_CUSTOM"] == "one, two"
    assert info["HTTP_COOKIE"] == "a=1; b=2"
    assert info["REMOTE_ADDR"] == "127.0.0.1"
    assert info["REMOTE_PORT"].isdigit()
    assert info["wsgi.url_scheme"] == "http"
    assert info["wsgi.version"] == [1, 0]
    assert info["wsgi.multithread"] is True
    assert (info["wsgi.multiprocess"], info["wsgi.run_once"]) == (False, False)
    assert info["body"] == "abc"


@pytest.mark.parametrize(
    ("request_line", "host_field", "expected_host"),
    [
        ("GET http://example.com:81/p/q?x=1 HTTP/1.1", "Host: other\r\n", "example.com:81"),
        ("GET http://example.com/p/q?x=1 HTTP/1.0", "", "example.com"),  # 1.0: no Host needed
        ("GET /p/q?x=1 HTTP/1.1", "Host: example.org\r\n", "example.org"),  # origin-form: the field
    ],
)
def test_absolute_form_authority_is_the_http_host(serve, request_line, host_field, expected_host):
    # RFC 9112 §3.2.2: with an absolute-form target, the server ignores Host and uses the authority.
    raw = f"{request_line}\r\n{host_field}Connection: close\r\n\r\n".encode()
    info = _environ(serve(apps.echo_environ), raw)
    assert info["HTTP_HOST"] == expected_host
    assert (info["PATH_INFO"], info["QUERY_STRING"]) == ("/p/q", "x=1")


def test_header_names_with_underscores_are_dropped(serve):
    running = serve(apps.echo_environ)
    request = b"GET / HTTP/1.1\r\nHost: x\r\nX_Remote_User: admin\r\nConnection: close\r\n\r\n"
    info = _environ(running, request)
    assert "HTTP_X_REMOTE_USER" not in info


def test_utf8_path_reaches_the_app_intact(serve):
    running = serve(apps.echo_path)
    response, body = running.request("GET", "/search/%E5%B9%BF%E4%B8%9C")
    assert response.status == 200
    assert body.decode("utf-8") == "/search/广东"  # PATH_INFO was the bytes as latin-1, round-tripped


def test_forwarded_headers_only_from_trusted_proxies(serve):
    request = (b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.9, 10.0.0.2\r\n"
               b"X-Forwarded-Proto: https\r\nConnection: close\r\n\r\n")  # fmt: skip
    untrusted = _environ(serve(apps.echo_environ), request)
    assert (untrusted["REMOTE_ADDR"], untrusted["wsgi.url_scheme"]) == ("127.0.0.1", "http")
    trusted = _environ(serve(apps.echo_environ, trusted_proxies=("127.0.0.1", "10.0.0.2")), request)
    assert (trusted["REMOTE_ADDR"], trusted["wsgi.url_scheme"]) == ("203.0.113.9", "https")


# --- wsgi.input -------------------------------------------------------------------------------------------


def _input_app(environ, start_response):
    stream = environ["wsgi.input"]
    parts = [stream.read(3), stream.readline(), stream.readline(4), stream.readline()]
    parts.append(b"|".join(stream.readlines()))
    parts.append(stream.read(5))  # at the end of the body: b"", never the next request
    parts.append(stream.read())
    body = json.dumps([p.decode() for p in parts]).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


BODY = b"abcdef\nline two is long\nthree\nfour\n"
EXPECTED = ["abc", "def\n", "line", " two is long\n", "three\n|four\n", "", ""]


def test_wsgi_input_with_content_length(serve):
    running = serve(_input_app)
    with running.connect() as sock:
        head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(BODY)
        sock.sendall(head + BODY + b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        reader = ResponseReader(sock)
        assert json.loads(reader.next()[1]) == EXPECTED
        assert reader.next()[0].status == 200  # the pipelined request was left intact


def test_wsgi_input_with_chunked_body(serve):
    running = serve(_input_app)
    chunks = [BODY[:5], BODY[5:6], BODY[6:20], BODY[20:]]
    encoded = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    with running.connect() as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        for i in range(0, len(encoded), 7):  # in small pieces, so reads must wait for more
            sock.sendall(encoded[i : i + 7])
        assert json.loads(ResponseReader(sock).next()[1]) == EXPECTED


def test_wsgi_input_iteration(serve):
    def app(environ, start_response):
        lines = list(environ["wsgi.input"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"%d:" % len(lines) + b"".join(lines)]

    running = serve(app)
    response, body = running.request("POST", "/", body=b"a\nb\nc")
    assert body == b"3:a\nb\nc"


# --- start_response and the response --------------------------------------------------------------------


def _logged_errors(caplog, message: str) -> list[BaseException]:
    """The exceptions server.wsgi_response logged with a message starting with `message`."""
    return [
        record.exc_info[1]
        for record in caplog.records
        if record.name == "server.wsgi_response" and record.getMessage().startswith(message)
    ]


def _app_errors(caplog) -> list[BaseException]:
    """The exceptions logged as "error in WSGI application" (one per failed request)."""
    return _logged_errors(caplog, "error in WSGI application")


def _late_errors(caplog) -> list[BaseException]:
    """The exceptions logged after the response headers had gone out."""
    return _logged_errors(caplog, "error after the response headers were sent")


@pytest.mark.parametrize(
    ("status", "headers", "error", "reason"),
    [
        ("200 OK", [("X-Bad", "a\r\nSet-Cookie: injected=1")], ValueError, "CR/LF/NUL"),
        ("200 OK", [("X-Bad", "a\nb")], ValueError, "CR/LF/NUL"),
        ("200 OK", [("X-Bad", "nul\x00")], ValueError, "CR/LF/NUL"),
        ("200 OK", [("Bad Name", "1")], ValueError, "invalid response header name"),
        ("200 OK", [("Connection", "close")], ValueError, "hop-by-hop"),
        ("200 OK", [("Transfer-Encoding", "chunked")], ValueError, "hop-by-hop"),
        ("200 OK", [("Keep-Alive", "timeout=5")], ValueError, "hop-by-hop"),
        ("200 OK", [("Upgrade", "websocket")], ValueError, "hop-by-hop"),
        ("200 OK", [("X-Text", "中文")], ValueError, "not latin-1"),  # not latin-1
        ("200 OK\r\nX: y", [], ValueError, "invalid status"),
        ("200", [], ValueError, "invalid status"),
        ("OK 200", [], ValueError, "invalid status"),
        ("200 OK", (("Content-Type", "text/plain"),), TypeError, "must be a list"),  # a tuple, not a list
    ],
)
def test_start_response_rejects_bad_status_and_headers(serve, caplog, status, headers, error, reason):
    def app(environ, start_response):
        start_response(status, headers)
        return [b"should never be sent"]

    running = serve(app)
    with caplog.at_level(logging.ERROR, logger="server"):
        response, body = running.request()
    assert response.status == 500 and body.startswith(b"500 ")
    assert b"should never be sent" not in body and b"Traceback" not in body
    [logged] = _app_errors(caplog)
    assert type(logged) is error and reason in str(logged), logged


def test_app_exception_before_headers_is_a_500_without_traceback(serve, caplog):
    def app(environ, start_response):
        raise RuntimeError("secret internal detail")

    running = serve(app)
    with caplog.at_level(logging.ERROR, logger="server"):
        response, body = running.request()
        response2, _ = running.request()  # the server keeps serving
    assert response.status == 500 and response2.status == 500
    assert b"secret" not in body and b"Traceback" not in body
    logged = _app_errors(caplog)
    assert [(type(exc), str(exc)) for exc in logged] == [(RuntimeError, "secret internal detail")] * 2


def test_app_exception_after_headers_closes_the_connection(serve, caplog):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"partial"
        raise RuntimeError("boom")

    running = serve(app)
    with caplog.at_level(logging.ERROR, logger="server"):
        raw = running.exchange(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200 OK")
    assert raw.endswith(b"7\r\npartial\r\n")  # no terminating 0-chunk: the client sees a broken body
    [logged] = _late_errors(caplog)
    assert type(logged) is RuntimeError and str(logged) == "boom"


def test_exc_info_replaces_the_status_before_headers_are_sent(serve):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("oops")
        except ValueError:
            import sys

            start_response("503 Service Unavailable", [("Content-Type", "text/plain")], sys.exc_info())
        return [b"sorry"]

    response, body = serve(app).request()
    assert (response.status, response.reason, body) == (503, "Service Unavailable", b"sorry")


def test_exc_info_after_headers_reraises_and_closes(serve, caplog):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"started"
        try:
            raise ValueError("late")
        except ValueError:
            import sys

            start_response("500 Internal Server Error", [], sys.exc_info())
        yield b"never"

    running = serve(app)
    with caplog.at_level(logging.ERROR, logger="server"):
        raw = running.exchange(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200 OK") and b"never" not in raw and not raw.endswith(b"0\r\n\r\n")
    [logged] = _late_errors(caplog)  # PEP 3333: start_response re-raises the app's own exception
    assert type(logged) is ValueError and str(logged) == "late"


def test_start_response_twice_without_exc_info_is_an_error(serve, caplog):
    def app(environ, start_response):
        start_response("200 OK", [])
        start_response("200 OK", [])
        return [b""]

    with caplog.at_level(logging.ERROR, logger="server"):
        response, body = serve(app).request()
    assert response.status == 500 and body.startswith(b"500 ")
    [logged] = _app_errors(caplog)
    assert type(logged) is AssertionError and "second time without exc_info" in str(logged)


def test_write_callable(serve):
    def app(environ, start_response):
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"from write, ")
        return [b"then ", b"iterable"]

    response, body = serve(app).request()
    assert body == b"from write, then iterable"


def test_body_beyond_content_length_is_cut(serve, caplog):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", "5")])
        return iter([b"1234", b"56789"])  # the second chunk crosses the length: cut inside it, and logged

    running = serve(app)
    with caplog.at_level(logging.ERROR, logger="server"), running.connect() as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        reader = ResponseReader(sock)
        assert reader.next()[1] == b"12345"
        assert reader.next()[1] == b"12345"  # the excess did not corrupt the next response
    messages = [r.getMessage() for r in caplog.records if r.name == "server.wsgi_response"]
    assert messages == ["application sent more than its Content-Length (5); the excess is dropped"] * 2


def test_body_shorter_than_content_length_closes(serve, caplog):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", "10")])
        return iter([b"short"])

    running = serve(app)
    with caplog.at_level(logging.ERROR, logger="server"):
        raw = running.exchange(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw.count(b"HTTP/1.1 200") == 1 and raw.endswith(b"short")  # closed, not reused
    messages = [r.getMessage() for r in caplog.records if r.name == "server.wsgi_response"]
    assert messages == ["application sent 5 bytes fewer than its Content-Length; closing the connection"]


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified"])
def test_no_body_statuses(serve, status):
    def app(environ, start_response):
        start_response(status, [])
        return [b""]

    running = serve(app)
    with running.connect() as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        reader = ResponseReader(sock)
        first, body = reader.next()
        assert (first.status, first.reason) == (int(status[:3]), status[4:])
        assert body == b"" and first.getheader("Transfer-Encoding") is None
        assert first.getheader("Content-Length") is None
        second, body = reader.next()  # had the first carried a body, this status line would be garbage
        assert (second.status, second.reason, body) == (int(status[:3]), status[4:], b"")


def test_close_is_called_when_the_client_disconnects(serve):
    body = apps.ClosingBody()

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return body

    running = serve(app, write_timeout=5)
    sock = running.connect()
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    response = http.client.HTTPResponse(sock, method="GET")
    response.begin()  # reads the head however many recv() calls it takes
    assert (response.status, response.getheader("Content-Type")) == (200, "application/octet-stream")
    assert response.read(10)  # and the body has started
    response.close()  # (its file holds the socket open: close both)
    sock.close()  # mid-response: the endless body can never be delivered
    assert body.closed.wait(WAIT)


def test_close_is_called_after_a_normal_response(serve):
    closed = []
    closed_event = threading.Event()

    class Body:
        def __iter__(self):
            return iter([b"ok"])

        def close(self):
            closed.append(True)
            closed_event.set()

    def app(environ, start_response):
        start_response("200 OK", [])
        return Body()

    assert serve(app).request()[1] == b"ok"
    # close() may run just after the client has read the body: wait for it, within a bound.
    assert closed_event.wait(WAIT) and closed == [True]


def test_file_wrapper_uses_sendfile_for_real_files(serve, tmp_path):
    data = bytes(range(256)) * 400
    path = tmp_path / "blob.bin"
    path.write_bytes(data)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](open(path, "rb"))

    response, body = serve(app).request()
    assert body == data
    # Only the sendfile path knows the size up front; iteration would have been chunked.
    assert response.getheader("Content-Length") == str(len(data))


def test_file_wrapper_falls_back_to_iteration_without_fileno(serve):
    data = b"in memory " * 1000

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](io.BytesIO(data), 1000)

    response, body = serve(app).request()
    assert body == data and response.getheader("Transfer-Encoding") == "chunked"


def test_file_wrapper_respects_the_apps_content_length(serve, tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(b"0123456789")

    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", "4")])
        handle = open(path, "rb")  # noqa: SIM115 - the server closes it through the file wrapper
        handle.seek(2)
        return environ["wsgi.file_wrapper"](handle)

    assert serve(app).request()[1] == b"2345"


def test_wsgi_errors_goes_to_logging(serve, caplog):
    def app(environ, start_response):
        print("note from the app", file=environ["wsgi.errors"])
        start_response("200 OK", [])
        return [b""]

    with caplog.at_level(logging.ERROR, logger="server.errors"):
        serve(app).request()
    assert [r.getMessage() for r in caplog.records if r.name == "server.errors"] == ["note from the app"]


class _Collect(logging.Handler):
    """Collects records and signals the first one (the access line is written after the response)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.arrived = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        self.arrived.set()


@pytest.fixture
def access_lines() -> Iterator[_Collect]:
    """The "server.access" records, collected through an ordinary logging handler."""
    access = logging.getLogger("server.access")
    collect = _Collect()
    access.addHandler(collect)
    level = access.level
    access.setLevel(logging.INFO)
    yield collect
    access.removeHandler(collect)
    access.setLevel(level)


def test_access_log_line(serve, access_lines):
    running = serve(apps.hello, access_log=True)
    running.request("GET", "/x?y=1", headers={"User-Agent": 'evil"agent', "Referer": "http://r/"})
    assert access_lines.arrived.wait(WAIT)
    lines = access_lines.lines
    assert len(lines) == 1
    assert lines[0].startswith("127.0.0.1 - - [")
    assert lines[0].endswith('] "GET /x?y=1 HTTP/1.1" 200 13 "http://r/" "evil\\x22agent"')


@pytest.mark.parametrize(
    ("request_bytes", "status", "logged"),
    [
        (b"GET /no-host HTTP/1.1\r\n\r\n", 400, '"GET /no-host HTTP/1.1" 400 '),  # a complete head, refused
        (b"GET /v HTTP/2.0\r\nHost: x\r\n\r\n", 505, '"GET /v HTTP/2.0" 505 '),
        (b"GET /" + b"a" * 9000, 414, '"GET /' + "a" * 100),  # 414 before the line ends: what arrived of it
        (b"\x01\r\n\r\n", 400, '"\\x01" 400 '),  # escaped like any client-chosen text
        (
            b"POST /huge HTTP/1.1\r\nHost: x\r\nContent-Length: 9999999999\r\n\r\n",
            413,
            '"POST /huge HTTP/1.1" 413 ',
        ),
        (b"POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n", 413, '"POST /big HTTP/1.1" 413 '),
    ],
)
def test_refused_requests_get_an_access_line(serve, access_lines, request_bytes, status, logged):
    """Like nginx and gunicorn: a request the server answers with a protocol error is logged too."""
    running = serve(apps.hello, access_log=True, max_body_bytes=1000)
    with running.connect() as sock:
        sock.sendall(request_bytes)
        raw = read_all(sock)
    assert raw.startswith(b"HTTP/1.1 %d " % status), raw[:200]
    assert access_lines.arrived.wait(WAIT)
    [line] = access_lines.lines
    assert line.startswith("127.0.0.1 - - [")
    # The status and the size are the response's own: the size is its body's length.
    size = len(raw.partition(b"\r\n\r\n")[2])
    assert logged in line and f" {status} {size} " in line
    assert line.endswith(' "-" "-"')


def test_header_timeout_gets_an_access_line(serve, access_lines):
    running = serve(apps.hello, access_log=True, header_timeout=0.2)
    with running.connect() as sock:
        sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n")  # and nothing more
        assert read_all(sock).startswith(b"HTTP/1.1 408 ")
    assert access_lines.arrived.wait(WAIT)
    [line] = access_lines.lines
    assert '"GET /slow HTTP/1.1" 408 ' in line


# --- wsgiref.validate -----------------------------------------------------------------------------------


def _streaming(environ, start_response):
    environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return iter([b"a", b"", b"b"])


def _file(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return environ["wsgi.file_wrapper"](io.BytesIO(b"file body"))


@pytest.mark.parametrize(
    ("app", "method", "body"),
    [
        (apps.hello, "GET", None),
        (apps.hello, "HEAD", None),
        (apps.echo_body, "POST", b"x" * 10000),
        (_streaming, "POST", b"abc"),
        (_file, "GET", None),
    ],
)
def test_validator_finds_nothing_wrong(serve, caplog, app, method, body):
    running = serve(validator(app))
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.ERROR):
        warnings.simplefilter("always")
        response, data = running.request(method, "/v", body=body)
    assert response.status == 200, data
    assert caught == [] and [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_read_all_helper_sees_close(serve):
    """A sanity check of the test client itself: read_all returns once the server closes."""
    running = serve(apps.hello)
    with running.connect() as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert read_all(sock).endswith(b"Hello, World!")


def test_access_line_handler_writes_whole_lines_in_order():
    import io as _io

    from server.accesslog import LineHandler

    stream = _io.StringIO()
    handler = LineHandler(stream, flush_interval=60)  # only the explicit flush below writes
    logger = logging.getLogger("tests.server.linehandler")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        threads = [threading.Thread(target=lambda i=i: logger.info("line %d", i)) for i in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT)
        assert stream.getvalue() == ""  # queued, not yet written
        handler.flush()
    finally:
        logger.removeHandler(handler)
    assert sorted(stream.getvalue().splitlines()) == sorted(f"line {i}" for i in range(20))


def _scheduling_policy(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.sched_getscheduler(0)).encode()]  # 0: the worker thread running this app


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="SCHED_BATCH is Linux-only")
@pytest.mark.parametrize("batch", [True, False])
def test_worker_threads_scheduling_policy(serve, batch):
    running = serve(_scheduling_policy, batch_scheduling=batch)
    response, data = running.request()
    assert response.status == 200
    assert int(data) == (os.SCHED_BATCH if batch else os.sched_getscheduler(0))

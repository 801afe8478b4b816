"""HTTP/1.1 behaviour of the running server over real sockets (RFC 9112)."""

from __future__ import annotations

import datetime
import email.utils
import json
import select
import socket
import threading
import time
from http import HTTPStatus

import pytest

from tests.server import wsgi_apps as apps
from tests.server.client import WAIT, ResponseReader, read_all


def test_keep_alive_reuses_one_connection(serve):
    running = serve(apps.echo_environ)
    conn = running.http()
    ports = set()
    for _ in range(3):
        conn.request("GET", "/")
        response = conn.getresponse()
        info = json.loads(response.read())
        assert response.status == 200
        assert response.getheader("Connection") is None  # HTTP/1.1 persists by default
        ports.add(info["REMOTE_PORT"])
    conn.close()
    assert len(ports) == 1  # all three requests came over the same TCP connection


def test_keep_alive_after_the_connection_was_parked(serve):
    """A connection idle for longer than the linger is parked in the poller and still served later."""
    running = serve(apps.echo_path, keepalive_linger=0.0)
    with running.connect() as sock:
        reader = ResponseReader(sock)
        for path in ("/one", "/two", "/three"):
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            response, body = reader.next()
            assert (response.status, body) == (200, path.encode())


def test_pipelined_requests_are_answered_in_order(serve):
    running = serve(apps.echo_path)
    paths = [f"/p{i}" for i in range(5)]
    with running.connect() as sock:
        sock.sendall(b"".join(f"GET {p} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for p in paths))
        reader = ResponseReader(sock)
        bodies = [reader.next()[1] for _ in paths]
    assert bodies == [p.encode() for p in paths]


def test_pipelined_request_after_a_body(serve):
    running = serve(apps.echo_body)
    with running.connect() as sock:
        sock.sendall(
            b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
            b"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
            b"GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        reader = ResponseReader(sock)
        assert reader.next()[1] == b"hello"
        assert reader.next()[1] == b"abc"
        response, body = reader.next()
        assert body == b"" and response.getheader("Connection") == "close"
        assert reader.rest() == b""  # and then the server closed


def test_chunked_upload(serve):
    running = serve(apps.echo_body)
    pieces = [b"first line\n", b"\xe4\xb8\xad\xe6\x96\x87", b"x" * 70000]
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\nTrailer-Field: 1\r\n\r\n"
    data = b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked
    with running.connect() as sock:
        sock.sendall(data)
        response, body = ResponseReader(sock).next()
    assert response.status == 200
    assert response.getheader("Transfer-Encoding") == "chunked"  # no length from the app: chunked reply
    assert body == b"".join(pieces)


def test_head_has_headers_but_no_body(serve):
    running = serve(apps.hello)
    with running.connect() as sock:
        sock.sendall(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        reader = ResponseReader(sock)
        head, head_body = reader.next("HEAD")
        get, get_body = reader.next()
    assert head.status == 200 and head_body == b""
    assert head.getheader("Content-Length") == "13"
    # Had the HEAD answer carried a body, the GET's status line would be garbage.
    assert (get.status, get_body) == (200, b"Hello, World!")


def test_date_and_server_headers(serve):
    running = serve(apps.hello)
    response, _ = running.request()
    assert response.getheader("Server") == "miniweb"
    assert response.getheader("Date", "").endswith(" GMT")
    # The Date is now (RFC 9110 §6.6.1), not a stale cached second: compare the day, not the clock.
    sent = email.utils.parsedate_to_datetime(response.getheader("Date"))
    assert abs((sent - datetime.datetime.now(datetime.UTC)).days) <= 1


@pytest.mark.parametrize(
    "own",
    [
        [("Date", "Tue, 15 Nov 1994 08:12:31 GMT")],
        [("Server", "app/1.0")],
        [("Date", "Tue, 15 Nov 1994 08:12:31 GMT"), ("Server", "app/1.0")],
    ],
)
def test_an_apps_own_date_or_server_header_replaces_ours(serve, own):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", "2"), *own])
        return [b"ok"]

    response, body = serve(app).request()
    assert body == b"ok"
    wanted = dict(own)
    for name, ours in (("Date", None), ("Server", "miniweb")):
        values = response.headers.get_all(name)
        assert len(values) == 1  # never the app's and ours
        if name in wanted:
            assert values == [wanted[name]]
        elif ours is not None:
            assert values == [ours]


def test_http10_closes_unless_keep_alive_asked(serve):
    running = serve(apps.hello)
    plain = running.exchange(b"GET / HTTP/1.0\r\n\r\n")
    assert plain.startswith(b"HTTP/1.1 200 OK\r\n") and b"Connection: close" in plain
    with running.connect() as sock:
        sock.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" * 2)
        reader = ResponseReader(sock)
        first, _ = reader.next()
        second, body = reader.next()
    assert first.getheader("Connection") == "keep-alive" and body == b"Hello, World!"


def test_http10_streamed_body_is_delimited_by_close(serve):
    running = serve(apps.echo_body)
    raw = running.exchange(b"POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding" not in head and b"Connection: close" in head
    assert body == b"abc"


def _read_until_closed(sock: socket.socket, within: float) -> tuple[bytes, bool]:
    """What the server sends, and whether it closed the connection within `within` seconds.

    The client never half-closes: only the server's own decision to close ends the read.
    """
    sock.settimeout(within)
    chunks = []
    try:
        while data := sock.recv(65536):
            chunks.append(data)
    except TimeoutError:
        return b"".join(chunks), False
    except ConnectionResetError:
        pass
    return b"".join(chunks), True


# The server's idle timeout is far longer than the client's patience: a close within it is the server
# ending the connection after the response, not the keep-alive timeout doing it later.
_PATIENT = {"keepalive_timeout": 120.0, "header_timeout": 120.0}


def test_http10_without_keep_alive_closes_after_one_response(serve):
    # RFC 9112 §9.3: an HTTP/1.0 connection persists only if the client sent "Connection: keep-alive".
    running = serve(apps.hello, **_PATIENT)
    with running.connect() as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n" * 2)  # a second request the server must not answer
        raw, closed = _read_until_closed(sock, 10.0)
    assert closed, "the server kept an HTTP/1.0 connection open without Connection: keep-alive"
    assert raw.count(b"HTTP/1.1 200 OK") == 1 and raw.endswith(b"Hello, World!")


def test_http10_keep_alive_without_a_length_closes_after_the_body(serve):
    # An HTTP/1.0 client cannot read chunked (RFC 9112 §7.1), so a streamed body without a length ends
    # when the server closes: the connection cannot carry another request, keep-alive or not.
    running = serve(apps.echo_body, **_PATIENT)
    with running.connect() as sock:
        sock.sendall(b"POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc")
        raw, closed = _read_until_closed(sock, 10.0)
    assert closed, "the server kept a connection open after a body delimited only by the close"
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding" not in head and b"Content-Length" not in head
    assert b"Connection: close" in head and body == b"abc"


def test_absolute_form_target(serve):
    running = serve(apps.echo_environ)
    request = b"GET http://example.com/a%20b?q=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    raw = running.exchange(request)
    info = json.loads(raw.partition(b"\r\n\r\n")[2])
    assert (info["PATH_INFO"], info["QUERY_STRING"]) == ("/a b", "q=1")


# --- Expect: 100-continue (RFC 9110 §10.1.1) ----------------------------------------------------------------


def _read_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_100_continue_sent_when_the_app_reads(serve):
    running = serve(apps.echo_body)
    with running.connect() as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        interim = _read_until(sock, b"\r\n\r\n")  # the server must invite the body before we send it
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        response, body = ResponseReader(sock).next()
    assert (response.status, body) == (200, b"hello")


def test_no_100_continue_when_the_app_does_not_read(serve):
    running = serve(apps.ignore_body)
    with running.connect() as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        raw = read_all(sock)
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"100 Continue" not in raw
    assert b"Connection: close" in raw  # the body never came; the connection cannot be reused
    assert raw.endswith(b"ignored")


# --- errors: a small valid response, Connection: close, then close -----------------------------------------


def _error(raw: bytes, status: int, words: str = "") -> None:
    """raw is one error response with this status and its reason, then the close; its text names the fault."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status_line = b"%d %s" % (status, HTTPStatus(status).phrase.encode())
    assert lines[0] == b"HTTP/1.1 " + status_line, raw[:200]
    headers = dict(line.split(b": ", 1) for line in lines[1:])
    assert headers[b"Connection"] == b"close"
    assert int(headers[b"Content-Length"]) == len(body)  # and nothing after it: the server closed
    first, _, message = body.partition(b"\n")
    assert first == status_line
    assert words.encode() in message, body


@pytest.mark.parametrize(
    ("request_bytes", "status", "words"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", 400, "missing Host header"),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            400,
            "both Content-Length and Transfer-Encoding",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            400,
            "conflicting Content-Length values '1, 2'",
        ),
        (b"GET / HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n", 400, "invalid header name 'Bad Name'"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n folded\r\n\r\n", 400, "obs-fold"),
        (b"GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400, 'request-target "*" is only allowed with OPTIONS'),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            400,
            "malformed chunk size line b'zz'",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\n",
            413,
            "exceeds the limit of 67108864",
        ),
        (
            b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            414,
            "request line longer than 8192 bytes",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-A: 1\r\n" * 101 + b"\r\n",
            431,
            "more than 100 header fields",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n",
            431,
            "header section larger than 65536 bytes",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
            501,
            "unsupported Transfer-Encoding 'gzip'",
        ),
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "HTTP version HTTP/2.0 not supported"),
    ],
)
def test_protocol_errors_end_to_end(serve, request_bytes, status, words):
    # The status line's reason and the body's text are what a client (and its user) reads: both checked.
    running = serve(apps.echo_body)
    _error(running.exchange(request_bytes), status, words)


def test_chunked_body_over_the_limit_is_413(serve):
    running = serve(apps.echo_body, max_body_bytes=10)
    request = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nb\r\nhello world\r\n"
    raw = running.exchange(request)
    _error(raw, 413)


def test_error_reaches_a_client_that_keeps_sending(serve):
    """The 413 must arrive even though the client is still sending the refused body (lingering close)."""
    running = serve(apps.echo_body, max_body_bytes=1000)
    with running.connect() as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n" + b"x" * 100000)
        raw = read_all(sock)
    _error(raw, 413)


def test_header_timeout_answers_408_and_closes(serve):
    running = serve(apps.hello, header_timeout=0.3)
    with running.connect() as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # ... and never the blank line
        raw = read_all(sock)
    _error(raw, 408)


def test_header_timeout_runs_from_the_first_byte_of_a_trickled_head(serve):
    """Slowloris: one byte every 0.1 s never completes a head; the 408 comes header_timeout after the
    first byte, not header_timeout after the latest one (which a trickling client would never reach)."""
    running = serve(apps.hello, header_timeout=1.0)
    trickle = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000  # never the blank line
    give_up = 10.0  # far beyond the 3 s bound: a server that never times out fails, it does not hang
    with running.connect() as sock:
        started = time.monotonic()
        for byte in trickle:
            # The 0.1 s pause is a wait for the server's answer, not synchronisation: we stop sending
            # as soon as anything arrives, so our bytes do not race the 408 (an RST could destroy it).
            if select.select([sock], [], [], 0.1)[0] or time.monotonic() - started > give_up:
                break
            sock.sendall(bytes([byte]))
        answered = time.monotonic() - started
        raw = read_all(sock)
    _error(raw, 408)
    assert 0.9 <= answered <= 3.0, f"408 after {answered:.2f} s with a 1 s header timeout"


def test_silent_connection_is_closed_after_the_header_timeout(serve):
    running = serve(apps.hello, header_timeout=0.3)
    with running.connect() as sock:
        assert read_all(sock) == b""  # closed without a word: there was no request to answer


def test_idle_keep_alive_connection_is_closed_after_its_timeout(serve):
    running = serve(apps.hello, keepalive_timeout=0.3, keepalive_linger=0.0)
    with running.connect() as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        raw = read_all(sock)  # returns once the server closes the idle connection
    assert raw.startswith(b"HTTP/1.1 200 OK") and raw.endswith(b"Hello, World!")


def test_body_timeout_answers_408(serve):
    running = serve(apps.echo_body, body_timeout=0.3)
    with running.connect() as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        raw = read_all(sock)
    _error(raw, 408)


# --- concurrency -----------------------------------------------------------------------------------------


def test_ten_requests_run_at_once(serve):
    """Each request waits until all ten are inside the app: only possible if they run concurrently."""
    running = serve(apps.barrier_app(10), threads=10)
    statuses = []

    def one() -> None:
        statuses.append(running.request()[0].status)

    threads = [threading.Thread(target=one) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert statuses == [200] * 10


def test_idle_connections_do_not_hold_threads(serve):
    """With 2 threads, 200 idle keep-alive connections still leave room to serve a new client."""
    running = serve(apps.hello, threads=2)
    idle = []
    try:
        for _ in range(200):
            sock = running.connect()
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert ResponseReader(sock).next()[1] == b"Hello, World!"
            idle.append(sock)
        response, body = running.request()
        assert (response.status, body) == (200, b"Hello, World!")
        # ... and every idle connection is still served when it speaks again.
        for sock in idle:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        for sock in idle:
            assert ResponseReader(sock).next()[1] == b"Hello, World!"
    finally:
        for sock in idle:
            sock.close()


def test_slow_client_does_not_block_others(serve):
    """A client dribbling its head holds no thread: with one worker, others are still served."""
    running = serve(apps.hello, threads=1)
    with running.connect() as slow:
        slow.sendall(b"GET / HTTP/1.1\r\n")
        response, body = running.request()
        assert (response.status, body) == (200, b"Hello, World!")
        slow.sendall(b"Host: x\r\n\r\n")
        response, body = ResponseReader(slow).next()
        assert body == b"Hello, World!"


def test_accepting_pauses_at_max_connections_and_resumes(serve):
    running = serve(apps.hello, max_connections=2, keepalive_linger=0.0)
    first, second = running.connect(), running.connect()
    try:
        for sock in (first, second):
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert ResponseReader(sock).next()[1] == b"Hello, World!"
        with running.connect() as third:  # the kernel completes the handshake; the server waits
            third.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            first.close()  # one slot frees up: the third connection is accepted and served
            assert read_all(third).endswith(b"Hello, World!")
    finally:
        first.close()
        second.close()

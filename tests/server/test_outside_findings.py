"""Regression tests for what outside test suites found (issue 10): framing and timeout defects."""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
import time

import pytest

from tests.server import wsgi_apps as apps
from tests.server.client import WAIT, ResponseReader


def test_identical_duplicate_content_length_reaches_the_app_parsed(serve):
    """RFC 9110 §8.6 allows "Content-Length: 5" twice; the app must see CONTENT_LENGTH "5", not "5, 5"."""
    running = serve(apps.echo_environ)
    raw = running.exchange(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n"
        b"Connection: close\r\n\r\nhello"
    )
    assert raw.startswith(b"HTTP/1.1 200 "), raw[:200]
    info = json.loads(raw.partition(b"\r\n\r\n")[2])
    assert info["CONTENT_LENGTH"] == "5"
    assert info["body"] == "hello"


@pytest.mark.parametrize("status", ["103 Early Hints", "100 Continue", "199 Whatever"])
def test_an_informational_final_status_is_a_500_and_logged(serve, caplog, status):
    def app(environ, start_response):
        start_response(status, [("Content-Type", "text/plain")])
        return [b"never sent"]

    running = serve(app)
    with caplog.at_level(logging.ERROR, logger="server"), running.connect() as sock:
        # Twice on one connection: the first answer is complete (no client left waiting) and keep-alive.
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        reader = ResponseReader(sock)
        for _ in range(2):
            response, body = reader.next()
            assert (response.status, response.getheader("Connection")) == (500, None)
            assert body.startswith(b"500 ") and b"never sent" not in body
    logged = [
        record.exc_info[1]
        for record in caplog.records
        if record.name == "server.wsgi_response"
        and record.getMessage().startswith("error in WSGI application")
    ]
    # One record per request, naming the start_response check that refused the status.
    wanted = f"status {status!r} is informational (1xx), not a final response"
    assert [(type(exc), str(exc)) for exc in logged] == [(ValueError, wanted)] * 2


def _stalled_reader(running, path: str = "/") -> tuple[socket.socket, float]:
    """A client that asks for a large response, reads a little of it, then stops reading.

    Returns the socket and the monotonic time of its last read.
    """
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(WAIT)
    sock.connect(("127.0.0.1", running.port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    received = 0
    while received < 256 * 1024:  # some progress first, in several small reads
        received += len(sock.recv(8192))
    return sock, time.monotonic()


@pytest.mark.parametrize("kind", ["iterable", "file_wrapper"])
def test_write_timeout_counts_from_the_last_progress_of_the_whole_response(serve, tmp_path, kind):
    """A client that stops reading is dropped write_timeout after its last read, not up to twice that.

    The app sees the drop as its iterable's close(); the bound leaves room for a busy machine but not for
    a second full timeout.
    """
    timeout = 2.0
    closed = threading.Event()
    closed_at: list[float] = []
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (64 * 1024 * 1024))

    def record_close() -> None:
        closed_at.append(time.monotonic())
        closed.set()

    class RecordingFile(io.FileIO):  # a real file (sendfile can use it) whose close() is recorded
        def close(self) -> None:
            if not self.closed:
                record_close()
            super().close()

    class Body:
        def __iter__(self):
            yield b"y" * (64 * 1024 * 1024)

        def close(self) -> None:
            record_close()

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        if kind == "file_wrapper":
            return environ["wsgi.file_wrapper"](RecordingFile(big))
        return Body()

    running = serve(app, write_timeout=timeout)
    sock, last_read = _stalled_reader(running)
    try:
        assert closed.wait(WAIT), "the stalled client was never dropped"
        elapsed = closed_at[0] - last_read
        assert elapsed < 1.75 * timeout, f"dropped {elapsed:.2f}s after the last read (limit {timeout}s)"
    finally:
        sock.close()

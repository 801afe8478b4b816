"""bench.clients, bench.idle and bench.slowloris against a small real server on a loopback socket.

The server here is a few lines on purpose: it answers every complete request head with a fixed 200 (or,
in "timeout" mode, answers 408 to the first byte and closes), and can close every connection on demand,
which is what the c10k and slow-client tools must notice.
"""

import contextlib
import socket
import threading
import time

import pytest

from bench.clients import Conn, exchange, open_connections, poll_closed, request_bytes, response_status
from bench.idle import idle_clients
from bench.slowloris import slow_clients, summarize

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class Responder:
    def __init__(self, mode: str = "ok"):
        self.mode = mode
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=512)
        self.port = self.listener.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.requests = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return  # listener closed
            with self._lock:
                self.conns.append(sock)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock):
        buf = b""
        try:
            while data := sock.recv(4096):
                if self.mode == "timeout":
                    sock.sendall(TIMEOUT)
                    sock.close()
                    return
                buf += data
                while b"\r\n\r\n" in buf:
                    _, buf = buf.split(b"\r\n\r\n", 1)
                    with self._lock:
                        self.requests += 1
                    sock.sendall(OK)
        except OSError:
            pass

    def close_all(self):
        with self._lock:
            for sock in self.conns:
                with contextlib.suppress(OSError):  # the client may have gone first
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self.conns.clear()

    def stop(self):
        self.listener.close()
        self.close_all()


@pytest.fixture
def responder():
    r = Responder()
    yield r
    r.stop()


@pytest.mark.parametrize(
    ("buf", "expected"),
    [
        (b"", (None, False)),
        (b"HTTP/1.1 200 OK", (None, False)),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", (200, False)),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\no", (200, False)),
        (OK, (200, True)),
        (TIMEOUT, (408, True)),
        (b"HTTP/1.1 204 No Content\r\n\r\n", (204, True)),
    ],
)
def test_response_status(buf, expected):
    assert response_status(buf) == expected


def wait_all_closed(conns: list[Conn]) -> None:
    deadline = time.monotonic() + 10  # a bound on the loop, not a timing assertion
    while not all(c.closed for c in conns) and time.monotonic() < deadline:
        poll_closed(conns)
        time.sleep(0.05)


def test_open_speak_and_see_closed(responder):
    request = request_bytes("127.0.0.1", responder.port)
    conns, failed = open_connections("127.0.0.1", responder.port, 100, time.monotonic() + 30, request)
    try:
        assert (len(conns), failed) == (100, 0)
        assert all(c.status == 200 and not c.closed for c in conns)
        poll_closed(conns)
        assert not any(c.closed for c in conns)  # idle, not closed

        exchange(conns, request, time.monotonic() + 30)
        assert all(c.status == 200 for c in conns)
        assert responder.requests == 200  # one request to open, one to speak, per connection

        responder.close_all()
        wait_all_closed(conns)
        assert all(c.closed for c in conns)
    finally:
        for c in conns:
            c.close()


def test_nobody_listening_counts_as_failures():
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    conns, failed = open_connections("127.0.0.1", port, 5, time.monotonic() + 10)
    assert (conns, failed) == ([], 5)


def test_idle_process_reports_answered_and_closed(responder):
    with idle_clients("127.0.0.1", responder.port, 50, cpu=None, max_seconds=60) as idle:
        assert idle.ready["open"] == 50 and idle.ready["failed"] == 0
        spoke = idle.command("speak")
        assert (spoke["asked"], spoke["answered"], spoke["closed"]) == (50, 50, 0)
        responder.close_all()
        closed = idle.command("closed 10")
        assert (closed["closed"], closed["open"]) == (50, 0)
        spoke = idle.command("speak")
        assert (spoke["asked"], spoke["answered"], spoke["closed"]) == (0, 0, 50)
    assert idle.proc.returncode == 0


def test_slow_clients_report_the_408():
    r = Responder(mode="timeout")
    try:
        with slow_clients("127.0.0.1", r.port, 20, cpu=None, max_seconds=30) as slow:
            assert slow.ready["open"] == 20
            done = slow.read()
        assert done["status"] == {"408": 20}
        assert (done["silent_close"], done["still_open"]) == (0, 0)
    finally:
        r.stop()


def test_summary_tells_408_from_silent_close_and_open():
    a, b = socket.socketpair()
    try:
        answered = Conn(a, bytearray(TIMEOUT), closed=True, closed_at=14.0)
        silent = Conn(a, closed=True, closed_at=12.0)
        hanging = Conn(b)
        s = summarize([answered, silent, hanging], first_byte_at=10.0)
        assert s["status"] == {"408": 1}
        assert (s["silent_close"], s["still_open"], s["count"]) == (1, 1, 3)
        assert s["closed_after"] == {"min": 2.0, "median": 3.0, "max": 4.0}
    finally:
        a.close()
        b.close()

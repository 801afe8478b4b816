"""`wsgi.input`, `wsgi.errors` and `wsgi.file_wrapper` (server/wsgi_input.py) on a real socket pair.

The client end of a `socket.socketpair()` holds the request's bytes; the server end is a `Connection`
whose recv size is a few bytes, so every read of the app has to wait for more and stitch pieces
together, as it does behind a slow client. Nothing is mocked: the stream reads through the real body
readers from a real socket. Mutation testing (`make mutate MODULES=server/wsgi_input.py`) found these
edges unchecked by the end-to-end tests in test_wsgi.py.
"""

from __future__ import annotations

import io
import logging
import socket
from collections.abc import Iterator

import pytest

from server.config import Config
from server.connection import Connection, RequestTimeout
from server.http11 import body_reader, maybe_read_head
from server.wsgi_input import EMPTY_INPUT, ErrorStream, FileWrapper, Input

NEXT = b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n"


class _Pair:
    """A server-side Input over a socket pair; `client` is the peer's end."""

    def __init__(self, config: Config, head: bytes) -> None:
        self.server_sock, self.client = socket.socketpair()
        self.client.settimeout(5)
        self.conn = Connection(
            self.server_sock, ("127.0.0.1", 1), config, *Connection.socket_timeouts(config)
        )
        buf = bytearray(head)
        self.head = maybe_read_head(buf, config)
        assert buf == b""
        self.input = Input(self.conn, body_reader(self.head, config), self.head, config)

    def close(self) -> None:
        self.server_sock.close()
        self.client.close()


@pytest.fixture
def stream() -> Iterator:
    """`stream(body, chunked=False, expect=False, recv_size=3, **config)`: an Input whose client has sent
    the body (Content-Length or chunked) followed by a pipelined request, NEXT."""
    pairs: list[_Pair] = []

    def make(body: bytes, *, chunked: bool = False, expect: bool = False, send: bool = True, **changes):
        config = Config().replace(**{"recv_size": 3, "keepalive_linger": 0.1, **changes})
        fields = ["Host: h"]
        if chunked:
            fields.append("Transfer-Encoding: chunked")
            encoded = b"".join(
                b"%x\r\n%s\r\n" % (len(body[i : i + 4]), body[i : i + 4]) for i in range(0, len(body), 4)
            )
            encoded += b"0\r\n\r\n"
        else:
            fields.append(f"Content-Length: {len(body)}")
            encoded = body
        if expect:
            fields.append("Expect: 100-continue")
        head = ("POST / HTTP/1.1\r\n" + "\r\n".join(fields) + "\r\n\r\n").encode()
        pair = _Pair(config, head)
        pairs.append(pair)
        if send:
            pair.client.sendall(encoded + NEXT)
        return pair

    yield make
    for pair in pairs:
        pair.close()


def _left_for_the_next_request(pair: _Pair) -> bytes:
    """What the connection holds after the body: the rest of the pipelined request, read to its end."""
    for _ in range(10_000):  # recv steps of a hundredth of a second: bounded well past any delay
        if len(pair.conn.buf) >= len(NEXT):
            break
        pair.conn.fill(True)
    return bytes(pair.conn.buf)


BODY = b"first line\nsecond\n\nlast without newline"


@pytest.mark.parametrize("chunked", [False, True])
def test_read_sizes(stream, chunked):
    pair = stream(BODY, chunked=chunked)
    assert pair.input.read(0) == b""
    assert pair.input.read(1) == b"f"
    assert pair.input.read(7) == b"irst li"  # more than one recv holds: the read waits for all of it
    assert pair.input.read(None) == BODY[8:]
    assert pair.input.read(5) == b""  # at the end: b"", never the next request
    assert pair.input.read() == b""
    assert _left_for_the_next_request(pair) == NEXT


@pytest.mark.parametrize("size", [-1, None])
def test_read_without_a_size_reads_to_the_end(stream, size):
    pair = stream(BODY, chunked=True)
    assert pair.input.read(size) == BODY
    assert _left_for_the_next_request(pair) == NEXT


@pytest.mark.parametrize("chunked", [False, True])
def test_readline_with_and_without_a_size(stream, chunked):
    pair = stream(BODY, chunked=chunked)
    assert pair.input.readline(5) == b"first"  # cut at the size, inside the line
    assert pair.input.readline(6) == b" line\n"  # exactly the rest of the line
    assert pair.input.readline(100) == b"second\n"  # a size past the newline stops at the newline
    assert pair.input.readline(0) == b""
    assert pair.input.readline() == b"\n"
    assert pair.input.readline(None) == b"last without newline"  # the end of the body ends the line
    assert pair.input.readline() == b""
    assert _left_for_the_next_request(pair) == NEXT


def test_readline_size_larger_than_what_arrived_waits_for_more(stream):
    pair = stream(b"abcdefghij", recv_size=2)
    assert pair.input.readline(7) == b"abcdefg"
    assert pair.input.readline(-1) == b"hij"


def test_readline_at_the_end_of_the_body_with_a_size_past_it(stream):
    pair = stream(b"no newline")
    assert pair.input.readline(100) == b"no newline"
    assert pair.input.readline(100) == b""


def test_readline_with_a_size_returns_without_waiting_for_bytes_it_does_not_need(stream):
    # The client has sent 2 bytes of a 6-byte body and waits: readline(2) has what it asked for. (Were it
    # to wait for more, the body timeout would end the read with a RequestTimeout.)
    pair = stream(b"abc\nde", send=False, body_timeout=5.0)
    pair.client.sendall(b"ab")
    assert pair.input.readline(2) == b"ab"
    pair.client.sendall(b"c\nde" + NEXT)
    assert pair.input.readline(5) == b"c\n"
    assert pair.input.readline() == b"de"


def test_readlines_and_its_hint(stream):
    assert stream(BODY).input.readlines() == [b"first line\n", b"second\n", b"\n", b"last without newline"]
    # hint: stop once the lines so far total hint bytes or more
    assert stream(BODY).input.readlines(1) == [b"first line\n"]
    assert stream(BODY).input.readlines(11) == [b"first line\n"]
    assert stream(BODY).input.readlines(12) == [b"first line\n", b"second\n"]
    assert stream(BODY).input.readlines(0) == [b"first line\n", b"second\n", b"\n", b"last without newline"]


def test_iteration_yields_lines(stream):
    assert list(stream(BODY, chunked=True).input) == [
        b"first line\n",
        b"second\n",
        b"\n",
        b"last without newline",
    ]


def test_100_continue_is_sent_once_at_the_first_read(stream):
    pair = stream(b"hello", expect=True, send=False)
    pair.client.setblocking(False)
    with pytest.raises(BlockingIOError):  # nothing before the app reads
        pair.client.recv(100)
    pair.client.setblocking(True)
    pair.client.sendall(b"he")
    assert pair.input.read(2) == b"he"
    assert pair.client.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
    pair.client.sendall(b"llo" + NEXT)
    assert pair.input.read() == b"llo"
    pair.client.setblocking(False)
    with pytest.raises(BlockingIOError):  # ... and never again
        pair.client.recv(100)


def test_no_100_continue_without_the_expectation(stream):
    pair = stream(b"hello")
    assert pair.input.read() == b"hello"
    pair.client.setblocking(False)
    with pytest.raises(BlockingIOError):
        pair.client.recv(100)


def test_a_silent_client_times_out_with_408(stream):
    pair = stream(b"hello", send=False, body_timeout=0.2)
    pair.client.sendall(b"he")
    with pytest.raises(RequestTimeout) as info:
        pair.input.read()
    assert info.value.status == 408


def test_the_empty_input_reads_nothing():
    assert (EMPTY_INPUT.read(), EMPTY_INPUT.read(5), EMPTY_INPUT.read(None)) == (b"", b"", b"")
    assert (EMPTY_INPUT.readline(), EMPTY_INPUT.readline(5)) == (b"", b"")
    assert EMPTY_INPUT.readlines() == [] and list(EMPTY_INPUT) == []


# --- wsgi.errors and wsgi.file_wrapper ----------------------------------------------------------------------


def test_error_stream_logs_one_record_per_write(caplog):
    errors = ErrorStream()
    with caplog.at_level(logging.ERROR, logger="server.errors"):
        assert errors.write("one\n") == 4  # the length written, as a file's write returns
        assert errors.write("\n") == 1  # print()'s separate newline: no empty record
        assert errors.write("") == 0
        errors.writelines(["two", "three\n"])
        errors.write("spaces and a tab stay \t\n")  # only the newline is dropped
        errors.write("ends in X\n")
        errors.write("100% sure, %s unformatted\n")
        errors.flush()
    records = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    texts = ("one", "two", "three", "spaces and a tab stay \t", "ends in X", "100% sure, %s unformatted")
    assert records == [("server.errors", logging.ERROR, text) for text in texts]


def test_file_wrapper_iterates_in_blocks_and_closes_the_file():
    data = io.BytesIO(b"x" * 10)
    wrapper = FileWrapper(data, 4)
    assert list(wrapper) == [b"xxxx", b"xxxx", b"xx"]
    assert not data.closed
    wrapper.close()
    assert data.closed


def test_file_wrapper_default_block_is_64_kib():
    wrapper = FileWrapper(io.BytesIO(b"y" * (64 * 1024 + 1)))
    assert [len(block) for block in wrapper] == [64 * 1024, 1]


def test_file_wrapper_close_without_a_close_method():
    class Reader:  # a file-like with read() only (PEP 3333: close() is called only if it exists)
        def read(self, size: int) -> bytes:
            return b""

    wrapper = FileWrapper(Reader())
    wrapper.close()
    assert list(wrapper) == []

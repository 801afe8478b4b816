"""Feeding the sans-I/O parser three ways (h11's habit), shared by the parser and body-reader tests.

`parse()` feeds a request whole, one byte at a time (through both `maybe_read_head` and `HeadParser`),
and followed by a pipelined request that must stay in the buffer untouched; all ways must agree.
`rejected()` does the same for bad input and returns the one status every way raised.
"""

from __future__ import annotations

import pytest

from server.config import Config
from server.http11 import HeadParser, ProtocolError, RequestHead, body_reader, maybe_read_head

CONFIG = Config()
# Small limits, so limit tests stay small and the byte-at-a-time feed stays fast.
SMALL = Config().replace(
    max_request_line=64, max_header_bytes=256, max_header_count=5, max_body_bytes=100, max_chunk_line=32
)
NEXT = b"GET /next HTTP/1.1\r\nHost: next.example\r\n\r\n"


def _feed(chunks: list[bytes], config: Config, stateful: bool) -> tuple[RequestHead, bytes, bytes]:
    """Feed chunks in order; (head, body, bytes left in the buffer). Completion must come with the last."""
    parser = HeadParser(config)
    buf = bytearray()
    head = reader = None
    body = []
    for i, chunk in enumerate(chunks):
        assert head is None or (reader is not None and not reader.done), f"finished before chunk {i}"
        buf += chunk
        if head is None:
            head = parser.maybe_read(buf) if stateful else maybe_read_head(buf, config)
            if head is None:
                continue
            reader = body_reader(head, config)
        if reader is not None:
            body.append(reader.read(buf))
    assert head is not None, "the request head never completed"
    assert reader is None or reader.done, "the body never completed"
    return head, b"".join(body), bytes(buf)


def _ways(data: bytes) -> list[tuple[str, list[bytes], bool]]:
    one_by_one = [data[i : i + 1] for i in range(len(data))]
    return [
        ("whole", [data], False),
        ("byte by byte", one_by_one, False),
        ("byte by byte, HeadParser", one_by_one, True),
        ("with trailing bytes", [data + NEXT], False),
    ]


def parse(data: bytes, config: Config = CONFIG) -> tuple[RequestHead, bytes]:
    """(head, body) of one complete request, checked to be the same whichever way it is fed."""
    results = []
    for way, chunks, stateful in _ways(data):
        head, body, rest = _feed(chunks, config, stateful)
        assert rest == (NEXT if way == "with trailing bytes" else b""), way
        results.append((head, body))
    assert all(result == results[0] for result in results), results
    # The pipelined request left behind is itself intact.
    buf = bytearray(NEXT)
    assert maybe_read_head(buf, config).target == "/next"
    return results[0]


def rejected(data: bytes, config: Config = CONFIG) -> int:
    """The status of the ProtocolError that every way of feeding data raises."""
    statuses = set()
    for way, chunks, stateful in _ways(data):
        with pytest.raises(ProtocolError) as info:
            _feed(chunks, config, stateful)
        statuses.add(info.value.status)
        assert str(info.value), f"{way}: an error needs a message"
    assert len(statuses) == 1, statuses
    return statuses.pop()


def request(*header_lines: str, line: str = "GET / HTTP/1.1", body: bytes = b"") -> bytes:
    return ("\r\n".join([line, *header_lines]) + "\r\n\r\n").encode("latin-1") + body


def immediately(partial: bytes, config: Config = CONFIG) -> int:
    """The status raised by an incomplete head, without waiting for its end."""
    with pytest.raises(ProtocolError) as info:
        maybe_read_head(bytearray(partial), config)
    stateless = info.value.status
    parser = HeadParser(config)
    buf = bytearray()
    with pytest.raises(ProtocolError) as info:
        for i in range(len(partial)):
            buf += partial[i : i + 1]
            assert parser.maybe_read(buf) is None
    assert info.value.status == stateless
    return stateless


CHUNKED = ("Host: h", "Transfer-Encoding: chunked")

"""The request body readers (server/_body.py), sans-I/O: when a body is done, what a read consumes, the
limits at their exact edges, and the words of every refusal.

Bodies go through `parse()` / `rejected()` (tests/server/sansio.py): whole, byte by byte, and followed by
a pipelined request. The messages are checked word for word: they are the text of the 400, 413 or 431
page the client gets. Mutation testing (`make mutate MODULES=server/_body.py`) found each of these
unchecked; see tests/MUTANTS.md for the survivors that cannot change behaviour.
"""

from __future__ import annotations

import pytest

from server.http11 import ProtocolError, body_reader, maybe_read_head
from tests.server.sansio import CHUNKED, SMALL, parse, rejected, request


def _reader(*fields: str, config=SMALL):
    buf = bytearray(request("Host: h", *fields, line="POST / HTTP/1.1"))
    return body_reader(maybe_read_head(buf, config), config)


def _refusal(encoded: bytes, config=SMALL) -> tuple[int, str]:
    """(status, message) of a bad chunked body; every way of feeding it gives that status."""
    data = request(*CHUNKED, line="POST / HTTP/1.1", body=encoded)
    status = rejected(data, config)
    buf = bytearray(data)
    with pytest.raises(ProtocolError) as info:
        body_reader(maybe_read_head(buf, config), config).read(buf)
    assert info.value.status == status
    return status, str(info.value)


def _refused_before_the_end(partial: bytes, config=SMALL) -> tuple[int, str]:
    """(status, message) raised by the start of a chunked body, fed whole and byte by byte."""
    refusals = set()
    for pieces in ([partial], [partial[i : i + 1] for i in range(len(partial))]):
        reader = _reader(*CHUNKED[1:], config=config)
        buf = bytearray()
        with pytest.raises(ProtocolError) as info:
            for piece in pieces:
                buf += piece
                reader.read(buf)
        refusals.add((info.value.status, str(info.value)))
    assert len(refusals) == 1, refusals
    return refusals.pop()


# --- done, and what a read consumes ------------------------------------------------------------------


def test_a_one_byte_body_is_done_only_after_its_byte():
    assert parse(request("Host: h", "Content-Length: 1", line="POST / HTTP/1.1", body=b"x"))[1] == b"x"
    reader = _reader("Content-Length: 1")
    assert reader.done is False
    assert reader.read(bytearray()) == b""
    assert reader.done is False
    buf = bytearray(b"xGET")
    assert reader.read(buf) == b"x"
    assert reader.done is True
    assert buf == b"GET"


def test_a_chunked_body_is_done_only_after_its_trailer_section():
    reader = _reader(*CHUNKED[1:])
    assert reader.done is False
    buf = bytearray(b"3\r\nabc\r\n0\r\n")
    assert reader.read(buf) == b"abc"
    assert (reader.done, buf) == (False, b"")  # the last chunk came, the (empty) trailer section did not
    buf += b"\r\nGET"
    assert reader.read(buf) == b""
    assert (reader.done, buf) == (True, b"GET")


def test_a_read_consumes_the_crlf_after_chunk_data_as_soon_as_it_is_there():
    # read() takes all the body bytes buf holds: nothing of this body is left for the connection's buffer.
    reader = _reader(*CHUNKED[1:])
    buf = bytearray(b"5\r\nhello\r\n")
    assert reader.read(buf) == b"hello"
    assert buf == b""
    buf += b"2\r\nhi\r"  # a CR alone waits for its LF
    assert reader.read(buf) == b"hi"
    assert buf == b"\r"
    buf += b"\n0\r\n\r\n"
    assert reader.read(buf) == b""
    assert reader.done and buf == b""


# --- limits at their edges ------------------------------------------------------------------------------


def _trailers(fields: list[bytes]) -> bytes:
    return b"".join(field + b"\r\n" for field in fields) + b"\r\n"


def test_a_trailer_section_at_both_limits_is_fine():
    # SMALL: 5 fields, 256 bytes (the field lines with their CRLFs plus the final CRLF).
    fields = [b"X-%d: v" % i for i in range(SMALL.max_header_count - 1)]
    filler = b"Y: " + b"v" * (SMALL.max_header_bytes - len(_trailers([*fields, b"Y: "])))
    trailers = _trailers([*fields, filler])
    assert len(trailers) == SMALL.max_header_bytes
    assert parse(request(*CHUNKED, body=b"2\r\nhi\r\n0\r\n" + trailers), SMALL)[1] == b"hi"


def test_a_trailer_section_one_byte_over_is_431():
    filler = b"Y: " + b"v" * (SMALL.max_header_bytes - len(_trailers([b"Y: "])) + 1)
    assert rejected(request(*CHUNKED, body=b"0\r\n" + _trailers([filler])), SMALL) == 431


@pytest.mark.parametrize(
    ("partial", "refusal"),
    [
        # Too many trailer lines or bytes: refused without waiting for the end of the section.
        (b"0\r\n" + b"X: v\r\n" * 6, (431, "more than 5 trailer fields")),
        (b"0\r\nX: " + b"v" * 256, (431, "trailer section larger than 256 bytes")),
        # A bad byte as the first byte of the trailer section is seen as soon as it arrives.
        (b"0\r\n\x00", (400, "control character b'\\x00' in a header or request line")),
        # max_chunk_line + 2 bytes without an LF cannot be a size line (32 bytes, CR, LF).
        (b"5;x=" + b"y" * 30, (400, "chunk size line longer than 32 bytes")),
    ],
)
def test_refused_before_the_end_of_the_body(partial, refusal):
    assert _refused_before_the_end(partial) == refusal


def test_a_size_line_at_the_limit_waits_for_its_lf():
    reader = _reader(*CHUNKED[1:])
    buf = bytearray(b"5;x=" + b"y" * 28 + b"\r")  # 32 bytes and the CR
    assert reader.read(buf) == b""
    buf += b"\nhello\r\n0\r\n\r\n"
    assert reader.read(buf) == b"hello"
    assert reader.done


# --- the words of each refusal ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoded", "refusal"),
    [
        (b"5\r\nhelloXY0\r\n\r\n", (400, "chunk data not followed by CRLF")),
        (b"\nhello\r\n0\r\n\r\n", (400, "bare LF in chunk size line (lines must end with CRLF)")),
        (b"5\nhello\r\n0\r\n\r\n", (400, "bare LF in chunk size line (lines must end with CRLF)")),
        (b"g\r\nhello\r\n0\r\n\r\n", (400, "malformed chunk size line b'g'")),
        (b"5;a=b c\r\nhello\r\n0\r\n\r\n", (400, "malformed chunk size line b'5;a=b c'")),
        (b"65\r\n", (413, "chunked body larger than 100 bytes")),
        # The limit is on the sum of the chunks: 40 + 40 fit, a third 40 does not.
        (
            b"28\r\n" + b"x" * 40 + b"\r\n28\r\n" + b"x" * 40 + b"\r\n28\r\n",
            (413, "chunked body larger than 100 bytes"),
        ),
        (b"0\r\n" + b"X: v\r\n" * 6 + b"\r\n", (431, "more than 5 trailer fields")),
        (b"0\r\nX: " + b"v" * 300 + b"\r\n\r\n", (431, "trailer section larger than 256 bytes")),
    ],
)
def test_bad_chunked_bodies_say_what_is_wrong(encoded, refusal):
    assert _refusal(encoded) == refusal


def test_a_malformed_size_line_is_quoted_up_to_100_bytes():
    line = b"5;" + b"a" * 150 + b"@"
    status, message = _refusal(line + b"\r\nhello\r\n0\r\n\r\n", SMALL.replace(max_chunk_line=200))
    assert (status, message) == (400, f"malformed chunk size line {line[:100]!r}")

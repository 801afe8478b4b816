"""The request-head parser's refusals (server/http11.py): their exact words and their exact edges.

A refusal's message is the text of the error page the client gets (and of the server's log), so each is
checked word for word, with the 100-character cut where the message quotes what the client sent. The
limits are checked at the byte where they start to bite, fed whole and byte by byte. Mutation testing
(`make mutate MODULES=server/http11.py`) found each of these unchecked; tests/MUTANTS.md lists the
survivors that cannot change behaviour.
"""

from __future__ import annotations

import pytest

from server.http11 import HeadParser, ProtocolError, body_reader, maybe_read_head
from tests.server.sansio import CONFIG, SMALL, parse, rejected, request

_LONG = "x" * 150  # longer than the 100 characters a message quotes


def _refusal(data: bytes, config=CONFIG) -> tuple[int, str]:
    """(status, message) of a bad head; every way of feeding it gives that status."""
    status = rejected(data, config)
    with pytest.raises(ProtocolError) as info:
        buf = bytearray(data)
        body_reader(maybe_read_head(buf, config), config)
    assert info.value.status == status
    return status, str(info.value)


def _refused_at_once(partial: bytes, config=SMALL) -> tuple[int, str]:
    """(status, message) of an incomplete head, fed whole and byte by byte: the same, before its end."""
    refusals = set()
    with pytest.raises(ProtocolError) as info:
        maybe_read_head(bytearray(partial), config)
    refusals.add((info.value.status, str(info.value)))
    parser, buf = HeadParser(config), bytearray()
    with pytest.raises(ProtocolError) as info:
        for i in range(len(partial)):
            buf += partial[i : i + 1]
            assert parser.maybe_read(buf) is None
    refusals.add((info.value.status, str(info.value)))
    assert len(refusals) == 1, refusals
    return refusals.pop()


@pytest.mark.parametrize(
    ("data", "refusal"),
    [
        (b"\r\n" * 40 + request("Host: h"), (400, "too many empty lines before the request line")),
        (
            request("Host: h", line="GET /" + "a" * 60 + " HTTP/1.1"),
            (414, "request line longer than 64 bytes"),
        ),
        (request("Host: h", "X: " + "v" * 260), (431, "header section larger than 256 bytes")),
        (request("Host: h", *["X: v"] * 5), (431, "more than 5 header fields")),
        (request("Host: h", "Content-Length: 1000"), (413, "Content-Length 1000 exceeds the limit of 100")),
        (  # a length of 150 digits is quoted cut at 100
            request("Host: h", "Content-Length: " + "1" * 100 + "2" * 50),
            (413, f"Content-Length {'1' * 100} exceeds the limit of 100"),
        ),
    ],
)
def test_limit_refusals_say_which_limit(data, refusal):
    assert _refusal(data, SMALL) == refusal


def test_a_content_length_over_the_limit_names_both():
    status, message = _refusal(request("Host: h", "Content-Length: 101"), SMALL)
    assert status == 413 and "101 exceeds the limit of 100" in message


@pytest.mark.parametrize(
    ("data", "refusal"),
    [
        (request("Host: a", "Host: a"), (400, "more than one Host header")),
        (request(), (400, "missing Host header")),
        (request("Host: a b" + _LONG), (400, f"invalid Host header {('a b' + _LONG)[:100]!r}")),
        (
            request("Host: h", line="GET / HTTP/1.1 " + _LONG),
            (400, f"malformed request line {('GET / HTTP/1.1 ' + _LONG)[:100]!r}"),
        ),
        (request("Host: h", line=f"G@{_LONG} / HTTP/1.1"), (400, f"invalid method {('G@' + _LONG)[:100]!r}")),
        (request("Host: h", line="CONNECT h:443 HTTP/1.1"), (501, "CONNECT is not supported")),
        (request("Host: h", line="GET  HTTP/1.1"), (400, "invalid request-target ''")),
        (
            request("Host: h", line=f"GET /a\t{_LONG} HTTP/1.1"),
            (400, f"invalid request-target {('/a' + chr(9) + _LONG)[:100]!r}"),
        ),
        (
            request("Host: h", line=f"GET / HTTP/{_LONG}"),
            (400, f"malformed HTTP version {('HTTP/' + _LONG)[:100]!r}"),
        ),
        (request("Host: h", line="GET /a#b HTTP/1.1"), (400, "fragment in request-target")),
        (request("Host: h", line="GET * HTTP/1.1"), (400, 'request-target "*" is only allowed with OPTIONS')),
        (
            request("Host: h", line=f"GET a{_LONG} HTTP/1.1"),
            (400, f"request-target {('a' + _LONG)[:100]!r} is neither origin-form nor absolute-form"),
        ),
        (
            request("Host: h", line="GET ftp://h/ HTTP/1.1"),
            (400, "unsupported URI scheme 'ftp' in request-target"),
        ),
        (
            request("Host: h", line="GET http://u@h/ HTTP/1.1"),
            (400, "invalid authority 'u@h' in request-target"),
        ),
        (
            request("Transfer-Encoding: chunked", line="POST / HTTP/1.0"),
            (400, "Transfer-Encoding in an HTTP/1.0 request"),
        ),
        (
            request("Host: h", "Content-Length: 1", "Transfer-Encoding: chunked"),
            (400, "both Content-Length and Transfer-Encoding"),
        ),
        (
            request("Host: h", "Transfer-Encoding: gzip" + _LONG),
            (501, f"unsupported Transfer-Encoding {('gzip' + _LONG)[:100]!r}"),
        ),
        (
            request("Host: h", "Content-Length: 1, 2" + _LONG),
            (400, f"conflicting Content-Length values {('1, 2' + _LONG)[:100]!r}"),
        ),
        (
            request("Host: h", "Content-Length: 1" + _LONG),
            (400, f"invalid Content-Length {('1' + _LONG)[:100]!r}"),
        ),
    ],
)
def test_refusals_say_what_is_wrong(data, refusal):
    assert _refusal(data) == refusal


# --- what is refused, which a looser reading would let through -----------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        # List elements are trimmed of SP and HTAB only (RFC 9110 §5.6.1): NBSP and NEL are not OWS,
        # though Python's str.strip() would remove them, and a trimmed "chunked" would smuggle a body.
        ["Transfer-Encoding: chunked\xa0"],
        ["Transfer-Encoding: \x85chunked"],
        ["Transfer-Encoding: chunkedX"],
    ],
)
def test_a_transfer_coding_that_only_looks_like_chunked_is_501(fields):
    assert rejected(request("Host: h", *fields, body=b"0\r\n\r\n")) == 501


@pytest.mark.parametrize("value", ["5,\xa05", "5, 5X", "X5, 5"])
def test_a_content_length_list_that_only_looks_identical_is_400(value):
    assert (
        rejected(request("Host: h", f"Content-Length: {value}", line="POST / HTTP/1.1", body=b"12345")) == 400
    )


# --- limits at the byte where they bite ---------------------------------------------------------------


def test_leading_empty_lines_up_to_the_request_line_limit_are_ignored():
    lead = b"\r\n" * (SMALL.max_request_line // 2)
    assert len(lead) == SMALL.max_request_line
    assert parse(lead + request("Host: h", line="GET /x HTTP/1.1"), SMALL)[0].target == "/x"


def test_leading_empty_lines_do_not_count_against_the_header_section():
    filler = "X: " + "v" * (SMALL.max_header_bytes - len("Host: h\r\nX: \r\n\r\n"))
    head, _ = parse(b"\r\n\r\n" + request("Host: h", filler), SMALL)
    assert head.headers[1] == ("x", filler[3:])


@pytest.mark.parametrize(
    ("partial", "refusal"),
    [
        # The CRLF of a request line one byte too long has arrived, the rest of the head has not.
        (b"GET /" + b"a" * 51 + b" HTTP/1.1\r\nHost: h\r\n", (414, "request line longer than 64 bytes")),
        (b"GET /" + b"a" * 200 + b" HTTP/1.1\r\nHost: h\r\n", (414, "request line longer than 64 bytes")),
        # One byte of field lines over the header section limit, no end of head in sight.
        (b"GET / HTTP/1.1\r\nX: " + b"v" * 254, (431, "header section larger than 256 bytes")),
        (b"GET / HTTP/1.1\r\n" + b"X: v\r\n" * 6, (431, "more than 5 header fields")),
    ],
)
def test_incomplete_heads_refused_at_once_say_why(partial, refusal):
    assert _refused_at_once(partial) == refusal


def test_an_incomplete_head_that_can_still_fit_waits():
    line = b"GET /" + b"a" * 50 + b" HTTP/1.1"
    assert len(line) == SMALL.max_request_line
    # 254 bytes of field lines: with the final CRLF to come, the section is exactly 256.
    fields = b"Host: h\r\nX: " + b"v" * (SMALL.max_header_bytes - len(b"Host: h\r\nX: \r\n\r\n")) + b"\r\n"
    parser, buf = HeadParser(SMALL), bytearray()
    for byte in line + b"\r\n" + fields:
        buf.append(byte)
        assert parser.maybe_read(buf) is None
    assert maybe_read_head(bytearray(buf), SMALL) is None
    buf += b"\r\n"
    assert parser.maybe_read(buf).target == "/" + "a" * 50

"""The sans-I/O request parser: no sockets, every message fed three ways (h11's habit).

`parse()` feeds a request whole, one byte at a time (through both `maybe_read_head` and `HeadParser`),
and followed by a pipelined request that must stay in the buffer untouched; all ways must agree.
`rejected()` does the same for bad input and returns the one status every way raised.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server._grammar import check_incomplete_bytes, parse_fields, split_lines
from server.http11 import HeadParser, ProtocolError, RequestHead, body_reader, maybe_read_head
from tests.server.sansio import CHUNKED, CONFIG, NEXT, SMALL, immediately, parse, rejected, request

# --- valid requests -----------------------------------------------------------------------------------


def test_typical_get():
    head, body = parse(
        request(
            "Host: example.com:8080",
            "User-Agent:  curl/8.5 ",
            "Accept:\t*/*",
            "X-Empty:",
            "X-Multi: a b\tc",
            line="GET /search/%E5%B9%BF?q=1&r=%20 HTTP/1.1",
        )
    )
    assert head == RequestHead(
        method="GET",
        target="/search/%E5%B9%BF?q=1&r=%20",
        path="/search/%E5%B9%BF",
        query="q=1&r=%20",
        version="HTTP/1.1",
        headers=[
            ("host", "example.com:8080"),
            ("user-agent", "curl/8.5"),
            ("accept", "*/*"),
            ("x-empty", ""),
            ("x-multi", "a b\tc"),
        ],
        host="example.com:8080",
        keep_alive=True,
        expect_continue=False,
        content_length=None,
        chunked=False,
    )
    assert body == b""
    assert body_reader(head, CONFIG) is None


def test_header_names_lower_cased_values_latin1_order_and_duplicates_kept():
    head, _ = parse(request("HOST: h", "X-A: caf\xe9", "x-a: 2", "Cookie: a=1; b=2"))
    assert head.headers == [("host", "h"), ("x-a", "caf\xe9"), ("x-a", "2"), ("cookie", "a=1; b=2")]


def test_method_is_kept_as_sent():
    assert parse(request("Host: h", line="get / HTTP/1.1"))[0].method == "get"
    assert parse(request("Host: h", line="PURGE /x HTTP/1.1"))[0].method == "PURGE"


def test_query_keeps_everything_after_the_first_question_mark():
    head, _ = parse(request("Host: h", line="GET /a?b?c=d& HTTP/1.1"))
    assert (head.path, head.query) == ("/a", "b?c=d&")
    head, _ = parse(request("Host: h", line="GET /a? HTTP/1.1"))
    assert (head.path, head.query) == ("/a", "")


def test_raw_utf8_target_arrives_as_latin1():
    head, _ = parse(request("Host: h", line="GET /广东 HTTP/1.1".encode().decode("latin-1")))
    assert head.path.encode("latin-1").decode() == "/广东"


@pytest.mark.parametrize("leading", [b"\r\n", b"\r\n\r\n\r\n"])
def test_empty_lines_before_the_request_line_are_ignored(leading):
    head, _ = parse(leading + request("Host: h", line="GET /x HTTP/1.1"))
    assert head.target == "/x"


def test_absolute_form_authority_wins_over_host():
    head, _ = parse(request("Host: other", line="GET http://example.com:81/p/q?x=1 HTTP/1.1"))
    assert (head.target, head.path, head.query) == ("http://example.com:81/p/q?x=1", "/p/q", "x=1")
    assert head.host == "example.com:81"
    assert head.headers == [("host", "example.com:81")]  # the Host field is ignored (RFC 9112 §3.2.2)


def test_absolute_form_without_host_field_gets_one_from_its_authority():
    head, _ = parse(b"GET http://example.com/ HTTP/1.0\r\nAccept: */*\r\n\r\n")
    assert head.headers == [("accept", "*/*"), ("host", "example.com")]


@pytest.mark.parametrize(
    ("target", "path", "query"),
    [("http://h", "/", ""), ("HTTPS://h?x", "/", "x"), ("http://[::1]:8080/a", "/a", "")],
)
def test_absolute_form_without_path(target, path, query):
    head, _ = parse(request("Host: h", line=f"GET {target} HTTP/1.1"))
    assert (head.path, head.query) == (path, query)


def test_asterisk_form_with_options():
    head, _ = parse(request("Host: h", line="OPTIONS * HTTP/1.1"))
    assert (head.method, head.path, head.query) == ("OPTIONS", "*", "")


@pytest.mark.parametrize("host", ["", "example.com", "EXAMPLE.com:80", "127.0.0.1:8899", "[::1]", "[::1]:80"])
def test_valid_hosts(host):
    assert parse(request(f"Host: {host}"))[0].host == host


@pytest.mark.parametrize(
    ("line", "headers", "keep_alive"),
    [
        ("GET / HTTP/1.1", [], True),
        ("GET / HTTP/1.1", ["Connection: close"], False),
        ("GET / HTTP/1.1", ["Connection: Upgrade, CLOSE"], False),
        ("GET / HTTP/1.1", ["Connection: keep-alive"], True),
        ("GET / HTTP/1.0", [], False),
        ("GET / HTTP/1.0", ["Connection: Keep-Alive"], True),
        ("GET / HTTP/1.0", ["Connection: keep-alive", "Connection: close"], False),
        ("GET / HTTP/1.0", ["Connection: close"], False),
        # 1.0 persists only on "keep-alive", not merely without "close" (other fields take another path).
        ("GET / HTTP/1.0", ["Connection: TE"], False),
        ("POST / HTTP/1.0", ["Content-Length: 0"], False),
        ("POST / HTTP/1.1", ["Content-Length: 0"], True),
    ],
)
def test_keep_alive(line, headers, keep_alive):
    assert parse(request("Host: h", *headers, line=line))[0].keep_alive is keep_alive


def test_http_1_0_needs_no_host():
    head, _ = parse(request(line="GET / HTTP/1.0"))
    assert (head.version, head.host, head.headers) == ("HTTP/1.0", None, [])


def test_higher_http_1_minor_version_is_served_as_1_1():
    head, _ = parse(request("Host: h", line="GET / HTTP/1.9"))
    assert head.version == "HTTP/1.1"
    assert head.keep_alive


@pytest.mark.parametrize(
    ("line", "expect", "wanted"),
    [
        ("POST / HTTP/1.1", "100-continue", True),
        ("POST / HTTP/1.1", "100-Continue", True),
        ("POST / HTTP/1.1", "something-else", False),
        ("POST / HTTP/1.0", "100-continue", False),  # RFC 9110 §10.1.1: ignored on 1.0
    ],
)
def test_expect_continue(line, expect, wanted):
    head, body = parse(request("Host: h", f"Expect: {expect}", "Content-Length: 2", line=line, body=b"hi"))
    assert head.expect_continue is wanted
    assert body == b"hi"


def test_content_length_body_and_pipelined_request_after_it():
    head, body = parse(request("Host: h", "Content-Length: 11", line="POST /f HTTP/1.1", body=b"hello world"))
    assert (head.content_length, head.chunked, body) == (11, False, b"hello world")


def test_content_length_zero_has_no_body_reader():
    head, body = parse(request("Host: h", "Content-Length: 0", line="POST / HTTP/1.1"))
    assert head.content_length == 0
    assert body_reader(head, CONFIG) is None


@pytest.mark.parametrize("fields", [["Content-Length: 5, 5"], ["Content-Length: 5", "content-length: 5"]])
def test_identical_duplicate_content_lengths_are_one(fields):
    head, body = parse(request("Host: h", *fields, line="POST / HTTP/1.1", body=b"12345"))
    assert (head.content_length, body) == (5, b"12345")


def test_content_length_with_leading_zeros():
    head, body = parse(request("Host: h", "Content-Length: 007", line="POST / HTTP/1.1", body=b"1234567"))
    assert (head.content_length, body) == (7, b"1234567")


def test_pipelined_heads_back_to_back():
    buf = bytearray(
        request("Host: h", line="GET /1 HTTP/1.1")
        + request("Host: h", "Content-Length: 3", line="POST /2 HTTP/1.1", body=b"abc")
        + request("Host: h", line="GET /3 HTTP/1.1")
    )
    first = maybe_read_head(buf, CONFIG)
    assert first.target == "/1" and body_reader(first, CONFIG) is None
    second = maybe_read_head(buf, CONFIG)
    assert second.target == "/2" and body_reader(second, CONFIG).read(buf) == b"abc"
    assert maybe_read_head(buf, CONFIG).target == "/3"
    assert buf == b""
    assert maybe_read_head(buf, CONFIG) is None


def test_one_head_parser_serves_pipelined_requests_fed_byte_by_byte():
    stream = (
        b"\r\n"
        + request("Host: h", line="GET /1 HTTP/1.1")
        + request("Host: h", "Content-Length: 3", line="POST /2 HTTP/1.1", body=b"abc")
        + b"\r\n"  # RFC 9112 §2.2: a stray CRLF after a body
        + request(
            "Host: h", "Transfer-Encoding: chunked", line="POST /3 HTTP/1.1", body=b"1\r\nx\r\n0\r\n\r\n"
        )
        + request("Host: h", line="GET /4 HTTP/1.1")
    )
    parser = HeadParser(CONFIG)
    buf = bytearray()
    seen = []
    reader = None
    for i in range(len(stream)):
        buf += stream[i : i + 1]
        if reader is None:
            head = parser.maybe_read(buf)
            if head is None:
                continue
            seen.append([head.target, b""])
            reader = body_reader(head, CONFIG)
        if reader is not None:
            seen[-1][1] += reader.read(buf)
            if reader.done:
                reader = None
    assert seen == [["/1", b""], ["/2", b"abc"], ["/3", b"x"], ["/4", b""]]
    assert buf == b""


def test_empty_or_partial_buffer_needs_more_data():
    for partial in [b"", b"\r", b"\r\n", b"G", b"GET / HTTP/1.1\r", b"GET / HTTP/1.1\r\nHost: h\r\n\r"]:
        buf = bytearray(partial)
        assert maybe_read_head(buf, CONFIG) is None
        assert buf == partial  # nothing consumed until the head is complete


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        (b"0\r\n\r\n", b""),
        (b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", b"hello world"),
        (b"A\r\n0123456789\r\n0\r\n\r\n", b"0123456789"),
        (b"000a\r\n0123456789\r\n00\r\n\r\n", b"0123456789"),
        (b"3;name=value\r\nabc\r\n0;last\r\n\r\n", b"abc"),
        (b'3 ; a = "q\\"uoted; \xe9" ;b;c=d\r\nabc\r\n0\r\n\r\n', b"abc"),
        (b"3\r\nabc\r\n0\r\nExpires: never\r\nX-Checksum:  abc \r\n\r\n", b"abc"),
        (b"2\r\n\r\n\r\n0\r\n\r\n", b"\r\n"),  # chunk data is opaque, CRLFs included
    ],
)
def test_chunked_bodies(encoded, decoded):
    head, body = parse(request(*CHUNKED, line="POST / HTTP/1.1", body=encoded))
    assert (head.chunked, head.content_length, body) == (True, None, decoded)


def test_transfer_coding_name_is_case_insensitive():
    head, body = parse(
        request("Host: h", "Transfer-Encoding: Chunked", line="PUT / HTTP/1.1", body=b"0\r\n\r\n")
    )
    assert head.chunked and body == b""


def test_limits_are_inclusive():
    line = "GET /" + "a" * (SMALL.max_request_line - len("GET / HTTP/1.1")) + " HTTP/1.1"
    assert len(line) == SMALL.max_request_line
    assert parse(request("Host: h", line=line), SMALL)[0].target.startswith("/aaa")
    fields = [f"X-{i}: v" for i in range(SMALL.max_header_count - 1)]
    assert len(parse(request("Host: h", *fields), SMALL)[0].headers) == SMALL.max_header_count
    # Header section = field lines with their CRLFs plus the final CRLF.
    filler = "X: " + "v" * (SMALL.max_header_bytes - len("Host: h\r\nX: \r\n\r\n"))
    assert parse(request("Host: h", filler), SMALL)[0].headers[1] == ("x", filler[3:])
    body = b"x" * SMALL.max_body_bytes
    assert parse(request("Host: h", f"Content-Length: {len(body)}", body=body), SMALL)[1] == body
    chunked = b"32\r\n" + body[:50] + b"\r\n32\r\n" + body[50:] + b"\r\n0\r\n\r\n"
    assert parse(request(*CHUNKED, body=chunked), SMALL)[1] == body


# --- bad requests: each raises ProtocolError with the status to answer ---------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        [],  # RFC 9112 §3.2: HTTP/1.1 without Host
        ["Host: a", "Host: a"],
        ["Host: a b"],
        ["Host: a/b"],
        ["Host: user@a"],
        ["Host: [::1"],
        ["Host: a:8o"],
        ["Host: a\xe9"],
    ],
)
def test_bad_host_is_400(fields):
    assert rejected(request(*fields)) == 400


def test_http_1_0_with_two_hosts_is_400():
    assert rejected(request("Host: a", "Host: b", line="GET / HTTP/1.0")) == 400


@pytest.mark.parametrize(
    "fields",
    [
        ["Content-Length: 5", "Transfer-Encoding: chunked"],  # RFC 9112 §6.1: smuggling vector
        ["Transfer-Encoding: chunked", "Content-Length: 0"],
        ["Content-Length: 5", "Content-Length: 6"],
        ["Content-Length: 5, 6"],
        ["Content-Length: 5,"],
        ["Content-Length: "],
        ["Content-Length: abc"],
        ["Content-Length: -1"],
        ["Content-Length: +5"],
        ["Content-Length: 5.0"],
        ["Content-Length: 0x5"],
        ["Content-Length: 5 5"],
        ["Content-Length: \xb2"],  # latin-1 superscript two: str.isdigit() would say yes
    ],
)
def test_bad_content_length_framing_is_400(fields):
    assert rejected(request("Host: h", *fields, line="POST / HTTP/1.1", body=b"12345")) == 400


@pytest.mark.parametrize(
    "coding",
    ["gzip, chunked", "chunked, gzip", "identity", "gzip", "chunked, chunked", "chunked;q=1", "x"],
)
def test_transfer_encoding_other_than_chunked_is_501(coding):
    assert rejected(request("Host: h", f"Transfer-Encoding: {coding}", body=b"0\r\n\r\n")) == 501


@pytest.mark.parametrize("coding", ["chunked,", ", chunked", "chunked, ,", ",chunked"])
def test_transfer_encoding_with_empty_list_elements_is_refused(coding):
    # Decided: refused, not ignored (RFC 9110 §5.6.1.2 allows either; see the comment in _framing).
    assert rejected(request("Host: h", f"Transfer-Encoding: {coding}", body=b"0\r\n\r\n")) == 501
    assert rejected(request("Host: h", f"Transfer-Encoding: {coding}", "Transfer-Encoding: chunked")) == 501


def test_chunked_twice_on_two_lines_is_501():
    fields = ["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"]
    assert rejected(request("Host: h", *fields, body=b"0\r\n\r\n")) == 501


def test_transfer_encoding_on_http_1_0_is_400():
    assert rejected(request("Transfer-Encoding: chunked", line="POST / HTTP/1.0", body=b"0\r\n\r\n")) == 400


def test_content_length_over_the_limit_is_413_before_any_body():
    # Refused with the head, so no 100 Continue is ever sent for it; one byte less is served.
    buf = bytearray(request("Host: h", "Content-Length: 101", "Expect: 100-continue"))
    with pytest.raises(ProtocolError) as info:
        maybe_read_head(buf, SMALL)
    assert info.value.status == 413 and str(info.value) == "Content-Length 101 exceeds the limit of 100"
    buf = bytearray(request("Host: h", "Content-Length: 100", "Expect: 100-continue"))
    head = maybe_read_head(buf, SMALL)
    assert head.expect_continue and head.content_length == 100


def test_absurdly_long_content_length_is_413():
    assert rejected(request("Host: h", "Content-Length: " + "9" * 5000)) == 413


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n",  # bare CR in a value
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n",
        b"GET /\r HTTP/1.1\r\nHost: h\r\n\r\n",  # bare CR in the request line
        b"GET / HTTP/1.1\nHost: h\r\n\r\n",  # bare LF
        b"GET / HTTP/1.1\r\nHost: h\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\n\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\nb\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n",  # NUL
        b"GET /\x00 HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nX: \x1b[31m\r\n\r\n",  # other CTLs
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f\r\n\r\n",
        b"GET /\x7f HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",  # obs-fold
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n",
        b"GET / HTTP/1.1\r\n Host: h\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost : h\r\n\r\n",  # whitespace between name and colon
        b"GET / HTTP/1.1\r\nHost\t: h\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\n: empty name\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nX(y): z\r\n\r\n",  # not a token
        b"GET / HTTP/1.1\r\nHost: h\r\nX\xe9: z\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nno colon\r\n\r\n",
        b"\r\n\r\n\n" + request("Host: h"),
    ],
)
def test_bad_bytes_and_field_lines_are_400(data):
    assert rejected(data) == 400


@pytest.mark.parametrize(
    "line",
    [
        "GET abc HTTP/1.1",  # neither origin-form nor absolute-form
        "GET * HTTP/1.1",  # "*" is for OPTIONS only
        "OPTIONS ** HTTP/1.1",
        "GET example.com:443 HTTP/1.1",  # authority-form without CONNECT
        "GET ftp://h/ HTTP/1.1",
        "GET http:///p HTTP/1.1",  # absolute-form without a host
        "GET http://u@h/ HTTP/1.1",  # RFC 9110 §4.2.4: no userinfo
        "GET http://h h/ HTTP/1.1",
        "GET //h/ HTTP/1.1x",
        "GET /a#frag HTTP/1.1",  # fragments are never sent
        "GET  / HTTP/1.1",  # request line: exactly three parts, single spaces
        "GET / HTTP/1.1 ",
        "GET / HTTP/1.1 x",
        "GET\t/ HTTP/1.1",
        " GET / HTTP/1.1",
        "GET /",
        "GET / ",
        "GET",
        "",
        "G(T / HTTP/1.1",
        "GET / http/1.1",  # malformed versions
        "GET / HTTP/1.10",
        "GET / HTTP/11",
        "GET / HTTP/1",
        "GET / HTTP/1.x",
        "GET / HTTPS/1.1",
    ],
)
def test_bad_request_lines_are_400(line):
    assert rejected(request("Host: h", line=line)) == 400


def test_connect_is_501():
    # An origin server, not a proxy: CONNECT is a method we do not implement (RFC 9110 §15.6.2).
    assert rejected(request("Host: h:443", line="CONNECT h:443 HTTP/1.1")) == 501


@pytest.mark.parametrize("version", ["HTTP/2.0", "HTTP/0.9", "HTTP/3.0", "HTTP/9.9"])
def test_other_major_versions_are_505(version):
    assert rejected(request("Host: h", line=f"GET / {version}")) == 505


def test_request_line_over_the_limit_is_414():
    line = "GET /" + "a" * (SMALL.max_request_line - len("GET / HTTP/1.1") + 1) + " HTTP/1.1"
    assert rejected(request("Host: h", line=line), SMALL) == 414


def test_request_line_without_crlf_is_414_immediately():
    assert immediately(b"GET /" + b"a" * SMALL.max_request_line, SMALL) == 414


def test_too_many_empty_lines_before_the_request_line_is_400():
    assert rejected(b"\r\n" * SMALL.max_request_line + request("Host: h"), SMALL) == 400


def test_header_section_over_the_limit_is_431():
    filler = "X: " + "v" * (SMALL.max_header_bytes - len("Host: h\r\nX: \r\n\r\n") + 1)
    assert rejected(request("Host: h", filler), SMALL) == 431


def test_header_section_over_the_limit_is_431_immediately():
    assert immediately(b"GET / HTTP/1.1\r\nX: " + b"v" * SMALL.max_header_bytes, SMALL) == 431


def test_too_many_header_fields_is_431():
    fields = [f"X-{i}: v" for i in range(SMALL.max_header_count)]
    assert rejected(request("Host: h", *fields), SMALL) == 431


def test_too_many_header_fields_is_431_immediately():
    partial = b"GET / HTTP/1.1\r\n" + b"X: v\r\n" * (SMALL.max_header_count + 1)
    assert immediately(partial, SMALL) == 431


@pytest.mark.parametrize(
    ("partial", "status"),
    [
        (b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x00", 400),
        (b"GET / HTTP/1.1\r\nHost: h\rX", 400),
        (b"GET / HTTP/1.1\nHost: h\n", 400),
        (b"GET / HTTP/2.0\r\n", 505),
        (b"GET  / HTTP/1.1\r\n", 400),
        (b"CONNECT h:443 HTTP/1.1\r\n", 501),
    ],
)
def test_bad_bytes_fail_without_waiting_for_the_end_of_the_head(partial, status):
    assert immediately(partial) == status


def test_default_limits_match_the_issue():
    # Issue 2: request line over 8 KiB -> 414; headers over 64 KiB or 100 fields -> 431.
    assert rejected(request("Host: h", line="GET /" + "a" * 8192 + " HTTP/1.1")) == 414
    with pytest.raises(ProtocolError) as info:
        maybe_read_head(bytearray(request("Host: h", "X: " + "v" * 65536)), CONFIG)
    assert info.value.status == 431
    with pytest.raises(ProtocolError) as info:
        maybe_read_head(bytearray(request("Host: h", *["X: v"] * 100)), CONFIG)
    assert info.value.status == 431


# --- bad chunked bodies --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "encoded",
    [
        b"+5\r\nhello\r\n0\r\n\r\n",  # RFC 9112 §7.1: chunk-size = 1*HEXDIG
        b"-5\r\nhello\r\n0\r\n\r\n",
        b"0x5\r\nhello\r\n0\r\n\r\n",
        b" 5\r\nhello\r\n0\r\n\r\n",
        b"5 \r\nhello\r\n0\r\n\r\n",
        b"\r\nhello\r\n0\r\n\r\n",
        b"g\r\nhello\r\n0\r\n\r\n",
        b"5_0\r\nhello\r\n0\r\n\r\n",
        b"5;\r\nhello\r\n0\r\n\r\n",  # extensions: ";" name ["=" value]
        b"5;=x\r\nhello\r\n0\r\n\r\n",
        b"5;a=\r\nhello\r\n0\r\n\r\n",
        b"5;a=b c\r\nhello\r\n0\r\n\r\n",
        b'5;a="open\r\nhello\r\n0\r\n\r\n',
        b"5;a\x00\r\nhello\r\n0\r\n\r\n",
        b"5\nhello\r\n0\r\n\r\n",  # bare LF
        b"5\r\r\nhello\r\n0\r\n\r\n",
        b"5\r\nhelloXY0\r\n\r\n",  # no CRLF after the data
        b"5\r\nhello\n0\r\n\r\n",
        b"5\r\nhello\r\n0\r\nX : y\r\n\r\n",  # trailers follow the header rules
        b"5\r\nhello\r\n0\r\nX: y\r\n z\r\n\r\n",
        b"5\r\nhello\r\n0\r\nX: \x00\r\n\r\n",
        b"5\r\nhello\r\n0\r\nX: y\n\r\n",
    ],
)
def test_bad_chunked_bodies_are_400(encoded):
    assert rejected(request(*CHUNKED, line="POST / HTTP/1.1", body=encoded), SMALL) == 400


def test_chunk_size_line_over_the_limit_is_400():
    size_line = b"5;x=" + b"y" * (SMALL.max_chunk_line - len(b"5;x=") + 1)
    assert rejected(request(*CHUNKED, body=size_line + b"\r\nhello\r\n0\r\n\r\n"), SMALL) == 400


def test_chunk_size_line_at_the_limit_is_fine():
    size_line = b"5;x=" + b"y" * (SMALL.max_chunk_line - len(b"5;x="))
    assert parse(request(*CHUNKED, body=size_line + b"\r\nhello\r\n0\r\n\r\n"), SMALL)[1] == b"hello"


@pytest.mark.parametrize(
    "encoded",
    [
        b"65\r\n",  # one chunk of 101 bytes, refused before its data
        b"32\r\n" + b"x" * 50 + b"\r\n33\r\n",  # 50 + 51
        b"ffffffffffffffffffffffffffffffff\r\n",  # would overflow a 64-bit size
        b"0000000000000000000000000065\r\n",
    ],
)
def test_chunked_body_over_the_limit_is_413(encoded):
    assert rejected(request(*CHUNKED, line="POST / HTTP/1.1", body=encoded), SMALL) == 413


def test_trailer_section_over_the_limit_is_431():
    trailer = b"X: " + b"v" * SMALL.max_header_bytes + b"\r\n\r\n"
    assert rejected(request(*CHUNKED, body=b"0\r\n" + trailer), SMALL) == 431


def test_too_many_trailer_fields_is_431():
    trailers = b"X: v\r\n" * (SMALL.max_header_count + 1) + b"\r\n"
    assert rejected(request(*CHUNKED, body=b"0\r\n" + trailers), SMALL) == 431


# --- properties -----------------------------------------------------------------------------------------

_TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_VCHARS = "".join(map(chr, [*range(0x21, 0x7F), *range(0x80, 0x100)]))
_names = st.text(_TOKEN_CHARS, min_size=1, max_size=20).filter(
    lambda name: name.lower() not in {"host", "content-length", "transfer-encoding"}
)
_values = st.builds(
    lambda first, middle: (first + middle).rstrip(" \t"),
    st.text(_VCHARS, min_size=1, max_size=1),
    st.text(_VCHARS + " \t", max_size=30),
) | st.just("")
_ows = st.text(" \t", max_size=2)


# No deadline: timing is for bench/, and a loaded machine must not fail a correct parser.
NO_DEADLINE = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@NO_DEADLINE
@given(fields=st.lists(st.tuples(_names, _ows, _values, _ows), max_size=20), cut=st.integers(min_value=0))
def test_any_valid_fields_round_trip(fields, cut):
    data = request("Host: h", *[f"{name}:{before}{value}{after}" for name, before, value, after in fields])
    expected = [("host", "h")] + [(name.lower(), value) for name, _, value, _ in fields]
    # Also fed in two pieces, cut anywhere.
    cut %= len(data) + 1
    buf = bytearray(data[:cut])
    parser = HeadParser(CONFIG)
    head = parser.maybe_read(buf)
    if head is None:
        buf += data[cut:]
        head = parser.maybe_read(buf)
    assert head.headers == expected
    assert buf == b""


@NO_DEADLINE
@given(
    body=st.binary(max_size=300),
    sizes=st.lists(st.integers(min_value=1, max_value=64), max_size=20),
    piece=st.integers(min_value=1, max_value=50),
)
def test_any_chunking_of_any_body_round_trips(body, sizes, piece):
    encoded, rest = bytearray(), body
    for size in sizes:
        if not rest:
            break
        chunk, rest = rest[:size], rest[size:]
        encoded += b"%x\r\n%s\r\n" % (len(chunk), chunk)
    if rest:
        encoded += b"%X\r\n%s\r\n" % (len(rest), rest)
    encoded += b"0\r\n\r\n"
    stream = bytes(encoded) + NEXT
    buf = bytearray(request(*CHUNKED, line="POST / HTTP/1.1"))
    reader = body_reader(maybe_read_head(buf, CONFIG), CONFIG)
    # Fed in pieces cut at arbitrary points, so every state boundary gets split somewhere.
    received = bytearray()
    for start in range(0, len(stream), piece):
        buf += stream[start : start + piece]
        received += reader.read(buf)
    assert received == body
    assert reader.done and buf == NEXT


_PIECES = st.sampled_from(
    [b"GET", b"POST", b" ", b"/", b"?", b"*", b"http://", b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"\r\n",
     b"\r\n\r\n", b"\r", b"\n", b":", b"Host", b"Content-Length", b"Transfer-Encoding", b"Connection",
     b"chunked", b"close", b"0", b"5", b"a", b"ff", b"\x00", b"\t", b"\xe9", b";", b"=", b'"', b","]
)  # fmt: skip
_STATUSES = {400, 413, 414, 431, 501, 505}


@NO_DEADLINE
@given(st.lists(_PIECES, max_size=60).map(b"".join))
def test_any_bytes_give_a_head_need_more_data_or_a_protocol_error(data):
    # Whatever arrives, the parser answers within its contract: never another exception.
    for prefix in (
        b"",
        b"POST / HTTP/1.1\r\nHost: h\r\n",
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked",
    ):
        buf = bytearray(prefix + data)
        try:
            head = maybe_read_head(buf, SMALL)
            reader = head and body_reader(head, SMALL)
            if reader:
                reader.read(buf)
        except ProtocolError as exc:
            assert exc.status in _STATUSES


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (request(*CHUNKED, body=b"5\nhello\r\n0\r\n\r\n"), "bare LF"),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", "obs-fold"),
        (b"GET / HTTP/1.1\r\nHost : h\r\n\r\n", "whitespace between header name"),
        (request("Host: h", "Content-Length: 1", "Content-Length: 2"), "conflicting Content-Length"),
        (request("Host: h", line="GET / HTTP/2.0"), "HTTP/2.0 not supported"),
    ],
)
def test_errors_say_what_is_wrong(data, words):
    buf = bytearray(data)
    with pytest.raises(ProtocolError, match=words):
        body_reader(maybe_read_head(buf, CONFIG), CONFIG).read(buf)


def test_absolute_form_still_needs_a_host_header_on_http_1_1():
    # RFC 9112 §3.2: a client MUST send Host in every HTTP/1.1 request, absolute-form included.
    assert rejected(request(line="GET http://example.com/ HTTP/1.1")) == 400
    assert parse(request(line="GET http://example.com/ HTTP/1.0"))[0].host == "example.com"


def test_allowed_bytes_that_are_not_printable_still_pass():
    # split_lines clears most heads with str.isprintable; HTAB and the obs-text bytes Python does not
    # call printable (0x80-0xA0, 0xAD) are allowed all the same (RFC 9110 §5.5) and take the exact check.
    data = request("Host: h", "X-A: a\tb", "X-B: \x80\x9f\xa0\xad\xff", line="GET /\x85\xad HTTP/1.1")
    head, _ = parse(data)
    assert head.path == "/\x85\xad"
    assert head.headers[1:] == [("x-a", "a\tb"), ("x-b", "\x80\x9f\xa0\xad\xff")]
    # ... and a section with those does not hide a CTL or a bare CR elsewhere.
    assert rejected(request("Host: h", "X-A: a\tb\x01")) == 400
    assert rejected(request("Host: h", "X-B: \xa0", "X-C: c\rd")) == 400


_SECTION_BYTES = st.sampled_from(
    [b"a", b" ", b"\t", b"\r", b"\n", b"\r\n", b"\x00", b"\x1f", b"\x7f", b"\x80", b"\xa0", b"\xad", b"\xe9"]
)


@NO_DEADLINE
@given(st.lists(_SECTION_BYTES, max_size=30).map(b"".join))
def test_split_lines_accepts_exactly_the_sections_the_grammar_allows(section):
    # The reference rule spelled out: no CTL but HTAB (RFC 9110 §5.5), CR and LF only as CRLF (RFC 9112 §2.2).
    without_crlf = section.replace(b"\r\n", b"")
    allowed = all(byte == 0x09 or 0x20 <= byte != 0x7F for byte in without_crlf)
    try:
        lines = split_lines(bytearray(section))
    except ProtocolError as exc:
        assert not allowed and exc.status == 400
    else:
        assert allowed and lines == section.decode("latin-1").split("\r\n")


# --- the grammar's own messages (they are the 400 page's text; mutation testing found them unchecked) ----


@pytest.mark.parametrize(
    ("data", "start", "message"),
    [
        (b"GET /\rX", 0, "bare CR (lines must end with CRLF)"),
        (b"GET /\nX", 0, "bare LF (lines must end with CRLF)"),
        (b"GET /\x01", 0, "control character b'\\x01' in a header or request line"),
        (b"X: \x7f", 0, "control character b'\\x7f' in a header or request line"),
    ],
)
def test_incomplete_section_errors_name_the_fault(data, start, message):
    with pytest.raises(ProtocolError) as info:
        check_incomplete_bytes(bytearray(data), start)
    assert (info.value.status, str(info.value)) == (400, message)


def test_incomplete_check_starts_where_it_is_told():
    # Bytes before `start` were checked by an earlier call; they are not looked at again.
    check_incomplete_bytes(bytearray(b"\x01GET / HTTP/1.1\r\n"), 1)
    check_incomplete_bytes(bytearray(b"GET / HTTP/1.1\r"), 0)  # a CR at the end still waits for its LF


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (b"GET / HTTP/1.1\r\nX: a\x01b", "control character b'\\x01' in a header or request line"),
        (b"GET / HTTP/1.1\r\nX: \xa0\x1f", "control character b'\\x1f' in a header or request line"),
        (b"GET / HTTP/1.1\r\nX: \x02\x03", "control character b'\\x02' in a header or request line"),
        (b"GET / HTTP/1.1\r\nX: a\rb", "bare CR or LF (lines must end with CRLF)"),
        (b"GET / HTTP/1.1\r\nX: a\nb", "bare CR or LF (lines must end with CRLF)"),
    ],
)
def test_complete_section_errors_name_the_fault(section, message):
    with pytest.raises(ProtocolError) as info:
        split_lines(bytearray(section))
    assert (info.value.status, str(info.value)) == (400, message)


def test_complete_section_allows_htab_and_obs_text():
    lines = split_lines(bytearray(b"GET / HTTP/1.1\r\nX: a\tb\xa0\xad"))
    assert lines == ["GET / HTTP/1.1", "X: a\tb\xa0\xad"]


_LONG = "n" * 150


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (" folded", "obs-fold (a header line starting with whitespace) is not allowed"),
        ("\tfolded: x", "obs-fold (a header line starting with whitespace) is not allowed"),
        ("no colon here", "header line without a colon: 'no colon here'"),
        (_LONG, f"header line without a colon: {_LONG[:100]!r}"),
        (": value", "empty header name"),
        ("Name \t: value", "whitespace between header name 'Name' and colon"),
        (f"{_LONG} : v", f"whitespace between header name {_LONG[:100]!r} and colon"),
        ("Bad@Name: a: b", "invalid header name 'Bad@Name'"),
        ("Bad@X: v", "invalid header name 'Bad@X'"),
        ("Name\xa0: v", "invalid header name 'Name\\xa0'"),  # NBSP is not whitespace here (only SP, HTAB)
        (f"{_LONG}@: v", f"invalid header name {_LONG[:100]!r}"),
    ],
)
def test_field_line_errors_name_the_fault(line, message):
    with pytest.raises(ProtocolError) as info:
        parse_fields(["Host: h", line])
    assert (info.value.status, str(info.value)) == (400, message)


def test_a_host_validated_earlier_does_not_excuse_a_later_one():
    # The parser remembers the Host it last validated (per connection); any other value is checked again.
    parser = HeadParser(CONFIG)
    buf = bytearray(request("Host: good.example") * 2 + request("Host: bad host"))
    assert parser.maybe_read(buf).host == "good.example"
    assert parser.maybe_read(buf).host == "good.example"
    with pytest.raises(ProtocolError, match="invalid Host header 'bad host'"):
        parser.maybe_read(buf)
    parser, buf = HeadParser(CONFIG), bytearray(request("Host: a") + request())  # the second has none
    assert parser.maybe_read(buf).host == "a"
    with pytest.raises(ProtocolError, match="missing Host header"):
        parser.maybe_read(buf)

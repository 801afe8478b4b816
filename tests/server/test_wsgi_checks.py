"""The start_response checks called directly (PEP 3333, RFC 9110 §5): each refusal, its type and reason.

The server reaches the checks through its handler's `CheckedHead`, which checks a status or header once
and then looks it up; here every call checks, and `CheckedHead` is tested on its own.
"""

from __future__ import annotations

import pytest

from server.wsgi_checks import CheckedHead, as_bytes, check_header, check_status


@pytest.mark.parametrize(
    ("status", "checked"),
    [
        ("200 OK", (200, "HTTP/1.1 200 OK\r\n")),
        ("404 Not Found", (404, "HTTP/1.1 404 Not Found\r\n")),
        ("599 ", (599, "HTTP/1.1 599 \r\n")),  # RFC 9112 §4: the reason phrase may be empty
        ("299 Mine\tx\xe9", (299, "HTTP/1.1 299 Mine\tx\xe9\r\n")),  # HTAB and obs-text in the reason
    ],
)
def test_valid_status(status, checked):
    assert check_status(status) == checked


@pytest.mark.parametrize(
    "status",
    ["200", "200OK", "099 Low", "1000 Big", "20 OK", "200 OK\r\nX: y", "200 O\x00K", "200 中", b"200", 200],
)
def test_invalid_status(status):
    with pytest.raises(ValueError, match=r"^invalid status .*: expected a str like '200 OK'$"):
        check_status(status)


@pytest.mark.parametrize(
    ("item", "checked"),
    [
        (("Content-Type", "text/plain"), ("Content-Type: text/plain\r\n", None)),
        (("Content-Length", "42"), ("Content-Length: 42\r\n", 42)),
        (("content-length", "0"), ("content-length: 0\r\n", 0)),
        (("Date", "Tue, 15 Nov 1994 08:12:31 GMT"), ("Date: Tue, 15 Nov 1994 08:12:31 GMT\r\n", "date")),
        (("SERVER", "app"), ("SERVER: app\r\n", "server")),
        (("X-Empty", ""), ("X-Empty: \r\n", None)),
        (("X-Tab", "a\tb\xff"), ("X-Tab: a\tb\xff\r\n", None)),
    ],
)
def test_valid_header(item, checked):
    assert check_header(item) == checked


@pytest.mark.parametrize(
    ("item", "error", "reason"),
    [
        (["Content-Type", "text/plain"], TypeError, "is not a (name, value) tuple"),
        (("Content-Type",), TypeError, "is not a (name, value) tuple"),
        (("A", "b", "c"), TypeError, "is not a (name, value) tuple"),
        ((b"X", "v"), TypeError, "name and value must be str"),
        (("X", 1), TypeError, "name and value must be str"),
        (("Bad Name", "v"), ValueError, "invalid response header name 'Bad Name'"),
        (("", "v"), ValueError, "invalid response header name ''"),
        (("Connection", "close"), ValueError, "hop-by-hop header 'Connection' is not allowed"),
        (("TE", "trailers"), ValueError, "hop-by-hop header 'TE' is not allowed"),
        (("Proxy-Connection", "x"), ValueError, "hop-by-hop header 'Proxy-Connection' is not allowed"),
        (("X", "a\r\nSet-Cookie: x=1"), ValueError, "has CR/LF/NUL or is not latin-1"),
        (("X", "\x00"), ValueError, "has CR/LF/NUL or is not latin-1"),
        (("X", "\x7f"), ValueError, "has CR/LF/NUL or is not latin-1"),
        (("X", "中"), ValueError, "has CR/LF/NUL or is not latin-1"),
        (("Content-Length", "-1"), ValueError, "invalid Content-Length '-1'"),
        (("Content-Length", "\xb2"), ValueError, "invalid Content-Length '²'"),  # latin-1, and isdigit()
        (("Content-Length", ""), ValueError, "invalid Content-Length ''"),
    ],
)
def test_invalid_header(item, error, reason):
    with pytest.raises(error) as info:
        check_header(item)
    assert type(info.value) is error and reason in str(info.value)


def test_as_bytes():
    assert as_bytes(bytearray(b"ab")) == b"ab" and type(as_bytes(bytearray(b"ab"))) is bytes
    assert as_bytes(memoryview(b"cd")) == b"cd"
    with pytest.raises(TypeError, match="^the application must produce bytes, not str$"):
        as_bytes("text")


def test_checked_head_gives_the_checks_results_also_when_remembered():
    checked = CheckedHead(limit=10)
    # A header value with obs-text goes out as the latin-1 byte it stands for (PEP 3333).
    assert checked.lines("200 OK", [("X-Tab", "a\tb\xff")])[1][1] == b"X-Tab: a\tb\xff\r\n"
    headers = [("Content-Type", "text/plain"), ("Content-Length", "13"), ("X-A", "1")]
    expected = (200, [b"HTTP/1.1 200 OK\r\n", b"Content-Type: text/plain\r\n", b"Content-Length: 13\r\n",
                      b"X-A: 1\r\n"], 13, False, False)  # fmt: skip
    assert checked.lines("200 OK", headers) == expected
    assert checked.lines("200 OK", list(headers)) == expected  # now from the memo
    own = [("Date", "Tue, 15 Nov 1994 08:12:31 GMT"), ("Server", "app")]
    for _ in range(2):
        assert checked.lines("200 OK", own[:1])[2:] == (None, True, False)  # a Date of its own only
        assert checked.lines("200 OK", own[1:])[2:] == (None, False, True)  # a Server only
        code, lines, length, has_date, has_server = checked.lines("404 Not Found", own)
        assert (code, length, has_date, has_server) == (404, None, True, True)
        assert lines == [b"HTTP/1.1 404 Not Found\r\n", f"Date: {own[0][1]}\r\n".encode(), b"Server: app\r\n"]


def test_checked_head_refuses_every_time_and_stays_bounded():
    checked = CheckedHead(limit=2)
    for _ in range(2):  # an invalid value is never remembered as valid
        with pytest.raises(ValueError, match="hop-by-hop"):
            checked.lines("200 OK", [("Connection", "close")])
        with pytest.raises(ValueError, match="invalid status"):
            checked.lines("200", [])
        with pytest.raises(TypeError, match="is not a"):
            checked.lines("200 OK", [["X", "list"]])
        message = r"must be a list of \(name, value\) tuples, not <class 'tuple'>$"
        with pytest.raises(TypeError, match=message):
            checked.lines("200 OK", (("X", "tuple"),))
        with pytest.raises(ValueError, match="informational"):
            checked.lines("103 Early Hints", [])
    for n in range(5):  # past the bound, values are still checked and formatted, just not kept
        headers = [("Content-Length", str(n)), ("X-N", str(n))]
        code, lines, length, _, _ = checked.lines(f"2{n:02} S{n}", headers)
        assert (code, length) == (200 + n, n)
        status_line = b"HTTP/1.1 2%02d S%d\r\n" % (n, n)
        assert lines == [status_line, b"Content-Length: %d\r\n" % n, b"X-N: %d\r\n" % n]
    assert len(checked._statuses) == len(checked._headers) == 2  # memory stays bounded


@pytest.mark.parametrize("status", ["100 Continue", "103 Early Hints", "199 x"])
def test_informational_status_is_not_a_final_answer(status):
    with pytest.raises(ValueError, match=r"is informational \(1xx\), not a final response"):
        check_status(status)

"""The start_response checks called directly (PEP 3333, RFC 9110 §5): each refusal, its type and reason.

The server tests reach these only through its caches (a status or header validated once is looked up
afterwards), so a broken check could hide behind an entry an earlier test left; here every call checks.
"""

from __future__ import annotations

import pytest

from server.wsgi_checks import as_bytes, check_header, check_status


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


def test_checked_values_are_what_the_hot_path_looks_up():
    # wsgi_response looks a status or header up in these caches before it would call the checks, so an
    # entry must be exactly what the check returned (values unlikely to be cached by earlier tests).
    from server.wsgi_checks import checked_headers, checked_status

    status = "299 Cache Probe"
    assert check_status(status) == checked_status[status] == (299, "HTTP/1.1 299 Cache Probe\r\n")
    item = ("X-Cache-Probe", "v1")
    assert check_header(item) == checked_headers[item] == ("X-Cache-Probe: v1\r\n", None)


@pytest.mark.parametrize("status", ["100 Continue", "103 Early Hints", "199 x"])
def test_informational_status_is_not_a_final_answer(status):
    with pytest.raises(ValueError, match=r"is informational \(1xx\), not a final response"):
        check_status(status)

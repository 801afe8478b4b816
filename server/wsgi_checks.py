"""Validation of what a WSGI app hands the server: status, response headers, body chunks (PEP 3333).

Like waitress's `start_response`: CR, LF and NUL (header injection) and hop-by-hop headers (the server
owns the connection's framing) are refused with an exception, which the server answers with a 500.
Each distinct status and header pair is checked and formatted once, then found in a bounded cache.
"""

from __future__ import annotations

import re

__all__ = ["as_bytes", "check_header", "check_status", "checked_headers", "checked_status"]

# RFC 9110 §7.6.1 plus the names PEP 3333 (wsgiref) calls "hop-by-hop": the server owns these.
_HOP_BY_HOP = frozenset(
    ("connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te",
     "trailer", "trailers", "transfer-encoding", "upgrade")
)  # fmt: skip
_STATUS = re.compile(r"[1-9][0-9][0-9] [\t\x20-\x7e\x80-\xff]*").fullmatch  # RFC 9112 §4 status-line
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+").fullmatch  # RFC 9110 §5.1 field-name
_BAD_VALUE = re.compile(r"[^\t\x20-\x7e\x80-\xff]").search  # CR, LF, NUL, other controls, non-latin-1
_CACHE_LIMIT = 1000  # bound the caches: an app may build values from request data

_SPECIAL = frozenset(("date", "server"))  # app headers that replace the server's own
# Validated once, then looked up: status -> (code, status line); (name, value) -> (header line, note), where
# the note is what the server must know of the header: its length for a Content-Length, "date" or
# "server" for those, else None.
checked_status: dict[str, tuple[int, str]] = {}
checked_headers: dict[tuple[str, str], tuple[str, int | str | None]] = {}


def check_status(status: object) -> tuple[int, str]:
    """(code, status line) for a valid WSGI status such as "200 OK"; ValueError otherwise."""
    if type(status) is not str or _STATUS(status) is None:
        raise ValueError(f"invalid status {status!r}: expected a str like '200 OK'")
    if status[0] == "1":
        # RFC 9110 §15.2: a 1xx is interim; the final answer must follow it. Sent as the final status,
        # the client would wait for a response that never comes. (Never cached: checked every time.)
        raise ValueError(f"status {status!r} is informational (1xx), not a final response")
    checked = (int(status[:3]), f"HTTP/1.1 {status}\r\n")
    if len(checked_status) < _CACHE_LIMIT:
        checked_status[status] = checked
    return checked


def check_header(item: object) -> tuple[str, int | str | None]:
    """(formatted line, note) for a valid response header (see `checked_headers`); TypeError/ValueError
    otherwise.

    Apps send the same few headers over and over (Content-Type, a Content-Length), so each distinct
    pair is validated and formatted once and then found in `checked_headers`.
    """
    if type(item) is not tuple or len(item) != 2:
        raise TypeError(f"response header {item!r} is not a (name, value) tuple")
    name, value = item
    if type(name) is not str or type(value) is not str:
        raise TypeError(f"response header {item!r}: name and value must be str")
    if _TOKEN(name) is None:
        raise ValueError(f"invalid response header name {name!r}")
    lower = name.lower()
    if lower in _HOP_BY_HOP:
        raise ValueError(f"hop-by-hop header {name!r} is not allowed from a WSGI application (PEP 3333)")
    if _BAD_VALUE(value) is not None:
        raise ValueError(f"response header {name}: value {value!r} has CR/LF/NUL or is not latin-1")
    note: int | str | None = lower if lower in _SPECIAL else None
    if lower == "content-length":
        if not (value.isascii() and value.isdigit()):
            raise ValueError(f"invalid Content-Length {value!r}")
        note = int(value)
    checked = (f"{name}: {value}\r\n", note)
    if len(checked_headers) < _CACHE_LIMIT:
        checked_headers[item] = checked
    return checked


def as_bytes(chunk: object) -> bytes:
    if isinstance(chunk, (bytearray, memoryview)):
        return bytes(chunk)
    raise TypeError(f"the application must produce bytes, not {type(chunk).__name__}")

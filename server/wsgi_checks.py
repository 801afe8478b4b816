"""Validation of what a WSGI app hands the server: status, response headers, body chunks (PEP 3333).

Like waitress's `start_response`: CR, LF and NUL (header injection) and hop-by-hop headers (the server
owns the connection's framing) are refused with an exception, which the server answers with a 500.
`check_status` and `check_header` are pure; `CheckedHead` remembers their results, since apps send the
same few statuses and headers over and over.
"""

from __future__ import annotations

import re

from server._grammar import TOKEN

__all__ = ["CheckedHead", "as_bytes", "check_header", "check_status"]

# RFC 9110 §7.6.1 plus the names PEP 3333 (wsgiref) calls "hop-by-hop": the server owns these.
_HOP_BY_HOP = frozenset(
    ("connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te",
     "trailer", "trailers", "transfer-encoding", "upgrade")
)  # fmt: skip
_STATUS = re.compile(r"[1-9][0-9][0-9] [\t\x20-\x7e\x80-\xff]*").fullmatch  # RFC 9112 §4 status-line
_BAD_VALUE = re.compile(r"[^\t\x20-\x7e\x80-\xff]").search  # CR, LF, NUL, other controls, non-latin-1
_SPECIAL = frozenset(("date", "server"))  # app headers that replace the server's own


def check_status(status: object) -> tuple[int, str]:
    """(code, status line) for a valid WSGI status such as "200 OK"; ValueError otherwise."""
    if type(status) is not str or _STATUS(status) is None:
        raise ValueError(f"invalid status {status!r}: expected a str like '200 OK'")
    if status[0] == "1":
        # RFC 9110 §15.2: a 1xx is interim; the final answer must follow it. Sent as the final status,
        # the client would wait for a response that never comes.
        raise ValueError(f"status {status!r} is informational (1xx), not a final response")
    return int(status[:3]), f"HTTP/1.1 {status}\r\n"


def check_header(item: object) -> tuple[str, int | str | None]:
    """(formatted line, note) for a valid response header; TypeError/ValueError otherwise.

    The note is what the server must know of the header: its length for a Content-Length, "date" or
    "server" for those (they replace the server's own), else None.
    """
    if type(item) is not tuple or len(item) != 2:
        raise TypeError(f"response header {item!r} is not a (name, value) tuple")
    name, value = item
    if type(name) is not str or type(value) is not str:
        raise TypeError(f"response header {item!r}: name and value must be str")
    if TOKEN(name) is None:  # RFC 9110 §5.1: a field name is a token
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
    return f"{name}: {value}\r\n", note


class CheckedHead:
    """`start_response`'s status and headers, checked and formatted, each distinct value once.

    One per `WSGIHandler`, bounded to `limit` statuses and `limit` headers (`Config.lookup_cache_entries`):
    an app may build values from request data. A value past the bound is checked every time; an invalid
    one is never stored, so it raises every time.

    Thread safety: shared by the worker threads without a lock. It relies on the GIL making `dict.get`
    and a single item assignment atomic: two threads that miss the same value both check it and store
    equal results, and the size test may let a few entries (fewer than the threads) past the bound.
    """

    __slots__ = ("_statuses", "_headers", "_limit")

    def __init__(self, limit: int) -> None:
        self._statuses: dict[str, tuple[int, bytes]] = {}  # status -> (code, status line)
        self._headers: dict[tuple[str, str], tuple[bytes, int | str | None]] = {}  # item -> (line, note)
        self._limit = limit

    def lines(self, status: str, headers: list) -> tuple[int, list[bytes], int | None, bool, bool]:
        """(code, [status line, header lines] in latin-1, the app's Content-Length or None, whether the
        app sent a Date, a Server header).

        ValueError/TypeError (from the checks) for a value a client must never see.
        """
        try:
            checked = self._statuses[status]
        except (KeyError, TypeError):  # TypeError: an unhashable status, refused by the check
            checked = self._status(status)
        code, status_line = checked
        if type(headers) is not list:
            raise TypeError(f"response headers must be a list of (name, value) tuples, not {type(headers)}")
        lines = [status_line]
        content_length = None
        has_date = has_server = False
        known = self._headers
        for item in headers:
            try:
                checked_item = known[item]
            except (KeyError, TypeError):  # TypeError: an unhashable item (a list), refused by the check
                checked_item = self._header(item)
            line, note = checked_item
            lines.append(line)
            if note is not None:
                if type(note) is int:
                    content_length = note
                elif note == "date":
                    has_date = True
                else:  # "server"
                    has_server = True
        return code, lines, content_length, has_date, has_server

    def _status(self, status: object) -> tuple[int, bytes]:
        code, line = check_status(status)
        checked = code, line.encode("latin-1")
        if len(self._statuses) < self._limit:
            self._statuses[status] = checked  # type: ignore[index]  # check_status: it is a str
        return checked

    def _header(self, item: object) -> tuple[bytes, int | str | None]:
        line, note = check_header(item)
        checked = line.encode("latin-1"), note  # the checks let no other character through
        if len(self._headers) < self._limit:
            self._headers[item] = checked  # type: ignore[index]  # check_header: a (str, str) tuple
        return checked


def as_bytes(chunk: object) -> bytes:
    if isinstance(chunk, (bytearray, memoryview)):
        return bytes(chunk)
    raise TypeError(f"the application must produce bytes, not {type(chunk).__name__}")

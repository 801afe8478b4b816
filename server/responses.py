"""Bytes the server writes on its own behalf: the cached `Date` value and small error responses."""

from __future__ import annotations

import time
from email.utils import formatdate
from http import HTTPStatus
from typing import TYPE_CHECKING

from server.accesslog import log_refused

if TYPE_CHECKING:
    from server.config import Config

__all__ = ["body_length", "error_response", "http_date", "reason_phrase", "refusal"]

_date_cache: tuple[int, str] = (-1, "")


def http_date(timestamp: float | None = None) -> str:
    """The IMF-fixdate (RFC 9110 §5.6.7) of `timestamp` (default now), recomputed once per second.

    Formatting a date costs more than the rest of a small response's headers; every request in the same
    second shares one string. The cache is a single tuple, so concurrent readers never see a torn value.
    """
    global _date_cache
    now = int(time.time() if timestamp is None else timestamp)
    second, text = _date_cache
    if second != now:
        text = formatdate(now, usegmt=True)
        _date_cache = (now, text)
    return text


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def error_response(
    status: int, message: str, server_header: str, *, keep_alive: bool = False, head_only: bool = False
) -> bytes:
    """A complete, small `text/plain` response for an error the server answers itself.

    `keep_alive=False` (the default, used for every protocol error) adds `Connection: close`: after a
    malformed request the byte stream cannot be trusted (RFC 9112 §9.6), so the caller closes it.
    """
    phrase = reason_phrase(status)
    text = f"{status} {phrase}\n{message}\n" if message else f"{status} {phrase}\n"
    body = text.encode("utf-8", "backslashreplace")
    connection = "" if keep_alive else "Connection: close\r\n"
    head = (
        f"HTTP/1.1 {status} {phrase}\r\n"
        f"Date: {http_date()}\r\n"
        f"Server: {server_header}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"{connection}"
        "\r\n"
    ).encode("latin-1")
    return head if head_only else head + body


def body_length(response: bytes) -> int:
    """The body size of a response from `error_response` (for the access log's size field)."""
    return len(response) - response.find(b"\r\n\r\n") - 4


def refusal(status: int, message: str, config: Config, peer_host: str, request_line: str) -> bytes:
    """The response to a request the server refuses itself (400, 408, 413...), its access line queued.

    nginx and gunicorn log refused requests too. `request_line` is what arrived of the request's line
    ("" if nothing usable). The caller sends the bytes, then closes the connection.
    """
    response = error_response(status, message, config.server_header)
    if config.access_log:
        log_refused(peer_host, request_line, status, body_length(response))
    return response

"""One WSGI response: PEP 3333's `start_response` and `write`, and how the body is framed (RFC 9112 §6).

    app(environ, start_response) ──► iterable ──► Response.finish ──► Connection.send / sendfile

Everything that decides how response bytes are framed lives here: the app's Content-Length (never more
bytes than it says; fewer -> close), else a length we can compute (a list body), else chunked on HTTP/1.1,
else close-delimited; no body for HEAD, 1xx, 204 and 304 (RFC 9110 §6.4.1). This is the server's hottest
code after the parser: the common response (a list body) is one pass through `_start` and one send.
"""

from __future__ import annotations

import io
import logging
import os
import stat
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from server.accesslog import log_access
from server.connection import Connection, RequestTimeout
from server.http11 import BodyReader, ProtocolError, RequestHead
from server.responses import error_response, http_date
from server.wsgi_checks import as_bytes
from server.wsgi_input import FileWrapper

if TYPE_CHECKING:
    from server.wsgi import WSGIHandler

__all__ = ["Response"]

log = logging.getLogger(__name__)

# Statuses whose responses never have a body (RFC 9110 §6.4.1): 1xx, 204, 304. A status is 100-999.
_NO_BODY_STATUS = frozenset((*range(100, 200), 204, 304))


class Response:
    """The state of one response: what the app declared, what has been sent, how the body is framed."""

    __slots__ = (
        "handler", "conn", "head", "reader", "environ", "code", "lines", "content_length", "sent",
        "keep_alive", "no_body", "chunked", "remaining", "bytes_sent", "logged",
    )  # fmt: skip

    def __init__(self, handler: WSGIHandler, conn: Connection, head: RequestHead, reader: BodyReader | None,
                 environ: dict) -> None:  # fmt: skip
        self.handler = handler
        self.conn = conn
        self.head = head
        self.reader = reader
        self.environ = environ
        self.code = 0  # the status code; 0 until start_response
        # Set by start_response: `lines`, the status line, the app's header lines, then the Date and Server
        # lines unless the app sent its own, as bytes (`_frame` adds the framing lines); `content_length`,
        # the app's Content-Length or None.
        self.sent = False  # the status line and headers are on the wire
        self.bytes_sent = 0
        self.logged = False  # the access line was written already (see _log_before_send)
        self.remaining: int | None = None  # body bytes still allowed by a length (finish reads it early)
        # Set by `_frame` (every response passes there, but for a failure: `fail` sets it): `keep_alive`,
        # `no_body`, `chunked`.

    def start_response(self, status: str, headers: list, exc_info=None) -> Callable[[bytes], None]:
        """PEP 3333 start_response: validate, remember, and return write()."""
        if exc_info:
            try:
                if self.sent:  # too late to change the status: let the error end the connection
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None  # PEP 3333: avoid a traceback <-> frame reference cycle
        elif self.code:
            raise AssertionError("start_response() called a second time without exc_info")
        handler = self.handler
        code, lines, content_length, has_date, has_server = handler.checked_head.lines(status, headers)
        if has_date or has_server:
            self._own_lines(lines, has_date, has_server)
        else:  # the usual case: the server's Date and Server lines, formatted once a second
            until, extra = handler.default_lines
            if time.time() >= until:
                extra = handler.refresh_default_lines()
            lines.append(extra)
        self.code = code
        self.lines = lines
        self.content_length = content_length
        return self.write

    def _own_lines(self, lines: list[bytes], has_date: bool, has_server: bool) -> None:
        """The server's Date and Server lines, each unless the app sent its own."""
        if not has_date:
            lines.append(f"Date: {http_date()}\r\n".encode("latin-1"))
        if not has_server:
            lines.append(self.handler.server_line)

    # --- body --------------------------------------------------------------------------------------------

    def finish(self, result: Iterable[bytes]) -> None:
        """Send the whole response for the iterable the app returned."""
        kind = type(result)
        if (kind is list or kind is tuple) and not self.sent and self.code:
            # The whole body is known: one send for headers and body, and a Content-Length we can state.
            body = result[0] if len(result) == 1 else b"".join(result)
            if type(body) is not bytes:
                body = as_bytes(body)
            self._start(body, True)
            if self.remaining:
                self._end()  # the app's Content-Length promised more than the body holds
            return
        if kind is FileWrapper and not self.sent and self.code and self._sendfile(result):
            return
        for chunk in result:
            self.write(chunk)
            if self.remaining == 0:
                break  # Content-Length reached: anything more would be dropped (and may never end)
        self._end()

    def write(self, chunk: bytes) -> None:
        """The body writer (the iterable's items, and PEP 3333's legacy write() callable)."""
        if type(chunk) is not bytes:
            chunk = as_bytes(chunk)
        if not self.sent:
            if not chunk:
                return  # PEP 3333: headers go out with the first non-empty chunk
            self._start(chunk, False)
            return
        self._send_body(chunk, more=False)

    def _start(self, first: bytes, known_length: bool) -> None:
        """Send the status line and headers, with the first body bytes.

        `known_length`: `first` is the whole body (a list body, or none at all).
        """
        if not self.code:
            raise RuntimeError("the application sent body bytes before calling start_response()")
        self._frame(first, known_length)
        self.sent = True
        size = len(first)
        if known_length and self.handler.access_log:
            self._log_before_send(size)
        lines = self.lines
        if not size or self.no_body:
            self.conn.send(b"".join(lines), more=not known_length and not self.no_body)
        elif known_length and size <= self.remaining:  # type: ignore[operator]  # known_length: it is set
            # The common whole-body response within its length: one send, no framing to decide.
            self.remaining -= size  # type: ignore[operator]
            self.bytes_sent = size
            lines.append(first)
            self.conn.send(b"".join(lines))
        else:
            self._send_body(first, more=False, prefix=b"".join(lines))

    def _frame(self, first: bytes, known_length: bool) -> None:
        """Add the framing lines: how the body ends (RFC 9112 §6.3), if the connection stays open (§9.3)."""
        head = self.head
        lines = self.lines
        length = self.content_length
        if self.code in _NO_BODY_STATUS:
            self.no_body = no_body = True
        else:
            self.no_body = no_body = head.method == "HEAD"
            if length is None and known_length:
                length = len(first)
                lines.append(b"Content-Length: %d\r\n" % length)
        # The connection can carry another request only if this response has a clear end, the client
        # wants it, its body will have been read, and we are not shutting down.
        keep_alive = head.keep_alive and not self.handler.draining
        http11 = head.version == "HTTP/1.1"
        self.chunked = False
        if length is not None:
            self.remaining = length
        elif not no_body:
            if http11:
                self.chunked = True
                lines.append(b"Transfer-Encoding: chunked\r\n")
            else:
                keep_alive = False  # HTTP/1.0 without a length: the body ends when we close
        reader = self.reader
        if reader is not None and not reader.done:
            # The app did not read the whole body. Draining it could take long (or, after an unanswered
            # 100-continue, never come): we close instead, and say so.
            keep_alive = False
        if not keep_alive:
            lines.append(b"Connection: close\r\n\r\n")
        elif not http11:
            lines.append(b"Connection: keep-alive\r\n\r\n")
        else:
            lines.append(b"\r\n")
        self.keep_alive = keep_alive

    def _log_before_send(self, size: int) -> None:
        """The access line of a response known whole, written before its send.

        Work done after the last send competes for the GIL with the client's next request: measured under
        load, logging after it multiplied the keep-alive p99 latency (13 ms -> several hundred).
        """
        log_access(self.environ, self.code, 0 if self.no_body else min(size, self.remaining or 0))
        self.logged = True

    def _send_body(self, chunk: bytes, more: bool, prefix: bytes = b"") -> None:
        if self.no_body or not chunk:
            if prefix:
                self.conn.send(prefix)
            return
        size = len(chunk)
        remaining = self.remaining
        if remaining is not None:
            if size > remaining:
                log.error("application sent more than its Content-Length (%d); the excess is dropped",
                          self.content_length if self.content_length is not None else remaining)  # fmt: skip
                chunk = chunk[:remaining]
                size = remaining
            self.remaining = remaining - size
            self.conn.send(prefix + chunk if prefix else chunk, more)
        elif self.chunked:  # RFC 9112 §7.1: size in hex, CRLF, data, CRLF
            self.conn.send(b"%s%x\r\n%s\r\n" % (prefix, size, chunk), more)
        else:
            self.conn.send(prefix + chunk if prefix else chunk, more)
        self.bytes_sent += size

    def _end(self) -> None:
        if not self.sent:
            self._start(b"", True)  # no body bytes at all: Content-Length: 0
        if self.chunked:
            self.conn.send(b"0\r\n\r\n")
        elif self.remaining and not self.no_body:
            log.error("application sent %d bytes fewer than its Content-Length; closing the connection",
                      self.remaining)  # fmt: skip
            self.keep_alive = False

    def _sendfile(self, wrapper: FileWrapper) -> bool:
        """Send a regular file with os.sendfile; False if it is not one (the caller iterates instead)."""
        filelike = wrapper.filelike
        try:
            fd = filelike.fileno()
            offset = filelike.tell()
            info = os.fstat(fd)
        except (AttributeError, OSError, io.UnsupportedOperation):
            return False
        if not stat.S_ISREG(info.st_mode):
            return False
        size = max(0, info.st_size - offset)
        if self.content_length is None:
            self.content_length = size
            self.lines.append(b"Content-Length: %d\r\n" % size)
        count = min(size, self.content_length)
        self._start(b"", count == 0)  # headers with MSG_MORE only if file bytes follow
        if not self.no_body and count:
            sent = self.conn.sendfile(fd, offset, count)
            self.bytes_sent += sent
            self.remaining = (self.remaining or 0) - sent
        self._end()
        return True

    # --- failure ----------------------------------------------------------------------------------------

    def fail(self, exc: Exception) -> None:
        """The app (or reading its request body) raised: answer 500 (or the error's own status)."""
        status = exc.status if isinstance(exc, (ProtocolError, RequestTimeout)) else 500
        if self.sent:
            log.error("error after the response headers were sent; closing the connection", exc_info=exc)
            self.keep_alive = False
            return
        if status == 500:
            log.error("error in WSGI application %r", self.handler.app, exc_info=exc)
        else:
            log.info("bad request body from %s: %s", self.conn.peer_host, exc)
        self.code = status
        self.sent = True
        reader = self.reader
        self.keep_alive = (
            status == 500 and self.head.keep_alive and not self.handler.draining
            and (reader is None or reader.done)
        )  # fmt: skip
        message = "The server could not complete the request." if status == 500 else str(exc)
        self.conn.send(
            error_response(
                status, message, self.handler.config.server_header,
                keep_alive=self.keep_alive, head_only=self.head.method == "HEAD",
            )
        )  # fmt: skip

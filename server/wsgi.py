"""PEP 3333 for one request: the environ, `start_response`, and the response framing (RFC 9112 §6).

    RequestHead ──► environ (a copy of the connection's base dict + this request's keys)
                ──► app(environ, start_response) ──► iterable ──► _Response ──► Connection.send/sendfile

Everything that decides how response bytes are framed lives in `_Response`: the app's Content-Length
(never more bytes than it says; fewer -> close), else a length we can compute (a list body), else chunked
on HTTP/1.1, else close-delimited; no body for HEAD, 1xx, 204 and 304 (RFC 9110 §6.4.1).
"""

from __future__ import annotations

import io
import logging
import os
import stat
import time
from collections.abc import Callable, Iterable
from urllib.parse import unquote

from server.accesslog import log_access, log_refused
from server.config import Config
from server.connection import ClientDisconnected, Connection, RequestTimeout
from server.http11 import ProtocolError, RequestHead, body_reader
from server.responses import body_length, error_response, http_date
from server.wsgi_checks import as_bytes, check_header, check_status, checked_headers, checked_status
from server.wsgi_input import EMPTY_INPUT, ErrorStream, FileWrapper, Input

__all__ = ["WSGIHandler"]

log = logging.getLogger(__name__)

_NO_BODY_STATUS = frozenset((204, 304))
_CACHE_LIMIT = 1000  # bound the environ-key cache: header names are client-chosen
# Request header name (lower-case) -> environ key; "" means dropped (PEP 3333 §environ: HTTP_ variables).
_environ_keys: dict[str, str] = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}
_ERRORS = ErrorStream()


def _environ_key(name: str) -> str:
    key = _environ_keys.get(name)
    if key is None:
        # A name with "_" would collide with its "-" twin after the rename (X-Auth_User vs X-Auth-User):
        # drop it, like nginx and gunicorn, so a client cannot spoof a header a proxy set.
        key = "" if "_" in name else "HTTP_" + name.upper().replace("-", "_")
        if len(_environ_keys) < _CACHE_LIMIT:
            _environ_keys[name] = key
    return key


class WSGIHandler:
    """Runs one WSGI application for requests on any connection; shared by all worker threads."""

    def __init__(self, app: Callable, config: Config, server_name: str, server_port: int) -> None:
        self.app = app
        self.config = config
        self.draining = False  # set by the dispatcher on shutdown: answer with Connection: close
        self.server_line = f"Server: {config.server_header}\r\n"
        # (second, "Date: ...\r\nServer: ...\r\n"): the lines most responses get, formatted once a second.
        # One tuple, so a worker thread never sees a second paired with another second's text.
        self.default_lines = (-1, "")
        self.access_log = config.access_log
        self._trusted = frozenset(config.trusted_proxies)
        self._base = {
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": config.url_scheme,
            "wsgi.errors": _ERRORS,
            "wsgi.multithread": True,
            "wsgi.multiprocess": config.workers > 1,
            "wsgi.run_once": False,
            "wsgi.file_wrapper": FileWrapper,
            "wsgi.input_terminated": True,  # chunked bodies end at EOF, no CONTENT_LENGTH needed (mod_wsgi)
            "SCRIPT_NAME": "",
            "SERVER_NAME": server_name,
            "SERVER_PORT": str(server_port),
            "SERVER_SOFTWARE": config.server_header,
        }

    def refresh_default_lines(self) -> str:
        """Format the Date and Server lines for the current second (see `default_lines`)."""
        second = int(time.time())
        text = f"Date: {http_date()}\r\n{self.server_line}"
        self.default_lines = (second, text)
        return text

    def connection_environ(self, conn: Connection) -> dict:
        """The part of every environ that is the same for all requests on a connection."""
        environ = self._base.copy()
        environ["REMOTE_ADDR"] = conn.peer_host
        environ["REMOTE_PORT"] = conn.peer_port
        return environ

    def __call__(self, conn: Connection, head: RequestHead) -> bool:
        """Serve one request; True if the connection may carry another one."""
        reader = None
        if head.chunked or head.content_length:
            try:
                reader = body_reader(head, self.config)
            except ProtocolError as exc:  # 413 before any 100 Continue: the client need not send it
                conn.unread = True
                response = error_response(exc.status, str(exc), self.config.server_header)
                if self.access_log:
                    line = f"{head.method} {head.target} {head.version}"
                    log_refused(conn.peer_host, line, exc.status, body_length(response))
                conn.send(response)
                return False
        environ = conn.environ.copy()
        path = head.path
        environ["REQUEST_METHOD"] = head.method
        # PEP 3333: PATH_INFO is decoded, as bytes carried in a latin-1 str ("bytes-as-str").
        environ["PATH_INFO"] = unquote(path, "latin-1") if "%" in path else path
        environ["QUERY_STRING"] = head.query
        environ["RAW_URI"] = head.target  # gunicorn's name; the access log's request line uses it
        environ["SERVER_PROTOCOL"] = head.version
        for name, value in head.headers:
            key = _environ_keys.get(name) or _environ_key(name)
            if not key:
                continue
            if key in environ:  # RFC 9110 §5.3: repeated fields combine with commas (cookies with "; ")
                value = environ[key] + ("; " if key == "HTTP_COOKIE" else ", ") + value
            environ[key] = value
        if self._trusted and conn.peer_host in self._trusted:
            self._apply_forwarded(environ)
        environ["wsgi.input"] = EMPTY_INPUT if reader is None else Input(conn, reader, head, self.config)

        response = _Response(self, conn, head, reader, environ)
        try:
            result = self.app(environ, response.start_response)
            try:
                response.finish(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()  # PEP 3333: always, also when the client went away mid-response
        except ClientDisconnected:
            raise
        except Exception as exc:  # noqa: BLE001 - an app error must never take the worker down
            response.fail(exc)
        if self.access_log and not response.logged:
            log_access(environ, response.code, response.bytes_sent)
        if reader is not None and not reader.done:
            conn.unread = True
            return False
        return response.keep_alive

    def _apply_forwarded(self, environ: dict) -> None:
        """X-Forwarded-For/-Proto from a trusted proxy: the client is the rightmost untrusted address."""
        forwarded = environ.get("HTTP_X_FORWARDED_FOR")
        if forwarded:
            for address in reversed([part.strip() for part in forwarded.split(",")]):
                if address and address not in self._trusted:
                    environ["REMOTE_ADDR"] = address
                    break
        proto = environ.get("HTTP_X_FORWARDED_PROTO", "").strip().lower()
        if proto in ("http", "https"):
            environ["wsgi.url_scheme"] = proto


class _Response:
    """The state of one response: what the app declared, what has been sent, how the body is framed."""

    __slots__ = (
        "handler", "conn", "head", "reader", "status", "lines", "content_length", "code", "sent",
        "keep_alive", "no_body", "chunked", "remaining", "bytes_sent", "extra", "environ", "logged",
    )  # fmt: skip

    def __init__(self, handler: WSGIHandler, conn: Connection, head: RequestHead, reader,
                 environ: dict) -> None:  # fmt: skip
        self.handler = handler
        self.environ = environ
        self.logged = False  # the access line was written already (see _start)
        self.conn = conn
        self.head = head
        self.reader = reader
        self.status: str | None = None
        self.lines: list[str] = []  # the status line and the app's header lines, formatted
        self.content_length: int | None = None  # declared by the app
        self.code = 0
        self.sent = False  # the status line and headers are on the wire
        self.keep_alive = False
        self.no_body = False
        self.chunked = False
        self.remaining: int | None = None  # body bytes still allowed by Content-Length
        self.bytes_sent = 0
        self.extra = ""  # header lines the server adds (Date, Server) unless the app sent its own

    def start_response(self, status: str, headers: list, exc_info=None) -> Callable[[bytes], None]:
        """PEP 3333 start_response: validate, remember, and return write()."""
        if exc_info:
            try:
                if self.sent:  # too late to change the status: let the error end the connection
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None  # PEP 3333: avoid a traceback <-> frame reference cycle
        elif self.status is not None:
            raise AssertionError("start_response() called a second time without exc_info")
        try:
            self.code, status_line = checked_status[status]
        except (KeyError, TypeError):
            self.code, status_line = check_status(status)
        if type(headers) is not list:
            raise TypeError(f"response headers must be a list of (name, value) tuples, not {type(headers)}")
        lines = [status_line]
        content_length = None
        date = server = True
        for item in headers:
            try:
                special, line = checked_headers[item]
            except (KeyError, TypeError):
                special, line = check_header(item)
            lines.append(line)
            if special is not None:
                if special == "content-length":
                    content_length = int(item[1])
                elif special == "date":
                    date = False
                else:
                    server = False
        self.status = status
        self.lines = lines
        self.content_length = content_length
        handler = self.handler
        if date and server:  # the app sent neither: the usual case, no formatting per request
            second, extra = handler.default_lines
            if second != int(time.time()):
                extra = handler.refresh_default_lines()
        else:
            server_line = handler.server_line if server else ""
            extra = f"Date: {http_date()}\r\n{server_line}" if date else server_line
        self.extra = extra
        return self.write

    # --- body --------------------------------------------------------------------------------------------

    def finish(self, result: Iterable[bytes]) -> None:
        """Send the whole response for the iterable the app returned."""
        kind = type(result)
        if (kind is list or kind is tuple) and not self.sent and self.status is not None:
            # The whole body is known: one send for headers and body, and a Content-Length we can state.
            body = result[0] if len(result) == 1 else b"".join(result)
            if type(body) is not bytes:
                body = as_bytes(body)
            self._start(body, known_length=True)
            if self.remaining:
                self._end()  # the app's Content-Length promised more than the body holds
            return
        if kind is FileWrapper and not self.sent and self._sendfile(result):
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
            self._start(chunk, known_length=False)
            return
        self._send_body(chunk, more=False)

    def _start(self, first: bytes, known_length: bool) -> None:
        """Send the status line and headers, framed per RFC 9112 §6.3, with the first body bytes."""
        if self.status is None:
            raise RuntimeError("the application sent body bytes before calling start_response()")
        head = self.head
        code = self.code
        bodiless_status = code < 200 or code in _NO_BODY_STATUS
        self.no_body = bodiless_status or head.method == "HEAD"
        extra = self.extra
        length = self.content_length
        if length is None and known_length and not bodiless_status:
            length = len(first)
            extra += f"Content-Length: {length}\r\n"
        http11 = head.version == "HTTP/1.1"
        # After a response, the connection can carry another request only if this response has a
        # clear end, the client wants it (RFC 9112 §9.3), its body will have been read, and we are not
        # shutting down.
        keep_alive = head.keep_alive and not self.handler.draining
        if length is not None:
            self.remaining = length
        elif not self.no_body:
            if http11:
                self.chunked = True
                extra += "Transfer-Encoding: chunked\r\n"
            else:
                keep_alive = False  # HTTP/1.0 without a length: the body ends when we close
        if self.reader is not None and not self.reader.done:
            # The app did not read the whole body. Draining it could take long (or, after an unanswered
            # 100-continue, never come): we close instead, and say so.
            keep_alive = False
        if not keep_alive:
            extra += "Connection: close\r\n"
        elif not http11:
            extra += "Connection: keep-alive\r\n"
        self.keep_alive = keep_alive
        lines = self.lines
        lines.append(extra)
        lines.append("\r\n")
        data = "".join(lines).encode("latin-1")
        self.sent = True
        if known_length and self.handler.access_log:
            # The whole response is known: log it before the send. Work done after the last send
            # competes for the GIL with the client's next request, and measured under load that
            # multiplied the keep-alive p99 latency (13 ms -> several hundred).
            size = 0 if self.no_body else min(len(first), self.remaining or 0)
            log_access(self.environ, code, size)
            self.logged = True
        if first and not self.no_body:
            size = len(first)
            if known_length and size <= self.remaining:  # type: ignore[operator]  # set just above
                # The common whole-body response within its length: one send, no framing to decide.
                self.remaining -= size  # type: ignore[operator]
                self.bytes_sent = size
                self.conn.send(data + first)
            else:
                self._send_body(first, more=False, prefix=data)
        else:
            self.conn.send(data, more=not known_length and not self.no_body)

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
            self._start(b"", known_length=True)  # no body bytes at all: Content-Length: 0
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
            self.extra += f"Content-Length: {size}\r\n"
        count = min(size, self.content_length)
        self._start(b"", known_length=count == 0)  # headers with MSG_MORE only if file bytes follow
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

"""PEP 3333 for one request: the environ, the call to the app, and what follows it.

    RequestHead ──► environ (a copy of the connection's base dict + this request's keys)
                ──► app(environ, response.start_response) ──► iterable ──► Response (wsgi_response.py)

The response's framing (lengths, chunking, keep-alive) lives in `server.wsgi_response`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from urllib.parse import unquote

from server.accesslog import log_access
from server.body_spool import BodyPending, BodySpool, receives_ahead
from server.config import Config
from server.connection import ClientDisconnected, Connection
from server.http11 import BodyReader, RequestHead, body_reader
from server.listener import Listener
from server.proxy import apply_forwarded, parse_trusted_proxies
from server.responses import http_date
from server.wsgi_checks import CheckedHead
from server.wsgi_input import EMPTY_INPUT, ErrorStream, FileWrapper, Input
from server.wsgi_response import Response

__all__ = ["WSGIHandler"]

log = logging.getLogger(__name__)

_ERRORS = ErrorStream()


class WSGIHandler:
    """Runs one WSGI application for requests on any connection; shared by all worker threads."""

    def __init__(self, app: Callable, config: Config, server_name: str, server_port: int) -> None:
        self.app = app
        self.config = config
        self.draining = False  # set by the dispatcher on shutdown: answer with Connection: close
        self.server_line = f"Server: {config.server_header}\r\n".encode("latin-1")
        # (valid until, b"Date: ...\r\nServer: ...\r\n"): the lines most responses get, formatted once a
        # second. One tuple, so a worker thread never sees a second paired with another second's text.
        self.default_lines = (0.0, b"")
        self.access_log = config.access_log
        self._listener_bases: dict[Listener, dict] = {}  # main thread only (connection_environ)
        # A bad --trusted-proxy entry is a ValueError here, at start-up.
        self._trusted = parse_trusted_proxies(config.trusted_proxies, config.lookup_cache_entries)
        # The memos below are shared by the worker threads without a lock: they rely on the GIL making a
        # dict get or set atomic, and threads racing on a miss store equal values.
        self.checked_head = CheckedHead(config.lookup_cache_entries)  # the app's status and headers
        # Request header name (lower-case) -> environ key; "" means dropped (PEP 3333 §environ: HTTP_
        # variables). Bounded: header names are client-chosen.
        self._environ_keys = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}
        self._base = {
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": config.url_scheme,
            "wsgi.input": EMPTY_INPUT,  # replaced for a request with a body
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

    def _listener_base(self, listener: Listener) -> dict:
        """The base environ of connections through `listener`: its scheme, SERVER_NAME and SERVER_PORT."""
        base = self._base.copy()
        base["wsgi.url_scheme"] = listener.scheme
        if listener.server_name:
            base["SERVER_NAME"] = listener.server_name
        if listener.server_port:
            base["SERVER_PORT"] = listener.server_port
        self._listener_bases[listener] = base
        return base

    def refresh_default_lines(self) -> bytes:
        """Format the Date and Server lines for the current second (see `default_lines`)."""
        now = time.time()
        lines = f"Date: {http_date(now)}\r\n".encode("latin-1") + self.server_line
        self.default_lines = (float(int(now) + 1), lines)  # until the next whole second
        return lines

    def connection_environ(self, conn: Connection, listener: Listener | None = None) -> dict:
        """The part of every environ that is the same for all requests on a connection."""
        base = self._base if listener is None else self._listener_bases.get(listener)
        if base is None:
            base = self._listener_base(listener)  # type: ignore[arg-type]  # None was handled above
        environ = base.copy()
        environ["REMOTE_ADDR"] = conn.peer_host
        environ["REMOTE_PORT"] = conn.peer_port
        conn.trusted_peer = conn.peer_host in self._trusted  # once per connection, not per request
        return environ

    def __call__(self, conn: Connection, head: RequestHead, spool: BodySpool | None = None) -> bool:
        """Serve one request; True if the connection may carry another one.

        `spool`: the request's body, already received by the dispatcher (see `server.body_spool`).
        Raises BodyPending (with conn.receiving set) when the body must be received first.
        """
        reader = None
        if head.chunked or head.content_length:
            if spool is None:
                reader, spool = self._body(conn, head)
            else:
                reader = spool.reader
        environ = self._environ(conn, head)
        if reader is not None:  # else the base environ's EMPTY_INPUT
            if spool is None:
                environ["wsgi.input"] = Input(conn, reader, head, self.config)
            else:
                environ["wsgi.input"] = spool.as_input()
                environ["CONTENT_LENGTH"] = str(spool.size)  # the de-chunked length of a chunked body
        response = Response(self, conn, head, reader, environ)
        try:
            self._call_app(environ, response)
        except ClientDisconnected:
            if spool is not None:
                spool.close()
            raise
        if self.access_log and not response.logged:
            log_access(environ, response.code, response.bytes_sent)
        if reader is None:
            return response.keep_alive
        if spool is not None:
            spool.close()  # a temporary file beyond body_buffer_bytes: removed now
        if not reader.done:
            conn.unread = True
            return False
        return response.keep_alive

    def _body(self, conn: Connection, head: RequestHead) -> tuple[BodyReader, BodySpool | None]:
        """The reader of a body the dispatcher has not received, and its spool if it is received now.

        BodyPending (with conn.receiving set) if the dispatcher should receive the rest first (when:
        `receives_ahead`), so a body still on its way costs no worker thread, and a chunked one gets a
        CONTENT_LENGTH.
        """
        reader = body_reader(head, self.config)
        assert reader is not None  # the head has a length or is chunked
        if not receives_ahead(conn, head):
            return reader, None  # read by the app through wsgi.input
        spool = BodySpool(head, reader, self.config)
        if not spool.feed(conn.buf):  # ProtocolError: answered by the worker
            conn.receiving = spool
            raise BodyPending
        return reader, spool

    def _environ(self, conn: Connection, head: RequestHead) -> dict:
        """PEP 3333's environ of this request, but for its body: the connection's part plus the request's."""
        environ = conn.environ.copy()
        path = head.path
        environ["REQUEST_METHOD"] = head.method
        # PEP 3333: PATH_INFO is decoded, as bytes carried in a latin-1 str ("bytes-as-str").
        environ["PATH_INFO"] = unquote(path, "latin-1") if "%" in path else path
        environ["QUERY_STRING"] = head.query
        environ["RAW_URI"] = head.target  # gunicorn's name; the access log's request line uses it
        environ["SERVER_PROTOCOL"] = head.version
        keys = self._environ_keys
        for name, value in head.headers:
            try:
                key = keys[name]
            except KeyError:
                key = self._environ_key(name)
            if not key:
                continue
            if key in environ:  # RFC 9110 §5.3: repeated fields combine with commas (cookies with "; ")
                if key == "CONTENT_LENGTH":  # identical repeats ("5, 5", RFC 9110 §8.6): the parsed length
                    value = str(head.content_length)
                else:
                    value = environ[key] + ("; " if key == "HTTP_COOKIE" else ", ") + value
            environ[key] = value
        if conn.trusted_peer:
            apply_forwarded(environ, self._trusted)
        return environ

    def _environ_key(self, name: str) -> str:
        """The environ key of a header name not in `_environ_keys` yet ("" if dropped), remembered."""
        # A name with "_" would collide with its "-" twin after the rename (X-Auth_User vs X-Auth-User):
        # drop it, like nginx and gunicorn, so a client cannot spoof a header a proxy set.
        key = "" if "_" in name else "HTTP_" + name.upper().replace("-", "_")
        if len(self._environ_keys) < self.config.lookup_cache_entries:
            self._environ_keys[name] = key
        return key

    def _call_app(self, environ: dict, response: Response) -> None:
        """Run the app and send what it returns; an app error is answered by `response.fail`.

        ClientDisconnected (the client went away) is raised to the caller.
        """
        try:
            result = self.app(environ, response.start_response)
            try:
                response.finish(result)
            finally:
                close = None if type(result) is list else getattr(result, "close", None)
                if close is not None:
                    close()  # PEP 3333: always, also when the client went away mid-response
        except ClientDisconnected:
            raise
        except Exception as exc:  # noqa: BLE001 - an app error must never take the worker down
            response.fail(exc)

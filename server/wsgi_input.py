"""The streams PEP 3333 puts in the environ: `wsgi.input`, `wsgi.errors`, and `wsgi.file_wrapper`.

`Input` is bounded to the request body: it reads through the parser's `BodyReader`, so a Content-Length
body and a chunked one look the same to the app, and it can never read into the next pipelined request.
The first read of a request that sent `Expect: 100-continue` sends `100 Continue` (RFC 9110 §10.1.1);
an app that answers without reading never invites the body.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from server.config import Config
from server.connection import Connection
from server.http11 import BodyReader, RequestHead

__all__ = ["CONTINUE", "EMPTY_INPUT", "ErrorStream", "FileWrapper", "Input"]

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class Input:
    """`wsgi.input` for a request with a body: read(n), read(), readline(n), readlines(), iteration."""

    __slots__ = ("_conn", "_reader", "_pending", "_continue", "_timeout")

    def __init__(self, conn: Connection, reader: BodyReader, head: RequestHead, config: Config) -> None:
        self._conn = conn
        self._reader = reader
        self._pending = bytearray()  # decoded body bytes not yet handed to the app
        self._continue = head.expect_continue
        self._timeout = config.body_timeout

    def _more(self) -> bool:
        """Move more body bytes into `_pending`; False at the end of the body."""
        reader = self._reader
        conn = self._conn
        if self._continue:
            self._continue = False
            conn.send(CONTINUE)
        while not reader.done:
            if conn.buf:
                data = reader.read(conn.buf)  # consumes all it can; may raise ProtocolError
                if data:
                    self._pending += data
                    return True
                if reader.done:
                    break
            conn.fill_until(self._timeout)  # RequestTimeout after body_timeout of silence
        return False

    def read(self, size: int | None = -1) -> bytes:
        pending = self._pending
        if size is None or size < 0:
            while self._more():
                pass
            data = bytes(pending)
            pending.clear()
            return data
        while len(pending) < size and self._more():
            pass
        data = bytes(pending[:size])
        del pending[:size]
        return data

    def readline(self, size: int | None = -1) -> bytes:
        pending = self._pending
        limit = size if size is not None and size >= 0 else None
        searched = 0
        while True:
            end = pending.find(b"\n", searched)
            if end >= 0:
                end += 1
                break
            if limit is not None and len(pending) >= limit:
                end = limit
                break
            searched = len(pending)
            if not self._more():
                end = len(pending)
                break
        if limit is not None:
            end = min(end, limit)
        data = bytes(pending[:end])
        del pending[:end]
        return data

    def readlines(self, hint: int = -1) -> list[bytes]:
        lines = []
        total = 0
        while line := self.readline():
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line


class _EmptyInput:
    """`wsgi.input` for a request without a body: stateless, so one instance serves every request."""

    __slots__ = ()

    def read(self, size: int | None = -1) -> bytes:
        return b""

    def readline(self, size: int | None = -1) -> bytes:
        return b""

    def readlines(self, hint: int = -1) -> list[bytes]:
        return []

    def __iter__(self) -> Iterator[bytes]:
        return iter(())


EMPTY_INPUT = _EmptyInput()


class ErrorStream:
    """`wsgi.errors`: what the app writes goes to the "server.errors" logger, one record per write."""

    __slots__ = ()
    _log = logging.getLogger("server.errors")

    def write(self, text: str) -> int:
        message = text.rstrip("\n")
        if message:  # print() writes the newline separately: no empty records
            self._log.error("%s", message)
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass


class FileWrapper:
    """`wsgi.file_wrapper`: a file the server may send with os.sendfile (PEP 3333 §optional features).

    Iterating it reads `block_size` blocks: the fallback for file-likes without a real file descriptor.
    """

    __slots__ = ("filelike", "block_size")

    def __init__(self, filelike, block_size: int = 64 * 1024) -> None:  # 64 KiB: one socket send's worth
        self.filelike = filelike
        self.block_size = block_size

    def close(self) -> None:
        """PEP 3333: the server calls this when done; it closes the file if the file can be closed."""
        close = getattr(self.filelike, "close", None)
        if close is not None:
            close()

    def __iter__(self) -> Iterator[bytes]:
        read = self.filelike.read
        while block := read(self.block_size):
            yield block

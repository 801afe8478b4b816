"""Request bodies received before the app runs: bounded in memory, spooled to a temporary file beyond that.

    head with a body, receives_ahead ──► BodySpool.feed(conn.buf) ... (the dispatcher, as bytes
                                         arrive: server.body_receiver) ──► complete
        ──► wsgi.input = the spool (rewound), CONTENT_LENGTH = its decoded size

So a slow upload costs memory (or disk), not a worker thread (waitress does the same), and a chunked
body reaches the app de-chunked with a CONTENT_LENGTH (apps that read only CONTENT_LENGTH, such as
Django, would otherwise see no body). A request with `Expect: 100-continue` and a Content-Length is not
received ahead: the app (or a limit) may still refuse it before the client sends it (RFC 9110 §10.1.1).
"""

from __future__ import annotations

import tempfile

from server.config import Config
from server.connection import Connection
from server.http11 import BodyReader, RequestHead
from server.wsgi_input import CONTINUE

__all__ = ["BodyPending", "BodySpool", "receives_ahead"]


def receives_ahead(conn: Connection, head: RequestHead) -> bool:
    """Whether the body of a request with one is received before the app runs (into a BodySpool).

    Yes for every chunked body (so it gets a CONTENT_LENGTH), and for a Content-Length one that has not
    fully arrived with its head (a body already in `conn.buf` is read from there). With `Expect:
    100-continue` and a Content-Length, no: the app or a limit may refuse first, and `100 Continue`
    goes out on the app's first read. With Expect and chunked, yes, and `100 Continue` goes out now:
    no limit can judge a length nobody knows yet, RFC 9110 §10.1.1 asks for an immediate 100 when the
    head alone decides nothing, and an app that reads only CONTENT_LENGTH needs the de-chunked length.
    """
    if head.chunked:
        if head.expect_continue:
            conn.send(CONTINUE)
        return True
    return not head.expect_continue and len(conn.buf) < head.content_length


class BodyPending(Exception):
    """Raised by the WSGI handler: the body is still arriving; the dispatcher receives the rest."""


class BodySpool:
    """A request head and its body as received so far (decoded, in a SpooledTemporaryFile)."""

    __slots__ = ("head", "reader", "file", "size")

    def __init__(self, head: RequestHead, reader: BodyReader, config: Config) -> None:
        self.head = head
        self.reader = reader
        # In memory up to body_buffer_bytes, then a file in the temporary directory (deleted on close).
        self.file = tempfile.SpooledTemporaryFile(max_size=config.body_buffer_bytes)  # noqa: SIM115 - closed by close()
        self.size = 0

    def feed(self, buf: bytearray) -> bool:
        """Take the body bytes buf holds (leaving the next request's); True once the body is complete.

        Raises ProtocolError for a malformed chunked body or one past max_body_bytes.
        """
        data = self.reader.read(buf)
        if data:
            self.file.write(data)
            self.size += len(data)
        return self.reader.done

    def as_input(self):
        """The complete body as a file positioned at its start: the request's wsgi.input."""
        self.file.seek(0)
        return self.file

    def close(self) -> None:
        self.file.close()

"""Request bodies received on the dispatcher thread, before a worker thread takes the request.

    worker: a head whose body is still arriving ──► conn.receiving = BodySpool, BodyPending ──► parked
    dispatcher: readable ──► BodyReceiver.receive: recv (never blocks) ──► spool.feed (de-chunks, spools)
                  ├─ complete ──► to a worker, which serves the request with the spool as wsgi.input
                  ├─ still arriving ──► stays parked; the body timeout restarts (it bounds silence)
                  ├─ malformed chunked, or past max_body_bytes ──► 400 / 413, closed
                  └─ the client left ──► closed
                deadline passed ──► BodyReceiver.timed_out: 408, closed

So a slow upload costs memory (or a temporary file: `server.body_spool`), not a thread. Main thread
only; the dispatcher passes in what the receiver may do to its selector, deadline heap, work queue
and connection count.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from server.config import Config
from server.connection import ClientDisconnected, Connection
from server.http11 import ProtocolError
from server.responses import refusal

__all__ = ["BodyReceiver"]

log = logging.getLogger(__name__)

# recv() calls per wake-up for one arriving body (16 x recv_size = 1 MiB at most): the dispatcher thread
# then serves the other ready connections (accepts, hand-backs, other bodies) before taking more of it.
# Not a Config field: it shapes only how fairly one thread shares its time, not what a client may send.
RECEIVE_STEPS = 16


class BodyReceiver:
    """Takes the bodies of parked connections whose `receiving` spool is set (main thread only)."""

    def __init__(
        self,
        config: Config,
        *,
        expire_at: Callable[[Connection, float], None],  # its deadline while parked (replaces any earlier)
        unpark: Callable[[Connection], None],  # out of the selector; its deadline is stale from now on
        to_worker: Callable[[Connection], None],  # a worker serves the request
        closed: Callable[[], None],  # a connection fewer
    ) -> None:
        self._config = config
        self._expire_at = expire_at
        self._unpark = unpark
        self._to_worker = to_worker
        self._closed = closed

    def receive(self, conn: Connection) -> None:
        """Take what has arrived of a parked connection's body (never blocks); to a worker once complete."""
        spool = conn.receiving
        try:
            for _ in range(RECEIVE_STEPS):  # bounded: other connections wait for this thread
                if not conn.fill(False):
                    break
                if spool.feed(conn.buf):
                    self._unpark(conn)
                    self._to_worker(conn)
                    return
        except ClientDisconnected:
            self._unpark(conn)
            spool.close()
            conn.close()
            self._closed()
            return
        except ProtocolError as exc:  # a malformed chunked body, or one past max_body_bytes
            self._unpark(conn)
            spool.close()
            self._refuse(conn, exc.status, str(exc))
            return
        # Still arriving: the body timeout is a limit on silence, so it restarts with every read.
        self._expire_at(conn, time.monotonic() + self._config.body_timeout)

    def timed_out(self, conn: Connection) -> None:
        """The body went silent for body_timeout (the connection is already out of the selector): 408."""
        log.info("request body timeout from %s: answering 408", conn.peer_host)
        conn.receiving.close()
        self._refuse(conn, 408, f"no request body bytes for {self._config.body_timeout:g} seconds")

    def _refuse(self, conn: Connection, status: int, message: str) -> None:
        """Answer a request whose body was being received with an error, then close."""
        head = conn.receiving.head
        conn.receiving = None
        line = f"{head.method} {head.target} {head.version}"
        conn.send_now(refusal(status, message, self._config, conn.peer_host, line))
        conn.close()
        self._closed()

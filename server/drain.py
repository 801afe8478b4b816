"""The graceful stop of one dispatcher: what it closes, what it keeps, and when it is over.

    shutdown() ──► Drain.request (any thread, a signal handler too); the dispatcher wakes up
    next tick ──► Drain.step: begin: every response says Connection: close, the accept backlog is
                  taken and served, the listening sockets are closed
                  ├─ first-request window (drain_first_request) over: silent parked connections closed
                  │  (new ones; idle keep-alive ones too, unless this process retires: keep_idle)
                  └─ nothing open: the worker threads get their stop sentinels
    each loop ──► Drain.finished: every worker thread has left, or graceful_timeout has passed

Connections with a request under way end as they would have (their response says close). A parked
connection that is silent so far (a new one, or an idle keep-alive one) keeps drain_first_request to
send its request, which may be on its way, then is closed -- unless this process retires
(`keep_idle`, the arbiter replacing it while others serve the same address): then an idle keep-alive
connection stays open until its keep-alive timeout, because its client may send a request on it at any
moment, and closing it first would reset that request, which a proxy never retries for a POST. A proxy
whose idle timeout is below ours (deploy/nginx.conf) closes it first, or sends one last request.

Thread ownership: `request()` may run on any thread; everything else on the dispatcher's thread. The
drain owns no socket or selector: the dispatcher passes in what it may do to them, as it does for its
other parts (server.body_receiver, server.tls_handshake).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from server.config import Config
from server.connection import Connection
from server.tls import Handshake

__all__ = ["Drain", "silent"]

log = logging.getLogger(__name__)


def silent(conn: Connection | Handshake) -> bool:
    """A parked connection with no request under way: a new one that has not sent its first request
    yet, or an idle keep-alive one (a TLS handshake, a lingering close, half a head, a body are not)."""
    return conn.__class__ is not Handshake and not conn.closing and conn.receiving is None and not conn.buf


class Drain:
    """The drain state of one dispatcher, from shutdown() until its worker threads have left."""

    def __init__(
        self,
        config: Config,
        *,
        stop_accepting: Callable[[], None],  # responses say close; serve the accept backlog; close listeners
        parked: Callable[[], list[Connection | Handshake]],  # what the selector holds now
        close: Callable[[Connection], None],  # a parked connection: out of the selector, closed, counted
        stop_threads: Callable[[], None],  # each worker thread gets its stop sentinel
        open_count: Callable[[], int],  # connections accepted and not yet closed
        threads_left: Callable[[], int],  # worker threads still in their loop
    ) -> None:
        self._first_request = config.drain_first_request
        self._grace = config.graceful_timeout
        self._keep_idle = False
        self._stop_accepting = stop_accepting
        self._parked = parked
        self._close = close
        self._stop_threads = stop_threads
        self._open_count = open_count
        self._threads_left = threads_left
        self.requested = False  # shutdown() was called: the next tick begins the drain
        self.deadline: float | None = None  # begun: the drain ends by then (graceful_timeout)
        # The next moment the dispatcher must wake up for (end of the first-request window, then the
        # deadline), None before the drain begins.
        self.due: float | None = None
        # Past the first-request window: silent connections parked from now on are closed (see closes()).
        self.swept = False
        self._fresh_until = 0.0  # end of the first-request window
        self._closed_idle: bool | None = None  # what the last sweep closed: None: none yet, True: idle too
        self._threads_told = False

    # --- any thread ---------------------------------------------------------------------------------------

    def request(self, grace: float | None, keep_idle: bool) -> None:
        """shutdown(): `grace` seconds at most for requests in flight (default graceful_timeout).

        `keep_idle` (retiring) keeps idle keep-alive connections until their keep-alive timeout; it holds
        only if every request so far asked for it, so a later stop without it closes them after all.
        The caller wakes the dispatcher's thread.
        """
        if grace is not None:
            self._grace = min(self._grace, grace)
        self._keep_idle = keep_idle and (self._keep_idle or not self.requested)
        self.requested = True

    # --- the dispatcher's thread --------------------------------------------------------------------------

    def step(self, now: float) -> None:
        """A tick after request(): begin the drain, then close what may no longer speak; stop the threads
        once nothing is open."""
        if self.deadline is None:
            self._begin(now)
        if self._threads_told:
            return
        if now >= self._fresh_until and self._closed_idle != (not self._keep_idle):
            self._closed_idle = not self._keep_idle
            self.swept = True
            self.due = self.deadline
            for conn in self._parked():
                if self.closes(conn):
                    self._close(conn)
        if self._open_count() == 0:
            self._threads_told = True
            self._stop_threads()

    def closes(self, conn: Connection | Handshake) -> bool:
        """Past the first-request window, a parked connection is closed if it is silent, and is a new one
        or an idle keep-alive one that is not kept (the process is not retiring)."""
        return silent(conn) and (conn.requests == 0 or not self._keep_idle)

    def shorten(self, deadline: float) -> None:
        """End a drain already begun by `deadline` at the latest (the parent process has gone)."""
        if self.deadline is not None:
            self.deadline = min(self.deadline, deadline)
            self.due = min(self.due, self.deadline) if self.due is not None else self.deadline

    def finished(self) -> bool:
        """The drain is over: every worker thread has left, or graceful_timeout has passed."""
        if self.deadline is None:
            return False
        if self._threads_left() == 0:
            return True
        if time.monotonic() >= self.deadline:
            log.warning("graceful timeout: abandoning %d connections still in progress", self._open_count())
            return True
        return False

    def _begin(self, now: float) -> None:
        graceful = self._grace
        self.deadline = now + graceful
        self._fresh_until = now + min(graceful, self._first_request)
        self.due = self._fresh_until
        self._stop_accepting()
        # Logged once it is true: this process holds no listening socket any more.
        idle = "keeping idle keep-alive connections until their timeout, " if self._keep_idle else ""
        log.info("shutting down: no new connections; %sfinishing requests in flight (up to %gs)", idle,
                 graceful)  # fmt: skip

"""The dispatcher: the main thread's selector loop, and the only code in `server/` that touches the selector.

Thread ownership (written down, as gunicorn's gthread does):
- The main thread (`run`) owns the selector, the listening sockets, the deadline heap and every *parked*
  Connection. It accepts until EAGAIN and hands each new connection straight to the workers (clients
  send at once, so a poller round-trip first would only add latency), hands a parked connection to the
  workers when it becomes readable, and closes connections whose deadline passed (408 for a half-sent head).
- Worker threads (`server.worker`) own a Connection from `next_connection()` until they `park()` it
  (back to the main thread through `_returns` plus one wake-up byte on a socketpair) or `release()` it.
- Shared state: the two `queue.SimpleQueue`s, `_open` (under `_lock`), and `handler.draining`, a flag
  only the main thread sets.

Under the arbiter (`--workers`), a `Supervision` link joins the selector: the read end of a pipe from the
parent (EOF: the parent is gone, drain quickly and exit: no orphans), and a heartbeat written from `_tick`
at most once per `Supervision.interval` seconds (the arbiter's `--timeout`). Without one (single-process
mode) nothing of this runs: one `is None` test per tick, none per request.

Deadlines live in a heap keyed by `time.monotonic()`; an entry whose connection was unparked since is
recognised by its park generation and skipped, so expiry never scans the parked connections.
"""

from __future__ import annotations

import contextlib
import errno
import heapq
import itertools
import logging
import queue
import selectors
import socket
import threading
import time
from typing import Protocol

from server import accesslog
from server.config import Config
from server.connection import ClientDisconnected, Connection
from server.http11 import ProtocolError
from server.listener import Listener
from server.responses import body_length, error_response
from server.tls import Handshake, TLSConnection
from server.worker import worker_loop
from server.wsgi import WSGIHandler

__all__ = ["Dispatcher", "Supervision"]

log = logging.getLogger(__name__)

# Selector key data: a listening socket carries its Listener, the wake-up socketpair _WAKE, the pipe from
# the arbiter _PARENT (supervised worker processes only), a parked connection its Connection.
_WAKE = "wake"
_PARENT = "parent"
_RECEIVE_STEPS = 16  # recv() calls per wake-up for one arriving body (16 x recv_size = 1 MiB at most)
_OUT_OF_RESOURCES = frozenset((errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM))


class Supervision(Protocol):
    """What the dispatcher of a supervised worker process reports to, and hears from, its parent."""

    interval: float  # seconds between heartbeats
    orphan_grace: float  # seconds requests in flight get once the parent is gone

    def parent_fd(self) -> int: ...  # readable at EOF when the parent has died
    def ready(self) -> None: ...  # the app is imported and the listeners are in the selector
    def beat(self) -> None: ...


class Dispatcher:
    """Accepts connections, parks idle ones in epoll, expires deadlines, and runs the worker pool."""

    def __init__(self, listeners: list[Listener], handler: WSGIHandler, config: Config,
                 max_connections: int, supervision: Supervision | None = None) -> None:  # fmt: skip
        self.handler = handler
        self.config = config
        self._listeners = listeners
        self._selector = selectors.DefaultSelector()
        self._work: queue.SimpleQueue[Connection | None] = queue.SimpleQueue()
        self._returns: queue.SimpleQueue[Connection] = queue.SimpleQueue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._wake_pending = False
        self._deadlines: list[tuple[float, int, int, Connection]] = []
        self._seq = itertools.count()  # heap tie-breaker: Connections do not compare
        self._lock = threading.Lock()
        self._open = 0  # connections accepted and not yet closed
        self._idle = 0  # worker threads waiting for a connection (under _lock)
        self._max = max_connections
        self._paused = False  # not accepting: at max_connections, or out of file descriptors
        self._resume_at: float | None = None
        self._stop = False
        self._drain_deadline: float | None = None
        # Draining: connections accepted but silent so far keep their chance to send a first request
        # until this moment (closing them at once would reset a client whose request is on its way).
        self._fresh_until: float | None = None
        # Retiring (shutdown(keep_idle=True), the arbiter replacing this worker): idle keep-alive
        # connections stay open until their keep-alive timeout, since their clients may still use them.
        self._keep_idle = False
        self._closed_idle: bool | None = None  # past _fresh_until: new silent ones closed (True: idle too)
        self._threads_told = False  # draining, nothing open: the worker threads have their stop sentinels
        self._threads: list[threading.Thread] = []
        self._exited = 0  # worker threads that have left their loop (under _lock)
        self._rcvtimeo, self._sndtimeo = Connection.socket_timeouts(config)
        self.linger = config.keepalive_linger
        self._supervision = supervision
        self._next_beat = 0.0
        self._grace = config.graceful_timeout

    # --- any thread ---------------------------------------------------------------------------------------

    def shutdown(self, grace: float | None = None, keep_idle: bool = False) -> None:
        """Begin a graceful shutdown (`grace` seconds for requests in flight, default graceful_timeout).

        `keep_idle`: this process retires while others keep serving the same address, so idle keep-alive
        connections are kept until their keep-alive timeout (see _begin_drain). A later call without it
        closes them after all. Safe from any thread and from a signal handler.
        """
        if grace is not None:
            self._grace = min(self._grace, grace)
        self._keep_idle = keep_idle and (self._keep_idle or not self._stop)
        self._stop = True
        self._wake()

    def _wake(self) -> None:
        # Coalesced: one pending byte is enough. The main thread clears the flag *before* it drains the
        # queue, and a worker queues *before* it reads the flag, so no hand-back is ever missed.
        if not self._wake_pending:
            self._wake_pending = True
            with contextlib.suppress(OSError):  # buffer full (a wake-up is pending anyway) or closed
                self._wake_w.send(b"\0")

    # --- worker threads -----------------------------------------------------------------------------------

    def next_connection(self) -> Connection | None:
        with self._lock:
            self._idle += 1
        conn = self._work.get()
        with self._lock:
            self._idle -= 1
        return conn

    def may_linger(self) -> bool:
        """A worker may wait for a connection's next bytes only while no queued connection lacks a thread.

        "Queued" alone would be too strict: right after an accept burst the queue is briefly non-empty
        while idle workers are about to take it, and parking then costs two hand-offs and an epoll
        round-trip for a request that arrives microseconds later.
        """
        return self.linger > 0 and self._work.qsize() < self._idle

    def park(self, conn: Connection) -> None:
        self._returns.put(conn)
        self._wake()

    def release(self, conn: Connection) -> None:
        """Close a connection the caller owns and count it gone.

        If the client may still be sending, the close is a lingering one, finished by the dispatcher
        so no worker waits for it.
        """
        if conn.unread or conn.buf:
            conn.start_closing()
            self.park(conn)
        else:
            conn.close()
            self._closed()

    def worker_exited(self) -> None:
        with self._lock:
            self._exited += 1
        self._wake()

    def _closed(self) -> None:
        with self._lock:
            self._open -= 1
            paused = self._paused
        if paused or self._drain_deadline is not None:  # draining: the last one closed ends the drain
            self._wake()

    # --- main thread ----------------------------------------------------------------------------------------

    def run(self) -> None:
        """Serve until shutdown() and the drain that follows are complete."""
        for listener in self._listeners:
            listener.sock.setblocking(False)
            self._selector.register(listener.sock, selectors.EVENT_READ, listener)
        self._selector.register(self._wake_r, selectors.EVENT_READ, _WAKE)
        if self._supervision is not None:
            self._selector.register(self._supervision.parent_fd(), selectors.EVENT_READ, _PARENT)
        for number in range(self.config.threads):
            thread = threading.Thread(target=worker_loop, args=(self,), name=f"server-worker-{number}",
                                      daemon=True)  # fmt: skip
            thread.start()
            self._threads.append(thread)
        if self._supervision is not None:
            self._supervision.ready()
        try:
            while not self._finished():
                self._tick()
        finally:
            self._close_all()
            accesslog.flush()  # a --workers child leaves with os._exit, past the atexit hook

    def _tick(self) -> None:
        for key, _ in self._selector.select(self._timeout()):
            data = key.data
            if data.__class__ is Listener:
                self._accept(data)
            elif data is _WAKE:
                self._take_returns()
            elif data.__class__ is Handshake:
                self._handshake(data, False)
            elif data is _PARENT:
                self._orphaned()
            elif data.closing:  # lingering close: drop the bytes, close at EOF
                if not data.discard():
                    self._unpark(data)
                    data.close()
                    self._closed()
            elif data.receiving is not None:  # a request body arriving: take it, no thread needed
                self._receive(data)
            else:  # a parked connection spoke: a worker serves it
                self._unpark(data)
                self._work.put(data)
        now = time.monotonic()
        self._expire(now)
        if self._supervision is not None and now >= self._next_beat:
            self._supervision.beat()
            self._next_beat = now + self._supervision.interval
        if self._stop and self._drain_deadline is None:
            self._begin_drain(now)
        if self._drain_deadline is not None and not self._threads_told:
            self._drain_step(now)
        if self._paused and self._drain_deadline is None:
            self._maybe_resume(now)

    def _receive(self, conn: Connection) -> None:
        """Take what has arrived of a request body (never blocks); to a worker once it is complete."""
        spool = conn.receiving
        try:
            for _ in range(_RECEIVE_STEPS):  # bounded: other connections wait for this thread
                if not conn.fill(False):
                    break
                if spool.feed(conn.buf):
                    self._unpark(conn)
                    self._work.put(conn)
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
        conn.park_gen += 1
        deadline = time.monotonic() + self.config.body_timeout
        heapq.heappush(self._deadlines, (deadline, next(self._seq), conn.park_gen, conn))

    def _refuse(self, conn: Connection, status: int, message: str) -> None:
        """Answer a request whose body the dispatcher was receiving with an error, then close."""
        head = conn.receiving.head
        conn.receiving = None
        response = error_response(status, message, self.config.server_header)
        if self.handler.access_log:
            line = f"{head.method} {head.target} {head.version}"
            accesslog.log_refused(conn.peer_host, line, status, body_length(response))
        conn.send_now(response)
        conn.close()
        self._closed()

    def _unpark(self, conn: Connection) -> None:
        self._selector.unregister(conn.sock)
        conn.park_gen += 1  # its deadline entry is stale from now on

    def _timeout(self) -> float | None:
        wake_at = [self._deadlines[0][0]] if self._deadlines else []
        if self._paused and self._resume_at is not None:
            wake_at.append(self._resume_at)
        if self._drain_deadline is not None:
            wake_at.append(self._drain_deadline)
        if self._fresh_until is not None and self._closed_idle is None:
            wake_at.append(self._fresh_until)
        if self._supervision is not None:
            wake_at.append(self._next_beat)
        return max(0.0, min(wake_at) - time.monotonic()) if wake_at else None

    def _accept(self, listener: Listener) -> None:
        accept = listener.sock.accept
        while self._open < self._max:
            try:
                sock, address = accept()
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno in _OUT_OF_RESOURCES:
                    delay = self.config.accept_retry_delay
                    log.error("cannot accept connections: %s; pausing %gs", exc, delay)
                    self._pause(time.monotonic() + delay)
                    return
                continue  # ECONNABORTED and friends: that client is already gone
            if listener.tls is not None:
                self._start_handshake(sock, address, listener)
                continue
            try:
                conn = Connection(sock, address, self.config, self._rcvtimeo, self._sndtimeo)
            except OSError:  # reset before we could even set it up
                sock.close()
                continue
            conn.environ = self.handler.connection_environ(conn, listener)
            with self._lock:
                self._open += 1
            self._work.put(conn)
        log.warning("%d connections open (max_connections); not accepting until one closes", self._open)
        self._pause(None)

    def _start_handshake(self, sock: socket.socket, address: tuple, listener: Listener) -> None:
        """Wrap a new connection in TLS; its handshake runs here, step by step as the selector says."""
        try:
            sock.setblocking(False)
            tls = listener.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)  # type: ignore[union-attr]
        except OSError:
            sock.close()
            return
        with self._lock:
            self._open += 1
        handshake = Handshake(tls, address, listener)
        if self._handshake(handshake, True):
            return
        # header_timeout from the accept: a client that stalls its handshake is dropped like a slowloris
        deadline = time.monotonic() + self.config.header_timeout
        heapq.heappush(self._deadlines, (deadline, next(self._seq), handshake.park_gen, handshake))

    def _handshake(self, handshake: Handshake, first: bool) -> bool:
        """One non-blocking handshake step; True once it has ended (done: to a worker; failed: closed)."""
        done = handshake.step()
        if done is None:
            if first:
                self._selector.register(handshake.sock, handshake.events, handshake)
            else:
                self._selector.modify(handshake.sock, handshake.events, handshake)
            return False
        if not first:
            self._unpark(handshake)  # type: ignore[arg-type]  # duck-typed: sock and park_gen
        if done:
            try:
                conn = TLSConnection(handshake.sock, handshake.address, self.config, self._rcvtimeo,
                                     self._sndtimeo)  # fmt: skip
            except OSError:
                done = False
            else:
                conn.environ = self.handler.connection_environ(conn, handshake.listener)  # type: ignore[arg-type]
                self._work.put(conn)
                return True
        log.debug("TLS handshake with %s failed", handshake.address)
        handshake.close()
        self._closed()
        return True

    def _pause(self, resume_at: float | None) -> None:
        if not self._paused:
            for listener in self._listeners:
                self._selector.unregister(listener.sock)
        self._paused = True
        self._resume_at = resume_at

    def _maybe_resume(self, now: float) -> None:
        if self._resume_at is not None and now < self._resume_at:
            return
        if self._open >= self._max:
            return
        for listener in self._listeners:
            self._selector.register(listener.sock, selectors.EVENT_READ, listener)
        self._paused = False
        self._resume_at = None

    def _take_returns(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass
        self._wake_pending = False
        now = time.monotonic()
        while True:
            try:
                conn = self._returns.get_nowait()
            except queue.Empty:
                return
            self._park(conn, now)

    def _park(self, conn: Connection, now: float) -> None:
        if self._closed_idle is not None and _silent(conn) and (conn.requests == 0 or not self._keep_idle):
            conn.close()
            self._closed()
            return
        config = self.config
        if conn.closing:
            deadline = now + config.lingering_close_timeout
        elif conn.receiving is not None:  # a request body on its way
            deadline = now + config.body_timeout
        elif conn.buf:  # half a head: the clock started at its first byte
            deadline = conn.head_started + config.header_timeout
        elif conn.requests == 0:  # connected but silent so far
            deadline = now + config.header_timeout
        else:
            deadline = now + config.keepalive_timeout
        try:
            self._selector.register(conn.sock, selectors.EVENT_READ, conn)
        except (OSError, ValueError):
            conn.close()
            self._closed()
            return
        heapq.heappush(self._deadlines, (deadline, next(self._seq), conn.park_gen, conn))

    def _expire(self, now: float) -> None:
        heap = self._deadlines
        while heap and heap[0][0] <= now:
            _, _, generation, conn = heapq.heappop(heap)
            if generation != conn.park_gen:
                continue  # it was unparked since; this entry is stale
            self._unpark(conn)
            if conn.__class__ is not Handshake and conn.receiving is not None:
                log.info("request body timeout from %s: answering 408", conn.peer_host)
                conn.receiving.close()
                message = f"no request body bytes for {self.config.body_timeout:g} seconds"
                self._refuse(conn, 408, message)
                continue
            if conn.buf and not conn.closing:
                log.info("request header timeout from %s: answering 408", conn.peer_host)
                message = f"the request head did not arrive within {self.config.header_timeout:g} seconds"
                response = error_response(408, message, self.config.server_header)
                if self.handler.access_log:
                    line = accesslog.request_line_of(conn.buf, self.config.max_request_line)
                    accesslog.log_refused(conn.peer_host, line, 408, body_length(response))
                conn.send_now(response)
            conn.close()
            self._closed()

    def _orphaned(self) -> None:
        """The arbiter is gone (even SIGKILL closes its end of the pipe): stop accepting and leave soon."""
        assert self._supervision is not None
        self._selector.unregister(self._supervision.parent_fd())
        if not self._stop:
            log.error("the parent process has gone: stopping this worker process")
        self.shutdown(self._supervision.orphan_grace)
        if self._drain_deadline is not None:  # already draining: shorten the drain
            soon = time.monotonic() + self._supervision.orphan_grace
            self._drain_deadline = min(self._drain_deadline, soon)

    def _begin_drain(self, now: float) -> None:
        """Stop accepting; open connections then end as they would have, but for these differences.

        Every response says Connection: close. A parked connection silent so far (a new one, or an idle
        keep-alive one) gets drain_first_request to send its request (it may be on its way), then is
        closed -- unless this worker retires (keep_idle): then an idle keep-alive connection stays open
        until its keep-alive timeout, because its client may send a request on it at any moment, and
        closing it first would reset that request, which a proxy never retries for a POST. A proxy whose
        idle timeout is below ours (deploy/nginx.conf) closes it first, or sends one last request.
        The whole drain is bounded by graceful_timeout; the worker threads stop once nothing is open.
        """
        graceful = self._grace
        self.handler.draining = True
        self._drain_deadline = now + graceful
        self._fresh_until = now + min(graceful, self.config.drain_first_request)
        for listener in self._listeners:
            # Connections the kernel has completed (the accept backlog) were accepted as far as the
            # client can tell: take them and serve them, instead of resetting them with the socket.
            if not self._paused:
                self._accept(listener)
            if not self._paused:
                self._selector.unregister(listener.sock)
            listener.close()
        # Logged once it is true: this process holds no listening socket any more.
        idle = "keeping idle keep-alive connections until their timeout, " if self._keep_idle else ""
        log.info("shutting down: no new connections; %sfinishing requests in flight (up to %gs)", idle,
                 graceful)  # fmt: skip

    def _drain_step(self, now: float) -> None:
        """Close parked connections that may no longer speak; once none is open, stop the worker threads."""
        assert self._fresh_until is not None
        if now >= self._fresh_until and self._closed_idle != (not self._keep_idle):
            self._closed_idle = not self._keep_idle  # see _park for those parked later
            for conn in self._parked():
                if _silent(conn) and (conn.requests == 0 or not self._keep_idle):
                    self._unpark(conn)
                    conn.close()
                    self._closed()
        if self._open == 0:
            self._threads_told = True
            for _ in self._threads:
                self._work.put(None)

    def _finished(self) -> bool:
        if self._drain_deadline is None:
            return False
        if self._exited == len(self._threads):
            return True
        if time.monotonic() >= self._drain_deadline:
            log.warning("graceful timeout: abandoning %d connections still in progress", self._open)
            return True
        return False

    def _parked(self) -> list[Connection]:
        return [key.data for key in self._selector.get_map().values()
                if isinstance(key.data, (Connection, Handshake))]  # fmt: skip

    def _close_all(self) -> None:
        """Close what is left: parked connections, hand-backs not yet taken, connections never served."""
        leftovers = self._parked()
        for pending in (self._returns, self._work):
            while True:
                try:
                    item = pending.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    leftovers.append(item)
        for conn in leftovers:
            conn.close()
        for listener in self._listeners:
            listener.close()
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()


def _silent(conn: Connection | Handshake) -> bool:
    """A parked connection with no request under way: a new one that has not sent its first request
    yet, or an idle keep-alive one (a TLS handshake, a lingering close, half a head, a body are not)."""
    return conn.__class__ is not Handshake and not conn.closing and conn.receiving is None and not conn.buf

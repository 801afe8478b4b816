"""The dispatcher: the main thread's selector loop, and the only code in `server/` that touches the selector.

Thread ownership (written down, as gunicorn's gthread does):
- The main thread (`run`) owns the selector, the listening sockets, the deadline heap and every *parked*
  Connection. It accepts until EAGAIN and hands each new connection straight to the workers (clients
  send at once, so a poller round-trip first would only add latency), hands a parked connection to the
  workers when it becomes readable, and closes connections whose deadline passed (408 for a half-sent head).
- Worker threads (`server.worker`) own a Connection from `next_connection()` until they `park()` it
  (back to the main thread through `_returns`, a `server.handback.HandBack`: a queue plus one wake-up
  byte on a socketpair) or `release()` it.
- Shared state: the `_work` queue, `_returns` (also carrying `call_soon`), `_open` (under `_lock`), and
  `handler.draining`, a flag only the main thread sets.

Under the arbiter (`--workers`), a `Supervision` link joins the selector: the read end of a pipe from the
parent (EOF: the parent is gone, drain quickly and exit: no orphans), and a heartbeat written from `_tick`
at most once per `Supervision.interval` seconds (the arbiter's `--timeout`). Without one (single-process
mode) nothing of this runs: one `is None` test per tick, none per request.

Two jobs the main thread does for parked connections have modules of their own, which act on the
dispatcher's selector and deadlines through what it passes them: TLS handshakes
(`server.tls_handshake`) and request bodies received before dispatch (`server.body_receiver`). The
deadlines are a heap that is never scanned (`server.deadlines`). The graceful stop after `shutdown()`
(what is closed, what is kept, when it is over) is `server.drain`'s, acting through the dispatcher.
"""

from __future__ import annotations

import errno
import logging
import queue
import selectors
import signal
import threading
import time

from server import accesslog
from server.body_receiver import BodyReceiver
from server.config import Config
from server.connection import Connection
from server.deadlines import Deadlines
from server.drain import Drain
from server.handback import HandBack, take_all
from server.listener import Listener
from server.responses import refusal
from server.supervised import Supervision
from server.tls import Handshake
from server.tls_handshake import HandshakeDriver
from server.worker import worker_loop
from server.wsgi import WSGIHandler

__all__ = ["Dispatcher", "Supervision"]

log = logging.getLogger(__name__)

# Selector key data: a listening socket carries its Listener, the wake-up socketpair _WAKE, the pipe from
# the arbiter _PARENT (supervised worker processes only), a parked connection its Connection.
_WAKE = "wake"
_PARENT = "parent"
_OUT_OF_RESOURCES = frozenset((errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM))


class Dispatcher:
    """Accepts connections, parks idle ones in epoll, expires deadlines, and runs the worker pool."""

    # Slots: CPython 3.11 reads instance attributes fast only while an instance dict holds few enough
    # keys; at 32 attributes every read on the park path was slower, +2,600 instructions (3 %) a cycle.
    __slots__ = ("handler", "config", "_listeners", "_selector", "_work", "_returns", "_wake", "park",
                 "_deadlines", "_lock", "_open", "_idle", "_max", "_paused", "_resume_at", "_threads",
                 "_exited", "_rcvtimeo", "_sndtimeo", "linger", "_supervision", "_next_beat", "_handshakes",
                 "_bodies", "_drain", "call_soon")  # fmt: skip

    def __init__(self, listeners: list[Listener], handler: WSGIHandler, config: Config,
                 max_connections: int, supervision: Supervision | None = None) -> None:  # fmt: skip
        self.handler = handler
        self.config = config
        self._listeners = listeners
        self._selector = selectors.DefaultSelector()
        self._work: queue.SimpleQueue[Connection | None] = queue.SimpleQueue()
        self._returns = HandBack()  # connections parked by workers, and the wake-up of select()
        self._wake = self._returns.wake
        self.park = self._returns.put  # worker threads: an idle connection back to the poller (no extra call)
        self.call_soon = self._returns.call_soon  # any thread, signal handlers: run a callable on this one
        self._deadlines = Deadlines()
        self._lock = threading.Lock()
        self._open = 0  # connections accepted and not yet closed
        self._idle = 0  # worker threads waiting for a connection (under _lock)
        self._max = max_connections
        self._paused = False  # not accepting: at max_connections, or out of file descriptors
        self._resume_at: float | None = None
        self._threads: list[threading.Thread] = []
        self._exited = 0  # worker threads that have left their loop (under _lock)
        self._rcvtimeo, self._sndtimeo = Connection.socket_timeouts(config)
        self.linger = config.keepalive_linger
        self._supervision = supervision
        self._next_beat = 0.0
        # What the main thread does for parked connections besides watching them, each in its own module:
        expire_at, unpark, closed = self._deadlines.set, self._unpark, self._closed
        self._handshakes = HandshakeDriver(self._selector, config, expire_at=expire_at, unpark=unpark,
                                           admit=self._admit, opened=self._opened, closed=closed)  # fmt: skip
        self._bodies = BodyReceiver(config, expire_at=expire_at, unpark=unpark,
                                    to_worker=self._work.put, closed=closed)  # fmt: skip
        self._drain = Drain(config, stop_accepting=self._stop_accepting, parked=self._parked,
                            close=self._close_parked, stop_threads=self._stop_threads,
                            open_count=lambda: self._open,
                            threads_left=lambda: len(self._threads) - self._exited)  # fmt: skip

    # --- any thread ---------------------------------------------------------------------------------------

    def shutdown(self, grace: float | None = None, keep_idle: bool = False) -> None:
        """Begin a graceful shutdown (`grace` seconds for requests in flight, default graceful_timeout).

        `keep_idle`: this process retires while others keep serving the same address, so idle keep-alive
        connections are kept until their keep-alive timeout (server.drain). A later call without it
        closes them after all. Safe from any thread and from a signal handler.
        """
        self._drain.request(grace, keep_idle)
        self._wake()

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
        if paused or self._drain.deadline is not None:  # draining: the last one closed ends the drain
            self._wake()

    # --- main thread ----------------------------------------------------------------------------------------

    def run(self) -> None:
        """Serve until shutdown() and the drain that follows are complete."""
        for listener in self._listeners:
            listener.sock.setblocking(False)
            self._selector.register(listener.sock, selectors.EVENT_READ, listener)
        self._selector.register(self._returns.wake_socket, selectors.EVENT_READ, _WAKE)
        if self._supervision is not None:
            self._selector.register(self._supervision.parent_fd(), selectors.EVENT_READ, _PARENT)
        for number in range(self.config.threads):
            thread = threading.Thread(target=worker_loop, args=(self,), name=f"server-worker-{number}",
                                      daemon=True)  # fmt: skip
            thread.start()
            self._threads.append(thread)
        if self._supervision is not None:
            self._supervision.ready()
        previous_fd = self._catch_signals()
        try:
            while not self._drain.finished():
                self._tick()
        finally:
            if previous_fd is not None:
                signal.set_wakeup_fd(previous_fd)  # before the socket it points to is closed
            self._close_all()
            accesslog.flush()  # a --workers child leaves with os._exit, past the atexit hook

    def _catch_signals(self) -> int | None:
        """Make every signal wake select(), whichever thread the kernel delivers it to.

        Python runs signal handlers (SIGTERM's: shutdown()) on the main thread only, and the kernel may
        deliver a process signal to any thread: to a worker thread, it does not interrupt the main
        thread's select(), whose timeout is None when nothing is parked, and the handler would wait for
        the next connection, forever. set_wakeup_fd makes the C handler write a byte to our wake-up
        socket from any thread. Main thread only (an embedder's serve_forever() on another thread
        keeps its signals, if any, to itself); returns the previous fd, to restore on exit.
        """
        if threading.current_thread() is not threading.main_thread():
            return None
        return signal.set_wakeup_fd(self._returns.wake_fd, warn_on_full_buffer=False)

    def _tick(self) -> None:
        for key, _ in self._selector.select(self._timeout()):
            data = key.data
            if data.__class__ is Listener:
                self._accept(data)
            elif data is _WAKE:
                self._take_returns()
            elif data.__class__ is Handshake:
                self._handshakes.advance(data)
            elif data is _PARENT:
                self._orphaned()
            elif data.closing:  # lingering close: drop the bytes, close at EOF
                if not data.discard():
                    self._close_parked(data)
            elif data.receiving is not None:  # a request body arriving: take it, no thread needed
                self._bodies.receive(data)
            else:  # a parked connection spoke: a worker serves it
                self._unpark(data)
                self._work.put(data)
        now = time.monotonic()
        self._expire(now)
        if self._supervision is not None and now >= self._next_beat:
            self._supervision.beat()
            self._next_beat = now + self._supervision.interval
        drain = self._drain
        if drain.requested:
            drain.step(now)
        if self._paused and drain.deadline is None:
            self._maybe_resume(now)

    def _unpark(self, conn: Connection | Handshake) -> None:
        self._selector.unregister(conn.sock)
        conn.park_gen += 1  # its deadline entry is stale from now on (server.deadlines)

    def _timeout(self) -> float | None:
        first = self._deadlines.first()
        wake_at = [] if first is None else [first]
        if self._paused and self._resume_at is not None:
            wake_at.append(self._resume_at)
        if self._drain.due is not None:
            wake_at.append(self._drain.due)
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
                self._handshakes.start(sock, address, listener)
                continue
            try:
                conn = Connection(sock, address, self.config, self._rcvtimeo, self._sndtimeo)
            except OSError:  # reset before we could even set it up
                sock.close()
                continue
            self._opened()
            self._admit(conn, listener)
        log.warning("%d connections open (max_connections); not accepting until one closes", self._open)
        self._pause(None)

    def _opened(self) -> None:
        with self._lock:
            self._open += 1

    def _admit(self, conn: Connection, listener: Listener) -> None:
        """A new connection, ready for its requests (a TLS one once its handshake is done): to a worker."""
        conn.environ = self.handler.connection_environ(conn, listener)
        self._work.put(conn)

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
        now = time.monotonic()
        for conn in self._returns.take():
            self._park(conn, now)
        self._returns.run_calls()

    def _park(self, conn: Connection, now: float) -> None:
        if self._drain.swept and self._drain.closes(conn):
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
        self._deadlines.set(conn, deadline)

    def _expire(self, now: float) -> None:
        for conn in self._deadlines.expired(now):
            self._unpark(conn)
            if conn.__class__ is not Handshake and conn.receiving is not None:
                self._bodies.timed_out(conn)
                continue
            if conn.buf and not conn.closing:
                log.info("request header timeout from %s: answering 408", conn.peer_host)
                message = f"the request head did not arrive within {self.config.header_timeout:g} seconds"
                line = accesslog.request_line_of(conn.buf, self.config.max_request_line)
                conn.send_now(refusal(408, message, self.config, conn.peer_host, line))
            conn.close()
            self._closed()

    def _orphaned(self) -> None:
        """The arbiter is gone (even SIGKILL closes its end of the pipe): stop accepting and leave soon."""
        assert self._supervision is not None
        self._selector.unregister(self._supervision.parent_fd())
        if not self._drain.requested:
            log.error("the parent process has gone: stopping this worker process")
        self.shutdown(self._supervision.orphan_grace)
        self._drain.shorten(time.monotonic() + self._supervision.orphan_grace)  # if already draining

    # --- what the drain (server.drain) does through the dispatcher ---------------------------------------

    def _stop_accepting(self) -> None:
        """Every response says Connection: close from now on; the listening sockets are closed."""
        self.handler.draining = True
        for listener in self._listeners:
            # Connections the kernel has completed (the accept backlog) were accepted as far as the
            # client can tell: take them and serve them, instead of resetting them with the socket.
            if not self._paused:
                self._accept(listener)
            if not self._paused:
                self._selector.unregister(listener.sock)
            listener.close()

    def _close_parked(self, conn: Connection) -> None:
        self._unpark(conn)
        conn.close()
        self._closed()

    def _stop_threads(self) -> None:
        for _ in self._threads:
            self._work.put(None)

    def _parked(self) -> list[Connection | Handshake]:
        return [key.data for key in self._selector.get_map().values()
                if isinstance(key.data, (Connection, Handshake))]  # fmt: skip

    def _close_all(self) -> None:
        """Close what is left: parked connections, hand-backs not yet taken, connections never served."""
        leftovers = self._parked() + self._returns.leftovers() + take_all(self._work)
        for conn in leftovers:
            if conn is not None:  # a worker's stop sentinel
                conn.close()
        for listener in self._listeners:
            listener.close()
        self._selector.close()
        self._returns.close()
        self._returns.run_calls()  # asked for after the last tick

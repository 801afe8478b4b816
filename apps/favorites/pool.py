"""A small connection pool whose lock is never held across network I/O, with bounded waits.

Why our own (it replaced DBUtils' PooledDB): PooledDB pings on every checkout and rolls back on every
return while holding its one pool lock, so each page paid two extra round trips and, with the database
hung, every thread queued behind one stuck ping with no bound on the wait. Here:

- the lock guards only the list of idle connections and the count of open ones: connecting, pinging,
  rolling back and closing happen outside it;
- waiting for a free connection is bounded (`wait_timeout`), then PoolTimeout: the page answers 503;
- a connection is pinged only when it sat idle longer than `ping_after` seconds, when another connection
  failed after it was put back (`suspect()`: the database may have restarted), or when a local poll of
  its socket shows something to read (the server closed it); the ping has a short `ping_timeout`;
- a connection goes back without a round trip unless a transaction is still open (then one ROLLBACK),
  and a broken one is closed and its slot freed.

The pool knows PyMySQL connections only through `open`, `ping`, `rollback`, `close` and `server_status`.
"""

from __future__ import annotations

import contextlib
import logging
import select
import threading
import time
from collections.abc import Callable
from typing import Any

from pymysql.constants import SERVER_STATUS

__all__ = ["Pool", "PoolTimeout"]

log = logging.getLogger(__name__)


class PoolTimeout(Exception):
    """No connection became free within the pool's wait timeout."""


class Pool:
    """At most `size` connections made by `connect()`; `acquire()` one, `release()` it when done."""

    def __init__(self, connect: Callable[[], Any], *, size: int, wait_timeout: float, ping_after: float,
                 ping_timeout: float, read_timeout: float) -> None:  # fmt: skip
        if size < 1:
            raise ValueError("a pool needs room for at least one connection")
        self._connect = connect
        self.size = size
        self.wait_timeout = wait_timeout
        self.ping_after = ping_after
        self.ping_timeout = ping_timeout
        self.read_timeout = read_timeout     # restored on the socket after a ping with ping_timeout
        self._idle: list[tuple[Any, float]] = []   # (connection, monotonic time it was put back); LIFO
        self._open = 0                       # idle + checked out + being connected
        self._suspect_before = 0.0           # idle connections put back before this get pinged
        self._cond = threading.Condition(threading.Lock())
        self._closed = False

    @property
    def open_connections(self) -> int:
        return self._open

    @property
    def idle_connections(self) -> int:
        return len(self._idle)

    def acquire(self) -> Any:
        """A live connection; raises PoolTimeout, or the driver's error when connecting fails."""
        deadline = time.monotonic() + self.wait_timeout
        with self._cond:
            while True:
                if self._closed:
                    raise PoolTimeout("the pool is closed")
                if self._idle:
                    con, since = self._idle.pop()  # the warmest one: its server thread is likely cached
                    break
                if self._open < self.size:
                    self._open += 1
                    con, since = None, 0.0
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise PoolTimeout(f"no free database connection within {self.wait_timeout:g} s")
                self._cond.wait(remaining)
            suspect = since < self._suspect_before
        # The slot is ours from here on; everything below may touch the network, so no lock.
        try:
            if con is None:
                return self._connect()
            if suspect or time.monotonic() - since > self.ping_after or not self._looks_alive(con):
                return self._checked(con)
            return con
        except BaseException:
            self._free_slot()
            raise

    def _looks_alive(self, con: Any) -> bool:
        """False when the server may have closed the connection (a restart, a KILL): a local check, no
        round trip. A healthy idle connection has nothing to read; one the server closed is readable
        (its FIN, maybe a last error packet first). One poll(2) with no wait: the socket's blocking mode
        and timeout stay as they are. The caller pings a connection this says False for.
        """
        sock = getattr(con, "_sock", None)
        if sock is None:
            return False
        poller = select.poll()
        try:
            poller.register(sock, select.POLLIN)
            return not poller.poll(0)
        except (OSError, ValueError):  # ValueError: the socket was closed (fileno -1)
            return False

    def _checked(self, con: Any) -> Any:
        """`con` if it answers a ping within ping_timeout, else a new connection."""
        try:
            sock = getattr(con, "_sock", None)  # PyMySQL has no per-call timeout; set the socket's own
            if sock is not None:
                sock.settimeout(self.ping_timeout)
            con.ping(reconnect=False)
            if sock is not None:
                sock.settimeout(self.read_timeout)
            return con
        except Exception as exc:
            log.info("a pooled connection failed its ping (%s); connecting anew", exc)
            self._close_quietly(con)
            return self._connect()

    def release(self, con: Any) -> None:
        """Give a connection back; a broken one, or one whose ROLLBACK fails, is closed instead."""
        reusable = bool(getattr(con, "open", False)) and not self._closed
        if reusable and con.server_status & SERVER_STATUS.SERVER_STATUS_IN_TRANS:
            try:
                con.rollback()  # only here: after autocommit reads there is nothing to roll back
            except Exception:
                reusable = False
        if not reusable:
            self._close_quietly(con)
            self._free_slot()
            return
        with self._cond:
            self._idle.append((con, time.monotonic()))
            self._cond.notify()

    def suspect(self) -> None:
        """A connection just failed: ping the idle ones before use (the database may have restarted)."""
        with self._cond:
            self._suspect_before = time.monotonic()

    def close(self) -> None:
        """Close the idle connections; connections still checked out are closed when released."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._open -= len(idle)
            self._cond.notify_all()
        for con, _ in idle:
            self._close_quietly(con)

    def _free_slot(self) -> None:
        with self._cond:
            self._open -= 1
            self._cond.notify()

    @staticmethod
    def _close_quietly(con: Any) -> None:
        with contextlib.suppress(Exception):
            con.close()

"""A worker thread's job: serve a connection's requests while they keep coming, then hand it back.

    work queue ──► serve(conn): parse a head ──► WSGIHandler ──► more bytes buffered? (pipelining) loop
                                │ nothing buffered: linger up to keepalive_linger if no one else waits
                                └──► idle or a half-sent head ──► dispatcher.park(conn)   (back to epoll)
                                     finished / error          ──► dispatcher.release(conn) (closed)

A busy keep-alive connection therefore costs one recv per request and no hand-off between threads; only
idle connections go back to the poller, where they cost memory, not a thread (DESIGN.md, c10k).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from typing import Protocol

from server.accesslog import request_line_of
from server.body_spool import BodyPending
from server.connection import ClientDisconnected, Connection
from server.http11 import ProtocolError
from server.responses import refusal
from server.wsgi import WSGIHandler

__all__ = ["worker_loop"]

log = logging.getLogger(__name__)


class _Pool(Protocol):
    """What a worker needs from the dispatcher (all thread-safe)."""

    handler: WSGIHandler
    linger: float

    def next_connection(self) -> Connection | None: ...
    def may_linger(self) -> bool: ...
    def park(self, conn: Connection) -> None: ...
    def release(self, conn: Connection) -> None: ...
    def worker_exited(self) -> None: ...


def worker_loop(pool: _Pool) -> None:
    """The body of each worker thread: serve connections until the stop sentinel (None) arrives."""
    next_connection = pool.next_connection
    handler = pool.handler
    if handler.config.batch_scheduling:
        _batch_scheduling()
    try:
        while (conn := next_connection()) is not None:
            try:
                _serve(conn, handler, pool)
            except Exception:  # a bug here must cost one connection, not a worker thread
                log.exception("internal error while serving %s", conn.peer_host)
                pool.release(conn)
    finally:
        pool.worker_exited()


def _batch_scheduling() -> None:
    """Put the calling thread under SCHED_BATCH (Linux; see `Config.batch_scheduling` for why)."""
    policy = getattr(os, "SCHED_BATCH", None)
    if policy is None:
        return
    try:
        os.sched_setscheduler(0, policy, os.sched_param(0))  # 0: this thread (a Linux task)
    except OSError as exc:  # e.g. a seccomp profile that forbids it: serve anyway
        log.debug("cannot set SCHED_BATCH: %s", exc)


def _linger(conn: Connection, pool: _Pool) -> bool:
    """Keep waiting up to keepalive_linger for the next request, while no other connection needs a worker.

    Called after a first blocking recv step (in `_serve`) came back empty: a busy client's next request
    usually arrives within that step, so the common case costs one system call and no call here.
    """
    deadline = time.monotonic() + pool.linger
    while pool.may_linger():
        if conn.fill(True):
            return True
        if time.monotonic() >= deadline:
            return False
    return False


def _serve(conn: Connection, handler: WSGIHandler, pool: _Pool) -> None:
    buf = conn.buf
    parser = conn.parser
    try:
        spool = conn.receiving
        if spool is not None:  # back from the dispatcher with the whole body: serve that request first
            conn.receiving = None
            keep_alive = handler(conn, spool.head, spool)
            conn.requests += 1
            if not keep_alive:
                pool.release(conn)
                return
        while True:
            if buf:
                head = parser.maybe_read(buf)
                if head is not None:
                    conn.head_started = 0.0
                    keep_alive = handler(conn, head)
                    conn.requests += 1
                    if keep_alive:
                        continue
                    break
                # Part of a head: a slow client. Take what is already here, else park it at once (its
                # header_timeout keeps running from the first byte) rather than hold a thread for it.
                if not conn.head_started:
                    conn.head_started = time.monotonic()
                if conn.fill(False):
                    continue
                pool.park(conn)
                return
            if pool.may_linger():
                if conn.fill(True) or _linger(conn, pool):
                    continue
            elif conn.fill(False):
                continue
            pool.park(conn)
            return
    except ProtocolError as exc:
        log.info("bad request from %s: %s (%d)", conn.peer_host, exc, exc.status)
        conn.unread = True
        config = handler.config
        line = request_line_of(conn.buf, config.max_request_line)  # a refused head is left in buf
        with contextlib.suppress(ClientDisconnected):
            conn.send(refusal(exc.status, str(exc), config, conn.peer_host, line))
    except BodyPending:  # the body is on its way: the dispatcher receives it, no thread waits for it
        pool.park(conn)
        return
    except ClientDisconnected:
        conn.unread = False
        conn.buf.clear()
    pool.release(conn)

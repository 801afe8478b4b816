"""`--workers N`: N pre-forked processes share one listening socket (gunicorn's arbiter, much smaller).

    parent (Arbiter): binds, forks N children, waits; a child that dies is replaced;
                      SIGTERM/SIGINT -> SIGTERM to every child, wait for their drains, exit.
    child:            a whole single-process server (dispatcher + worker threads) on the shared socket;
                      the kernel spreads new connections across the children's accept() calls.

The parent starts no threads, so fork() never copies a lock held by another thread.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from server.serving import Server

__all__ = ["Arbiter"]

log = logging.getLogger(__name__)

_KILL_MARGIN = 5.0  # seconds past graceful_timeout before stuck children are killed outright
_MIN_LIFETIME = 1.0  # a child dying sooner than this is failing at start-up: stop, do not fork in a loop


class Arbiter:
    """The parent process in multi-process mode."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.workers = server.config.workers
        self._children: dict[int, float] = {}  # pid -> monotonic start time
        self._stopping = False
        self._failed = False

    def run(self) -> None:
        """Fork the children, keep their number up, and return once all have exited after stop().

        Raises RuntimeError if children fail as soon as they start (forking more would only loop).
        """
        signal.signal(signal.SIGALRM, self._kill_children)
        for _ in range(self.workers):
            self._spawn()
        while self._children:
            try:
                pid, status = os.wait()  # PEP 475: retried after a signal handler runs
            except ChildProcessError:
                break
            if pid not in self._children:
                continue
            started = self._children.pop(pid)
            if self._stopping:
                continue
            if not os.WIFSIGNALED(status) and time.monotonic() - started < _MIN_LIFETIME:
                log.error("worker process %d failed at start-up (%s); stopping", pid, _describe(status))
                self._failed = True
                self.stop()
                continue
            log.error("worker process %d exited unexpectedly (%s); starting another", pid, _describe(status))
            self._spawn()
        signal.alarm(0)
        self.server.close()  # every listener; the parent removes its unix socket files
        log.info("all worker processes have exited")
        if self._failed:
            raise RuntimeError("worker processes failed at start-up (see the log above)")

    def stop(self) -> None:
        """Ask every child to drain (SIGTERM); kill those still running after the graceful timeout."""
        if self._stopping:
            return
        self._stopping = True
        for pid in list(self._children):
            _signal(pid, signal.SIGTERM)
        signal.alarm(math.ceil(self.server.config.graceful_timeout + _KILL_MARGIN))

    def _spawn(self) -> None:
        pid = os.fork()
        if pid:
            self._children[pid] = time.monotonic()
            return
        # The child: forget the parent's role, serve on the inherited socket, never return into the
        # parent's code (os._exit skips its atexit handlers and finally blocks).
        code = 0
        try:
            self.server._arbiter = None
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            log.info("worker process %d serving", os.getpid())
            self.server.serve_in_this_process()
        except BaseException:
            log.exception("worker process %d failed", os.getpid())
            code = 1
        finally:
            logging.shutdown()
            os._exit(code)

    def _kill_children(self, signum: int, frame: object) -> None:
        for pid in list(self._children):
            _signal(pid, signal.SIGKILL)


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"

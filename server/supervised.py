"""A worker process's side of the arbiter: its two pipes, its signals, its request count.

    arbiter ──life pipe (never written; EOF = the arbiter died, even by SIGKILL)──► dispatcher's selector
    arbiter ◄──status pipe, one byte per message────────────────────────────────── this worker
               R ready (app imported, listeners in the selector)   . heartbeat (the dispatcher's tick)
               X retire me (--max-requests reached)                C a source file changed (--reload)

Writes are non-blocking single bytes (atomic on a pipe); a full or broken pipe drops the message rather
than ever blocking the dispatcher.

    arbiter ──RETIRE_SIGNAL (SIGTERM)──► a worker being replaced (SIGHUP, --max-requests, SIGTTOU; not
               under --reload, where the edited code must answer the browser's next request): it
               drains, and keeps its idle keep-alive connections until their keep-alive timeout, since
               their clients (a proxy's pool) may send on them at any moment while the address is served
    arbiter ──STOP_SIGNAL (SIGINT)─────► every worker when the server stops: it drains, and closes idle
               connections after drain_first_request, as a single-process server does on SIGTERM
"""

from __future__ import annotations

import contextlib
import faulthandler
import itertools
import os
import random
import signal
import sys
from collections.abc import Callable
from typing import Protocol

__all__ = ["BOOT_ERROR", "DUMP_SIGNAL", "RETIRE_SIGNAL", "STOP_SIGNAL", "Supervision", "WorkerLink",
           "count_requests", "worker_signals"]

BOOT_ERROR = 3  # exit status of a worker that could not load the app (gunicorn's WORKER_BOOT_ERROR)
DUMP_SIGNAL = signal.SIGUSR2  # the arbiter sends it before killing a silent worker: stacks to stderr
RETIRE_SIGNAL = signal.SIGTERM  # drain: this worker is replaced, the address stays served
STOP_SIGNAL = signal.SIGINT  # drain: the whole server stops

READY, BEAT, RETIRE, CHANGED = b"R", b".", b"X", b"C"


class Supervision(Protocol):
    """What the dispatcher of a supervised worker process reports to, and hears from, its parent
    (WorkerLink below is the one implementation)."""

    interval: float  # seconds between heartbeats
    orphan_grace: float  # seconds requests in flight get once the parent is gone

    def parent_fd(self) -> int: ...  # readable at EOF when the parent has died
    def ready(self) -> None: ...  # the app is imported and the listeners are in the selector
    def beat(self) -> None: ...


class WorkerLink:
    """The pipe ends one worker process holds; also the dispatcher's `Supervision`."""

    def __init__(self, status_fd: int, life_fd: int, interval: float, orphan_grace: float) -> None:
        self._status = status_fd
        self._life = life_fd
        self.interval = interval
        self.orphan_grace = orphan_grace
        self._retired = False
        os.set_blocking(status_fd, False)

    def parent_fd(self) -> int:
        return self._life

    def ready(self) -> None:
        self._send(READY)

    def beat(self) -> None:
        self._send(BEAT)

    def retire(self) -> None:
        """Ask (once) to be replaced: the arbiter starts a new worker, then drains this one."""
        if not self._retired:
            self._retired = True
            self._send(RETIRE)

    def changed(self) -> None:
        self._send(CHANGED)

    def _send(self, message: bytes) -> bool:
        try:
            os.write(self._status, message)
        except OSError:  # EAGAIN (the arbiter is not reading) or EPIPE (it is gone): never block
            return False
        return True


def count_requests(app: Callable, limit: int, jitter: int, on_limit: Callable[[], None]) -> Callable:
    """`app`, calling `on_limit` once after about `limit` (+ random 0..`jitter`) requests.

    Installed only when --max-requests is set; `next()` on an itertools.count is atomic under the GIL,
    so worker threads need no lock.
    """
    target = limit + random.randint(0, jitter)  # random is reseeded in every forked child (os.fork)
    counter = itertools.count(1)

    def counted(environ: dict, start_response: Callable) -> object:
        if next(counter) == target:
            on_limit()
        return app(environ, start_response)

    return counted


def worker_signals(reopen_logs: Callable[[], None]) -> None:
    """A fresh worker's signal dispositions (before it imports the app; serving.py then adds TERM/INT).

    HUP/TTIN/TTOU are the arbiter's (a `kill -HUP` to the process group must not stop workers); USR1
    reopens this process's log files; DUMP_SIGNAL writes every thread's stack to stderr from C, so it
    works even while a thread holds the GIL; TERM/INT end a worker still importing the app at once.
    """
    for signum in (signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU):
        signal.signal(signum, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGUSR1, lambda signum, frame: reopen_logs())
    faulthandler.register(DUMP_SIGNAL, file=sys.stderr, all_threads=True)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_during_boot)


def _exit_during_boot(signum: int, frame: object) -> None:
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    os._exit(0)

"""The arbiter: the parent process of `--workers N`. It knows processes, pipes and signals, not HTTP.

    arbiter (never serves, never imports the app; holds the listening sockets made before forking)
      │ fork ──► worker: boot(link) imports the app itself, serves the inherited listeners, exits
      │ ◄── status pipe per worker: R ready, . heartbeat, X retire me, C files changed (supervised.py)
      └──► life pipe (one, never written): its EOF tells every worker that the arbiter has died

The arbiter keeps `workers` ready workers of the current *generation*:
- SIGHUP starts a new generation: one new worker is forked; only once it reports ready is one old worker
  sent RETIRE_SIGNAL (it stops accepting and drains, keeping idle keep-alive connections until their
  timeout: supervised.py); repeat. Never fewer than N serving, so no request fails.
  A new worker that cannot import the app (exit status BOOT_ERROR) leaves the old ones serving; the
  traceback is in the log and a later SIGHUP tries again.
- SIGTTIN / SIGTTOU: one worker more / less (never below 1). SIGUSR1: reopen log files, here and in
  every worker. SIGTERM / SIGINT: close our listener copies, STOP_SIGNAL to every worker (retiring ones
  too: they stop waiting for idle connections), wait for the drains.
- A worker whose heartbeat stops for `worker_timeout` gets DUMP_SIGNAL (its threads' stacks go to the
  error log) and SIGKILL a moment later, and is replaced. A worker that dies is replaced.

Signals only write their number to a pipe (signal.set_wakeup_fd); all work happens in the loop, so no
handler ever interrupts the arbiter half-way through changing its state. The arbiter starts no threads,
so fork() never copies a lock held by another thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from server.config import Config
from server.supervised import (
    BOOT_ERROR,
    CHANGED,
    DUMP_SIGNAL,
    READY,
    RETIRE,
    RETIRE_SIGNAL,
    STOP_SIGNAL,
    WorkerLink,
)

__all__ = ["Arbiter", "BootError"]

log = logging.getLogger(__name__)

_KILL_MARGIN = 5.0  # seconds past graceful_timeout before a draining worker is killed outright
_DUMP_GRACE = 1.0  # seconds between DUMP_SIGNAL and SIGKILL: faulthandler writes in microseconds
_BOOT_RETRY = 5.0  # while the current code fails to import, a missing worker is retried this often
_TICK = 1.0  # the loop wakes at least this often to check heartbeats and kill deadlines
_SIGNALS = (signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU, signal.SIGUSR1, signal.SIGTERM, signal.SIGINT,
            signal.SIGCHLD)  # fmt: skip


@dataclass(eq=False)
class _Worker:
    pid: int
    status: int  # read end of its status pipe (-1 once closed)
    generation: int
    started: float
    last_beat: float
    ready: bool = False
    retiring: bool = False  # asked to be replaced (--max-requests)
    stopping: bool = False  # RETIRE_ or STOP_SIGNAL (drain) or DUMP_SIGNAL sent: no longer serving
    kill_at: float | None = None


class Arbiter:
    """Runs `boot(link)` in `config.workers` forked processes and supervises them until stopped."""

    def __init__(self, listeners: list[socket.socket], boot: Callable[[WorkerLink], None], config: Config,
                 reopen_logs: Callable[[], None] = lambda: None) -> None:  # fmt: skip
        self.listeners = listeners
        self.workers = config.workers
        self.config = config
        self._boot = boot
        self._reopen_logs = reopen_logs
        self._children: dict[int, _Worker] = {}
        self._generation = 0
        self._failed_generation = -1  # the newest generation whose code did not import
        self._retry_at = 0.0
        self._ever_ready = False
        self._stopping = False
        self._failed = False
        self._selector = selectors.DefaultSelector()
        self._life_r = self._life_w = self._wake_r = self._wake_w = -1

    # --- the loop ------------------------------------------------------------------------------------------

    def run(self) -> None:
        """Supervise until SIGTERM/SIGINT (or stop()) and every worker's exit.

        Raises RuntimeError if the first workers cannot load the app (nothing would ever serve).
        """
        self._life_r, self._life_w = os.pipe()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        previous_fd = signal.set_wakeup_fd(self._wake_w)
        previous = {signum: signal.signal(signum, _noop) for signum in _SIGNALS}
        try:
            if not self._stopping:
                self._reconcile(time.monotonic())
            while self._children or not self._stopping:
                self._step()
        finally:
            signal.set_wakeup_fd(previous_fd)
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self._close_listeners()
            self._selector.close()
            for fd in (self._life_r, self._life_w, self._wake_r, self._wake_w):
                os.close(fd)
            self._wake_w = -1
        log.info("all worker processes have exited")
        if self._failed:
            raise RuntimeError("the worker processes could not load the app (see the log above)")

    def stop(self) -> None:
        """Graceful shutdown, as SIGTERM; safe from any thread and from a signal handler."""
        if self._wake_w >= 0:
            with contextlib.suppress(OSError):
                os.write(self._wake_w, bytes([signal.SIGTERM]))
        else:  # not running yet
            self._stopping = True

    def _stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        log.info("shutting down: closing the listening sockets, draining %d worker processes",
                 len(self._children))  # fmt: skip
        self._close_listeners()  # from now on the kernel refuses new connections once workers close theirs
        now = time.monotonic()
        for worker in self._children.values():
            if not worker.stopping:
                self._terminate(worker, now, STOP_SIGNAL)
            else:  # retiring (or being killed): no more waiting for its idle keep-alive connections
                _signal(worker.pid, STOP_SIGNAL)

    def _step(self) -> None:
        for key, _ in self._selector.select(_TICK):
            if key.fd == self._wake_r:
                self._take_signals()
            else:
                self._read_status(key.data)
        now = time.monotonic()
        self._reap(now)
        self._check_deadlines(now)
        if not self._stopping:
            self._reconcile(now)

    def _take_signals(self) -> None:
        try:
            data = os.read(self._wake_r, 4096)
        except BlockingIOError:
            return
        for signum in data:  # set_wakeup_fd writes one byte per signal: its number
            if signum in (signal.SIGTERM, signal.SIGINT):
                self._stop()
            elif self._stopping or signum == signal.SIGCHLD:
                continue  # children are reaped every step
            elif signum == signal.SIGHUP:
                self._reload("SIGHUP")
            elif signum == signal.SIGTTIN:
                self.workers += 1
                log.info("SIGTTIN: now %d worker processes", self.workers)
            elif signum == signal.SIGTTOU:
                self.workers = max(1, self.workers - 1)
                log.info("SIGTTOU: now %d worker processes", self.workers)
            elif signum == signal.SIGUSR1:
                log.info("SIGUSR1: reopening the log files")
                self._reopen_logs()
                for worker in self._children.values():
                    _signal(worker.pid, signal.SIGUSR1)

    def _reload(self, why: str) -> None:
        self._generation += 1
        log.info("%s: loading the app afresh in new worker processes, replacing the old ones one by one "
                 "(generation %d)", why, self._generation)  # fmt: skip

    def _read_status(self, worker: _Worker) -> None:
        try:
            data = os.read(worker.status, 4096)
        except OSError:
            data = b""
        if not data:  # the worker has exited (or is exiting): the pipe's only writer is gone
            self._close_status(worker)
            return
        worker.last_beat = time.monotonic()  # every message counts as a heartbeat
        if READY in data and not worker.ready:
            worker.ready = True
            self._ever_ready = True
            log.info("worker process %d ready (generation %d)", worker.pid, worker.generation)
        if RETIRE in data and not worker.retiring:
            worker.retiring = True
            log.info("worker process %d reached --max-requests: replacing it", worker.pid)
        if CHANGED in data and worker.generation == self._generation and not self._stopping:
            self._reload("a watched file changed (--reload)")

    # --- keeping N workers -------------------------------------------------------------------------------

    def _reconcile(self, now: float) -> None:
        """Spawn or retire workers so that `workers` ready ones of the current generation serve."""
        generation = self._generation
        alive = [w for w in self._children.values() if not w.stopping]
        serving = [w for w in alive if w.ready]
        starting = [w for w in alive if not w.ready]
        current = [w for w in alive if w.generation == generation and not w.retiring]
        outdated = [w for w in serving if w.generation != generation or w.retiring]
        excess = len(serving) - self.workers
        if excess > 0:  # a replacement is ready (or SIGTTOU): drain the oldest outdated, then the oldest
            fresh = [w for w in serving if w not in outdated]
            # --reload (development): the edited code must answer the browser's next request, which
            # would otherwise come on an idle keep-alive connection the old worker keeps open.
            signum = STOP_SIGNAL if self.config.reload else RETIRE_SIGNAL
            for worker in (sorted(outdated, key=_age) + sorted(fresh, key=_age))[:excess]:
                self._terminate(worker, now, signum)
            return
        if self._failed_generation == generation:  # the code does not import: keep what serves
            if len(serving) + len(starting) < self.workers and now >= self._retry_at:
                self._retry_at = now + _BOOT_RETRY
                self._spawn(now)
            return
        missing = self.workers - len(current)
        if missing <= 0:
            return
        if outdated:  # rolling: one new worker at a time, each must be ready before an old one goes
            if not any(w.generation == generation for w in starting):
                self._spawn(now)
            return
        for _ in range(missing):
            self._spawn(now)

    def _terminate(self, worker: _Worker, now: float, signum: int) -> None:
        worker.stopping = True
        worker.kill_at = now + self.config.graceful_timeout + _KILL_MARGIN
        _signal(worker.pid, signum)

    def _check_deadlines(self, now: float) -> None:
        timeout = self.config.worker_timeout
        for worker in list(self._children.values()):
            if worker.kill_at is not None and now >= worker.kill_at:
                log.error("worker process %d did not exit in time: killing it", worker.pid)
                _signal(worker.pid, signal.SIGKILL)
                worker.kill_at = None
            elif not worker.stopping and timeout and now - worker.last_beat > timeout:
                worker.stopping = True
                if worker.ready:
                    log.error("worker process %d sent no heartbeat for %gs (--timeout): writing its "
                              "threads' stacks to the error log, then killing it", worker.pid, timeout)
                    _signal(worker.pid, DUMP_SIGNAL)
                    worker.kill_at = now + _DUMP_GRACE
                else:
                    log.error("worker process %d did not load the app within %gs (--timeout): killing it",
                              worker.pid, timeout)  # fmt: skip
                    self._failed_generation = worker.generation
                    _signal(worker.pid, signal.SIGKILL)

    def _reap(self, now: float) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            worker = self._children.pop(pid, None)
            if worker is None:
                continue
            self._close_status(worker)
            if worker.stopping or self._stopping:
                log.info("worker process %d has exited (%s)", pid, _describe(status))
            elif not worker.ready:
                self._boot_failed(worker, status)
            else:
                log.error("worker process %d exited unexpectedly (%s); starting another", pid,
                          _describe(status))  # fmt: skip

    def _boot_failed(self, worker: _Worker, status: int) -> None:
        self._failed_generation = worker.generation
        self._retry_at = time.monotonic() + _BOOT_RETRY
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == BOOT_ERROR:
            reason = "could not load the app (the traceback is above)"
        else:
            reason = f"failed while starting ({_describe(status)})"
        if not self._ever_ready:
            log.error("worker process %d %s; stopping", worker.pid, reason)
            self._failed = True
            self._stop()
        else:
            log.error("worker process %d %s; the running workers keep serving the code they loaded; "
                      "fix it and send SIGHUP again", worker.pid, reason)  # fmt: skip

    # --- processes ----------------------------------------------------------------------------------------

    def _spawn(self, now: float) -> None:
        status_r, status_w = os.pipe()
        # Signals wait (blocked) across the fork: a child runs the arbiter's handlers, which only note
        # the signal for the arbiter's loop, until boot() installs its own; a stop signal sent to it in
        # between would be lost, and the child would boot and serve until killed at graceful_timeout.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        pid = os.fork()
        if pid:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            os.close(status_w)
            worker = _Worker(pid, status_r, self._generation, now, now)
            self._children[pid] = worker
            self._selector.register(status_r, selectors.EVENT_READ, worker)
            return
        # The child: drop the arbiter's ends and state, run boot(), never return into the arbiter's code
        # (os._exit skips its atexit handlers and finally blocks).
        code = 0
        try:
            signal.set_wakeup_fd(-1)  # first: a signal must not reach the arbiter's loop from here
            for signum in (signal.SIGTERM, signal.SIGINT):  # until boot() says otherwise: ends it at once
                signal.signal(signum, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # the others stay ignored (_noop)
            os.close(status_r)
            others = [w.status for w in self._children.values() if w.status >= 0]
            for fd in (self._life_w, self._wake_r, self._wake_w, *others):
                os.close(fd)
            self._selector.close()  # the epoll fd only: the parent's registrations stay
            config = self.config
            link = WorkerLink(status_w, self._life_r, config.heartbeat_interval, config.orphan_grace)
            self._boot(link)
        except BootError:
            code = BOOT_ERROR
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            log.exception("worker process %d failed", os.getpid())
            code = 1
        finally:
            logging.shutdown()
            os._exit(code)

    def _close_status(self, worker: _Worker) -> None:
        if worker.status >= 0:
            self._selector.unregister(worker.status)
            os.close(worker.status)
            worker.status = -1

    def _close_listeners(self) -> None:
        for listener in self.listeners:
            listener.close()


class BootError(Exception):
    """Raised by a boot function whose app did not import; the worker exits with BOOT_ERROR."""


def _noop(signum: int, frame: object) -> None:
    """The real work happens in the loop, woken by the byte set_wakeup_fd writes."""


def _age(worker: _Worker) -> float:
    return worker.started


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"

"""Background processes of our own: started detached with a log file, found again and stopped by pid.

The cluster's parts outlive `python -m scripts.cluster up`, so `down` (another process) knows them only by
the pids in the state file. Each part runs in its own session (`start_new_session`): Ctrl-C in the shell
that started it reaches none of them, and a whole part (an arbiter and its workers, nginx and its
workers) can be signalled at once as a process group.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["DaemonError", "alive", "spawn", "stop", "wait_listening", "free_port_on"]

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.05  # how often to look at a starting or stopping process


class DaemonError(RuntimeError):
    """A process that would not start or stop; the message says where its log is."""


def free_port_on(host: str) -> int:
    """A TCP port free on `host` right now (any loopback address works on Linux: 127/8 is all on lo)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def spawn(args: Sequence[str], *, log_file: Path, env: Mapping[str, str] | None = None,
          cwd: Path | None = None) -> subprocess.Popen:
    """Start `args` in its own session, stdout and stderr appended to `log_file`."""
    with open(log_file, "ab") as out:
        return subprocess.Popen(list(args), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env=None if env is None else dict(env), cwd=cwd, start_new_session=True)


def alive(pid: int) -> bool:
    """True while `pid` runs; reaps it when it is our own child that has exited."""
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_listening(process: subprocess.Popen, host: str, port: int, *, timeout: float,
                   log_file: Path) -> None:
    """Return once something accepts on host:port; raise if `process` exits or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise DaemonError(f"{Path(process.args[0]).name} exited with {process.returncode} before "
                              f"listening on {host}:{port}; see {log_file}: {_tail(log_file)}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            return
        if time.monotonic() > deadline:
            raise DaemonError(f"nothing listened on {host}:{port} within {timeout:.0f} s; see {log_file}")
        time.sleep(POLL_INTERVAL)


def stop(pid: int, *, sig: int = signal.SIGTERM, timeout: float = 30.0, group: bool = True) -> bool:
    """Send `sig` to `pid` (its whole process group with `group`), wait; SIGKILL the group past `timeout`.

    Returns False when it was not running. Only pids from our own state file get here: each is the
    leader of a session we created, so its process group holds nothing but that part.
    """
    if not alive(pid):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            log.warning("pid %d did not stop within %.0f s; killing it", pid, timeout)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL) if group else os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + timeout
        time.sleep(POLL_INTERVAL)
    if group:  # leftovers of the group (workers of a killed parent) go with it
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    return True


def _tail(path: Path, lines: int = 5) -> str:
    with contextlib.suppress(OSError):
        return " / ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    return "(no log)"

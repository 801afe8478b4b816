"""Servers run as real subprocesses in tests: a free port, a wait until it listens, a clean stop.

Used wherever a test starts `python -m server …` (or gunicorn) the way a user would. "It listens" means
the started process itself holds a socket listening on the port (Linux: /proc), so a stale server left
on that port by an earlier run cannot stand in for it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 30.0  # readiness wait on a busy 2-core machine, not a performance assertion
STOP_TIMEOUT = 30.0  # SIGTERM drains in-flight requests first
_TCP_LISTEN = "0A"  # TCP_LISTEN in the st column of /proc/net/tcp (include/net/tcp_states.h)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running(command: Sequence[str], *, port: int, cwd: Path = ROOT, env: dict[str, str] | None = None,
            log: Path | None = None) -> Iterator[subprocess.Popen]:  # fmt: skip
    """Start `command`, yield once it accepts connections on `port`, then SIGTERM it (kill if it hangs).

    Its output goes to `log` (a temp file if none is given) and is quoted if it dies before listening.
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    if log is None:
        log = Path(tempfile.mkstemp(prefix="server-", suffix=".log")[1])
    with log.open("wb") as out:
        process = subprocess.Popen(list(command), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_until_listening(process, port, log)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def started(start: Callable[[], object], stop: Callable[[], object]) -> Iterator[None]:
    """`start()`, then `stop()` however the block ends (if `start()` raises, it is not called): the
    session's MariaDB (tests/favorites), the whole cluster (tests/cluster)."""
    start()
    try:
        yield
    finally:
        stop()


def _wait_until_listening(process: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            pytest.fail(f"{process.args[0]} exited with {process.returncode} before listening:\n"
                        + log.read_text(errors="replace")[-2000:])  # fmt: skip
        if _listens(process.pid, port):
            return
        if time.monotonic() > deadline:
            pytest.fail(f"process {process.pid} did not listen on port {port} within {START_TIMEOUT} s")
        time.sleep(0.05)


def _listens(pid: int, port: int) -> bool:
    """Whether process `pid` holds a TCP socket listening on `port` (any address, IPv4 or IPv6).

    The kernel's socket tables (/proc/PID/net/tcp, tcp6: the process's network namespace) give the
    inode of each listening socket; /proc/PID/fd links name the inodes of the sockets it holds.
    Without /proc, any listener on 127.0.0.1:port counts (the weaker check, the best available).
    """
    if not Path("/proc/self/net/tcp").exists():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False
    proc = Path(f"/proc/{pid}")
    return bool(_listening_inodes(proc, port) & _socket_inodes(proc))


def _listening_inodes(proc: Path, port: int) -> set[str]:
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            rows = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:  # no IPv6, or the process has just exited
            continue
        for row in rows:
            # sl local_address rem_address st ... inode: "0: 0100007F:1F90 00000000:0000 0A ..."
            fields = row.split()
            if fields[3] == _TCP_LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def _socket_inodes(proc: Path) -> set[str]:
    inodes = set()
    try:
        fds = list((proc / "fd").iterdir())
    except OSError:  # it has just exited
        return inodes
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes

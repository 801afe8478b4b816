"""Servers run as real subprocesses in tests: a free port, a wait until it listens, a clean stop.

Used wherever a test starts `python -m server …` (or gunicorn) the way a user would.
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
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"nothing listened on port {port} within {START_TIMEOUT} s")
            time.sleep(0.05)

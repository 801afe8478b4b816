"""A stop signal ends the single-process server whichever of its threads the kernel delivers it to.

`kill` aimed at a thread id (Linux) delivers the process signal to that thread, as the kernel may do
on its own when the main thread is busy; the handler still has to run, on the main thread, at once.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.server.client import WAIT
from tests.server.test_arbiter import Served, _write_app

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc/PID/task")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_delivered_to_a_worker_thread_stops_the_server(tmp_path, signum):
    _write_app(tmp_path, "v1")
    server = Served(tmp_path)  # --threads 4, no --workers
    try:
        server.wait_for("serving application on")
        assert server.get()[0] == 200  # the dispatcher runs: its worker threads exist
        pid = server.process.pid
        threads = [int(tid) for tid in os.listdir(f"/proc/{pid}/task") if int(tid) != pid]
        assert len(threads) >= 4
        os.kill(threads[-1], signum)  # nothing is parked: the main thread waits in select() untimed
        assert server.process.wait(WAIT) == 0
        assert "stopped" in server.text()
    finally:
        server.stop()

"""A stop ends the single-process server soon: whichever of its threads the kernel delivers the signal to,
and whatever state its connections are in.

`kill` aimed at a thread id (Linux) delivers the process signal to that thread, as the kernel may do
on its own when the main thread is busy; the handler still has to run, on the main thread, at once.
"""

from __future__ import annotations

import os
import signal
import socket
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


def test_a_stop_closes_idle_and_silent_connections_long_before_the_graceful_timeout(tmp_path):
    """Keep-alive and graceful timeouts far past WAIT: only the drain's first-request window may end them."""
    _write_app(tmp_path, "v1")
    server = Served(
        tmp_path, "--keepalive-timeout", "300", "--header-timeout", "300", "--graceful-timeout", "300"
    )
    clients = []
    try:
        server.wait_for("serving application on")
        for _ in range(3):  # idle keep-alive connections, one perhaps still held by a lingering worker
            idle = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
            idle.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert idle.recv(4096).startswith(b"HTTP/1.1 200")
            clients.append(idle)
        clients.append(socket.create_connection(("127.0.0.1", server.port), timeout=WAIT))  # silent
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(WAIT) == 0
        for client in clients:
            assert client.recv(4096) == b""  # closed by the server, not reset
    finally:
        for client in clients:
            client.close()
        server.stop()

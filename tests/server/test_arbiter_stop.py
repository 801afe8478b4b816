"""How worker processes stop: a drain's idle keep-alive connections (retiring or stopping), early signals.

A retiring worker's address goes on being served, so a client (nginx's upstream pool) may send its next
request on an idle keep-alive connection at any moment: the worker keeps it open until its keep-alive
timeout and answers a request on it with Connection: close, never closing it under a request on its
way (a proxy never retries a POST reset that way). A stopping server closes idle connections soon.
"""

from __future__ import annotations

import select
import signal
import socket
import subprocess
import sys

from tests.server import test_arbiter
from tests.server.client import ROOT, WAIT, ResponseReader
from tests.server.test_arbiter import _wait_gone, _write_app

served = test_arbiter.served  # the fixture: a server under the arbiter, stopped at the end

REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
PAST_FIRST_REQUEST_WINDOW = 3.0  # seconds: well past drain_first_request (1 s), when it used to close


def _idle_connection(port: int) -> tuple[socket.socket, ResponseReader, int]:
    """A keep-alive connection after one request, and the pid of the worker that answered it."""
    idle = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    reader = ResponseReader(idle)
    idle.sendall(REQUEST)
    response, body = reader.next()
    assert response.status == 200 and not response.will_close
    return idle, reader, int(body.split()[1])


def test_a_retiring_worker_keeps_an_idle_keep_alive_connection_and_answers_on_it(served, tmp_path):
    server = served("--workers", "1")
    idle, reader, old = _idle_connection(server.port)
    try:
        _write_app(tmp_path, "v2")
        server.process.send_signal(signal.SIGHUP)
        server.wait_for("ready (generation 1)")
        server.wait_for("keeping idle keep-alive connections")  # the old worker is draining
        readable, _, _ = select.select([idle], [], [], PAST_FIRST_REQUEST_WINDOW)
        assert not readable, "the retiring worker closed an idle keep-alive connection"
        idle.sendall(REQUEST)  # what nginx does with a connection from its pool
        response, body = reader.next()
        assert (response.status, body.split()[:2]) == (200, [b"v1", str(old).encode()])
        assert response.will_close  # the last one on this connection
        assert reader.rest() == b""  # then closed by the worker
    finally:
        idle.close()
    assert _wait_gone(old)  # nothing left open: the retired worker exits
    assert server.get()[1].split()[0] == "v2"


def test_stopping_the_server_closes_the_idle_connections_of_a_retiring_worker(served, tmp_path):
    # Timeouts longer than WAIT: only the stop signal to the retiring worker can end its drain in time.
    long = str(int(WAIT * 2))
    server = served("--workers", "1", "--keepalive-timeout", long, "--graceful-timeout", long)
    idle, reader, old = _idle_connection(server.port)
    try:
        _write_app(tmp_path, "v2")
        server.process.send_signal(signal.SIGHUP)
        server.wait_for("ready (generation 1)")
        server.wait_for("keeping idle keep-alive connections")
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(WAIT) == 0
        assert reader.rest() == b""
    finally:
        idle.close()
    assert _wait_gone(old)


def test_under_reload_an_edit_closes_the_old_workers_idle_connections(served, tmp_path):
    # Development: the browser's next request (on its idle keep-alive connection) must meet the edit.
    server = served("--reload", "--keepalive-timeout", str(int(WAIT * 2)))
    idle, reader, old = _idle_connection(server.port)
    try:
        _write_app(tmp_path, "v2")
        readable, _, _ = select.select([idle], [], [], WAIT)
        assert readable and reader.rest() == b"", "the old worker kept its idle connection"
    finally:
        idle.close()
    assert _wait_gone(old)
    assert server.get()[1].split()[0] == "v2"


EARLY_SIGTERM = """
import logging, os, signal, socket, sys, time
from server.arbiter import Arbiter
from server.config import Config

logging.basicConfig(level=logging.INFO, stream=sys.stderr)


def boot(link):
    arbiter = os.getppid()
    os.kill(os.getpid(), signal.SIGTERM)  # as if the arbiter's stop came before boot() set its handlers
    deadline = time.monotonic() + 60  # a worker that swallowed it would boot and serve: here, wait
    while os.getppid() == arbiter and time.monotonic() < deadline:  # (never outliving the arbiter)
        time.sleep(0.05)


listener = socket.create_server(("127.0.0.1", 0))
Arbiter([listener], boot, Config(workers=1, worker_timeout=0)).run()
"""


def test_a_stop_signal_before_the_worker_sets_its_own_handlers_ends_it():
    """It used to run the arbiter's handler (which only notes a signal for the arbiter's loop): lost.

    Then SIGTERM to a server that had just forked a worker (a --max-requests or SIGHUP replacement)
    waited graceful_timeout + 5 s for that worker to be killed.
    """
    process = subprocess.run([sys.executable, "-c", EARLY_SIGTERM], cwd=ROOT, capture_output=True,
                             text=True, timeout=WAIT)  # fmt: skip
    assert "failed while starting (killed by SIGTERM)" in process.stderr, process.stderr[-2000:]
    assert process.returncode == 1  # its first worker never started: the arbiter gives up

"""tests/processes.py's `running`: it waits for the started process itself to listen, not for any
listener on the port (a stale server left there by an earlier run must not make a test pass)."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from tests.processes import free_port, running

pytestmark = pytest.mark.skipif(not Path("/proc/self/net/tcp").exists(), reason="needs Linux /proc/net/tcp")

_LISTEN = """
import socket, sys, time
family, host, port = getattr(socket, sys.argv[1]), sys.argv[2], int(sys.argv[3])
server = socket.socket(family)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((host, port))
server.listen()
time.sleep(120)
"""


def test_a_stale_listener_on_the_port_does_not_count_as_the_started_process(tmp_path):
    stale = socket.socket()
    stale.bind(("127.0.0.1", 0))
    stale.listen()
    port = stale.getsockname()[1]
    try:
        # It never listens, and exits soon: `running` must report that, not yield to the stale one.
        command = [sys.executable, "-c", "import time; time.sleep(1)"]
        yielded = False
        with (
            pytest.raises(pytest.fail.Exception, match="exited with 0 before listening"),
            running(command, port=port, log=tmp_path / "never.log"),
        ):
            yielded = True  # the stale listener stood in for it
        assert not yielded
    finally:
        stale.close()


@pytest.mark.parametrize(("family", "host"), [("AF_INET", "127.0.0.1"), ("AF_INET6", "::1")])
def test_the_started_process_listening_is_waited_for(tmp_path, family, host):
    if family == "AF_INET6" and not socket.has_ipv6:
        pytest.skip("no IPv6")
    port = free_port()
    command = [sys.executable, "-c", _LISTEN, family, host, str(port)]
    with running(command, port=port, log=tmp_path / "listen.log") as process:
        assert process.poll() is None
        with socket.create_connection((host, port), timeout=10):
            pass  # it accepts connections (into its backlog) now

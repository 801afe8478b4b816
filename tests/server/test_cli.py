"""`python -m server` as a user runs it: arguments, exit codes, signals, graceful shutdown, --workers."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import threading

import pytest

from tests.server.client import WAIT, ResponseReader, free_port, run_cli, start_cli, wait_for_line


def test_help_documents_every_option():
    result = run_cli("--help")
    assert result.returncode == 0
    options = [
        "--host", "--threads", "--workers", "--header-timeout", "--body-timeout", "--keepalive-timeout",
        "--write-timeout", "--graceful-timeout", "--max-body-size", "--max-connections", "--access-log",
        "--no-access-log", "--log-level", "--trusted-proxy", "--timeout", "--max-requests",
        "--max-requests-jitter", "--reload", "--reload-extra", "--pid", "--access-logfile", "--error-logfile",
    ]  # fmt: skip
    for option in options:
        assert option in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["abc", "tests.server.wsgi_apps:hello"], "port must be a number from 1 to 65535"),
        (["0", "tests.server.wsgi_apps:hello"], "port must be a number from 1 to 65535"),
        (["70000", "tests.server.wsgi_apps:hello"], "port must be a number from 1 to 65535"),
        (["8899", "no_such_module_here:app"], "cannot import module 'no_such_module_here'"),
        (["8899", "tests.server.wsgi_apps"], "expected MODULE:APP"),
        (["8899", "tests.server.wsgi_apps:missing"], "has no attribute 'missing'"),
        (["8899", "tests.server.wsgi_apps:NOT_CALLABLE"], "is not callable"),
        (["8899", "tests.server.wsgi_apps:hello", "--threads", "0"], "at least 1"),
        (["8899", "tests.server.wsgi_apps:hello", "--max-body-size", "lots"], "expected a size"),
        (["8899"], "required"),
    ],
)
def test_bad_arguments_exit_2_with_usage(args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    assert "usage: python -m server" in result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_port_in_use_exits_1():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(str(port), "tests.server.wsgi_apps:hello")
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1 port {port}: address already in use" in result.stderr
    assert "Traceback" not in result.stderr


def _get(port: int, path: str = "/", host: str = "127.0.0.1") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(host, port, timeout=WAIT)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _stop(process, sig=signal.SIGTERM) -> tuple[str, str]:
    process.send_signal(sig)
    out, err = process.communicate(timeout=WAIT)
    return out, err


def test_serves_prints_its_url_and_exits_0_on_sigint():
    port = free_port()
    process = start_cli(str(port), "tests.server.wsgi_apps:hello")
    try:
        wait_for_line(process.stderr, f"http://127.0.0.1:{port}/")
        assert _get(port) == (200, b"Hello, World!")
        out, err = _stop(process, signal.SIGINT)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0
    assert '"GET / HTTP/1.1" 200 13' in out  # the access log line, on stdout


def test_ipv6_dual_stack_host():
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    port = free_port()
    process = start_cli(str(port), "tests.server.wsgi_apps:hello", "--host", "::", "--no-access-log")
    try:
        wait_for_line(process.stderr, f"http://[::]:{port}/")
        assert _get(port, host="::1") == (200, b"Hello, World!")
        assert _get(port, host="127.0.0.1") == (200, b"Hello, World!")
        out, _ = _stop(process)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0 and out == ""  # --no-access-log: nothing on stdout


def test_graceful_shutdown_finishes_requests_in_flight():
    """SIGTERM while ten slow requests run: all ten complete, new connections are refused, exit 0."""
    port = free_port()
    process = start_cli(str(port), "tests.server.wsgi_apps:slow", "--threads", "10", "--no-access-log")
    results: dict[int, tuple[int, bytes]] = {}
    try:
        wait_for_line(process.stderr, "serving")

        def one(i: int) -> None:
            results[i] = _get(port, f"/r{i}?1.0")

        threads = [threading.Thread(target=one, args=(i,)) for i in range(10)]
        for thread in threads:
            thread.start()
        for _ in range(10):
            wait_for_line(process.stderr, "started /r")  # every request is inside the app
        process.send_signal(signal.SIGTERM)
        for thread in threads:
            thread.join(WAIT)
        out, err = process.communicate(timeout=WAIT)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0
    assert results == {i: (200, f"done /r{i}".encode()) for i in range(10)}
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=WAIT).close()


def test_graceful_shutdown_closes_idle_keep_alive_connections():
    port = free_port()
    process = start_cli(str(port), "tests.server.wsgi_apps:hello", "--no-access-log")
    try:
        wait_for_line(process.stderr, "serving")
        idle = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        idle.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        response, body = ResponseReader(idle).next()  # the whole response, however many reads it takes
        assert (response.status, body) == (200, b"Hello, World!") and not response.will_close
        out, err = _stop(process)
        assert idle.recv(4096) == b""  # the server closed it
        idle.close()
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0


def _answering_pids(port: int, wanted: int = 2, attempts: int = 400) -> set[int]:
    """The worker pids seen answering fresh connections, once `wanted` distinct ones have answered.

    The kernel hands each new connection to whichever worker accepts first, so which one answers is
    not ours to choose: keep connecting (bounded) until both have been seen.
    """
    seen: set[int] = set()
    for _ in range(attempts):
        status, body = _get(port)
        assert status == 200
        seen.add(int(body))
        if len(seen) >= wanted:
            break
    return seen


def test_workers_prefork_shares_the_port_and_replaces_dead_workers():
    port = free_port()
    process = start_cli(str(port), "tests.server.wsgi_apps:pid", "--workers", "2", "--threads", "4",
                        "--no-access-log")  # fmt: skip
    try:
        wait_for_line(process.stderr, "serving")
        first = _answering_pids(port)
        assert len(first) == 2 and process.pid not in first  # two child processes, both accepting
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        wait_for_line(process.stderr, f"worker process {victim} exited unexpectedly")
        wait_for_line(process.stderr, "worker process")  # its replacement says it is serving
        second = _answering_pids(port)
        assert len(second) == 2 and victim not in second and first - {victim} <= second
        out, err = _stop(process)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0
    assert "all worker processes have exited" in err


def test_low_file_descriptor_limit_is_reported():
    import resource
    import subprocess
    import sys

    from tests.server.client import ROOT

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (300, 300))

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "server", str(port), "tests.server.wsgi_apps:hello", "--no-access-log"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=low_limit,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        lines = wait_for_line(process.stderr, "serving")
        lines += wait_for_line(process.stderr, "file descriptor limit")
        assert "lets this process hold only 44 connections, not max_connections=12000" in lines[-1]
        assert _get(port) == (200, b"Hello, World!")
        _stop(process)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0

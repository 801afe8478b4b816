"""The listening layer as a user meets it: --bind, unix sockets, socket activation, trusted proxies."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading

import pytest

from server import Config, Server
from tests.server import wsgi_apps as apps
from tests.server.client import ROOT, WAIT, free_port, read_all, run_cli, start_cli, wait_for_line

REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def _unix_exchange(path: str, data: bytes = REQUEST) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(WAIT)
        sock.connect(path)
        sock.sendall(data)
        return read_all(sock)


def _tcp_exchange(host: str, port: int, data: bytes = REQUEST) -> bytes:
    with socket.create_connection((host, port), timeout=WAIT) as sock:
        sock.sendall(data)
        return read_all(sock)


def _body_json(raw: bytes) -> dict:
    assert raw.startswith(b"HTTP/1.1 200 "), raw[:300]
    return json.loads(raw.partition(b"\r\n\r\n")[2])


def _stop(process: subprocess.Popen) -> tuple[str, str]:
    process.send_signal(signal.SIGTERM)
    return process.communicate(timeout=WAIT)


@pytest.fixture
def in_thread():
    """`in_thread(app, **config)`: a Server serving in a thread (any binds); stopped afterwards."""
    started: list[tuple[Server, threading.Thread]] = []

    def start(app, **changes) -> Server:
        server = Server(app, Config(access_log=False, threads=4).replace(**changes))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        started.append((server, thread))
        return server

    yield start
    for server, thread in started:
        server.shutdown()
        thread.join(WAIT)
        assert not thread.is_alive()


# --- --bind ------------------------------------------------------------------------------------------------


def test_several_binds_tcp_ipv6_and_unix(in_thread, tmp_path):
    path = str(tmp_path / "app.sock")
    binds = ["127.0.0.1:0", f"unix:{path}"]
    if socket.has_ipv6:
        binds.append("[::1]:0")
    server = in_thread(apps.echo_environ, binds=tuple(binds))
    assert [listener.name.split(":")[0] for listener in server.listeners][:2] == ["127.0.0.1", "unix"]
    tcp = _body_json(_tcp_exchange("127.0.0.1", server.port))
    assert tcp["REMOTE_ADDR"] == "127.0.0.1" and tcp["SERVER_PORT"] == str(server.port)
    unix = _body_json(_unix_exchange(path))
    # A unix-socket peer has no address: REMOTE_ADDR is "" (gunicorn's choice), REMOTE_PORT too.
    assert unix["REMOTE_ADDR"] == "" and unix["REMOTE_PORT"] == ""
    assert unix["SERVER_NAME"] == "localhost"
    if socket.has_ipv6:
        port6 = server.listeners[2].sock.getsockname()[1]
        assert _body_json(_tcp_exchange("::1", port6))["REMOTE_ADDR"] == "::1"


def test_unix_socket_mode_default_and_override(in_thread, tmp_path):
    default = tmp_path / "default.sock"
    in_thread(apps.hello, binds=(f"unix:{default}",))
    assert stat.S_IMODE(os.stat(default).st_mode) == 0o660
    custom = tmp_path / "custom.sock"
    in_thread(apps.hello, binds=(f"unix:{custom}",), unix_socket_mode=0o600)
    assert stat.S_IMODE(os.stat(custom).st_mode) == 0o600


def test_stale_socket_file_is_replaced_and_a_live_one_refused(in_thread, tmp_path):
    path = tmp_path / "app.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))  # bound, never listening: what a crashed server leaves behind
    stale.close()
    assert path.exists()
    in_thread(apps.hello, binds=(f"unix:{path}",))
    assert b"Hello, World!" in _unix_exchange(str(path))
    with pytest.raises(OSError, match="another server listens"):
        Server(apps.hello, Config(binds=(f"unix:{path}",)))
    assert b"Hello, World!" in _unix_exchange(str(path))  # the live server's file was left alone
    regular = tmp_path / "file.txt"
    regular.write_text("not a socket")
    with pytest.raises(OSError, match="not a socket"):
        Server(apps.hello, Config(binds=(f"unix:{regular}",)))
    assert regular.read_text() == "not a socket"


@pytest.mark.parametrize("mode", [(), ("--workers", "2")], ids=["single", "arbiter"])
def test_cli_unix_socket_without_port_serves_and_removes_its_file(tmp_path, mode):
    path = tmp_path / "app.sock"
    process = start_cli("--bind", f"unix:{path}", *mode, "tests.server.wsgi_apps:hello")
    try:
        wait_for_line(process.stderr, f"unix:{path}")
        assert _unix_exchange(str(path)).endswith(b"Hello, World!")
        out, err = _stop(process)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0, err
    assert not path.exists()  # removed on exit
    assert '"GET / HTTP/1.1" 200 13' in out


def test_cli_port_and_binds_together():
    port, other = free_port(), free_port()
    process = start_cli(str(port), "tests.server.wsgi_apps:hello", "--bind", f"127.0.0.1:{other}",
                        "--no-access-log")  # fmt: skip
    try:
        wait_for_line(process.stderr, f"http://127.0.0.1:{other}/")
        for each in (port, other):
            assert _tcp_exchange("127.0.0.1", each).endswith(b"Hello, World!")
        _stop(process)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tests.server.wsgi_apps:hello"], "nothing to listen on"),
        (["--bind", "localhost", "tests.server.wsgi_apps:hello"], "expected HOST:PORT"),
        (["--bind", "[::1]8899", "tests.server.wsgi_apps:hello"], "expected [IPv6]:PORT"),
        (["--bind", "127.0.0.1:99999", "tests.server.wsgi_apps:hello"], "port must be a number"),
        (["--bind", "unix:", "tests.server.wsgi_apps:hello"], "needs a socket path"),
        (["8899", "tests.server.wsgi_apps:hello", "--unix-socket-mode", "999"], "octal file mode"),
        (["8899", "tests.server.wsgi_apps:hello", "--trusted-proxy", "*"], "not an IP address or CIDR"),
        (["8899", "tests.server.wsgi_apps:hello", "--trusted-proxy", "localhost"], "not an IP address"),
        (["8899", "tests.server.wsgi_apps:hello", "--trusted-proxy", "10.0.0.0/33"], "not an IP address"),
        (["8899", "tests.server.wsgi_apps:hello", "--trusted-proxy", "10.0.0.l"], "not an IP address"),
    ],
)
def test_bad_listening_arguments_exit_2(args, message):
    result = run_cli(*args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_unix_socket_in_use_exits_1(tmp_path):
    path = tmp_path / "taken.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as taken:
        taken.bind(str(path))
        taken.listen()
        result = run_cli("--bind", f"unix:{path}", "tests.server.wsgi_apps:hello")
    assert result.returncode == 1
    assert f"cannot listen on unix:{path}: address already in use" in result.stderr


# --- systemd socket activation -----------------------------------------------------------------------------


def _activated(sock: socket.socket, *args: str) -> subprocess.Popen:
    """`python -m server ARGS` started as systemd would: the socket at fd 3, LISTEN_FDS=1, LISTEN_PID.

    `sh -c 'LISTEN_PID=$$ exec ...'` gives the variable the pid python will have (exec keeps it).
    """
    fd = sock.fileno()
    return subprocess.Popen(
        ["sh", "-c", 'LISTEN_PID=$$ exec "$@"', "sh", sys.executable, "-m", "server", *args],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "LISTEN_FDS": "1"},
        pass_fds=(fd, 3), preexec_fn=lambda: os.dup2(fd, 3),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_socket_activation_serves_the_inherited_socket_and_binds_nothing_else():
    listening = socket.create_server(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    process = _activated(listening, "tests.server.wsgi_apps:echo_environ", "--no-access-log")
    try:
        lines = wait_for_line(process.stderr, "serving echo_environ on")
        info = _body_json(_tcp_exchange("127.0.0.1", port))
        assert info["SERVER_PORT"] == str(port)
        # The environment was for the server alone: not passed on to what the app might start.
        assert "LISTEN_PID" not in info and "LISTEN_FDS" not in info
        _stop(process)
    finally:
        process.kill()
        process.wait()
        listening.close()
    serving = lines[-1]
    assert f"http://127.0.0.1:{port}/" in serving and serving.count("://") == 1, serving  # nothing else
    assert process.returncode == 0


def test_socket_activation_for_another_pid_is_ignored():
    listening = socket.create_server(("127.0.0.1", 0))
    env = {"LISTEN_PID": "1", "LISTEN_FDS": "1"}  # meant for another process: nothing to listen on
    result = subprocess.run(
        [sys.executable, "-m", "server", "tests.server.wsgi_apps:hello"], cwd=ROOT, capture_output=True,
        text=True, timeout=WAIT, env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    )  # fmt: skip
    listening.close()
    assert result.returncode == 2 and "nothing to listen on" in result.stderr


# --- behind a proxy ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trusted", "headers", "expected"),
    [
        # CIDR ranges: the peer 127.0.0.1 and the hop 10.1.2.3 are proxies; the client is left of them.
        (("127.0.0.0/8", "10.0.0.0/8"), b"X-Forwarded-For: 203.0.113.9, 10.1.2.3\r\n",
         ("203.0.113.9", "http")),
        (("127.0.0.1",), b"X-Forwarded-For: 203.0.113.9, 10.1.2.3\r\n", ("10.1.2.3", "http")),
        (("10.0.0.0/8",), b"X-Forwarded-For: 203.0.113.9\r\n", ("127.0.0.1", "http")),  # peer untrusted
        # RFC 7239 Forwarded, preferred over X-Forwarded-*; proto of the client's own hop.
        (("127.0.0.1",), b'Forwarded: for=198.51.100.7;proto=https\r\nX-Forwarded-For: 1.1.1.1\r\n',
         ("198.51.100.7", "https")),
        (("127.0.0.1", "10.0.0.0/8"),
         b'Forwarded: for="[2001:db8::17]:4711";proto=https, for=10.0.0.2;proto=http\r\n',
         ("2001:db8::17", "https")),
        (("127.0.0.1",), b"Forwarded: for=unknown;proto=https\r\n", ("127.0.0.1", "https")),
        (("127.0.0.1",), b"Forwarded: for=192.0.2.1;proto=https, garbage\r\n", ("127.0.0.1", "http")),
        ((), b"Forwarded: for=192.0.2.1;proto=https\r\n", ("127.0.0.1", "http")),  # nobody trusted
    ],
)  # fmt: skip
def test_forwarded_headers_from_trusted_ranges(serve, trusted, headers, expected):
    running = serve(apps.echo_environ, trusted_proxies=trusted)
    raw = running.exchange(b"GET / HTTP/1.1\r\nHost: x\r\n" + headers + b"Connection: close\r\n\r\n")
    info = _body_json(raw)
    assert (info["REMOTE_ADDR"], info["wsgi.url_scheme"]) == expected


def test_unix_socket_peers_are_trusted_proxies(in_thread, tmp_path):
    path = str(tmp_path / "app.sock")
    in_thread(apps.echo_environ, binds=(f"unix:{path}",))
    raw = _unix_exchange(path, b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.5\r\n"
                               b"X-Forwarded-Proto: https\r\nConnection: close\r\n\r\n")  # fmt: skip
    info = _body_json(raw)
    assert (info["REMOTE_ADDR"], info["wsgi.url_scheme"]) == ("203.0.113.5", "https")


def test_help_documents_the_listening_options():
    result = run_cli("--help")
    for option in ("--bind", "--unix-socket-mode", "--certfile", "--keyfile", "--ca-certs", "--cert-reqs",
                   "--trusted-proxy"):  # fmt: skip
        assert option in result.stdout

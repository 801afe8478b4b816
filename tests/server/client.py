"""A small client for the server tests: raw HTTP/1.1 bytes, pipelined responses, the CLI in a subprocess."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading

from server import Server
from tests.processes import ROOT, free_port

__all__ = [
    "ROOT",
    "WAIT",
    "ResponseReader",
    "Running",
    "free_port",
    "read_all",
    "run_cli",
    "start_cli",
    "wait_for_line",
]
# Generous bound on any single wait in a test: a hang fails the test instead of the suite.
WAIT = 30.0


class Running:
    """A server serving in a background thread, plus helpers to talk to it."""

    def __init__(self, server: Server, thread: threading.Thread) -> None:
        self.server = server
        self.thread = thread
        self.port = server.port

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=WAIT)
        return sock

    def http(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=WAIT)

    def request(self, method: str = "GET", path: str = "/", body: bytes | None = None,
                headers: dict | None = None) -> tuple[http.client.HTTPResponse, bytes]:  # fmt: skip
        conn = self.http()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response, response.read()
        finally:
            conn.close()

    def exchange(self, data: bytes) -> bytes:
        """Send raw bytes, half-close, and return everything the server sends until it closes."""
        with self.connect() as sock:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            return read_all(sock)

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "server did not stop"


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


class _NoClose:
    """A buffered reader shared by several HTTPResponse objects (they close their file when done)."""

    def __init__(self, reader) -> None:
        self.reader = reader

    def makefile(self, *args, **kwargs):
        return self

    def __getattr__(self, name):
        return getattr(self.reader, name)

    def close(self) -> None:
        pass


class ResponseReader:
    """Reads consecutive responses off one socket, e.g. the answers to pipelined requests."""

    def __init__(self, sock: socket.socket) -> None:
        self._source = _NoClose(sock.makefile("rb"))

    def next(self, method: str = "GET") -> tuple[http.client.HTTPResponse, bytes]:
        response = http.client.HTTPResponse(self._source, method=method)
        response.begin()
        return response, response.read()

    def rest(self) -> bytes:
        return self._source.reader.read()


def run_cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """Run `python -m server ARGS` to completion (for arguments it must refuse)."""
    return subprocess.run(
        [sys.executable, "-m", "server", *args], cwd=ROOT, capture_output=True, text=True, timeout=WAIT,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, **kwargs,
    )  # fmt: skip


def start_cli(*args: str) -> subprocess.Popen:
    """Start `python -m server ARGS` in the background; stdout (access log) and stderr are pipes."""
    return subprocess.Popen(
        [sys.executable, "-m", "server", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def wait_for_line(stream, needle: str) -> list[str]:
    """Read lines from a subprocess pipe until one contains `needle`; returns the lines read."""
    lines = []
    for line in stream:
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"{needle!r} never appeared; got:\n{''.join(lines)}")

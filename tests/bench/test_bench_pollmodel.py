"""bench.pollmodel's model answers real keep-alive, pipelined and closing requests from its polling threads,
so what the bench measures is an HTTP server (its figures are not tested)."""

from __future__ import annotations

import socket
import sys
import time

import pytest

from tests.processes import free_port, running

_REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def _read_responses(sock: socket.socket, count: int) -> bytes:
    """Read until `count` responses of bench.apps' hello (Content-Length framed) have arrived."""
    data = b""
    deadline = time.monotonic() + 10
    while data.count(b"Hello, World!") < count:
        assert time.monotonic() < deadline, f"only {data.count(b'HTTP/1.1 200')} responses: {data!r}"
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


@pytest.fixture
def model_port():
    port = free_port()
    with running([sys.executable, "-m", "bench.pollmodel", "--model", str(port), "2"], port=port):
        yield port


def test_keep_alive_and_pipelined_requests_on_several_connections(model_port):
    clients = [socket.create_connection(("127.0.0.1", model_port), timeout=5) for _ in range(5)]
    try:
        for round_ in range(3):
            for sock in clients:
                sock.sendall(_REQUEST * (round_ + 1))  # 1, then 2, then 3 pipelined requests
            for sock in clients:
                answer = _read_responses(sock, round_ + 1)
                assert answer.count(b"HTTP/1.1 200 OK\r\n") == round_ + 1
    finally:
        for sock in clients:
            sock.close()


def test_a_closing_request_closes_its_connection_and_others_are_still_served(model_port):
    with socket.create_connection(("127.0.0.1", model_port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = _read_responses(sock, 1)
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and b"Connection: close" in answer
        assert sock.recv(1) == b""  # then EOF
    with socket.create_connection(("127.0.0.1", model_port), timeout=5) as sock:
        sock.sendall(_REQUEST)
        assert _read_responses(sock, 1).startswith(b"HTTP/1.1 200 OK\r\n")


def test_a_bad_request_is_closed_and_the_threads_keep_serving(model_port):
    for _ in range(3):  # more bad requests than the model has threads: none of them may end a thread
        with socket.create_connection(("127.0.0.1", model_port), timeout=5) as sock:
            sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            assert sock.recv(1) == b""  # closed unanswered
    with socket.create_connection(("127.0.0.1", model_port), timeout=5) as sock:
        sock.sendall(_REQUEST)
        assert _read_responses(sock, 1).startswith(b"HTTP/1.1 200 OK\r\n")

"""Small WSGI apps the server tests (and the speed check) run.

`hello` is the benchmark app: 13 bytes of text/plain with a Content-Length.
"""

from __future__ import annotations

import json
import threading
import time

NOT_CALLABLE = 42  # for the CLI test: an attribute that is not a WSGI app


def hello(environ, start_response):
    body = b"Hello, World!"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def echo_environ(environ, start_response):
    """The CGI-style keys of the environ as JSON (str values only), plus what the body was."""
    info = {key: value for key, value in environ.items() if isinstance(value, str)}
    info["body"] = environ["wsgi.input"].read().decode("latin-1")
    info["wsgi.multithread"] = environ["wsgi.multithread"]
    info["wsgi.multiprocess"] = environ["wsgi.multiprocess"]
    info["wsgi.run_once"] = environ["wsgi.run_once"]
    info["wsgi.version"] = list(environ["wsgi.version"])
    body = json.dumps(info).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def echo_body(environ, start_response):
    """The request body, streamed back (no Content-Length: chunked on HTTP/1.1)."""
    data = _read_body(environ)
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return iter([data])


def _read_body(environ) -> bytes:
    # read(n) when the length is known: wsgiref's validator insists on exactly one argument.
    length = environ.get("CONTENT_LENGTH")
    return environ["wsgi.input"].read(int(length)) if length else environ["wsgi.input"].read()


def echo_path(environ, start_response):
    body = environ["PATH_INFO"].encode("latin-1")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def ignore_body(environ, start_response):
    """Answers without ever touching wsgi.input (so no 100 Continue may be sent)."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "7")])
    return [b"ignored"]


def slow(environ, start_response):
    """Takes a while, and says on wsgi.errors when it started (the shutdown test waits for that)."""
    environ["wsgi.errors"].write(f"started {environ['PATH_INFO']}\n")
    time.sleep(float(environ.get("QUERY_STRING") or "0.5"))
    body = f"done {environ['PATH_INFO']}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def pid(environ, start_response):
    import os

    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def barrier_app(parties: int):
    """An app whose requests all wait for each other: it only answers 200 if `parties` run at once."""
    barrier = threading.Barrier(parties, timeout=30)

    def app(environ, start_response):
        try:
            barrier.wait()
            status = "200 OK"
        except threading.BrokenBarrierError:
            status = "503 Service Unavailable"
        start_response(status, [("Content-Type", "text/plain"), ("Content-Length", "0")])
        return [b""]

    return app


class ClosingBody:
    """An endless response body that records whether the server called close()."""

    def __init__(self) -> None:
        self.closed = threading.Event()
        self.yielded = threading.Event()

    def __iter__(self):
        while True:
            self.yielded.set()
            yield b"x" * 65536

    def close(self) -> None:
        self.closed.set()

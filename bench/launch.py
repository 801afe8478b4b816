"""Start the two peers that have no command line of their own: ``python -m bench.launch NAME HOST PORT``.

- wsgiref: the standard library's reference server, made concurrent with one thread per connection
  (``socketserver.ThreadingMixIn``; it has no pool) and with its per-request stderr line switched off,
  like every other server's access log in these runs. It speaks HTTP/1.0 and closes after each response.
- bjoern: a C server on libev, single-threaded by design; the speed of C for reference.
"""

from __future__ import annotations

import argparse
import socketserver
import sys
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from bench.apps import application

__all__ = ["main"]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Access log off, as for every server under test."""


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 1024  # listen() backlog; the default 5 drops connections under wrk's bursts


def _wsgiref(host: str, port: int) -> None:
    server = make_server(host, port, application, _ThreadingWSGIServer, _QuietHandler)
    server.serve_forever()


def _bjoern(host: str, port: int) -> None:
    import bjoern  # only in .venv-bench

    bjoern.run(application, host, port)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.launch")
    parser.add_argument("name", choices=["wsgiref", "bjoern"])
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    args = parser.parse_args(argv)
    try:
        {"wsgiref": _wsgiref, "bjoern": _bjoern}[args.name](args.host, args.port)
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()

"""The dispatcher's cost per park cycle of an idle keep-alive connection, in process, on one thread.

Run: ``.venv/bin/python -m bench.parkcycle`` (µs per cycle), or with ``--instructions`` (needs valgrind):
instructions per cycle counted by callgrind, as `bench.hotpath` counts them (two runs differenced).

One cycle is what the main thread and a worker do for a connection that goes idle between requests:
the worker parks it (`Dispatcher.park`: the hand-back queue and its wake-up byte); a tick of the real
`Dispatcher` takes it back and registers it in the selector with its keep-alive deadline; the client
sends a byte; the next tick unparks it and queues it for a worker; the worker takes it and reads the
byte. This driver plays the worker (no worker threads run) and the client (a socketpair), so the count
is the dispatcher's own work plus the system calls' Python side; `bench.hotpath` counts the request.
"""

from __future__ import annotations

import argparse
import queue
import socket
import time

from bench.hotpath import callgrind_per_request
from server import dispatcher as dispatcher_module
from server.config import Config
from server.connection import Connection
from server.wsgi import WSGIHandler

__all__ = ["main", "park_cycles"]

RUNS = 5  # best of RUNS, in process CPU time


class _Done(Exception):
    """Leaves `Dispatcher.run`, whose `finally` closes everything."""


def park_cycles(count: int) -> None:
    """Run `count` park cycles through a real Dispatcher (see the module docstring)."""
    config = Config(access_log=False, threads=1, keepalive_timeout=3600.0)  # no deadline expires
    handler = WSGIHandler(lambda environ, start_response: [], config, "127.0.0.1", 8899)
    ours, client = socket.socketpair()
    conn = Connection(ours, ("127.0.0.1", 50000), config, *Connection.socket_timeouts(config))
    conn.requests = 1  # an idle keep-alive connection
    left = count

    class Driven(dispatcher_module.Dispatcher):
        def _tick(self) -> None:
            nonlocal left
            super()._tick()
            try:
                taken = self._work.get_nowait()
            except queue.Empty:  # the tick that parked it: the client speaks
                client.send(b"x")
                return
            taken.sock.recv(16)
            left -= 1
            if left == 0:
                raise _Done
            self.park(taken)

    real_loop = dispatcher_module.worker_loop
    dispatcher_module.worker_loop = lambda dispatcher: None  # the driver is the only worker
    try:
        dispatcher = Driven([], handler, config, max_connections=16)
        dispatcher._opened()
        dispatcher.park(conn)
        dispatcher.run()
    except _Done:
        pass
    finally:
        dispatcher_module.worker_loop = real_loop
        client.close()


def _microseconds(count: int = 20_000) -> float:
    best = float("inf")
    for _ in range(RUNS):
        started = time.process_time()
        park_cycles(count)
        best = min(best, time.process_time() - started)
    return best / count * 1e6


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.parkcycle", description=__doc__.splitlines()[0])
    p.add_argument("--instructions", action="store_true", help="count instructions with valgrind's callgrind")
    p.add_argument("--serve", type=int, metavar="N", help=argparse.SUPPRESS)  # the child callgrind runs
    args = p.parse_args(argv)
    if args.serve is not None:
        park_cycles(args.serve)
    elif args.instructions:
        count = callgrind_per_request(["bench.parkcycle", "--serve"])
        print(f"{count:,.0f} instructions per park cycle (callgrind; park, take back, register, unpark)")
    else:
        print(f"{_microseconds():.2f} µs per park cycle (best of {RUNS}, process CPU time)")


if __name__ == "__main__":
    main()

"""The server's Python work for one keep-alive request, in process: parse, environ, app, framing.

Run: ``.venv/bin/python -m bench.hotpath`` (µs per request), or with ``--instructions`` (needs valgrind):
instructions per request counted by callgrind, the difference between a run of 6,000 and one of 1,000
requests over 5,000, with a fixed PYTHONHASHSEED. Unlike wall-clock figures on a shared machine, that
count repeats (to a few dozen instructions), so it can judge a change of one per cent.

What it runs, per request: wrk's head appended to a connection's buffer, `HeadParser.maybe_read`, then
`WSGIHandler` calling ``bench.apps:application`` (the hello-world the benchmark serves), whose response
bytes go to a sink instead of a socket. So it leaves out the recv/send system calls, the worker loop and
everything the kernel does, which `python -m bench` measures for real.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.apps import application
from server.config import Config
from server.http11 import HeadParser
from server.wsgi import WSGIHandler

__all__ = ["main", "misses_per_request", "serve_cold", "serve_requests"]

HEAD = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8899\r\n\r\n"  # what wrk sends
RUNS = 7  # best of RUNS, in process CPU time


class _Sink:
    """The parts of `server.connection.Connection` a request reaches, with sends counted, not sent."""

    def __init__(self, config: Config) -> None:
        self.buf = bytearray()
        self.parser = HeadParser(config)
        self.peer_host, self.peer_port = "127.0.0.1", "50000"
        self.environ: dict = {}
        self.unread = False
        self.sent = 0

    def send(self, data: bytes, more: bool = False) -> None:
        self.sent += len(data)


def _connection(app, sink: type[_Sink]) -> tuple[WSGIHandler, _Sink]:
    """A WSGI handler for `app` and a sink standing for one keep-alive connection to it."""
    config = Config(access_log=False)
    handler = WSGIHandler(app, config, "127.0.0.1", 8899)
    conn = sink(config)
    conn.environ = handler.connection_environ(conn)  # type: ignore[arg-type]  # duck-typed Connection
    return handler, conn


_NOT_KEPT = "the request was not served as a keep-alive request"


def serve_through(app, request: bytes, count: int, sink: type[_Sink] = _Sink) -> _Sink:
    """Serve `request` to `app` `count` times on one keep-alive connection, through the parser and the
    WSGI handler, into a `sink` (which counts the bytes instead of sending them); returns the sink."""
    handler, conn = _connection(app, sink)
    buf, parser = conn.buf, conn.parser
    for _ in range(count):
        buf += request
        head = parser.maybe_read(buf)
        if head is None or not handler(conn, head):  # type: ignore[arg-type]
            raise RuntimeError(_NOT_KEPT)
    return conn


def serve_cold(app, request: bytes, count: int, flush_kib: int, sink: type[_Sink] = _Sink) -> float:
    """`serve_through`, with `flush_kib` KiB of memory written between two requests (`memset`),
    as the kernel's network stack and other threads do to the caches over the wire; returns the seconds
    spent in the requests alone (the writing is not counted)."""
    handler, conn = _connection(app, sink)
    buf, parser = conn.buf, conn.parser
    junk = (ctypes.c_char * (flush_kib * 1024))()
    spent = 0.0
    for n in range(count):
        ctypes.memset(junk, n & 0xFF, len(junk))  # writes only: no reads of its own among the misses
        started = time.perf_counter()
        buf += request
        head = parser.maybe_read(buf)
        if head is None or not handler(conn, head):  # type: ignore[arg-type]
            raise RuntimeError(_NOT_KEPT)
        spent += time.perf_counter() - started
    return spent


def serve_requests(count: int) -> int:
    """Serve `count` keep-alive requests through the parser and the WSGI handler; bytes "sent"."""
    return serve_through(application, HEAD, count).sent


def _microseconds(count: int = 100_000) -> float:
    best = min(_timed(count) for _ in range(RUNS))
    return best / count * 1e6


def _timed(count: int) -> float:
    started = time.process_time()
    serve_requests(count)
    return time.process_time() - started


def _valgrind_runs(tool: str, options: list[str], command: list[str], counts: tuple[int, int]) -> list[str]:
    """valgrind's report (stderr) of ``python -m *command COUNT`` for each of `counts`, under `tool`
    (callgrind, cachegrind) with `options`; its output file goes to a temporary directory."""
    reports = []
    with tempfile.TemporaryDirectory() as tmp:
        for count in counts:
            out = Path(tmp) / f"{tool}.{count}"
            run = subprocess.run(
                ["valgrind", f"--tool={tool}", f"--{tool}-out-file={out}", *options, sys.executable,
                 "-m", *command, str(count)],
                capture_output=True, text=True, check=True,
                env={**os.environ, "PYTHONHASHSEED": "0"},  # the same string hashes (dict probing) each run
            )  # fmt: skip
            reports.append(run.stderr)
    return reports


def callgrind_per_request(command: list[str], small: int = 1_000, large: int = 6_000) -> float:
    """Instructions per request of ``python -m *command COUNT``: callgrind totals of two runs with
    different COUNTs, differenced (start-up cancels out)."""
    totals = []
    for report in _valgrind_runs("callgrind", [], command, (small, large)):
        match = re.search(r"Collected : (\d+)", report)
        if match is None:
            raise RuntimeError(f"no instruction count in valgrind's output:\n{report[-2000:]}")
        totals.append(int(match.group(1)))
    return (totals[1] - totals[0]) / (large - small)


# The caches cachegrind simulates for `misses_per_request`: this machine's L1s and its 2 MiB L2 as the last
# level (its reported 480 MiB L3 is a hypervisor's figure, not a cache the next request would find warm).
_CACHES = ("--I1=65536,8,64", "--D1=49152,12,64", "--LL=2097152,16,64")


def misses_per_request(command: list[str], small: int = 500, large: int = 1_500) -> tuple[float, float]:
    """Last-level cache misses per request of ``python -m *command COUNT`` (instruction fetches, data
    reads), simulated by cachegrind: two runs with different COUNTs, differenced. Deterministic, as the
    instruction count: the figure for a change to how much memory a request touches."""
    totals = []
    for report in _valgrind_runs("cachegrind", ["--cache-sim=yes", *_CACHES], command, (small, large)):
        fetches = re.search(r"LLi misses:\s+([\d,]+)", report)
        reads = re.search(r"LLd misses:\s+[\d,]+\s+\(\s*([\d,]+) rd", report)
        if fetches is None or reads is None:
            raise RuntimeError(f"no cache misses in valgrind's output:\n{report[-2000:]}")
        totals.append((int(fetches.group(1).replace(",", "")), int(reads.group(1).replace(",", ""))))
    runs = large - small
    return (totals[1][0] - totals[0][0]) / runs, (totals[1][1] - totals[0][1]) / runs


def _instructions() -> float:
    return callgrind_per_request(["bench.hotpath", "--serve"])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.hotpath", description=__doc__.splitlines()[0])
    p.add_argument("--instructions", action="store_true", help="count instructions with valgrind's callgrind")
    p.add_argument("--serve", type=int, metavar="N", help=argparse.SUPPRESS)  # the child callgrind runs
    args = p.parse_args(argv)
    if args.serve is not None:
        serve_requests(args.serve)
    elif args.instructions:
        print(f"{_instructions():,.0f} instructions per request (callgrind; parse + environ + app + framing)")
    else:
        print(f"{_microseconds():.2f} µs per request (best of {RUNS}; parse + environ + app + framing)")


if __name__ == "__main__":
    main()

"""A static file through the whole server in process: parse, environ, app, head, ``sendfile`` (counted).

Run: ``.venv/bin/python -m bench.staticpath`` (µs per request, best of runs), ``--instructions`` for the
instructions callgrind counts (the figure that repeats on a loaded machine), ``--syscalls`` for the system
calls ``strace`` counts per request (what callgrind leaves out: the kernel's work for ``open``, ``fstat``...).
Both difference a short and a long run, so start-up cancels out.

Over the wire the kernel's network stack runs between two requests and leaves the caches cold, which costs
a framework's larger working set more than a bare app's. ``--cold KIB`` writes KIB KiB of memory between
requests and times the requests alone (``--cold 2048``, this machine's 2 MiB L2, comes near the wire's
ratios); ``--misses`` counts with cachegrind the last-level cache misses a request then makes
(deterministic, as the instruction count).

Cases (issue 14's static targets, each beside its baseline):

``bare-file``   ``bench.apps`` ``/64k``: a bare app handing ``open(path, "rb")`` to ``wsgi.file_wrapper``
``static``      ``bench.mwapps`` ``/static/static-64k.bin``: the same file through ``StaticFiles`` in an App
``bare-hello``  ``bench.apps`` ``/``
``hello``       ``bench.mwapps`` ``/``: the miniweb hello
``304``         ``bench.mwapps``: the static file revalidated with its ETag (``If-None-Match``), 304; the
                App's default ``stat_interval`` (1 s outside debug): no ``stat`` within the second
``304-since``   the same with its own Last-Modified alone (``If-Modified-Since``), 304
``304-stat``    ``304`` with ``StaticFiles(stat_interval=0)`` in the App (a stand-alone ``StaticFiles``'
                default, and an ``App(debug=True)``'s): one ``stat`` per revalidation

As in ``bench.hotpath``, the response goes to a sink instead of a socket: ``sendfile`` is counted (its
``count`` bytes "sent"), never made, so the figures are the Python work plus the system calls around it.
"""

from __future__ import annotations

import argparse
import http.client
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import apps, mwapps
from bench.hotpath import RUNS, _Sink, callgrind_per_request, misses_per_request, serve_cold, serve_through
from miniweb import App
from server.config import Config

__all__ = ["CASES", "main", "serve_case"]

_HOST = b"Host: 127.0.0.1:8899\r\n"
COLD_KIB = 2048  # --misses: written between requests, this machine's L2 (the last level cachegrind simulates)


def _stat_app() -> App:
    """The miniweb app of ``bench.mwapps`` with its StaticFiles' ``stat_interval`` set to 0."""
    app = mwapps.miniweb_app()
    app.static_files.stat_interval = 0
    return app


CASES: dict[str, tuple[Callable[..., Any], str]] = {
    "bare-file": (apps.application, "/64k"),
    "static": (mwapps.application, mwapps.STATIC_URL),
    "bare-hello": (apps.application, "/"),
    "hello": (mwapps.application, "/"),
    "304": (mwapps.application, mwapps.STATIC_URL),
    "304-since": (mwapps.application, mwapps.STATIC_URL),
    "304-stat": (_stat_app(), mwapps.STATIC_URL),
}
# The status each case must get (200 unless listed).
_STATUS = {"304": 304, "304-since": 304, "304-stat": 304}


class _FileSink(_Sink):
    """The sink of ``bench.hotpath`` with ``Connection.sendfile``: the bytes counted, not sent."""

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.heads: list[bytes] = []

    def send(self, data: bytes, more: bool = False) -> None:
        if not self.heads:
            self.heads.append(bytes(data))
        self.sent += len(data)

    def sendfile(self, fd: int, offset: int, count: int) -> int:
        self.sent += count
        return count


def _validator(app: Callable[..., Any], path: str, name: bytes) -> str:
    """Header ``name`` of the 200 for ``path`` (a first request through the same server code)."""
    conn = serve_through(app, b"GET %s HTTP/1.1\r\n%s\r\n" % (path.encode(), _HOST), 1, _FileSink)
    found = re.search(rb"\r\n" + name + rb": ([^\r]*)\r\n", conn.heads[0], re.IGNORECASE)
    if found is None:
        raise RuntimeError(f"no {name.decode()} in the response to {path}: {conn.heads[0][:300]!r}")
    return found.group(1).decode("latin-1")


def _etag(app: Callable[..., Any], path: str) -> str:
    return _validator(app, path, b"ETag")


def _last_modified(app: Callable[..., Any], path: str) -> str:
    return _validator(app, path, b"Last-Modified")


def _request(case: str) -> bytes:
    app, path = CASES[case]
    extra = b""
    if case in ("304", "304-stat"):
        extra = b"If-None-Match: %s\r\n" % _etag(app, path).encode("latin-1")
    elif case == "304-since":
        extra = b"If-Modified-Since: %s\r\n" % _last_modified(app, path).encode("latin-1")
    return b"GET %s HTTP/1.1\r\n%s%s\r\n" % (path.encode(), _HOST, extra)


def serve_case(case: str, count: int) -> int:
    """Serve ``count`` keep-alive requests of ``case``; bytes "sent" (checks the first response's status)."""
    conn = serve_through(CASES[case][0], _request(case), count, _FileSink)
    status = b"HTTP/1.1 %d " % _STATUS.get(case, http.client.OK)
    if not conn.heads or not conn.heads[0].startswith(status):
        raise RuntimeError(f"{case}: unexpected response {conn.heads[:1]!r}")
    return conn.sent


def _microseconds(case: str, count: int = 20_000) -> float:
    serve_case(case, 200)  # warm-up: the memos of checked headers, the file cache
    best = float("inf")
    for _ in range(RUNS):
        started = time.process_time()
        serve_case(case, count)
        best = min(best, time.process_time() - started)
    return best / count * 1e6


def _cold_microseconds(case: str, flush_kib: int, count: int = 10_000) -> float:
    """µs per request of ``case`` with ``flush_kib`` KiB written between requests (best of runs)."""
    serve_case(case, 200)  # checks the status, and warms the memos
    app, request = CASES[case][0], _request(case)
    return min(serve_cold(app, request, count, flush_kib, _FileSink) for _ in range(RUNS)) / count * 1e6


def syscalls_per_request(case: str, small: int = 1_000, large: int = 6_000) -> dict[str, float]:
    """System calls per request of ``case`` by name (``strace -c`` of two runs, differenced)."""
    counts = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (small, large):
            out = Path(tmp) / f"strace.{n}"
            subprocess.run(
                ["strace", "-f", "-c", "-o", str(out), sys.executable, "-m", "bench.staticpath", "--serve",
                 case, str(n)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            calls: dict[str, int] = {}
            for line in out.read_text().splitlines():
                fields = line.split()
                # "% time  seconds  usecs/call  calls  [errors]  syscall"
                if len(fields) >= 5 and fields[3].isdigit() and not fields[-1].startswith("total"):
                    calls[fields[-1]] = int(fields[3])
            counts.append(calls)
    per = {name: (counts[1].get(name, 0) - counts[0].get(name, 0)) / (large - small) for name in counts[1]}
    return {name: value for name, value in sorted(per.items()) if value >= 0.5}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.staticpath", description=__doc__.splitlines()[0])
    p.add_argument("cases", nargs="*", metavar="CASE", help=f"any of {', '.join(CASES)} (default: all)")
    p.add_argument("--instructions", action="store_true", help="count instructions with valgrind's callgrind")
    p.add_argument("--syscalls", action="store_true", help="count system calls per request with strace")
    p.add_argument("--cold", type=int, metavar="KIB",
                   help="write KIB KiB of memory between requests, as the kernel does over the wire "
                        "(µs per request of the requests alone; 2048 is this machine's L2)")
    p.add_argument("--misses", action="store_true",
                   help="last-level cache misses per request with 2048 KiB written between requests "
                        "(valgrind's cachegrind)")
    p.add_argument("--serve-cold", nargs=2, metavar=("CASE", "N"), help=argparse.SUPPRESS)
    p.add_argument("--serve", nargs=2, metavar=("CASE", "N"), help=argparse.SUPPRESS)  # the measured child
    args = p.parse_args(argv)
    if args.serve:
        serve_case(args.serve[0], int(args.serve[1]))
        return
    if args.serve_cold:
        case = args.serve_cold[0]
        serve_case(case, 1)  # checks the status
        serve_cold(CASES[case][0], _request(case), int(args.serve_cold[1]), COLD_KIB, _FileSink)
        return
    if args.cold is not None and not 1 <= args.cold <= 1 << 20:
        p.error("--cold takes 1 to 1048576 KiB")
    unknown = set(args.cases) - set(CASES)
    if unknown:
        p.error(f"unknown case(s) {', '.join(sorted(unknown))}; the cases: {', '.join(CASES)}")
    for case in args.cases or CASES:
        if args.instructions:
            figure = f"{callgrind_per_request(['bench.staticpath', '--serve', case]):,.0f} instructions"
        elif args.misses:
            fetches, reads = misses_per_request(["bench.staticpath", "--serve-cold", case])
            figure = f"{fetches + reads:,.0f} last-level misses ({fetches:,.0f} fetches, {reads:,.0f} reads)"
        elif args.cold:
            figure = f"{_cold_microseconds(case, args.cold):.2f} µs ({args.cold} KiB written between)"
        else:
            figure = f"{_microseconds(case):.2f} µs"
        line = f"{case:12} {figure} per request"
        if args.syscalls:
            calls = syscalls_per_request(case)
            line += "; system calls: " + ", ".join(f"{name} {n:g}" for name, n in calls.items())
        print(line)


if __name__ == "__main__":
    main()

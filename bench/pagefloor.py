"""Where a demo page's time goes over the wire: the page against the floors under it, on our server.

    .venv/bin/python -m bench.pagefloor                     # every page of bench.pages, 2 rounds of 5 s
    .venv/bin/python -m bench.pagefloor --rounds 3 --duration 3 /favorites

For each page, on one private MariaDB (bench.pages: the demo's data, its bench user logged in), our server
runs three apps in turn, pinned to cpu 0, with wrk -c50 on cpu 1, 10 threads, a pool of 10:

- **server**: this module's ``application`` answering the page's own bytes (fetched from the demo first),
  no database: what the server, the kernel's loopback TCP and wrk cost for a body of that size;
- **+ statement**: the same, after the page's one statement through the demo's own pool and repository
  function (``reference_version`` for the area page and search, ``favorite_rows`` for the favourites);
- **the page**: the demo itself.

It prints req/s and the server process's CPU per request (user + system, from ``/proc/PID/stat`` over the
measured seconds) with its voluntary context switches, the median round of each. The differences are the
budget: *statement − server* is the driver, the pool and the database round trip; *page − statement* is
the framework, the session and CSRF token, the cache lookups and Jinja2. A page can go no faster than its
"+ statement" row while it reads the database once. Each row's CPU is the server's only: MariaDB and wrk
run beside it (MariaDB unpinned, as in bench.pages).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from apps.favorites import repository as repo
from apps.favorites.db import Database
from apps.favorites.settings import Settings
from bench import pages as bench_pages
from bench.compare import WARMUP_SECONDS
from bench.peers import Launch, free_port, ours_with_defaults, serve
from bench.report import table
from bench.steal import cpu_times, stolen_line, stolen_share
from bench.wrk import run_wrk

__all__ = ["Row", "application", "main", "measure"]

_FLOOR_APP = "bench.pagefloor:application"
_BODY_ENV = "PAGEFLOOR_BODY"  # the file whose bytes the floor app answers


# -- the floor app (runs under python -m server) ----------------------------------------------------------

class _Floor:
    """The demo's pool and the bench user's id, made on first use (the server imports, then serves)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready: tuple | None = None

    def get(self) -> tuple:  # -> (Database, the bench user's id, the body)
        if self._ready is None:
            with self._lock:
                if self._ready is None:
                    database = Database(Settings.from_env())
                    try:
                        con = database.connection()
                        try:
                            user = repo.user_by_name(con, bench_pages.USER)
                        finally:
                            database.release(con)
                        if user is None:
                            raise RuntimeError(f"no user {bench_pages.USER!r}: run bench.pages.add_user")
                        body = Path(os.environ[_BODY_ENV]).read_bytes()
                    except BaseException:
                        database.close()
                        raise
                    self._ready = (database, user[0], body)
        return self._ready


_floor = _Floor()


def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
    """``/server``: the body only; ``/version``, ``/favorites``: that statement first (see the module)."""
    database, user_id, body = _floor.get()
    statement = environ["PATH_INFO"]
    if statement != "/server":
        con = database.connection()
        try:
            if statement == "/favorites":
                repo.favorite_rows(con, user_id)
            else:
                repo.reference_version(con)
        finally:
            database.release(con)
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                              ("Content-Length", str(len(body)))])
    return [body]


# -- the measurement --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Row:
    """One server measured by `measure`: what wrk saw and what the server process spent."""

    requests_per_sec: float
    user_us: float      # the server process's user CPU per request, µs
    system_us: float
    switches: float     # voluntary context switches per request, all threads
    p99_ms: float

    @property
    def cpu_us(self) -> float:
        return self.user_us + self.system_us


def _process(pid: int) -> tuple[int, int, int]:
    """(user ticks, system ticks, voluntary context switches of all its threads) of a process now."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    switches = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            for line in Path(f"/proc/{pid}/task/{task}/status").read_text().splitlines():
                if line.startswith("voluntary_ctxt_switches"):
                    switches += int(line.split()[1])
        except FileNotFoundError:  # a thread that just ended
            continue
    return int(fields[11]), int(fields[12]), switches


def measure(url: str, pid: int, duration: float, headers: tuple[str, ...] = ()) -> Row:
    """wrk -c50 on cpu 1 against `url` after a warm-up, and what the server process `pid` spent meanwhile."""
    run_wrk(url, duration=WARMUP_SECONDS, connections=50, cpu=1, headers=headers)
    before = _process(pid)
    result = run_wrk(url, duration=duration, connections=50, cpu=1, headers=headers)
    after = _process(pid)
    if result.errors or not result.requests:
        raise RuntimeError(f"{url}: wrk counted {result.errors} errors in {result.requests} requests")
    per = 1e6 / os.sysconf("SC_CLK_TCK") / result.requests
    return Row(result.requests_per_sec, (after[0] - before[0]) * per, (after[1] - before[1]) * per,
               (after[2] - before[2]) / result.requests, result.p99_ms)


def _statement_path(page: str) -> str:
    return "/favorites" if page in bench_pages.LOGGED_IN else "/version"


_KINDS = ("server", "+ statement", "the page")


def _round(page: str, python: Path, body_file: Path, duration: float) -> dict[str, Row]:
    found: dict[str, Row] = {}
    demo = bench_pages.SERVERS["demo-ours"]
    floor = ours_with_defaults("pagefloor", _FLOOR_APP)
    launch = Launch(python, bench_pages.HOST, free_port(bench_pages.HOST), bench_pages.THREADS)
    with serve(demo, launch, cpu=0, tag="pagefloor") as server:
        cookie = bench_pages.log_in(bench_pages.HOST, launch.port)
        headers = (f"Cookie: {cookie}",) if page in bench_pages.LOGGED_IN else ()
        request = urllib.request.Request(server.url + page, headers=dict(h.split(": ", 1) for h in headers))
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our loopback server
            body_file.write_bytes(response.read())
        found["the page"] = measure(server.url + page, server.proc.pid, duration, headers)
    launch = Launch(python, bench_pages.HOST, free_port(bench_pages.HOST), bench_pages.THREADS)
    with serve(floor, launch, cpu=0, tag="pagefloor") as server:
        found["server"] = measure(server.url + "/server", server.proc.pid, duration)
        found["+ statement"] = measure(server.url + _statement_path(page), server.proc.pid, duration)
    return found


def report(page: str, rounds: list[dict[str, Row]], stolen: list[float | None]) -> str:
    """One page's table: each kind's median round by req/s, and what each step adds; `stolen`: each
    round's share of CPU time the host took (bench.steal), when known."""
    rows = []
    for kind in _KINDS:
        ordered = sorted((found[kind] for found in rounds), key=lambda r: r.requests_per_sec)
        row = ordered[len(ordered) // 2]
        each = ", ".join(f"{found[kind].requests_per_sec:,.0f}" for found in rounds)
        rows.append([kind, f"{row.requests_per_sec:,.0f} ({each})",
                     f"{row.user_us:.0f} + {row.system_us:.0f}", f"{row.switches:.2f}"])
    statement = statistics.median(f["+ statement"].cpu_us - f["server"].cpu_us for f in rounds)
    rest = statistics.median(f["the page"].cpu_us - f["+ statement"].cpu_us for f in rounds)
    return (f"{page}: our server, 10 threads, wrk -c50 (rounds in brackets)\n\n"
            + table(["app", "req/s", "server CPU µs/request (user + system)", "switches/request"], rows)
            + f"\n\nthe statement adds {statement:.0f} µs of the server's CPU a request, the rest of the "
              f"page {rest:.0f} µs (medians of the rounds' differences)"
            + stolen_line(stolen))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.pagefloor", description=__doc__.splitlines()[0])
    p.add_argument("pages", nargs="*", metavar="PAGE",
                   help=f"any of {', '.join(bench_pages.PAGES)} (default: all)")
    p.add_argument("--rounds", type=int, default=2, help="rounds, the apps in alternation (default 2)")
    p.add_argument("--duration", type=float, default=5.0, help="seconds per measurement (default 5)")
    args = p.parse_args(argv)
    unknown = [page for page in args.pages if page not in bench_pages.PAGES]
    if unknown:
        p.error(f"unknown page {', '.join(unknown)}; choose from {', '.join(bench_pages.PAGES)}")
    if not (1 <= args.rounds <= 9 and 0 < args.duration <= 60):
        p.error("--rounds 1..9, --duration up to 60 s")
    python = Path(sys.executable)
    with tempfile.TemporaryDirectory(prefix="pagefloor-") as tmp, bench_pages.private_database() as url:
        body_file = Path(tmp) / "page.html"
        with bench_pages.environ_set(DATABASE_URL=url, **{_BODY_ENV: str(body_file)}):
            bench_pages.add_user(url)
            for page in args.pages or bench_pages.PAGES:
                rounds, stolen = [], []
                for _ in range(args.rounds):
                    before = cpu_times()
                    rounds.append(_round(page, python, body_file, args.duration))
                    stolen.append(stolen_share(before, cpu_times()))
                print(report(page, rounds, stolen), end="\n\n", flush=True)


if __name__ == "__main__":
    main()

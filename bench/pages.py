"""``pages`` mode: the demo's real pages on our server vs the Flask port under gunicorn gthread and waitress.

A private MariaDB (``scripts.localdb.LocalMariaDB``, loaded with the demo's schema and data) is started in a
temporary directory on a free port for the run, and stopped after. Each server runs pinned to cpu 0 with
``DATABASE_URL`` pointing at it and the same thread count (THREADS: the pool's 10); wrk on cpu 1; MariaDB
is not pinned.

- ours: ``python -m server PORT apps.favorites:application --threads 10``, otherwise default flags
  (access log on)
- flask-gunicorn: ``gunicorn -k gthread -w 1 --threads N bench.flask_favorites:application``
- flask-waitress: ``waitress-serve --threads=N bench.flask_favorites:application``

Targets (issue 14): ours >= 2x the better Flask stack on every page; p99 <= 50 ms on the area page and
<= 80 ms on search. (The issue's "3x today's figure" compares runs and is left to the reader.)

With ``python -m bench pages --repeat N`` the servers run in N rounds, each started anew and measured on
every page once per round, so a slow minute of a shared machine lands on all three alike. Each ratio is
the median of the rounds' own ratios (ours / that round's best Flask stack), every round's printed beside
it; the table shows each server's median round.

``python -m bench.pages --threads 64,10 [--rounds 3] [--duration 5]`` compares only ours at those
``--threads`` counts (DB_POOL_SIZE stays 10), in alternation, same database, and prints each round.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import re
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from bench.compare import HOST, Options, Scenario, measure
from bench.peers import Launch, Peer, free_port, gunicorn_argv, ours_with_defaults, serve, waitress_argv
from bench.report import table, verdict
from bench.steal import cpu_times, stolen_line, stolen_share
from bench.wrk import WrkResult

__all__ = ["PAGES", "SERVERS", "environ_set", "pages", "report"]

PAGES = {
    "/areas/440300": 50.0,  # path -> p99 target in ms (None: none)
    "/search?q=%E5%8D%97": 80.0,  # 南
    "/favorites": None,  # logged in (LOGGED_IN): wrk sends the session cookie the login form gave
}
LOGGED_IN = frozenset({"/favorites"})
USER, PASSWORD = "bench-user", "bench password 1"
FAVORITES = (440300, 110000, 310000, 330100, 510100)  # what the user's /favorites page lists
TARGET_RATIO = 2.0
# Worker threads of every server here: the demo's pool size (DB_POOL_SIZE, 10), as README advises for
# the demo. More threads than connections only queue inside the pool, and interleave 64 requests on the
# GIL instead of finishing 10: `python -m bench.pages --threads 64,10` measured p99 2-5x lower at 10,
# at the same req/s (2026-12-02, loaded machine).
THREADS = 10
FLASK_APP = "bench.flask_favorites:application"


SERVERS: dict[str, Peer] = {
    p.name: p
    for p in (
        ours_with_defaults("demo-ours", "apps.favorites:application",
                           "miniweb demo on python -m server, default flags"),
        Peer("flask-gunicorn", "Flask port on gunicorn -k gthread -w 1 --threads N",
             lambda x: gunicorn_argv(x, FLASK_APP)),
        Peer("flask-waitress", "Flask port on waitress --threads=N", lambda x: waitress_argv(x, FLASK_APP)),
    )
}


@contextlib.contextmanager
def private_database() -> Iterator[str]:
    """A throwaway MariaDB with the demo's data; yields its DATABASE_URL."""
    from scripts.localdb import LocalMariaDB  # PyMySQL: in .venv, where `python -m bench` runs

    with tempfile.TemporaryDirectory(prefix="mwbench-") as tmp:
        db = LocalMariaDB(Path(tmp) / "db", port=free_port(HOST))
        db.start()
        try:
            yield db.url
        finally:
            db.stop()


@contextlib.contextmanager
def environ_set(**values: str) -> Iterator[None]:
    """These environment variables set for the block (servers started in it inherit them), then restored."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)  # the servers inherit it (bench.peers.serve copies os.environ)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def add_user(url: str) -> None:
    """USER with PASSWORD and a few favourites, through the demo's own repository (its SQL, its hash)."""
    from apps.favorites import accounts
    from apps.favorites import repository as repo
    from apps.favorites.db import Database
    from apps.favorites.settings import Settings, parse_database_url

    database = Database(Settings(database=parse_database_url(url), secret_key="bench", pool_size=1))
    try:
        con = database.connection()
        try:
            uid = repo.create_user(con, USER, accounts.hash_password(PASSWORD))
            uid = uid if uid is not None else repo.user_by_name(con, USER)[0]
            for code in FAVORITES:
                repo.collect(con, uid, code)
        finally:
            database.release(con)
    finally:
        database.close()


def _cookies(response: http.client.HTTPResponse, jar: dict[str, str]) -> None:
    for header in response.headers.get_all("Set-Cookie") or ():
        name, _, value = header.split(";", 1)[0].partition("=")
        jar[name.strip()] = value.strip()


def log_in(host: str, port: int, username: str = USER, password: str = PASSWORD) -> str:
    """Log in through the server's /login form (its CSRF token and cookies); the ``Cookie:`` value."""
    from urllib.parse import urlencode

    jar: dict[str, str] = {}
    con = http.client.HTTPConnection(host, port, timeout=30)
    try:
        con.request("GET", "/login")
        response = con.getresponse()
        page = response.read().decode()
        _cookies(response, jar)
        token = re.search(r'name="csrf_token" value="([^"]*)"', page)
        if response.status != 200 or token is None:
            raise RuntimeError(f"GET /login: {response.status}, no CSRF token")
        body = urlencode({"csrf_token": token.group(1), "username": username, "password": password})
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())}  # fmt: skip
        con.request("POST", "/login", body, headers)
        response = con.getresponse()
        response.read()
        _cookies(response, jar)
        if response.status != 303:
            raise RuntimeError(f"POST /login: {response.status}, not logged in")
        # The first page after logging in shows the welcome notice and takes it out of the session (a
        # new cookie). The cookie after it is a logged-in visitor's steady state, which wrk repeats: with
        # the notice still in it, every request would show it again and sign a new session cookie.
        for _ in range(2):
            cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
            con.request("GET", "/favorites", headers={"Cookie": cookie})
            response = con.getresponse()
            response.read()
            if response.status != 200:  # a redirect to /login would benchmark the wrong page
                raise RuntimeError(f"GET /favorites with the login cookie: {response.status}")
            _cookies(response, jar)
        if response.headers.get_all("Set-Cookie"):
            raise RuntimeError("GET /favorites still sets a cookie on the second visit: not a steady state")
        cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    finally:
        con.close()
    return cookie


def _scenario(path: str, cookie: str) -> Scenario:
    return Scenario(path, path, headers=(f"Cookie: {cookie}",) if path in LOGGED_IN else ())


def pages(
    opts: Options, database: Callable[[], contextlib.AbstractContextManager[str]] = private_database
) -> str:
    """Every server through every page, in ``opts.repeat`` rounds (each server started anew per round)."""
    once = replace(opts, repeat=1)
    rounds: list[Round] = []
    stolen: list[float | None] = []
    with database() as url, environ_set(DATABASE_URL=url):
        add_user(url)
        for _ in range(opts.repeat):
            found: Round = {}
            before = cpu_times()
            for name, peer in SERVERS.items():
                launch = Launch(opts.python, HOST, free_port(HOST), THREADS)
                with serve(peer, launch, cpu=0, tag="pages") as server:
                    cookie = log_in(HOST, launch.port)
                    found[name] = {p: measure(server.url, _scenario(p, cookie), once) for p in PAGES}
            rounds.append(found)
            stolen.append(stolen_share(before, cpu_times()))
    opts.results["pages"] = [{n: {p: r.as_dict() for p, r in by.items()} for n, by in found.items()}
                             for found in rounds]  # fmt: skip
    return report(rounds, opts.connections, stolen)


#: One round: server name -> page -> its wrk result.
Round = dict[str, dict[str, WrkResult]]


def report(rounds: list[Round], connections: int = 50, stolen: list[float | None] | None = None) -> str:
    """The table (each server's median round by req/s) and the checks: ours / the round's best Flask stack,
    the median of the rounds' ratios (every round's listed when there are several), and ours' p99, the
    median of the rounds'. wrk errors of any server on a page, in any round, fail that page's ratio check:
    a peer that errs is slower for it, which would flatter ours. ``stolen``: each round's share of CPU
    time the host took (bench.steal), printed when known."""
    names = list(rounds[0])
    rows, checks = [], []
    for path, p99_target in PAGES.items():
        cells = []
        for name in names:
            runs = sorted((found[name][path] for found in rounds), key=lambda r: r.requests_per_sec)
            middle = runs[len(runs) // 2]
            cells.append(f"{middle.requests_per_sec:,.0f} / {middle.p99_ms:.1f}")
        rows.append([path, *cells])
        ratios = [found["demo-ours"][path].requests_per_sec
                  / max(found[n][path].requests_per_sec for n in names if n != "demo-ours")
                  for found in rounds]  # fmt: skip
        ratio = statistics.median(ratios)
        errors = sum(found[n][path].errors for found in rounds for n in names)  # a peer's too: its figure
        each = f" (rounds {', '.join(f'{r:.2f}' for r in ratios)})" if len(rounds) > 1 else ""
        checks.append([f"{path} ours / best Flask", f"{ratio:.2f}x{each}", f">= {TARGET_RATIO}x",
                       verdict(ratio >= TARGET_RATIO and errors == 0)])  # fmt: skip
        if p99_target is not None:
            p99 = statistics.median(found["demo-ours"][path].p99_ms for found in rounds)
            checks.append([f"{path} ours p99", f"{p99:.1f} ms", f"<= {p99_target:.0f} ms",
                           verdict(p99 <= p99_target)])  # fmt: skip
    errors = {n: sum(found[n][path].errors for found in rounds for path in PAGES) for n in names}
    median = f"; median of {len(rounds)} rounds, servers in alternation" if len(rounds) > 1 else ""
    return (
        f"The demo's pages (private MariaDB; wrk -c{connections} on cpu 1, servers on cpu 0, "
        f"{THREADS} threads each, pool of 10{median}): req/s / p99 ms\n\n"
        + table(["page", *names], rows)
        + "\n\n"
        + table(["check", "measured", "target", ""], checks)
        + "\n\nwrk errors: "
        + ", ".join(f"{n} {e}" for n, e in errors.items())
        + stolen_line(stolen or [])
        + "\n\n"
        + "\n".join(f"- {p.name}: {p.notes}" for p in SERVERS.values())
    )


def thread_counts(opts: Options, counts: list[int], rounds: int) -> str:
    """Ours only, at each ``--threads`` count in turn, ``rounds`` times: req/s / p99 ms per page."""
    rows = []
    with private_database() as url, environ_set(DATABASE_URL=url):
        add_user(url)
        for number in range(1, rounds + 1):
            for threads in counts:
                launch = Launch(opts.python, HOST, free_port(HOST), threads)
                with serve(SERVERS["demo-ours"], launch, cpu=0, tag=f"threads-{threads}") as server:
                    cookie = log_in(HOST, launch.port)
                    found = [measure(server.url, _scenario(p, cookie), opts) for p in PAGES]
                cells = [f"{r.requests_per_sec:,.0f} / {r.p99_ms:.1f} ({r.errors} err)" for r in found]
                rows.append([str(number), str(threads), *cells])
                print(" | ".join(rows[-1]), flush=True)
    return table(["round", "--threads", *PAGES], rows)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.pages", description="ours at several --threads counts")
    p.add_argument("--threads", default="64,10", help="comma-separated counts (default 64,10)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=float, default=5.0)
    args = p.parse_args(argv)
    counts = [int(n) for n in args.threads.split(",")]
    if not (all(1 <= n <= 512 for n in counts) and 1 <= args.rounds <= 9 and 0 < args.duration <= 60):
        p.error("--threads 1..512 each, --rounds 1..9, --duration up to 60 s")
    from bench import env

    opts = Options(python=env.venv_python(), threads=counts[0], duration=args.duration)
    print(thread_counts(opts, counts, args.rounds))


if __name__ == "__main__":
    main(sys.argv[1:])

"""Where one of the demo's pages spends its CPU time: the app in process under cProfile, on a private MariaDB.

    .venv/bin/python -m bench.pageprofile /areas/440300            # or "/search?q=南", /favorites
    .venv/bin/python -m bench.pageprofile /favorites --count 300 --stats 30
    .venv/bin/python -m bench.pageprofile /areas/440300 --instructions   # callgrind: instructions/request
    .venv-bench/bin/python -m bench.pageprofile /areas/440300 --flask     # the Flask port instead

The demo's WSGI callable is called directly (no server, no sockets but the database's), ``--count`` times
after a warm-up, with CPU time (``time.process_time``) as the profiler's clock, so other processes on a
busy machine change the total less than the shares. /favorites is measured logged in as bench.pages' user
(its /login form, in process). Prints the share of a few inclusive parts (they nest: url_for is inside the
render, which is inside render_bytes; the map is drawn only when its family is not cached), then
optionally cProfile's own top functions. ``--instructions`` counts instead the app process's
instructions per request with callgrind (bench.hotpath.callgrind_per_request: two runs of 20 and 120
requests, differenced; the database's own work is in another process and not counted), which repeats on a
busy machine where times do not.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import os
import pstats
import re
import sys
import time
from urllib.parse import unquote, urlencode

from bench import pages as bench_pages

__all__ = ["PARTS", "main", "profile"]

# (label, predicate on a profiled function's file name and function name): inclusive times.
PARTS = (
    ("Jinja2 rendering (templates, macros, escaping; url_for calls inside)",
     lambda f, n: f.endswith("jinja2/environment.py") and n == "render"),
    ("url_for (templates and the view's map links)",
     lambda f, n: f.endswith(("miniweb/urls.py", "bench/flask_favorites.py")) and n == "url_for"),
    ("PyMySQL: execute and fetch",
     lambda f, n: "pymysql/cursors" in f and n in ("execute", "fetchall", "fetchone")),
    ("the page to bytes (htmlbytes.render_bytes: the cached parts spliced in; the Jinja2 render inside)",
     lambda f, n: f.endswith("miniweb/htmlbytes.py") and n == "render_bytes"),
    ("the areas' cache (refcache.py: the version's statement, lookups; a miss's query and markup)",
     lambda f, n: f.endswith("favorites/refcache.py") and n in ("area", "search", "favorites")),
    ("session and CSRF token",
     lambda f, n: (f.endswith("miniweb/app.py") and n == "csrf_token")
     or (f.endswith("miniweb/request.py") and n == "session")),
    ("the pool: acquire + release",
     lambda f, n: f.endswith("favorites/pool.py") and n in ("acquire", "release")),
)  # fmt: skip


def _environ(path: str, cookie: str = "", **extra: object) -> dict:
    raw_path, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": unquote(raw_path).encode().decode("latin-1"),
        "QUERY_STRING": query, "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "HTTP_HOST": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr, "wsgi.version": (1, 0),
        "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
    }  # fmt: skip
    if cookie:
        environ["HTTP_COOKIE"] = cookie
    environ.update(extra)
    return environ


def _call(app, environ: dict, jar: dict[str, str] | None = None) -> tuple[str, bytes]:
    seen: list = []
    body = b"".join(app(environ, lambda status, headers, exc_info=None: seen.append((status, headers))))
    status, headers = seen[0]
    for name, value in headers if jar is not None else ():
        if name.lower() == "set-cookie":
            key, _, val = value.split(";", 1)[0].partition("=")
            jar[key] = val
    return status, body


def _log_in(app) -> str:
    """bench.pages' user logged in through the demo's own /login form; the Cookie header's value."""
    jar: dict[str, str] = {}
    _, page = _call(app, _environ("/login"), jar)
    token = re.search(rb'name="csrf_token" value="([^"]*)"', page).group(1).decode()
    form = urlencode({"csrf_token": token, "username": bench_pages.USER, "password": bench_pages.PASSWORD})
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    post = _environ("/login", cookie, REQUEST_METHOD="POST", CONTENT_LENGTH=str(len(form)),
                    CONTENT_TYPE="application/x-www-form-urlencoded", HTTP_ORIGIN="http://127.0.0.1")
    post["wsgi.input"] = io.BytesIO(form.encode())
    status, _ = _call(app, post, jar)
    if not status.startswith("303"):
        raise RuntimeError(f"POST /login answered {status}")
    # As bench.pages.log_in: the first page takes the welcome notice out of the session (a new cookie)
    _call(app, _environ("/favorites", "; ".join(f"{k}={v}" for k, v in jar.items())), jar)
    return "; ".join(f"{k}={v}" for k, v in jar.items())


Shares = list[tuple[str, float]]


def profile(app, path: str, count: int, cookie: str = "") -> tuple[float, Shares, pstats.Stats]:
    """(CPU µs per request under the profiler, [(part, share)], the stats) for `count` requests."""
    for _ in range(30):  # warm: templates compiled, pool connected, outlines read
        status, _ = _call(app, _environ(path, cookie))
    if not status.startswith("200"):
        raise RuntimeError(f"GET {path} answered {status}")
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for _ in range(count):
        _call(app, _environ(path, cookie))
    profiler.disable()
    stats = pstats.Stats(profiler)
    functions = stats.stats  # type: ignore[attr-defined]  # {(file, line, name): (cc, nc, tt, ct, callers)}
    total = sum(tt for (_, _, _), (_, _, tt, _, _) in functions.items())
    shares = [(label, sum(ct for (f, _, n), (_, _, _, ct, _) in functions.items() if test(f, n)) / total)
              for label, test in PARTS]  # fmt: skip
    return total / count * 1e6, shares, stats


def _app(flask: bool):  # -> the demo's WSGI callable, or the Flask port's, on DATABASE_URL
    if flask:
        from bench.flask_favorites import create_app
    else:
        from apps.favorites import create_app
    return create_app()


def _serve(path: str, count: int, flask: bool) -> None:
    """The child of --instructions: a private database, the app, a warm-up, then `count` requests."""
    with bench_pages.private_database() as url:
        bench_pages.add_user(url)
        os.environ.update(DATABASE_URL=url, SECRET_KEY=os.environ.get("SECRET_KEY") or "pageprofile")
        app = _app(flask)
        cookie = _log_in(app) if path in bench_pages.LOGGED_IN else ""
        for _ in range(10 + count):
            status, _ = _call(app, _environ(path, cookie))
        if not status.startswith("200"):
            raise RuntimeError(f"GET {path} answered {status}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.pageprofile", description=__doc__.splitlines()[0])
    p.add_argument("path", help="a page of the demo, e.g. /areas/440300")
    p.add_argument("--count", type=int, default=600, help="profiled requests (default 600)")
    p.add_argument("--stats", type=int, default=0, metavar="N", help="also print cProfile's top N functions")
    p.add_argument("--flask", action="store_true", help="the Flask port (bench/flask_favorites.py) instead")
    p.add_argument("--instructions", action="store_true", help="count instructions with valgrind's callgrind")
    p.add_argument("--serve", type=int, metavar="N", help=argparse.SUPPRESS)  # the child callgrind runs
    args = p.parse_args(argv)
    if not 1 <= args.count <= 100_000:
        p.error("--count must be between 1 and 100000")
    logging.basicConfig(level=logging.WARNING)
    if args.serve is not None:
        return _serve(args.path, args.serve, args.flask)
    if args.instructions:
        from bench.hotpath import callgrind_per_request

        command = ["bench.pageprofile", args.path, *(["--flask"] if args.flask else []), "--serve"]
        count = callgrind_per_request(command, small=20, large=120)
        which = "the Flask port" if args.flask else "ours"
        print(f"{args.path}: {count / 1e6:.2f} M instructions per request ({which}, in process, callgrind)")
        return None
    with bench_pages.private_database() as url:
        bench_pages.add_user(url)
        os.environ.update(DATABASE_URL=url, SECRET_KEY=os.environ.get("SECRET_KEY") or "pageprofile")
        app = _app(args.flask)
        try:
            cookie = _log_in(app) if args.path in bench_pages.LOGGED_IN else ""
            per_request, shares, stats = profile(app, args.path, args.count, cookie)
        finally:
            getattr(app, "database", None) and app.database.close()
    print(f"{args.path}: {per_request:,.0f} µs of CPU per request under cProfile ({args.count} requests)")
    for label, share in shares:
        print(f"  {share * 100:5.1f} %  {label}")
    if args.stats:
        stats.sort_stats("tottime").print_stats(args.stats)


if __name__ == "__main__":
    main()

"""Framework overhead in process: µs (or instructions) a framework adds per request over a bare WSGI function.

Run: ``.venv-bench/bin/python -m bench.overhead`` (Falcon and Bottle live in ``.venv-bench``; a framework
that is not installed is skipped), ``--instructions`` to count with callgrind instead (needs valgrind),
``--json`` for the figures as JSON (what ``python -m bench overhead`` reads).

Per request: a copy of an environ such as our server builds for ``GET PATH HTTP/1.1``, the app called,
its body joined and closed. Two cases (``bench.mwapps``): ``hello`` (``/``, 13 bytes of text) and ``json``
(the regex route ``/items/42`` returning a small dict as JSON). The bare function answers the same bytes
with no routing or objects at all, so "added" is everything the framework does. Time is process CPU
time, the best of RUNS runs: on a busy machine the minimum is the figure least disturbed by others.

For miniweb alone, a third case: ``304``, a ``StaticFiles`` revalidation (``If-None-Match`` with the
file's ETag, answered 304 Not Modified), to set beside its hello (issue 14: "as cheap as a hello").
Callgrind counts the Python work, not the ``stat`` system call's time in the kernel.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import mwapps
from bench.apps import HELLO
from bench.hotpath import callgrind_per_request

__all__ = ["CASES", "FRAMEWORKS", "environ_for", "falcon_build", "main", "measure"]

RUNS = 7
COUNT = 20_000
CASES = {"hello": "/", "json": mwapps.ITEM_PATH}
REVALIDATE = "304"  # the miniweb-only case: a conditional GET of mwapps' static file
_JSON_BODY = json.dumps({"id": 42, "name": "item 42"}).encode()


def _bare(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    body = HELLO if environ["PATH_INFO"] == "/" else _JSON_BODY
    kind = "text/plain" if body is HELLO else "application/json"
    start_response("200 OK", [("Content-Type", kind), ("Content-Length", str(len(body)))])
    return [body]


FRAMEWORKS: dict[str, Callable[[], Callable[..., Any]]] = {
    "bare": lambda: _bare,
    "miniweb": mwapps.miniweb_app,
    "falcon": mwapps.falcon_app,
    "bottle": mwapps.bottle_app,
    "flask": mwapps.flask_app,
}


def environ_for(path: str) -> dict[str, Any]:
    """What our server puts in environ for wrk's ``GET path HTTP/1.1`` (PEP 3333 keys)."""
    return {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": "",
        "RAW_URI": path, "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8899", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "50000", "HTTP_HOST": "127.0.0.1:8899",
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }  # fmt: skip


def _start_response(status: str, headers: list, exc_info: Any = None) -> Callable[[bytes], None]:
    return _write


def _write(data: bytes) -> None:
    pass


def _revalidation(app: Callable[..., Any]) -> dict[str, Any]:
    """The environ of a conditional GET of the static file, with the ETag its 200 carried."""
    environ = environ_for(mwapps.STATIC_URL)
    found: dict[str, str] = {}

    def start(status: str, headers: list, exc_info: Any = None) -> Callable[[bytes], None]:
        found.update(headers)
        return _write

    body = app(environ.copy(), start)
    getattr(body, "close", lambda: None)()
    environ["HTTP_IF_NONE_MATCH"] = found["ETag"]
    return environ


def serve(app: Callable[..., Any], path: str, count: int) -> None:
    """``count`` requests for ``path`` (or REVALIDATE) through ``app``; checks the first answer."""
    if path == REVALIDATE:
        _serve_304(app, count)
        return
    template = environ_for(path)
    expected = HELLO if path == "/" else None
    for i in range(count):
        body = app(template.copy(), _start_response)
        data = b"".join(body)
        close = getattr(body, "close", None)
        if close is not None:
            close()
        if i == 0 and (data != expected if expected else json.loads(data)["id"] != 42):
            raise RuntimeError(f"unexpected answer for {path}: {data[:80]!r}")


def _serve_304(app: Callable[..., Any], count: int) -> None:
    template = _revalidation(app)
    statuses: list[str] = []

    def start(status: str, headers: list, exc_info: Any = None) -> Callable[[bytes], None]:
        if not statuses:
            statuses.append(status)
        return _write

    for i in range(count):
        body = app(template.copy(), start if i == 0 else _start_response)
        b"".join(body)
        close = getattr(body, "close", None)
        if close is not None:
            close()
    if statuses != ["304 Not Modified"]:
        raise RuntimeError(f"the revalidation was answered {statuses}")


def measure(app: Callable[..., Any], path: str, count: int = COUNT) -> float:
    """µs per request, the best of RUNS runs of ``count`` requests (process CPU time)."""
    serve(app, path, 200)  # warm-up: imports, caches, Jinja-free first-call work
    best = float("inf")
    for _ in range(RUNS):
        started = time.process_time()
        serve(app, path, count)
        best = min(best, time.process_time() - started)
    return best / count * 1e6


def _instructions(name: str, path: str) -> float:
    """Instructions per request for one framework and path (callgrind, start-up differenced out)."""
    return callgrind_per_request(["bench.overhead", "--serve", name, path])


def falcon_build() -> str:
    """ "pure Python" or "Cython" (compiled modules in the installed package), or "not installed"."""
    try:
        import falcon
    except ImportError:
        return "not installed"
    compiled = any(Path(falcon.__file__).parent.rglob("*.so"))
    return f"{falcon.__version__}, {'Cython' if compiled else 'pure Python'}"


def figures(instructions: bool = False) -> dict[str, Any]:
    """Per framework: the cost per request of each case, and what it adds over the bare function."""
    cost: dict[str, dict[str, float]] = {}
    for name, build in FRAMEWORKS.items():
        try:
            app = build()
        except ImportError:
            continue
        cost[name] = {
            case: (_instructions(name, path) if instructions else measure(app, path))
            for case, path in CASES.items()
        }
    added = {n: {c: v - cost["bare"][c] for c, v in by.items()} for n, by in cost.items() if n != "bare"}
    app = mwapps.miniweb_app()
    static_304 = _instructions("miniweb", REVALIDATE) if instructions else measure(app, REVALIDATE)
    unit = "instructions" if instructions else "us"
    return {"unit": unit, "cost": cost, "added": added, "falcon": falcon_build(), "miniweb_304": static_304}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.overhead", description=__doc__.splitlines()[0])
    p.add_argument("--instructions", action="store_true", help="count instructions with valgrind's callgrind")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--serve", nargs=3, metavar=("FRAMEWORK", "PATH", "N"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve:
        name, path, count = args.serve
        serve(FRAMEWORKS[name](), path, int(count))
        return
    found = figures(args.instructions)
    if args.json:
        print(json.dumps(found))
        return
    unit = found["unit"]
    print(f"falcon: {found['falcon']}; added per request over a bare WSGI function ({unit}):")
    for name, by in found["added"].items():
        print(f"  {name:8} " + "  ".join(f"{case} {value:,.1f}" for case, value in by.items()))
    hello = found["cost"]["miniweb"]["hello"]
    print(
        f"miniweb StaticFiles 304: {found['miniweb_304']:,.1f} {unit} per request (its hello: {hello:,.1f})"
    )


if __name__ == "__main__":
    main()

"""Route lookup: miniweb's router against bottle's and werkzeug's, with 10, 100 and 1,000 regex routes.

Run: ``.venv/bin/python -m bench.routing`` (needs ``bottle``: ``pip install -e '.[bench]'``).

Four shapes of route table:
- ``distinct``: every route has its own first segment (``/res17/(\\d+)``), as most apps do;
- ``shared``:   every route under one segment (``/api/item17-(\\d+)``), the literal prefixes still differ;
- ``group1st``: the group comes first (``/(\\d+)/item17``): all share the prefix "/", suffixes differ;
- ``inner``:    groups at both ends (``/(\\d+)/it17/(\\d+)``): no distinguishing prefix or suffix; miniweb
  finds the route by the whole path segment its pattern requires ("it17"), bottle scans linearly.

For each: the cost of matching the first registered route, the last one, and a miss (404), in µs per
lookup (best of several runs, router level: no WSGI around it). The goal (issue 4): for miniweb, matching
the last of 1,000 routes costs at most 3x matching the first. Single-threaded and in-process; keep the
machine otherwise quiet for stable figures.
"""

from __future__ import annotations

import timeit
from collections.abc import Callable

try:
    import bottle
    from werkzeug.exceptions import HTTPException as WerkzeugHTTPException
    from werkzeug.routing import Map, Rule
except ImportError as missing:  # the peers are an optional extra, not a dependency of miniweb
    raise SystemExit(
        f"bench.routing needs bottle and werkzeug: pip install -e '.[test,bench]' ({missing})"
    ) from None

from miniweb.errors import HTTPError
from miniweb.routing import Route, Router

SIZES = (10, 100, 1000)
SHAPES = {
    # shape: (miniweb regex, bottle rule, werkzeug rule, a matching path) for route i
    "distinct": (r"/res{i}/(\d+)", "/res{i}/<id:int>", "/res{i}/<int:id>", "/res{i}/42"),
    "shared": (r"/api/item{i}-(\d+)", "/api/item{i}-<id:int>", "/api/item{i}-<int:id>", "/api/item{i}-42"),
    "group1st": (r"/(\d+)/item{i}", "/<id:int>/item{i}", "/<int:id>/item{i}", "/42/item{i}"),
    "inner": (r"/(\d+)/it{i}/(\d+)", "/<a:int>/it{i}/<b:int>", "/<int:a>/it{i}/<int:b>", "/42/it{i}/7"),
}
MISS = "/nothing/here/42"
TARGET_SECONDS = 0.05  # per timing run: long enough to swamp timer overhead, short enough to stay light
RUNS = 3  # best of RUNS: the minimum is the least disturbed by other processes on the machine


def _handler(*args: object) -> None:
    return None


def miniweb_matcher(shape: str, count: int) -> Callable[[str], object]:
    pattern = SHAPES[shape][0]
    router = Router()
    for i in range(count):
        router.add(Route(pattern.format(i=i), frozenset({"GET"}), _handler, f"r{i}"))

    def match(path: str) -> object:
        try:
            return router.match("GET", path)
        except HTTPError as miss:
            return miss

    return match


def bottle_matcher(shape: str, count: int) -> Callable[[str], object]:
    rule = SHAPES[shape][1]
    router = bottle.Router()
    for i in range(count):
        router.add(rule.format(i=i), "GET", f"r{i}", name=f"r{i}")  # the target is returned by match

    def match(path: str) -> object:
        try:
            return router.match({"PATH_INFO": path, "REQUEST_METHOD": "GET"})
        except bottle.HTTPError as miss:
            return miss

    return match


def werkzeug_matcher(shape: str, count: int) -> Callable[[str], object]:
    rule = SHAPES[shape][2]
    adapter = Map([Rule(rule.format(i=i), endpoint=f"r{i}") for i in range(count)]).bind("localhost")

    def match(path: str) -> object:
        try:
            return adapter.match(path, method="GET")
        except WerkzeugHTTPException as miss:
            return miss

    return match


ROUTERS = {"miniweb": miniweb_matcher, "bottle": bottle_matcher, "werkzeug": werkzeug_matcher}


def microseconds_per_call(match: Callable[[str], object], path: str) -> float:
    match(path)  # warm-up: routers compile lazily on their first lookup
    timer = timeit.Timer(lambda: match(path))
    number, _ = timer.autorange()
    number = max(1, int(number * TARGET_SECONDS / 0.2))  # autorange aims at 0.2 s; we want less
    return min(timer.repeat(repeat=RUNS, number=number)) / number * 1e6


def check_correct(match: Callable[[str], object], shape: str, count: int, name: str) -> None:
    """Each router must find the right route before its speed means anything."""
    path = SHAPES[shape][3]
    for i in (0, count - 1):
        found = match(path.format(i=i))
        ok = {
            "miniweb": lambda f, i=i: not isinstance(f, HTTPError) and f[0].name == f"r{i}",
            "bottle": lambda f, i=i: not isinstance(f, bottle.HTTPError) and f[0] == f"r{i}",
            "werkzeug": lambda f, i=i: not isinstance(f, WerkzeugHTTPException) and f[0] == f"r{i}",
        }[name](found)
        if not ok:
            raise SystemExit(f"{name} matched {path.format(i=i)!r} wrongly: {found!r}")


def main() -> None:
    header = ("shape", "routes", "router", "first µs", "last µs", "miss µs", "last/first")
    print("{:<9} {:>6} {:<9} {:>9} {:>9} {:>9} {:>10}".format(*header))
    for shape in SHAPES:
        for count in SIZES:
            for name, make in ROUTERS.items():
                match = make(shape, count)
                check_correct(match, shape, count, name)
                path = SHAPES[shape][3]
                first = microseconds_per_call(match, path.format(i=0))
                last = microseconds_per_call(match, path.format(i=count - 1))
                miss = microseconds_per_call(match, MISS)
                cells = (shape, count, name, first, last, miss, last / first)
                print("{:<9} {:>6} {:<9} {:>9.2f} {:>9.2f} {:>9.2f} {:>10.2f}".format(*cells))
    print("\nGoal (issue 4): miniweb last/first <= 3 with 1,000 routes.")


if __name__ == "__main__":
    main()

"""Full-stack modes (issue 14): a miniweb app on our server against the bare WSGI app, in one run.

``framework`` (wrk, server on cpu 0, wrk on cpu 1), both servers with the default flags (access log on,
to ``bench/results/*.log``), each answering ``GET /`` first, then:

- hello: ``bench.mwapps`` ``/`` (a miniweb route) vs ``bench.apps`` ``/`` (a bare function): >= 0.7x
- static: ``StaticFiles`` ``/static/static-64k.bin`` vs ``bench.apps`` ``/64k`` (a bare
  ``wsgi.file_wrapper``, the same file): >= 0.8x
- 304: ``StaticFiles`` revalidation (``If-None-Match``) vs the miniweb hello: >= 1.0x ("as cheap")
- for reference, no target: Falcon's hello (``bench.mwapps:falcon_application``, the pure-Python build)
  on our server vs the bare hello, when the bench's Python has Falcon: the share of the bare app's speed
  a framework the issue names as the bar keeps on this host, beside miniweb's

``overhead`` runs ``bench.overhead`` in ``.venv-bench`` (pinned to cpu 0): µs a framework adds per
request over a bare function, miniweb vs Falcon (pure-Python build) vs Bottle (vs Flask), hello and a
regex route returning JSON; target: miniweb's added µs <= Falcon's in both.
"""

from __future__ import annotations

import http.client
import json
import statistics
import subprocess
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import mwapps
from bench.compare import HOST, Options, Scenario, measure
from bench.peers import Launch, free_port, ours_with_defaults, serve
from bench.report import table, verdict
from bench.wrk import WrkResult

__all__ = ["framework", "overhead"]

STATIC_URL = mwapps.STATIC_URL
TARGETS = {"hello": 0.7, "static": 0.8, "304": 1.0}


BARE = ours_with_defaults("bare-wsgi", "bench.apps:application")
MINIWEB = ours_with_defaults("miniweb-app", "bench.mwapps:application")
FALCON = ours_with_defaults("falcon-app", "bench.mwapps:falcon_application")


def _has_falcon(python: Path) -> bool:
    done = subprocess.run([str(python), "-c", "import falcon"], capture_output=True, check=False)
    return done.returncode == 0


def _etag(url_host: str, port: int, path: str) -> str:
    conn = http.client.HTTPConnection(url_host, port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        etag = response.getheader("ETag")
    finally:
        conn.close()
    if response.status != 200 or not etag:
        raise RuntimeError(f"GET {path} gave {response.status} without an ETag")
    return etag


_ROWS = ("bare hello", "bare file_wrapper 64 KiB", "miniweb hello", "StaticFiles 64 KiB", "StaticFiles 304")
_PAIRS = {
    "hello": ("miniweb hello", "bare hello"),
    "static": ("StaticFiles 64 KiB", "bare file_wrapper 64 KiB"),
    "304": ("StaticFiles 304", "miniweb hello"),
}
_FALCON_ROW = "Falcon hello"


def _round(opts: Options, mirrored: bool = False, falcon: bool = False) -> dict[str, WrkResult]:
    """Each case once, both servers running (the idle one waits in epoll, costing nothing), each case next
    to the one it is compared with: bare hello, miniweb hello, 304, static, bare file.

    ``mirrored``: the same in the reverse order. The machine's speed drifts within a round, so a fixed
    order would always put the same side of a ratio first; alternating rounds give each side both places.
    ``falcon``: Falcon's hello too, on a third server, measured between the two hellos.
    """
    found: dict[str, WrkResult] = {}
    bare_launch = Launch(opts.python, HOST, free_port(HOST), opts.threads)
    miniweb_launch = Launch(opts.python, HOST, free_port(HOST), opts.threads)
    falcon_launch = Launch(opts.python, HOST, free_port(HOST), opts.threads)
    with (serve(BARE, bare_launch, cpu=0, tag="framework") as bare,
          serve(MINIWEB, miniweb_launch, cpu=0, tag="framework") as miniweb,
          serve(FALCON, falcon_launch, cpu=0, tag="framework") if falcon else nullcontext() as falcon_server):
        etag = _etag(HOST, miniweb_launch.port, STATIC_URL)
        cases = [
            ("bare hello", bare, Scenario("hello", "/")),
            *([(_FALCON_ROW, falcon_server, Scenario("hello", "/"))] if falcon_server else []),
            ("miniweb hello", miniweb, Scenario("hello", "/")),
            ("StaticFiles 304", miniweb, Scenario("304", STATIC_URL, headers=(f"If-None-Match: {etag}",))),
            ("StaticFiles 64 KiB", miniweb, Scenario("static", STATIC_URL)),
            ("bare file_wrapper 64 KiB", bare, Scenario("file", "/64k")),
        ]
        for name, server, scenario in reversed(cases) if mirrored else cases:
            found[name] = measure(server.url, scenario, opts)
    return found


def framework(opts: Options) -> str:
    """Bare WSGI vs miniweb on our server: hello, a 64 KiB static file, a 304 revalidation.

    With ``--repeat N``: N rounds, both servers in each (as ``compare`` alternates its servers), so a slow
    stretch of the machine lands on both sides of a ratio, each case measured next to its partner and
    every other round in the reverse order (``_round``); the verdict is the median of the per-round
    ratios, and the table shows the last round's figures.
    """
    once = replace(opts, repeat=1)
    falcon = _has_falcon(opts.python)
    rounds = [_round(once, mirrored=number % 2 == 1, falcon=falcon) for number in range(opts.repeat)]
    found = rounds[-1]
    rows = [[n, f"{found[n].requests_per_sec:,.0f}", f"{found[n].p99_ms:.2f}", str(found[n].errors)]
            for n in (*_ROWS[:1], *([_FALCON_ROW] if falcon else []), *_ROWS[1:])]
    checks, ratios = [], {}
    pairs = {**_PAIRS, **({"falcon-hello": (_FALCON_ROW, "bare hello")} if falcon else {})}
    for name, (ours, base) in pairs.items():
        each = [r[ours].requests_per_sec / r[base].requests_per_sec for r in rounds]
        ratio = ratios[name] = statistics.median(each)
        per_round = f" (rounds: {', '.join(f'{x:.2f}' for x in each)})" if len(each) > 1 else ""
        if name not in TARGETS:  # Falcon's hello: a reference, no target and no verdict
            checks.append([f"{ours} / {base}", f"{ratio:.2f}x{per_round}", "reported", ""])
            continue
        ok = ratio >= TARGETS[name] and sum(r[ours].errors for r in rounds) == 0
        checks.append([f"{ours} / {base}", f"{ratio:.2f}x{per_round}", f">= {TARGETS[name]}x", verdict(ok)])
    opts.results["framework"] = {n: r.as_dict() for n, r in found.items()} | {"ratios": ratios}
    median = f"; median of {opts.repeat} rounds, servers in alternation" if opts.repeat > 1 else ""
    return (
        f"miniweb on our server vs the bare WSGI app (default flags: access log on; wrk -c{opts.connections} "
        f"on cpu 1, server on cpu 0{median})\n\n"
        + table(["", "req/s", "p99 ms", "errors"], rows)
        + "\n\n"
        + table(["ratio", "measured", "target", ""], checks)
    )


def overhead(opts: Options) -> str:
    """``bench.overhead`` in .venv-bench: µs added per request over a bare function, per framework."""
    done = subprocess.run(
        ["taskset", "-c", "0", str(opts.python), "-m", "bench.overhead", "--json"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"bench.overhead failed: {done.stderr.strip()[-2000:]}")
    found: dict[str, Any] = json.loads(done.stdout)
    added, cost = found["added"], found["cost"]
    rows = [
        [name, *[f"{cost[name][c]:.2f} (+{added.get(name, {}).get(c, 0.0):.2f})" for c in ("hello", "json")]]
        for name in cost
    ]
    checks = []
    if "falcon" in added:
        for case in ("hello", "json"):
            ours, theirs = added["miniweb"][case], added["falcon"][case]
            checks.append(
                [case, f"{ours:.2f} vs {theirs:.2f} µs", "miniweb <= falcon", verdict(ours <= theirs)]
            )
    else:
        checks.append(["falcon", "not installed in .venv-bench", "miniweb <= falcon", "n/a"])
    hello, static_304 = cost["miniweb"]["hello"], found["miniweb_304"]
    checks.append(
        [
            "StaticFiles 304",
            f"{static_304:.2f} µs",
            f"<= miniweb hello {hello:.2f}",
            verdict(static_304 <= hello),
        ]
    )
    opts.results["overhead"] = found
    return (
        f"Framework overhead in process (µs per request, best of runs; in brackets: added over the bare "
        f"function; falcon {found['falcon']})\n\n"
        + table(["framework", "hello µs", "regex route + JSON µs"], rows)
        + "\n\n"
        + table(["case", "added", "target", ""], checks)
    )

"""The side-by-side comparison, and what every mode shares (`Options`, `measure`).

`compare` runs every chosen server through keep-alive hello, ``Connection: close`` hello and the 64 KiB
file, then prints our ratios to waitress against issue 3's targets. The modes that run our server alone
(c10k, slow clients, access log, workers) are in `bench.ours`.

Servers are pinned to cpu 0 and wrk to cpu 1; each measurement follows a 1 s warm-up on the same server.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.peers import PEERS, Launch, free_port, serve
from bench.report import table, verdict
from bench.wrk import WrkError, WrkResult, run_wrk

__all__ = ["SCENARIOS", "Options", "Scenario", "compare", "measure"]

log = logging.getLogger(__name__)

WARMUP_SECONDS = 1.0
HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    path: str
    headers: tuple[str, ...] = ()
    target: float = 0.0  # our req/s over waitress's, issue 3


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("keepalive", "/", target=4.0),
        Scenario("close", "/", headers=("Connection: close",), target=1.5),
        Scenario("file", "/64k", target=2.0),
    )
}


@dataclass(frozen=True, slots=True)
class Options:
    python: Path  # .venv-bench's interpreter
    threads: int  # the same for every server: our Config().threads
    duration: float = 5.0
    connections: int = 50
    repeat: int = 1  # measurements per figure; the median is kept
    only: tuple[str, ...] = tuple(PEERS)
    scenarios: tuple[str, ...] = tuple(SCENARIOS)
    results: dict[str, Any] = field(default_factory=dict)  # filled in, then written as JSON


def measure(url: str, scenario: Scenario, opts: Options, *, cpu: int | None = 1) -> WrkResult:
    """A warm-up, then ``opts.repeat`` measurements, wrk pinned to ``cpu``; the median one by req/s.

    The median of a few runs damps what other processes on a shared machine do to a single one.
    """
    kw: dict[str, Any] = {"connections": opts.connections, "cpu": cpu, "headers": scenario.headers}
    run_wrk(url + scenario.path, duration=WARMUP_SECONDS, **kw)
    runs = [run_wrk(url + scenario.path, duration=opts.duration, **kw) for _ in range(opts.repeat)]
    return sorted(runs, key=lambda r: r.requests_per_sec)[len(runs) // 2]


def _cell(r: WrkResult | str | None) -> tuple[str, str, str]:
    if r is None:
        return ("-", "-", "-")
    if isinstance(r, str):
        return ("error", "-", r[:40])
    return (f"{r.requests_per_sec:,.0f}", f"{r.p99_ms:.2f}", str(r.errors))


def compare(opts: Options) -> str:
    """Every chosen peer through every chosen scenario; then our ratios to waitress."""
    found: dict[str, dict[str, WrkResult | str]] = {}
    for name in opts.only:
        peer = PEERS[name]
        found[name] = {}
        launch = Launch(opts.python, HOST, free_port(HOST), opts.threads)
        try:
            with serve(peer, launch, cpu=0) as server:
                for sc in opts.scenarios:
                    log.info("%s: %s for %.0fs", name, sc, opts.duration)
                    try:
                        found[name][sc] = measure(server.url, SCENARIOS[sc], opts)
                    except WrkError as exc:
                        found[name][sc] = f"wrk: {exc}"
                        log.error("%s %s: %s", name, sc, exc)
        except RuntimeError as exc:  # did not start
            log.error("%s: %s", name, exc)
            found[name] = dict.fromkeys(opts.scenarios, f"did not start: {str(exc).splitlines()[0]}")
    opts.results["compare"] = {
        n: {sc: (r if isinstance(r, str) else r.as_dict()) for sc, r in by.items()} for n, by in found.items()
    }
    header = ["server"]
    for sc in opts.scenarios:
        header += [f"{sc} req/s", f"{sc} p99 ms", f"{sc} errors"]
    rows = [[n, *[c for sc in opts.scenarios for c in _cell(found[n].get(sc))]] for n in found]
    median = f" (median of {opts.repeat})" if opts.repeat > 1 else ""
    out = [
        f"Servers side by side (server on cpu 0, wrk -t1 -c{opts.connections} -d{opts.duration:.0f}s{median} "
        f"on cpu 1, {opts.threads} threads where a server has threads, access logs off)",
        table(header, rows),
        f"How each ran (N = {opts.threads}):\n" + "\n".join(f"- {n}: {PEERS[n].notes}" for n in found),
    ]
    out.append(_ratios(found, opts))
    return "\n\n".join(o for o in out if o)


def _ratios(found: dict[str, dict[str, WrkResult | str]], opts: Options) -> str:
    ours, base = found.get("miniweb"), found.get("waitress")
    if not ours or not base:
        return "(ratios need both miniweb and waitress in --only)"
    rows = []
    for sc in opts.scenarios:
        a, b = ours.get(sc), base.get(sc)
        if not isinstance(a, WrkResult) or not isinstance(b, WrkResult):
            rows.append([sc, "-", f">= {SCENARIOS[sc].target}x", "n/a"])
            continue
        ratio = a.requests_per_sec / b.requests_per_sec
        ok = ratio >= SCENARIOS[sc].target and a.errors == 0
        note = f"{ratio:.2f}x"
        if sc == "keepalive":  # the issue also asks for a p99 no worse than waitress's
            ok = ok and a.p99_ms <= b.p99_ms
            note += f", p99 {a.p99_ms:.2f} vs {b.p99_ms:.2f} ms"
        rows.append(
            [sc, note, f">= {SCENARIOS[sc].target}x" + (", p99 <=" if sc == "keepalive" else ""), verdict(ok)]
        )
    return "Ours vs waitress (same run)\n\n" + table(["scenario", "miniweb / waitress", "target", ""], rows)

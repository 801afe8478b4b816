"""The side-by-side comparison, and what every mode shares (`Options`, `measure`).

`compare` runs every chosen server through keep-alive hello, ``Connection: close`` hello and the 64 KiB
file, then prints our ratios to waitress against issue 3's targets. The modes that run our server alone
(c10k, slow clients, access log, workers) are in `bench.ours`.

Servers are pinned to cpu 0 and wrk to cpu 1; each measurement follows a 1 s warm-up on the same server.

With ``--repeat N`` the comparison runs in N rounds, every server once per round (started, warmed up,
measured in each scenario, stopped), so that servers are measured in alternation rather than one after the
other. A machine's speed drifts over minutes (another tenant on the host, say), and measured one after the
other, a slow minute lands on one server only; in alternation it lands on neighbours in the same round.
The figures are medians over the rounds, and the ratios to waitress are taken round by round (each
against the waitress run next to it), with their median as the verdict and every round's ratio shown.
"""

from __future__ import annotations

import logging
import statistics
from dataclasses import dataclass, field, replace
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
    target: float = 0.0  # our req/s over waitress's (median of the rounds): issue 3, raised by issue 14
    floor: float = 0.0  # and no single round below this (issue 14: keep-alive >= 5x, no round under 4x)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("keepalive", "/", target=5.0, floor=4.0),
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
    repeat: int = 1  # measurements per figure, the median kept (compare: rounds, servers in alternation)
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
    """Every chosen peer through every chosen scenario, in ``opts.repeat`` rounds; then our ratios."""
    rounds: dict[str, dict[str, list[WrkResult | str]]] = {
        n: {sc: [] for sc in opts.scenarios} for n in opts.only
    }
    once = replace(opts, repeat=1)
    not_started: dict[str, str] = {}  # a server that failed to start is not tried again
    for number in range(1, opts.repeat + 1):
        for name in opts.only:
            error = not_started.get(name) or _one_round(
                name, rounds[name], once, f"round {number}/{opts.repeat}"
            )
            if error:
                not_started[name] = error
                for runs in rounds[name].values():  # one entry per round, so rounds line up across servers
                    runs.append(error)
    found = {n: {sc: _median(runs) for sc, runs in by.items()} for n, by in rounds.items()}
    opts.results["compare"] = {
        n: {sc: (r if isinstance(r, str) else r.as_dict()) for sc, r in by.items()} for n, by in found.items()
    }
    header = ["server"]
    for sc in opts.scenarios:
        header += [f"{sc} req/s", f"{sc} p99 ms", f"{sc} errors"]
    rows = [[n, *[c for sc in opts.scenarios for c in _cell(found[n].get(sc))]] for n in found]
    median = f" (median of {opts.repeat} rounds)" if opts.repeat > 1 else ""
    out = [
        f"Servers side by side (server on cpu 0, wrk -t1 -c{opts.connections} -d{opts.duration:.0f}s{median} "
        f"on cpu 1, {opts.threads} threads where a server has threads, access logs off)",
        table(header, rows),
        f"How each ran (N = {opts.threads}):\n" + "\n".join(f"- {n}: {PEERS[n].notes}" for n in found),
    ]
    out.append(_ratios(rounds, opts))
    return "\n\n".join(o for o in out if o)


def _one_round(name: str, results: dict[str, list[WrkResult | str]], opts: Options, label: str) -> str | None:
    """Start one server, measure it once in each scenario, stop it; append to `results`.

    Returns why the server did not start, or None.
    """
    launch = Launch(opts.python, HOST, free_port(HOST), opts.threads)
    try:
        with serve(PEERS[name], launch, cpu=0) as server:
            for sc in opts.scenarios:
                log.info("%s, %s: %s for %.0fs", label, name, sc, opts.duration)
                try:
                    results[sc].append(measure(server.url, SCENARIOS[sc], opts))
                except WrkError as exc:
                    results[sc].append(f"wrk: {exc}")
                    log.error("%s %s: %s", name, sc, exc)
    except RuntimeError as exc:  # did not start
        log.error("%s: %s", name, exc)
        return f"did not start: {str(exc).splitlines()[0]}"
    return None


def _median(runs: list[WrkResult | str]) -> WrkResult | str | None:
    """The median run by req/s; an error only when no run succeeded."""
    good = sorted((r for r in runs if isinstance(r, WrkResult)), key=lambda r: r.requests_per_sec)
    if good:
        return good[len(good) // 2]
    return runs[0] if runs else None


def _ratios(rounds: dict[str, dict[str, list[WrkResult | str]]], opts: Options) -> str:
    ours, base = rounds.get("miniweb"), rounds.get("waitress")
    if not ours or not base:
        return "(ratios need both miniweb and waitress in --only)"
    rows = []
    for sc in opts.scenarios:
        pairs = [
            (a, b)
            for a, b in zip(ours[sc], base[sc], strict=True)
            if isinstance(a, WrkResult) and isinstance(b, WrkResult)
        ]
        target = SCENARIOS[sc].target
        if not pairs:
            rows.append([sc, "-", f">= {target}x", "n/a"])
            continue
        ratios = [a.requests_per_sec / b.requests_per_sec for a, b in pairs]
        ratio = statistics.median(ratios)
        errors = sum(a.errors for a, _ in pairs)
        floor = SCENARIOS[sc].floor
        ok = ratio >= target and min(ratios) >= floor and errors == 0
        note = f"{ratio:.2f}x"
        if opts.repeat > 1:
            shown = ", ".join(f"{r:.2f}" for r in ratios)
            missing = opts.repeat - len(ratios)
            note += f" (rounds: {shown}" + (f"; {missing} left out, a server failed" if missing else "") + ")"
        if sc == "keepalive":  # the issue also asks for a p99 no worse than waitress's
            ours_p99 = statistics.median(a.p99_ms for a, _ in pairs)
            base_p99 = statistics.median(b.p99_ms for _, b in pairs)
            ok = ok and ours_p99 <= base_p99
            note += f", p99 {ours_p99:.2f} vs {base_p99:.2f} ms"
        wanted = f">= {target}x" + (f", rounds >= {floor}x" if floor else "")
        rows.append([sc, note, wanted + (", p99 <=" if sc == "keepalive" else ""), verdict(ok)])
    title = (
        "Ours vs waitress (same run; median of the per-round ratios)"
        if opts.repeat > 1
        else "Ours vs waitress (same run)"
    )
    return title + "\n\n" + table(["scenario", "miniweb / waitress", "target", ""], rows)

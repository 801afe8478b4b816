"""``python -m bench [MODE ...] [--duration S] [--only NAME,...] [--scenario NAME,...]``

Modes (default: all, in this order):
  compare     our server, waitress, gunicorn (gthread), cheroot, wsgiref, bjoern side by side:
              keep-alive hello, Connection: close hello, 64 KiB file; then our ratios to waitress
  c10k        ours with 10,000 idle keep-alive connections held open (--idle N)
  slowloris   ours with 1,000 clients sending headers one byte a second (--slow N)
  accesslog   ours with the access log on vs off
  workers     ours with --workers 1 vs 2
  tls         keep-alive hello over TLS: ours vs gunicorn (gthread), same certificate
  framework   a miniweb app vs the bare WSGI app on our server: hello, StaticFiles 64 KiB, 304
  overhead    in process: µs per request miniweb / Falcon (pure Python) / Bottle / Flask add over a bare app
  pages       the demo's pages on our server vs a Flask port under gunicorn gthread and waitress

Builds ``.venv-bench`` first (the peers + this project). Prints Markdown tables, also written to
``bench/results/latest.md``, and the figures to ``bench/results/latest.json``; server logs go to
``bench/results/*.log``. Keep runs short
(``--duration 1``) while others use the machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from bench import compare, env, framework, ours, pages, tls
from bench.peers import PEERS, RESULTS
from bench.wrk import WrkError
from server.config import Config

# Each mode: (options, parsed args) -> a printable section.
MODES: dict[str, Callable[[compare.Options, argparse.Namespace], str]] = {
    "compare": lambda opts, args: compare.compare(opts),
    "c10k": lambda opts, args: ours.c10k(opts, args.idle),
    "slowloris": lambda opts, args: ours.slowloris(opts, args.slow),
    "accesslog": lambda opts, args: ours.accesslog(opts),
    "workers": lambda opts, args: ours.workers(opts),
    "tls": lambda opts, args: tls.tls(opts),
    "framework": lambda opts, args: framework.framework(opts),
    "overhead": lambda opts, args: framework.overhead(opts),
    "pages": lambda opts, args: pages.pages(opts),
}


def _names(text: str, allowed: list[str], what: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        choices = ", ".join(allowed)
        raise argparse.ArgumentTypeError(f"unknown {what} {', '.join(unknown)}; choose from {choices}")
    return names


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("modes", nargs="*", metavar="MODE", help=f"any of {', '.join(MODES)} (default: all)")
    p.add_argument("--duration", type=float, default=5.0, help="seconds per measurement (default 5)")
    p.add_argument(
        "--only",
        type=lambda t: _names(t, list(PEERS), "server"),
        default=tuple(PEERS),
        help="compare: only these servers, e.g. miniweb,waitress",
    )
    p.add_argument(
        "--scenario",
        type=lambda t: _names(t, list(compare.SCENARIOS), "scenario"),
        default=tuple(compare.SCENARIOS),
        help="compare: keepalive,close,file (default: all)",
    )
    p.add_argument("--connections", type=int, default=50, help="wrk connections (default 50)")
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="measurements per figure, median kept (compare, framework and pages: rounds, servers in "
        "alternation; default 1)",
    )
    p.add_argument("--idle", type=int, default=10_000, help="c10k: idle connections (default 10000)")
    p.add_argument("--slow", type=int, default=1_000, help="slowloris: slow clients (default 1000)")
    p.add_argument("--no-install", action="store_true", help="use .venv-bench as it is")
    return p


def _cpu_model() -> str:
    """The CPU's model name and its caches, e.g. "Intel(R) Xeon(R) Processor; caches L1d 48K, L2 2048K".

    The caches are in the report because the hosts this runs on share a model name and differ in what
    matters: over the wire a framework's Python runs with caches the kernel's network stack has just
    used, so its share of a bare app's speed moves with them (docs/performance-history.md, 2026-12-06).
    """
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.machine()
    caches = []
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            kind = (index / "type").read_text().strip()
            suffix = {"Data": "d", "Instruction": "i"}.get(kind, "")
            name = "L" + (index / "level").read_text().strip() + suffix
            caches.append(f"{name} {(index / 'size').read_text().strip()}")
        except OSError:
            continue
    return f"{model}; caches {', '.join(caches)}" if caches else model


def _interrupt(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt  # SIGTERM unwinds like Ctrl-C, so every `with serve(...)` stops its server


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if unknown := [m for m in args.modes if m not in MODES]:
        parser.error(f"unknown mode {', '.join(unknown)}; choose from {', '.join(MODES)}")
    counts_ok = 0 < args.idle <= 15_000 and 0 < args.slow <= 15_000  # bounded: loopback, fd limits
    if args.duration <= 0 or args.connections <= 0 or not counts_ok or not 1 <= args.repeat <= 9:
        parser.error(
            "--duration and --connections must be positive; --idle and --slow 1..15000; --repeat 1..9"
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    signal.signal(signal.SIGTERM, _interrupt)
    python = env.venv_python() if args.no_install else env.ensure_venv()
    opts = compare.Options(
        python=python,
        threads=Config().threads,
        duration=args.duration,
        connections=args.connections,
        repeat=args.repeat,
        only=args.only,
        scenarios=args.scenario,
    )
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    failed: list[str] = []
    sections = [
        f"Run of {started} on {os.cpu_count()} CPUs ({_cpu_model()}), {args.duration:g} s per measurement"
        + (f", median of {args.repeat}" if args.repeat > 1 else "")
    ]
    try:
        for mode in args.modes or MODES:
            try:
                sections.append(MODES[mode](opts, args))
                print("\n" + sections[-1] + "\n", flush=True)
            except (RuntimeError, WrkError, OSError) as exc:  # a server that did not start, wrk that failed
                logging.getLogger("bench").error("%s failed: %s", mode, exc)
                failed.append(mode)
                opts.results[mode] = {"error": str(exc)}
    except KeyboardInterrupt:
        print("interrupted; every process the benchmark started has been stopped", file=sys.stderr)
        return 130
    finally:
        RESULTS.mkdir(parents=True, exist_ok=True)
        meta = {
            "started": started,
            "cpus": os.cpu_count(),
            "duration": args.duration,
            "threads": opts.threads,
        }
        (RESULTS / "latest.json").write_text(json.dumps({**meta, **opts.results}, indent=2))
        (RESULTS / "latest.md").write_text("\n\n".join(sections) + "\n")  # ready to paste into a README
    if failed:
        print(f"could not run: {', '.join(failed)} (see the log lines above)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
